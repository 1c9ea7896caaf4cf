"""amaranth.sim drivers for the hdl tests: stream sources/sinks with random idle and backpressure.

Why one cycle loop: source, sink and checks advance together in one async testbench, so the
handshake rule (a transfer happens at a clock edge where valid and ready were both high) is
applied in exactly one place and cycle counts are exact for the latency checks.
"""

from __future__ import annotations

import random

from amaranth.sim import Simulator

from golden.payload import pack_payload, unpack_payload
from hdl.layouts import layout_fields


def _fields(stream):
    return layout_fields(stream.payload.shape())


class Source:
    """Drives one stream from a list of payload dicts; `idle` = probability of a bubble per beat.

    `after`: another Source that must be done first, and `gap` cycles more (none: the next cycle)."""

    def __init__(self, stream, items, idle=0.0, rng=None, after=None, gap=0):
        self.stream, self.fields, self.after, self.gap = stream, _fields(stream), after, gap
        self.items, self.idle, self.rng = list(items), idle, rng or random.Random(0)
        self.pos, self.valid, self.sent_cycles = 0, False, []

    def drive(self, ctx):
        if self.after is not None and self.after.done and self.gap:
            self.gap -= 1  # (counts the cycles since `after` finished)
            started = False
        else:
            started = self.after is None or self.after.done
        if started and not self.valid and self.pos < len(self.items) and self.rng.random() >= self.idle:
            self.valid = True
            ctx.set(self.stream.payload.as_value(), pack_payload(self.fields, self.items[self.pos]))
        ctx.set(self.stream.valid, int(self.valid))

    def sample(self, ctx):
        self.fire = self.valid and ctx.get(self.stream.ready)

    def after_edge(self, ctx, cycle):
        if self.fire:
            self.sent_cycles.append(cycle)
            self.pos += 1
            self.valid = False  # a new beat (or a bubble) is chosen next cycle

    @property
    def done(self):
        return self.pos == len(self.items)


class Sink:
    """Collects a stream; `backpressure` = probability ready is low in a cycle."""

    def __init__(self, stream, backpressure=0.0, rng=None):
        self.stream, self.fields = stream, _fields(stream)
        self.bp, self.rng = backpressure, rng or random.Random(1)
        self.items, self.cycles, self.first_valid_cycle = [], [], None
        self.stable_violations = 0
        self._held = None

    def drive(self, ctx):
        self.ready = self.rng.random() >= self.bp
        ctx.set(self.stream.ready, int(self.ready))

    def sample(self, ctx, cycle):
        valid = ctx.get(self.stream.valid)
        payload = ctx.get(self.stream.payload.as_value())
        if valid and self.first_valid_cycle is None:
            self.first_valid_cycle = cycle
        if self._held is not None and (not valid or payload != self._held):
            self.stable_violations += 1  # payload changed (or valid dropped) while not ready
        self.fire = bool(valid) and self.ready
        self._held = payload if valid and not self.ready else None
        if self.fire:
            self.items.append(unpack_payload(self.fields, payload))
            self.cycles.append(cycle)


class ReadyAfterValid(Sink):
    """A consumer that raises ready only once it sees valid: a producer whose valid waits for ready
    (against the stream rule) never sends it anything."""

    def drive(self, ctx):
        self.ready = bool(ctx.get(self.stream.valid))
        ctx.set(self.stream.ready, int(self.ready))


def run(dut, sources, sinks, expect_counts, max_cycles=20000, idle_tail=0):
    """Run until every sink has its expected number of beats (+ idle_tail cycles) or fail."""
    result = {}

    async def bench(ctx):
        cycle = 0
        tail = None
        while cycle < max_cycles:
            for s in sources:
                s.drive(ctx)
            for k in sinks:
                k.drive(ctx)
            for s in sources:
                s.sample(ctx)
            for k in sinks:
                k.sample(ctx, cycle)
            await ctx.tick()
            for s in sources:
                s.after_edge(ctx, cycle)
            cycle += 1
            if tail is None and all(len(k.items) >= n for k, n in zip(sinks, expect_counts)):
                tail = cycle + idle_tail
            if tail is not None and cycle >= tail:
                break
        result["cycles"] = cycle

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return result["cycles"]
