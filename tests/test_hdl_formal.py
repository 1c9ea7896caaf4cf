"""Formal proofs with yowasp-sby + yices: PE == wide shadow sum, stream contract with beat order, response
bound and exact beat cycles, threshold unit == reference, RAM skew lines == flip-flop delay lines.

The broken-PE test keeps the proof honest: a PE whose accumulator is one bit too narrow wraps, and the
equality property must FAIL on it (an inequality acc <= shadow would have passed).
"""

import pytest

from hdl.config import AccelConfig
from tests.formal.props import (
    OutOrder,
    OutTiming,
    PeShadow,
    SkewEquiv,
    SkidRef,
    ThresholdRef,
    longest_wait,
)
from tests.formal.run import run_sby


@pytest.mark.parametrize("k,fanin,pipeline,style", [
    (1, 5, 1, "pair"), (4, 16, 2, "pair"), (7, 21, 0, "pair"),
    (1, 5, 0, "ccu2"), (5, 15, 1, "ccu2"), (8, 24, 2, "ccu2"),
])
def test_pe_accumulator_equals_shadow_sum(k, fanin, pipeline, style):
    ok, log = run_sby(PeShadow(k, fanin, pipeline=pipeline, style=style), "prove", 8)
    assert ok, log


# LFSR accumulators (acc_lfsr): K=3 has 2 binary bits, so fan-in 11 makes up to 2 carries (a 2-bit
# LFSR, 3 states) and 27 up to 6 (3 bits: all 7 states); K=5 at 23: 2 carries, all 3 states; K=1 steps
# on every other beat
@pytest.mark.parametrize("k,fanin,pipeline,style", [
    (3, 11, 1, "pair"), (1, 13, 0, "pair"), (3, 27, 2, "ccu2"), (5, 23, 1, "ccu2"),
])
def test_lfsr_pe_equals_shadow_sum(k, fanin, pipeline, style):
    cfg = AccelConfig(rows=1, cols=1, k=k, max_fanin=fanin, acc_lfsr=1)
    ok, log = run_sby(PeShadow(k, fanin, pipeline=pipeline, style=style, lfsr=cfg.lfsr_width), "prove", 8)
    assert ok, log


@pytest.mark.parametrize("style", ["pair", "ccu2"])
def test_broken_pe_fails_formal(style):
    k, fanin = 4, 16
    ok, _log = run_sby(PeShadow(k, fanin, acc_width=fanin.bit_length() - 1, style=style), "prove", 8)
    assert not ok, "a wrapping (too narrow) accumulator passed the equality proof"


@pytest.mark.parametrize("style", ["pair", "ccu2"])
def test_short_lfsr_pe_fails_formal(style):
    """K=3, fan-in 27: 7 carry counts need the 7 states of 3 LFSR bits; 2 bits (3 states) wrap."""
    cfg = AccelConfig(rows=1, cols=1, k=3, max_fanin=27, acc_lfsr=1)
    ok, _log = run_sby(PeShadow(3, 27, style=style, lfsr=cfg.lfsr_width - 1), "prove", 8)
    assert not ok, "an LFSR accumulator with too few states passed the equality proof"


STREAM = [
    ({"rows": 2, "cols": 2, "k": 2, "max_fanin": 6, "weight_hop": 1}, 20),
    ({"rows": 3, "cols": 1, "k": 1, "max_fanin": 3, "weight_rows": 3, "overlap": 0}, 16),
    ({"rows": 2, "cols": 1, "k": 1, "max_fanin": 3, "out_fifo": 3}, 20),  # the credit FIFO's output
    ({"rows": 2, "cols": 1, "k": 1, "max_fanin": 3, "out_fifo": 1}, 28),  # one credit: a beat at a time
    ({"rows": 3, "cols": 1, "k": 1, "max_fanin": 3, "weight_hop": 1, "out_fifo": 4, "drain_hop": 1}, 24),
    # 5 beats from one reduction into a ring of 4: one credit too many overwrites a beat (the ring of
    # out_fifo 5 is 8, where it is invisible at the ports)
    ({"rows": 5, "cols": 1, "k": 1, "max_fanin": 3, "weight_hop": 1, "out_fifo": 4, "drain_hop": 1}, 26),
    # gated drain registers (one drain stage more)
    ({"rows": 3, "cols": 1, "k": 1, "max_fanin": 3, "weight_hop": 1, "out_fifo": 5, "drain_hop": 1,
      "drain_gate": 1}, 26),
]


