"""bench.bench_ws_array's weight-stationary array in amaranth.sim: its arithmetic, so that the LUT and
Fmax figures it measures belong to a working array."""

import random

import pytest
from amaranth.back import rtlil
from amaranth.sim import Simulator

from bench.bench_ws_array import LATENCY, WsArray, WsPE, main


def _simulate(dut, bench) -> None:
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("k,in_w,out_w", [(1, 0, 1), (7, 0, 3), (15, 8, 9), (23, 9, 10)])
def test_ws_pe_streams(k, in_w, out_w):
    """psum_out, LATENCY edges after the activation: popcount(a ^ w) + the psum_in of that last edge."""
    rng = random.Random(k)
    dut = WsPE(k, in_w, out_w, "generic")
    w = rng.getrandbits(k)
    beats = [(rng.getrandbits(k), rng.randrange(min(1 << in_w, (1 << out_w) - k)) if in_w else 0)
             for _ in range(60)]
    seen = []

    async def bench(ctx):
        ctx.set(dut.w_in, w)
        ctx.set(dut.shift, 1)
        await ctx.tick()
        ctx.set(dut.shift, 0)
        for a, ps in beats:
            ctx.set(dut.a, a)
            ctx.set(dut.psum_in, ps)
            await ctx.tick()
            seen.append(ctx.get(dut.psum_out))

    _simulate(dut, bench)
    lag = LATENCY - 1
    assert seen[lag:] == [(beats[j - lag][0] ^ w).bit_count() + beats[j][1] for j in range(lag, len(beats))]


async def _load_weights(ctx, dut, rng) -> list[list[int]]:
    """Shift a new word in each cycle (so rows end up holding different words), wait for the wave to
    pass the last row, and return the weights the PEs hold [row][column]."""
    k, lanes, fed = dut.k, dut.lanes, []
    ctx.set(dut.shift, 1)
    for _ in range(dut.rows + 2):
        fed.append(rng.getrandbits(k * dut.cols // lanes))
        ctx.set(dut.wgt, fed[-1])
        await ctx.tick()
    ctx.set(dut.shift, 0)
    for _ in range(dut.rows + 2):  # (the shift wave reaches row r r cycles late)
        await ctx.tick()
    wts = [[ctx.get(pe.w) for pe in row.pes] for row in dut.grid]
    for row in wts:  # each PE uses a whole word that was loaded for its group
        for c, w in enumerate(row):
            assert w in {f >> (c // lanes * k) & ((1 << k) - 1) for f in fed}, (c, w)
    return wts


def _pack(words: list[list[int]], k: int) -> int:
    """The `act` port value for words[r][lane] (word r lanes + lane)."""
    flat = [w for row in words for w in row]
    return sum(w << (i * k) for i, w in enumerate(flat))


@pytest.mark.parametrize("rows,cols,k,hop,psum_hop,lanes", [
    (1, 1, 1, 1, 1, 1), (3, 2, 7, 1, 1, 1), (5, 3, 7, 2, 1, 1), (4, 4, 5, 4, 1, 1), (5, 3, 7, 2, 2, 1),
    (9, 2, 3, 1, 2, 1), (3, 2, 1, 1, 1, 2), (3, 6, 7, 2, 1, 2), (4, 6, 5, 1, 2, 3)])
def test_ws_array_sums_columns(rows, cols, k, hop, psum_hop, lanes):
    """After a weight load (a different word per row), each column's output is the mismatch count of
    its lane's activations against its weight word (shared by the `lanes` columns of its group),
    summed over its rows."""
    rng = random.Random(rows * 100 + cols)
    dut = WsArray(rows, cols, k, hop, cells="generic", psum_hop=psum_hop, lanes=lanes)
    ow = dut.out_w

    async def bench(ctx):
        wts = await _load_weights(ctx, dut, rng)
        for r in range(rows):  # a group's PEs use one word
            assert all(wts[r][c] == wts[r][c - c % lanes] for c in range(cols))
        for _ in range(4):
            acts = [[rng.getrandbits(k) for _ in range(lanes)] for _ in range(rows)]
            ctx.set(dut.act, _pack(acts, k))
            for _ in range(LATENCY * rows + cols + 4):
                await ctx.tick()
            out = ctx.get(dut.out)
            for c in range(cols):
                want = sum((acts[r][c % lanes] ^ wts[r][c]).bit_count() for r in range(rows))
                assert (out >> (c * ow)) & ((1 << ow) - 1) == want

    _simulate(dut, bench)


@pytest.mark.parametrize("rows,cols,k,hop,psum_hop,lanes", [(3, 2, 7, 1, 1, 1), (5, 3, 7, 2, 2, 1),
                                                           (6, 3, 5, 2, 2, 1), (5, 4, 7, 1, 2, 2)])
def test_ws_array_streams(rows, cols, k, hop, psum_hop, lanes):
    """A new activation vector every cycle: each column's outputs are the vectors' sums in order, at
    one fixed lag per column (a skew that does not match the partial-sum registers mixes vectors)."""
    rng = random.Random(rows * 10 + psum_hop)
    dut = WsArray(rows, cols, k, hop, cells="generic", psum_hop=psum_hop, lanes=lanes)
    ow = dut.out_w
    vecs = [[[rng.getrandbits(k) for _ in range(lanes)] for _ in range(rows)] for _ in range(16)]
    outs, wts = [], []

    async def bench(ctx):
        wts[:] = await _load_weights(ctx, dut, rng)
        for t in range(len(vecs) + LATENCY * rows + cols + 8):
            if t < len(vecs):
                ctx.set(dut.act, _pack(vecs[t], k))
            await ctx.tick()
            outs.append(ctx.get(dut.out))

    _simulate(dut, bench)
    for c in range(cols):
        want = [sum((v[r][c % lanes] ^ wts[r][c]).bit_count() for r in range(rows)) for v in vecs]
        got = [(o >> (c * ow)) & ((1 << ow) - 1) for o in outs]
        assert any(got[lag:lag + len(want)] == want for lag in range(len(got) - len(want) + 1)), c


@pytest.mark.parametrize("argv,opt", [(["--hop", "0"], "--hop"), (["--rows", "-1"], "--rows"),
                                      (["--psum-hop", "0"], "--psum-hop"), (["--k", "0"], "--k"),
                                      (["--lanes", "0"], "--lanes")])
def test_ws_cli_rejects_bad_sizes(argv, opt, capsys):
    """A size below 1 is a one-line usage error (exit 2) before anything is built."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert f"error: {opt} must be >= 1, got" in capsys.readouterr().err


def test_ws_cli_rejects_lanes_not_dividing_cols(capsys):
    """Lanes group neighbouring columns, so they must divide the column count (exit 2, nothing built)."""
    with pytest.raises(SystemExit) as e:
        main(["--cols", "5", "--lanes", "2"])
    assert e.value.code == 2
    assert "error: --cols (5) must be a multiple of --lanes (2)" in capsys.readouterr().err


@pytest.mark.parametrize("k,lanes", [(1, 2), (7, 2), (5, 3), (23, 2)])
def test_ws_lanes_elaborate(k, lanes):
    """Every weight bit has one driver with lanes (the simulator alone does not check it): at K=1 the
    second lane's slice is the whole word, and it must still be a register apart from `w`."""
    rtlil.convert(WsArray(2, 2 * lanes, k, 1, cells="generic", lanes=lanes))
