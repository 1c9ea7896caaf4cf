"""CreditFifo in amaranth.sim: every beat written comes out once, in order, under random back-pressure.

The writer obeys the contract the core's credits give it (never more than `depth` beats outstanding,
counting the output register), and the test checks the stream rule (payload held while stalled).
"""

import random

import pytest
from amaranth.sim import Simulator

from hdl.credit_fifo import CreditFifo

SLICES = [[0, 5, 11], [1, 2, 3, 4], [6, 7, 8, 9, 10]]  # interleaved, as the core's column groups are


@pytest.mark.parametrize("depth,write_p,ready_p,slices", [
    (1, 0.9, 0.5, None), (2, 0.5, 0.9, SLICES), (3, 1.0, 0.3, None), (5, 0.7, 0.7, SLICES),
    (16, 1.0, 0.95, None), (28, 0.8, 0.2, SLICES)])
def test_credit_fifo_in_order_under_backpressure(depth, write_p, ready_p, slices):
    dut = CreditFifo(12, depth, slices)
    rng = random.Random(depth)
    sent, got = [], []
    cycles = 600

    async def bench(ctx):
        outstanding = 0  # written and not yet handed out: what the core's credit counter holds
        held = None
        write_cycles = []
        for cycle in range(cycles):
            w = outstanding < depth and rng.random() < write_p
            data = rng.getrandbits(12)
            ctx.set(dut.w_en, w)
            ctx.set(dut.w_data, data)
            ready = rng.random() < ready_p
            ctx.set(dut.out.ready, ready)
            valid, payload = ctx.get(dut.out.valid), ctx.get(dut.out.payload)
            # a beat is out two cycles after its write, and never a bubble while one is due
            assert valid == (sum(c <= cycle - 2 for c in write_cycles) > len(got))
            if held is not None:  # valid and payload held since the last stall
                assert valid and payload == held
            held = payload if valid and not ready else None
            if valid and ready:
                got.append(payload)
                outstanding -= 1
            if w:
                sent.append(data)
                write_cycles.append(cycle)
                outstanding += 1
            await ctx.tick()
        ctx.set(dut.w_en, 0)
        ctx.set(dut.out.ready, 1)
        for _ in range(depth + 4):  # drain what is left
            if ctx.get(dut.out.valid):
                got.append(ctx.get(dut.out.payload))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert len(sent) > cycles // 10
    assert got == sent


def test_credit_fifo_latency_is_two_cycles():
    """A beat written in cycle t is valid at the output in cycle t + 2 (the core's latency formula)."""
    dut = CreditFifo(4, 3)

    async def bench(ctx):
        ctx.set(dut.out.ready, 1)
        ctx.set(dut.w_en, 1)
        ctx.set(dut.w_data, 9)
        await ctx.tick()
        ctx.set(dut.w_en, 0)
        assert not ctx.get(dut.out.valid)
        await ctx.tick()
        assert ctx.get(dut.out.valid) and ctx.get(dut.out.payload) == 9
        await ctx.tick()
        assert not ctx.get(dut.out.valid)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_credit_fifo_full_rate(depth):
    """With out.ready high and a write whenever a credit is free (this testbench sees the credit of a
    handshake one cycle later), a beat's credit comes back 3 cycles after its write: depth 3 keeps
    one beat per cycle, and depth d < 3 gives d beats every 3 cycles, never a bubble more."""
    dut = CreditFifo(8, depth)
    valid_cycles = []

    async def bench(ctx):
        outstanding = 0
        ctx.set(dut.out.ready, 1)
        for cycle in range(40):
            w = outstanding < depth
            ctx.set(dut.w_en, w)
            ctx.set(dut.w_data, cycle)
            if ctx.get(dut.out.valid):
                valid_cycles.append(cycle)
                outstanding -= 1
            outstanding += w
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert valid_cycles == [c for c in range(2, 40) if (c - 2) % 3 < depth]
