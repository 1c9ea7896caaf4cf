"""XnorArray in amaranth.sim against golden.reference.ref_array (split groups, weight rows, hops)."""

import random

import pytest

from golden.reference import ref_array
from golden.stimulus import cases, random_case
from hdl.array import XnorArray, _drain_chain_bits, drain_block_ccu2
from hdl.config import AccelConfig
from tests.simdrive import Sink, Source, run

# the array-level features: split groups, W > 1, weight_hop variants, full-fan-in extremes, bursts
ARRAY_CASES = [c for c in cases() if any(t in c.name for t in ("split", "_w3", "all_match", "burst",
                                                                "r1c1", "nooverlap", "lfsr"))]


def _sim(case, bubbles=True):
    cfg = AccelConfig(**case.config)
    dut = XnorArray(cfg)
    rng = random.Random(case.seed + 100)
    src = Source(dut.beat, case.beats(), idle=case.idle if bubbles else 0.0, rng=rng)
    # (out_fifo: the drain never waits for ready, the core's credits throttle it through `room_next`)
    snk = Sink(dut.drain, backpressure=case.backpressure if bubbles and not cfg.out_fifo else 0.0, rng=rng)
    expect = ref_array(case.config, case.reductions)
    run(dut, [src], [snk], [len(expect)], idle_tail=cfg.reduction_period() + 4)
    return cfg, expect, src, snk


@pytest.mark.parametrize("case", ARRAY_CASES, ids=[c.name for c in ARRAY_CASES])
def test_array_matches_reference(case):
    _, expect, _, snk = _sim(case)
    assert snk.stable_violations == 0
    assert snk.items == expect


def test_array_streams_one_beat_per_cycle():
    """Reductions at least reduction_period beats long are accepted back to back (no input wait)."""
    p = {"rows": 3, "cols": 4, "k": 7, "max_fanin": 700, "weight_rows": 1, "weight_hop": 1, "n_thresholds": 1,
         "channels": 4}
    period = AccelConfig(**p).reduction_period()
    case = random_case("stream", p, n_red=3, beats=period, idle=0.0, backpressure=0.0)
    _, expect, src, snk = _sim(case, bubbles=False)
    assert snk.items == expect
    sent = src.sent_cycles
    assert sent[-1] - sent[0] == len(sent) - 1, "the input waited although the result bank was free"


@pytest.mark.parametrize("overlap", [1, 0])
def test_array_last_waits_for_drain(overlap):
    """One-beat reductions: each waits reduction_period cycles for the bank (and nothing is lost)."""
    p = {"rows": 2, "cols": 2, "k": 7, "max_fanin": 70, "weight_rows": 1, "weight_hop": 4, "n_thresholds": 1,
         "channels": 2, "overlap": overlap}
    cfg = AccelConfig(**p)
    case = random_case("burst", p, n_red=4, beats=1, idle=0.0, backpressure=0.0)
    _, expect, src, snk = _sim(case, bubbles=False)
    assert snk.items == expect
    gaps = [b - a for a, b in zip(src.sent_cycles, src.sent_cycles[1:])]
    assert gaps == [cfg.reduction_period()] * 3


@pytest.mark.parametrize("rows,per", [(8, 5), (4, 5), (2, 10), (1, 10)])
def test_drain_block_chains_split_only_when_free(rows, per):
    """A drain row block's chains (acc_width 10): split into 5-bit chains where that takes no more
    CCU2C than one chain per column (half the ripple), kept whole where a split would cost one."""
    assert _drain_chain_bits(10, rows) == per


@pytest.mark.parametrize("width,rows,per,ccu2", [(10, 8, 5, 26), (10, 8, 10, 26), (10, 8, 1, 30), (4, 1, 4, 5)])
def test_drain_block_ccu2(width, rows, per, ccu2):
    """A row block per bit: a boundary slot (the block above's carry-in) and a slot per two rows;
    10 bits of 8 rows are 50 slots, 26 CCU2C with a start slot per chain (6.5 LUT4 eq. per PE, the
    figure bench_array_ppa --budget reports); one chain per bit pads each of them to 3 CCU2C."""
    assert drain_block_ccu2(width, rows, per) == ccu2
