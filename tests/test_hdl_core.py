"""XnorCore in amaranth.sim against golden.reference.ref_core over golden.stimulus.cases()."""

import random

import pytest

from golden.reference import ref_core
from golden.stimulus import cases, random_case
from hdl.config import AccelConfig
from hdl.core import XnorCore
from tests.simdrive import ReadyAfterValid, Sink, Source, run

CASES = cases()


def simulate_core(case, style="pair", sink=None, beats=None):
    """sink(cfg, stream): a Sink of your own on `out` instead of the case's random backpressure;
    beats: the case's beats edited (don't-care fields), else case.beats()."""
    cfg = AccelConfig(**case.config)
    dut = XnorCore(cfg, style)
    rng = random.Random(case.seed)
    thr = Source(dut.thr, case.thr_beats(), idle=case.idle, rng=rng)
    beat = Source(dut.beat, case.beats() if beats is None else beats, idle=case.idle, rng=rng, after=thr)
    out = sink(cfg, dut.out) if sink else Sink(dut.out, backpressure=case.backpressure, rng=rng)
    expect = ref_core(case.config, case.thr_writes, case.reductions)
    cycles = run(dut, [thr, beat], [out], [len(expect)], idle_tail=cfg.reduction_period() + 8)
    return cfg, expect, out, beat, cycles


