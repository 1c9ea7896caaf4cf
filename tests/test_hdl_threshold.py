"""ThresholdUnit in amaranth.sim against golden.reference.ref_threshold: ties, polarity, constants, N > 1."""

import random

import pytest

from golden.reference import ref_threshold
from golden.stimulus import ThrWrite
from hdl.config import AccelConfig
from hdl.threshold import ThresholdUnit
from tests.simdrive import ReadyAfterValid, Sink, Source, run


def _case(rng, cols, n, fanin, blocks, beats=40):
    """Thresholds at, around and outside [0, F]; P values hitting every threshold exactly (ties)."""
    writes = []
    for b in range(blocks):
        thr = []
        for _ in range(n * cols):
            thr.append(rng.choice([0, fanin + 1, rng.randint(0, fanin + 1), rng.randint(0, fanin)]))
        writes.append(ThrWrite(b, tuple(thr), tuple(rng.getrandbits(1) for _ in range(cols))))
    drain = []
    for i in range(beats):
        b = rng.randrange(blocks)
        ts = writes[b].thr
        p = [rng.choice([ts[c], max(0, ts[c] - 1), min(fanin, ts[c] + 1), 0, fanin, rng.randint(0, fanin)])
             for c in range(cols)]
        p = [min(fanin, v) for v in p]
        drain.append({"row": i % 4, "p": p, "last_row": int(i % 4 == 3), "chan_block": b})
    return writes, drain


def test_threshold_unit_valid_does_not_wait_for_ready():
    """The stream rule: out.valid rises without out.ready, so a consumer that waits for valid gets every beat."""
    rng = random.Random(5)
    p = {"rows": 4, "cols": 2, "k": 1, "max_fanin": 20, "weight_rows": 1, "weight_hop": 1, "n_thresholds": 1,
         "channels": 2}
    writes, drain = _case(rng, 2, 1, 20, 1, beats=12)
    dut = ThresholdUnit(AccelConfig(**p))
    thr = Source(dut.thr, [{"addr": w.addr, "thr": list(w.thr), "pol": list(w.pol)} for w in writes], rng=rng)
    inp = Source(dut.inp, drain, idle=0.3, rng=rng, after=thr, gap=1)
    out = ReadyAfterValid(dut.out)
    run(dut, [thr, inp], [out], [len(drain)], idle_tail=4)
    assert out.items == ref_threshold(p, writes, drain)


@pytest.mark.parametrize("cols,n,fanin,blocks,bp", [(1, 1, 7, 1, 0.0), (3, 1, 64, 2, 0.5), (4, 3, 40, 3, 0.3),
                                                     (2, 15, 100, 1, 0.7)])
@pytest.mark.parametrize("style", ["pair", "ccu2"])  # Yosys comparators / carry-segment comparators
def test_threshold_unit_matches_reference(cols, n, fanin, blocks, bp, style):
    rng = random.Random(cols * 100 + n)
    p = {"rows": 4, "cols": cols, "k": 1, "max_fanin": fanin, "weight_rows": 1, "weight_hop": 1,
         "n_thresholds": n, "channels": cols * blocks}
    cfg = AccelConfig(**p)
    writes, drain = _case(rng, cols, n, fanin, blocks)
    dut = ThresholdUnit(cfg, style)
    thr = Source(dut.thr, [{"addr": w.addr, "thr": list(w.thr), "pol": list(w.pol)} for w in writes], rng=rng)
    inp = Source(dut.inp, drain, idle=0.3, rng=rng, after=thr, gap=1)  # (a write is seen 2 cycles on)
    out = Sink(dut.out, backpressure=bp, rng=rng)
    expect = ref_threshold(p, writes, drain)
    run(dut, [thr, inp], [out], [len(expect)], idle_tail=4)
    assert out.stable_violations == 0
    assert out.items == expect
    # the vectors really exercise both sides of each comparison
    ys = {v for e in expect for v in e["y"]}
    assert len(ys) > 1