@pytest.mark.parametrize("params,depth", STREAM)
def test_core_stream_contract_order_and_response(params, depth):
    """BMC deep enough for a reduction, its drain under back-pressure and the next `last`, on any
    input (with or without `first`, restarts included): the stream contract, each reduction's beats
    in order, no owed beat further away than `longest_wait`, and no write into a full credit FIFO
    (OutOrder; the contract alone passed a core that never raised out.valid, one whose threshold
    unit took beats while stalled, and one credit too many at out_fifo 4 and 5; a core that took
    `first` from the payload alone lost beats of reductions framed by `last`)."""
    ok, log = run_sby(OutOrder(AccelConfig(**params)), "bmc", depth)
    assert ok, log


@pytest.mark.parametrize("params,depth", STREAM)
def test_response_bound_is_tight(params, depth):
    """One cycle less than `longest_wait` fails on every config: the bound is what the core does, not
    a loose one, and the assumptions leave the traces that reach it (the proof is not vacuous)."""
    cfg = AccelConfig(**params)
    ok, _log = run_sby(OutOrder(cfg, bound=longest_wait(cfg) - 1), "bmc", depth)
    assert not ok, "an owed beat never waited longest_wait cycles"


TIMING = [
    ({"rows": 2, "cols": 2, "k": 2, "max_fanin": 6, "weight_hop": 1}, 20),
    ({"rows": 3, "cols": 1, "k": 1, "max_fanin": 3, "weight_rows": 3, "overlap": 0}, 16),
    ({"rows": 2, "cols": 1, "k": 1, "max_fanin": 3, "out_fifo": 9}, 24),  # credits = the round trip
    ({"rows": 3, "cols": 1, "k": 1, "max_fanin": 3, "weight_hop": 1, "out_fifo": 12, "drain_hop": 1}, 30),
    ({"rows": 3, "cols": 1, "k": 1, "max_fanin": 3, "weight_hop": 1, "out_fifo": 13, "drain_hop": 1,
      "drain_gate": 1}, 30),
]


@pytest.mark.parametrize("params,depth", TIMING)
def test_core_out_beats_at_their_latencies(params, depth):
    """Out beat g at split s valid exactly out_beat_latencies(s)[g] cycles after its `last`, for every
    split (out.ready high): config.json's out_beats, proved to the BMC depth (two reductions)."""
    ok, log = run_sby(OutTiming(AccelConfig(**params)), "bmc", depth)
    assert ok, log


@pytest.mark.parametrize("params,depth", TIMING)
def test_out_beats_one_cycle_late_fail(params, depth):
    """The same table one cycle late fails on every config (the proof above is not vacuous)."""
    ok, _log = run_sby(OutTiming(AccelConfig(**params), late=1), "bmc", depth)
    assert not ok, "out beats matched a latency table one cycle late"


@pytest.mark.parametrize("params", [
    {"rows": 2, "cols": 2, "k": 1, "max_fanin": 3, "n_thresholds": 2, "channels": 4},
    {"rows": 1, "cols": 1, "k": 1, "max_fanin": 5, "n_thresholds": 3},
])
@pytest.mark.parametrize("style", ["pair", "ccu2"])
def test_threshold_unit_equals_reference(params, style):
    ok, log = run_sby(ThresholdRef(AccelConfig(**params), style), "bmc", 9)
    assert ok, log


# One RAM per delay (the two lines of delay 5 share one). Block RAM, n - 3 writes back: delays 4, 5,
# 6, 7, 10, 11 get ring depths 2, 4, 4, 8, 8, 16; LUT RAM, n - 2 writes back, from delay 3: depths
# 2, 4, 4, 8, 8, 16, 16 for 3, 4, 5, 6, 7, 10, 11. 24 steps wrap a 16-deep ring once.
SKEW_DELAYS = {False: (4, 5, 5, 6, 7, 10, 11), True: (3, 4, 5, 5, 6, 7, 10, 11)}


@pytest.mark.parametrize("lut", [False, True], ids=["block", "lut"])
def test_skew_ram_lines_equal_flip_flop_lines(lut):
    ok, log = run_sby(SkewEquiv(SKEW_DELAYS[lut], lut), "bmc", 24)
    assert ok, log


@pytest.mark.parametrize("lut", [False, True], ids=["block", "lut"])
def test_skew_lines_against_a_longer_reference_fail(lut):
    ok, _log = run_sby(SkewEquiv(SKEW_DELAYS[lut], lut, ref_extra=1), "bmc", 24)
    assert not ok, "RAM skew lines matched delay lines one cycle longer"


@pytest.mark.parametrize("params", [{"rows": 2, "cols": 1, "k": 1, "max_fanin": 4},
                                    {"rows": 3, "cols": 2, "k": 7, "max_fanin": 70, "n_thresholds": 2}])
def test_skid_buffer_equals_an_ideal_queue(params):
    """A held beat lost, replaced or reloaded while full passed the core's stream contract (audit)."""
    ok, log = run_sby(SkidRef(AccelConfig(**params)), "bmc", 12)
    assert ok, log