@pytest.mark.parametrize("style", ["pair", "ccu2"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_core_matches_reference(case, style):
    _cfg, expect, out, _beat, cycles = simulate_core(case, style)
    assert out.stable_violations == 0
    assert out.items == expect, f"{case.name}: out beats differ from ref_core after {cycles} cycles"


@pytest.mark.parametrize("out_fifo", [0, 4])
def test_out_valid_does_not_wait_for_ready(out_fifo):
    """The stream rule: a consumer that raises ready only after it sees valid still gets every beat."""
    case = random_case("rav", {**dict(CASES[1].config), "out_fifo": out_fifo}, n_red=2, seed=4, idle=0.0,
                       backpressure=0.0)
    _cfg, expect, out, _beat, _cycles = simulate_core(case, sink=lambda cfg, s: ReadyAfterValid(s))
    assert out.items == expect


def test_split_and_chan_block_count_only_on_first():
    """Beats after `first` carry don't-care split and chan_block: flipping chan_block there changes
    nothing (a core latching it on every beat thresholds against the wrong memory entry)."""
    case = next(c for c in CASES if c.name == "r3c3k7_burst_blocks")
    case = random_case("cb_noise", dict(case.config), n_red=4, seed=8)
    blocks = dict(case.config)["channels"] // dict(case.config)["cols"]
    beats = [b if b["first"] else {**b, "chan_block": (b["chan_block"] + 1) % blocks} for b in case.beats()]
    assert beats != case.beats()
    _cfg, expect, out, _beat, _cycles = simulate_core(case, beats=beats)
    assert out.items == expect


@pytest.mark.parametrize("style", ["pair", "ccu2"])
def test_latency_matches_config(style):
    """First out beat is valid exactly cfg.out_latency() cycles after the `last` handshake."""
    for params in ({"rows": 3, "cols": 2, "k": 7, "max_fanin": 70, "weight_hop": 2},
                   {"rows": 1, "cols": 1, "k": 1, "max_fanin": 8},
                   {"rows": 8, "cols": 5, "k": 7, "max_fanin": 70, "weight_hop": 1, "pipeline": 2},
                   {"rows": 2, "cols": 2, "k": 7, "max_fanin": 70, "pipeline": 0},
                   {"rows": 1, "cols": 1, "k": 7, "max_fanin": 70, "pipeline": 0},  # fill 2: no countdown
                   {"rows": 3, "cols": 7, "k": 7, "max_fanin": 70, "act_hop": 3},
                   {"rows": 8, "cols": 3, "k": 7, "max_fanin": 70, "out_fifo": 8},  # 8 beats, 8 credits
                   {"rows": 8, "cols": 7, "k": 7, "max_fanin": 70, "act_hop": 2, "out_fifo": 11},  # (11)
                   {"rows": 2, "cols": 2, "k": 7, "max_fanin": 70, "out_fifo": 3},
                   {"rows": 9, "cols": 3, "k": 7, "max_fanin": 70, "weight_hop": 2, "out_fifo": 14,
                    "drain_hop": 2},  # row blocks 0..4 (the last truncated), round trip 15
                   {"rows": 8, "cols": 7, "k": 7, "max_fanin": 70, "weight_hop": 1, "act_hop": 2, "out_fifo": 20,
                    "drain_hop": 3},
                   {"rows": 9, "cols": 3, "k": 7, "max_fanin": 70, "weight_hop": 1, "out_fifo": 16,
                    "drain_hop": 2, "drain_regs": 2},  # two registers per row block: 9 drain stages
                   {"rows": 8, "cols": 6, "k": 7, "max_fanin": 70, "weight_hop": 1, "skew_mem": 4},  # RAM lines
                   {"rows": 8, "cols": 6, "k": 7, "max_fanin": 70, "weight_hop": 1, "skew_mem": 3, "skew_lutram": 1},
                   # LFSR accumulators: the result register a cycle later, the decode register
                   {"rows": 3, "cols": 2, "k": 7, "max_fanin": 70, "weight_hop": 2, "acc_lfsr": 1},
                   {"rows": 1, "cols": 1, "k": 7, "max_fanin": 70, "acc_lfsr": 1},  # read as it captures
                   {"rows": 1, "cols": 1, "k": 7, "max_fanin": 70, "pipeline": 0, "acc_lfsr": 1},
                   {"rows": 3, "cols": 2, "k": 7, "max_fanin": 70, "overlap": 0, "acc_lfsr": 1},
                   {"rows": 9, "cols": 3, "k": 7, "max_fanin": 70, "weight_hop": 1, "out_fifo": 17,
                    "drain_hop": 2, "drain_regs": 2, "acc_lfsr": 1},
                   # gated result registers: one drain stage more
                   {"rows": 9, "cols": 3, "k": 7, "max_fanin": 70, "weight_hop": 1, "out_fifo": 18,
                    "drain_hop": 2, "drain_regs": 2, "drain_gate": 1, "acc_lfsr": 1},
                   {"rows": 1, "cols": 2, "k": 7, "max_fanin": 70, "out_fifo": 10, "drain_hop": 4, "drain_gate": 1}):
        p = {"weight_rows": 1, "weight_hop": 4, "n_thresholds": 1, **params}
        p.setdefault("channels", p["cols"])
        case = random_case("lat", p, n_red=1, beats=2, idle=0.0, backpressure=0.0)
        cfg, expect, out, beat, _ = simulate_core(case, style)
        assert out.items == expect
        got = out.first_valid_cycle - beat.sent_cycles[-1]
        assert got == cfg.out_latency(), (params, got)
        # rows drain one per cycle: the last group leaves drain_cycles - 1 cycles after the first
        assert out.cycles[-1] - out.cycles[0] == cfg.drain_cycles() - 1


BEAT_TIMING = [
    {"rows": 8, "cols": 3, "k": 7, "max_fanin": 70},
    {"rows": 3, "cols": 2, "k": 7, "max_fanin": 70, "overlap": 0, "acc_lfsr": 1},
    {"rows": 8, "cols": 3, "k": 7, "max_fanin": 70, "out_fifo": 1},  # one credit: a beat per round trip
    {"rows": 8, "cols": 3, "k": 7, "max_fanin": 70, "out_fifo": 3},
    {"rows": 8, "cols": 3, "k": 7, "max_fanin": 70, "out_fifo": 13},  # more credits than the round trip
    {"rows": 9, "cols": 3, "k": 7, "max_fanin": 70, "weight_hop": 2, "out_fifo": 4, "drain_hop": 2},
    {"rows": 7, "cols": 7, "k": 7, "max_fanin": 70, "act_hop": 2, "weight_hop": 1, "out_fifo": 3, "drain_hop": 2,
     "drain_regs": 2, "acc_lfsr": 1, "drain_gate": 1},
]


@pytest.mark.parametrize("params", BEAT_TIMING, ids=lambda p: "_".join(f"{k}{v}" for k, v in p.items()))
def test_every_out_beat_at_its_latency(params):
    """Out beat g of a reduction at split s is valid exactly out_beat_latencies(s)[g] cycles after the
    `last` handshake, for every split field value (config.json's out_beats); the split-0 `out` alone
    said nothing about splits, where beats are 2**s cycles apart, nor about too few credits."""
    p = {"weight_rows": 1, "weight_hop": 4, "n_thresholds": 1, "channels": params["cols"], **params}
    for split in range(1 << AccelConfig(**p).split_width):
        case = random_case("beats", p, n_red=1, beats=1, idle=0.0, backpressure=0.0, split=split)
        cfg, expect, out, beat, _ = simulate_core(case)
        assert out.items == expect
        assert [c - beat.sent_cycles[-1] for c in out.cycles] == list(cfg.out_beat_latencies(split)), split


def test_out_beat_latencies_take_split_field_values_only():
    cfg = AccelConfig(rows=3, cols=2, k=7, max_fanin=70)
    assert [len(cfg.out_beat_latencies(s)) for s in range(4)] == [3, 2, 1, 1]  # groups of 1, 2, 4 rows
    for bad in (-1, 4, 1.0, True):
        with pytest.raises(ValueError, match=rf"^split must be an integer in 0\.\.3, not {bad!r}$"):
            cfg.out_beat_latencies(bad)


@pytest.mark.parametrize("act_hop,drain_hop,drain_regs,acc_lfsr,gate", [(1, 0, 1, 0, 0), (2, 0, 1, 0, 0),
                                                                         (2, 4, 1, 0, 0), (2, 8, 2, 0, 0),
                                                                         (2, 8, 2, 1, 0), (2, 8, 2, 1, 1)])
@pytest.mark.parametrize("spare", [-1, 0])
def test_credits_round_trip_is_exact(act_hop, drain_hop, drain_regs, acc_lfsr, gate, spare):
    """out_fifo = credit_round_trip() keeps one beat per cycle; one credit fewer cannot."""
    p = {"rows": 24, "cols": 7, "k": 7, "max_fanin": 70, "weight_rows": 1, "weight_hop": 4, "n_thresholds": 1,
         "channels": 7, "act_hop": act_hop, "drain_hop": drain_hop, "drain_regs": drain_regs, "acc_lfsr": acc_lfsr,
         "drain_gate": gate}
    p["out_fifo"] = AccelConfig(**p, out_fifo=3).credit_round_trip() + spare
    case = random_case("credits", p, n_red=1, beats=2, idle=0.0, backpressure=0.0)
    cfg, expect, out, _beat, _ = simulate_core(case)
    assert out.items == expect
    span = out.cycles[-1] - out.cycles[0]
    assert span > cfg.drain_cycles() - 1 if spare < 0 else span == cfg.drain_cycles() - 1


class _ReadyFrom(Sink):
    """A sink whose ready is low before cycle `start` and high from it."""

    def __init__(self, stream, start):
        super().__init__(stream)
        self.start, self.cycle = start, 0

    def drive(self, ctx):
        self.ready = self.cycle >= self.start
        self.cycle += 1
        ctx.set(self.stream.ready, int(self.ready))


@pytest.mark.parametrize("act_hop,drain_hop", [(1, 0), (2, 4)])
def test_returned_credit_comes_back_after_the_round_trip(act_hop, drain_hop):
    """With the FIFO full, the pop that returns a credit lets the drain read in the next cycle:
    beat N (N = out_fifo credits) leaves exactly credit_round_trip() cycles after beat 0."""
    p = {"rows": 24, "cols": 3, "k": 7, "max_fanin": 70, "weight_rows": 1, "weight_hop": 4, "n_thresholds": 1,
         "channels": 3, "act_hop": act_hop, "drain_hop": drain_hop, "out_fifo": 5}
    case = random_case("refill", p, n_red=1, beats=2, idle=0.0, backpressure=0.0)
    cfg, expect, out, _beat, _ = simulate_core(  # ready rises long after the FIFO filled
        case, sink=lambda cfg, stream: _ReadyFrom(stream, start=cfg.out_latency() + 60))
    assert cfg.out_fifo < cfg.credit_round_trip()  # so beat N waits for beat 0's credit
    assert out.items == expect
    n = cfg.out_fifo
    assert out.cycles[:n] == list(range(out.cycles[0], out.cycles[0] + n))
    assert out.cycles[n] - out.cycles[0] == cfg.credit_round_trip()
