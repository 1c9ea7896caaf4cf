"""SkidBuffer: a stream register stage whose `inp.ready` is a flip-flop, at no added latency.

Why: in the stall flow (out_fifo = 0) out.ready enables the threshold pipeline, and that enable went
on through the drain's own handshake (read, row counter) in one cycle; on the iCE40 UP5K 8x8 it was
the critical path, out.ready -> 4 LUTs -> the row counter's enable (17.5 ns of routing at 93 % of
the LCs). Between the array's drain and the threshold unit, one beat of storage cuts it in two: the
drain sees `~full`, a register, and out.ready only reaches the threshold unit and this buffer.

An empty buffer passes a beat straight through (out = inp, same cycle); a beat taken while out
stalls is held and leads the next cycle. Beats stay in order; out.valid never waits for out.ready.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SkidBuffer"]


class SkidBuffer(wiring.Component):
    """inp -> out; inp.ready = not full (a register); one held beat when out does not take one."""

    def __init__(self, layout: data.Layout):
        self.layout = layout
        super().__init__({"inp": In(stream.Signature(layout)), "out": Out(stream.Signature(layout))})

    def elaborate(self, platform):
        m = Module()
        inp, out = self.inp, self.out
        full = Signal()
        held = Signal(self.layout, name="held", reset_less=True)
        m.d.comb += [
            inp.ready.eq(~full),
            out.valid.eq(full | inp.valid),
            out.payload.eq(Mux(full, held.as_value(), inp.payload.as_value())),
        ]
        with m.If(~full):  # (loads every cycle it is empty: no valid in its enable)
            m.d.sync += held.eq(inp.payload)
        with m.If(out.ready):
            m.d.sync += full.eq(0)
        with m.Elif(~full):
            m.d.sync += full.eq(inp.valid)
        return m
