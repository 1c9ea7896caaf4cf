"""SkidBuffer in amaranth.sim: every beat passes once, in order, under random idle and back-pressure;
an empty buffer adds no latency, and inp.ready never follows out.ready within a cycle."""

import random

import pytest
from amaranth.lib import data
from amaranth.sim import Simulator

from hdl.skid import SkidBuffer

LAYOUT = data.StructLayout({"a": 5, "b": data.ArrayLayout(3, 2)})


@pytest.mark.parametrize("valid_p,ready_p", [(1.0, 1.0), (1.0, 0.3), (0.5, 0.5), (0.9, 0.8), (0.2, 0.1)])
def test_skid_in_order_registered_ready(valid_p, ready_p):
    dut = SkidBuffer(LAYOUT)
    rng = random.Random(f"{valid_p}{ready_p}")
    sent, got = [], []
    cycles = 500

    async def bench(ctx):
        offer, held = None, None
        for _ in range(cycles):
            if offer is None and rng.random() < valid_p:
                offer = rng.getrandbits(11)
            ctx.set(dut.inp.valid, offer is not None)
            ctx.set(dut.inp.payload.as_value(), offer or 0)
            ready = rng.random() < ready_p
            ctx.set(dut.out.ready, not ready)
            in_ready = ctx.get(dut.inp.ready)
            ctx.set(dut.out.ready, ready)
            assert ctx.get(dut.inp.ready) == in_ready  # a register: out.ready does not reach it
            valid, payload = ctx.get(dut.out.valid), ctx.get(dut.out.payload.as_value())
            if held is not None:  # valid and payload held since the last stall
                assert valid and payload == held
            if in_ready and offer is not None and len(got) == len(sent):
                assert valid and payload == offer  # empty: the beat passes in the same cycle
            held = payload if valid and not ready else None
            if valid and ready:
                got.append(payload)
            if offer is not None and in_ready:
                sent.append(offer)
                offer = None
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert got == sent[:len(got)] and len(sent) - len(got) <= 1
    assert len(got) > cycles * min(valid_p, ready_p) / 3  # it does not just stall
