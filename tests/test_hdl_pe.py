"""XnorPE in amaranth.sim: accumulator and result register against golden.reference.ref_pe."""

import random

import pytest
from amaranth.sim import Simulator

from golden.reference import ref_pe
from hdl.config import AccelConfig
from hdl.lfsr import lfsr_decode, low_width
from hdl.pe import POPCOUNT_STYLES, XnorPE, counts_mismatches


def _run_pe(k, acc_width, beats, style, pipeline=1, lfsr=0):
    """beats: list of (a, w, valid, first, last); returns [(acc, res)] after each edge (decoded values
    for an LFSR accumulator). Control as the array sends it: nfirst = valid and not first."""
    dut = XnorPE(k, acc_width, style, pipeline=pipeline, lfsr=lfsr)
    seen = []
    table = lfsr_decode(lfsr) if lfsr else None

    def value(state):
        return state if not lfsr else (state & (1 << low_width(k)) - 1) + (table[state >> low_width(k)] << low_width(k))

    async def bench(ctx):
        for a, w, valid, first, last in beats:
            ctx.set(dut.a, a)
            ctx.set(dut.w, w)
            ctx.set(dut.valid, valid)
            ctx.set(dut.nfirst, valid & (1 - first))
            ctx.set(dut.vlast, valid & last)
            if lfsr:
                ctx.set(dut.vfirst, valid & first)
            await ctx.tick()
            seen.append((value(ctx.get(dut.acc)), value(ctx.get(dut.res))))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen


def _model(k, beats, pipeline=1, mismatches=False, res_lag=0):
    """Expected (acc, res) after each edge; each PE pipeline register delays the update by one edge,
    res_lag more for res (an LFSR accumulator's result register).

    A mismatch-counting PE (ccu2) accumulates k - P per beat.
    """
    acc = res = 0
    accs, ress = [0] * pipeline, [0] * (pipeline + res_lag)
    for a, w, valid, first, last in beats:
        if valid:
            p = ref_pe([a], [w], k)
            acc = (0 if first else acc) + (k - p if mismatches else p)
            if last:
                res = acc
        accs.append(acc)
        ress.append(res)
    return list(zip(accs, ress))[:len(beats)]


@pytest.mark.parametrize("pipeline", [0, 1, 2])
@pytest.mark.parametrize("style", POPCOUNT_STYLES)
@pytest.mark.parametrize("k", [1, 7, 32, 64])
def test_pe_random_stream(k, style, pipeline):
    rng = random.Random(k)
    beats, since_first = [], 0
    for _ in range(60):
        first = rng.random() < 0.2 or not beats
        since_first = 1 if first else since_first + 1
        beats.append((rng.getrandbits(k), rng.getrandbits(k), int(rng.random() < 0.8), int(first),
                      int(rng.random() < 0.3)))
    fanin = 60 * k
    assert _run_pe(k, fanin.bit_length(), beats, style, pipeline) == \
        _model(k, beats, pipeline, counts_mismatches(style))


@pytest.mark.parametrize("pipeline", [0, 1, 2])
@pytest.mark.parametrize("style", ["pair", "ccu2"])
@pytest.mark.parametrize("k", [1, 7, 32])
def test_lfsr_pe_random_stream(k, style, pipeline):
    """acc_lfsr: the decoded state follows the sum; runs of one-beat reductions restart the LFSR
    in the cycle its result register takes the previous one."""
    rng = random.Random(100 + k)
    beats = []
    for i in range(80):
        first = rng.random() < 0.15 or not beats or 40 <= i < 50
        beats.append((rng.getrandbits(k), rng.getrandbits(k), int(rng.random() < 0.8 or 40 <= i < 50), int(first),
                      int(rng.random() < 0.2 or 40 <= i < 50)))
    cfg = AccelConfig(rows=1, cols=1, k=k, max_fanin=80 * k, acc_lfsr=1)
    assert _run_pe(k, cfg.acc_width, beats, style, pipeline, cfg.lfsr_width) == \
        _model(k, beats, pipeline, counts_mismatches(style), res_lag=1)


@pytest.mark.parametrize("style", ["pair", "ccu2"])
@pytest.mark.parametrize("k", [1, 7, 64])
@pytest.mark.parametrize("mode", ["match", "mismatch"])
def test_pe_extremes_at_full_fanin(k, mode, style):
    """max_fanin = 8k: all-match reaches P = max_fanin exactly (top accumulator bit), mismatch stays 0
    (the other way round for the mismatch-counting ccu2 PE)."""
    rng = random.Random(3)
    n = 8
    beats = []
    for i in range(n + 2):  # idle beats at the end let the pipelined PE finish
        a = rng.getrandbits(k)
        w = a if mode == "match" else a ^ ((1 << k) - 1)
        beats.append((a, w, int(i < n), int(i == 0), int(i == n - 1)))
    acc_width = (n * k).bit_length()
    got = _run_pe(k, acc_width, beats, style, 2)
    full = (mode == "match") != counts_mismatches(style)
    assert got[-1] == ((n * k, n * k) if full else (0, 0))
    assert got == _model(k, beats, 2, counts_mismatches(style))
