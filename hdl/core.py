"""XnorCore: the generated top level (beat / thr / out streams, docs/design.md).

Why a thin wrapper: the array and the threshold unit are tested on their own; the core only
connects them, so its ports are exactly the contract that gen/ writes into config.json.
"""

from __future__ import annotations

from amaranth.hdl import C, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .array import XnorArray
from .config import AccelConfig
from .credit_fifo import CreditFifo, up_down
from .layouts import beat_layout, drain_layout, out_layout, thr_layout
from .skid import SkidBuffer
from .threshold import ThresholdUnit

__all__ = ["XnorCore", "core_signature"]


def core_signature(cfg: AccelConfig) -> wiring.Signature:
    """The core's ports: for tools that describe them (gen's config.json) without building a core."""
    return wiring.Signature({
        "beat": In(stream.Signature(beat_layout(cfg))),
        "thr": In(stream.Signature(thr_layout(cfg))),
        "out": Out(stream.Signature(out_layout(cfg))),
    })


FIFO_SLICE_COLS = 8  # output columns per CreditFifo slice (one memory and pointer pair each)


def _fifo_slices(cfg: AccelConfig) -> list[list[int]]:
    """The out payload's bits by column group: p and y of FIFO_SLICE_COLS columns per slice (row and
    last_row ride in the first), so each slice's storage sits under its own columns."""
    lay = out_layout(cfg)
    row, p, y, last = (lay[f] for f in ("row", "p", "y", "last_row"))
    slices = []
    for c0 in range(0, cfg.cols, FIFO_SLICE_COLS):
        bits = [] if c0 else [*range(row.offset, row.offset + row.width), last.offset]
        for c in range(c0, min(c0 + FIFO_SLICE_COLS, cfg.cols)):
            bits += range(p.offset + c * cfg.acc_width, p.offset + (c + 1) * cfg.acc_width)
            bits += range(y.offset + c * cfg.y_width, y.offset + (c + 1) * cfg.y_width)
        slices.append(bits)
    return slices


class XnorCore(wiring.Component):
    """beat (in) -> PE array -> threshold unit [-> out_fifo FIFO] -> out; thr (in) writes the threshold memory.

    out_fifo = 0: out.ready is the stall enable of the threshold pipeline, and a skid buffer
    (hdl/skid.py) in front of it stalls the drain one cycle later. out_fifo = N:
    that pipeline never stalls (no enable from an output port on its ~3*C*acc_width flip-flops) and
    credits keep the N-deep FIFO from overflowing.
    """

    def __init__(self, cfg: AccelConfig, style: str = "pair", pe_mode: str = "inline", cells: str = "generic"):
        """cells: "ecp5" makes the ccu2 PE out of CCU2C primitives (synthesis for ECP5 only)."""
        self.cfg, self.style, self.pe_mode, self.cells = cfg, style, pe_mode, cells
        super().__init__(core_signature(cfg))

    def elaborate(self, platform):
        m = Module()
        m.submodules.array = array = XnorArray(self.cfg, self.style, self.pe_mode, self.cells)
        m.submodules.threshold = tu = ThresholdUnit(self.cfg, self.style, self.cells)
        wiring.connect(m, wiring.flipped(self.beat), array.beat)
        wiring.connect(m, wiring.flipped(self.thr), tu.thr)
        if not self.cfg.out_fifo:
            # the drain waits on a register (the buffer's `full`), not on out.ready through the threshold unit
            m.submodules.skid = skid = SkidBuffer(drain_layout(self.cfg))
            wiring.connect(m, array.drain, skid.inp)
            wiring.connect(m, skid.out, tu.inp)
            wiring.connect(m, tu.out, wiring.flipped(self.out))
            return m
        wiring.connect(m, array.drain, tu.inp)
        # credit flow: tu.out.ready is 1, so the drain and threshold enables fold away; the drain reads
        # a row only while the FIFO has room for every beat in flight (`count` < depth)
        depth = self.cfg.out_fifo
        m.submodules.fifo = fifo = CreditFifo(len(tu.out.payload.as_value()), depth, _fifo_slices(self.cfg),
                                              self.pe_mode)
        # count + taken_q = beats the drain has taken whose credit has not come back. `room_next` is
        # (count + taken_q < depth) one cycle ahead (the array registers it into `read`), and nothing
        # on the way to it or to `count` adds or compares a signal from far away: the counter takes a
        # read (`taken_q`) and a pop (`pop_q`, out.ready comes from a consumer that may sit across the
        # chip) one cycle late, as selects (up_down), and room's next value is picked by (taken,
        # taken_q, pop_q) among compares of the count register with constants. Each adder or compare
        # in front of those was in turn the routed critical path of a 32x32 (draining -> taken ->
        # adder 6.85 ns; count + taken_q -> compare 7.1 ns; out.ready -> pop -> the counter's enable
        # 7.5 ns). A credit therefore returns two cycles after its beat left
        # (AccelConfig.credit_round_trip).
        # (pop_q implies count + taken_q >= 1, so count stays within 0..depth.)
        count = Signal(range(depth + 1))
        taken_q = Signal()
        pop_q = Signal()
        taken = array.taken
        count_next = up_down(count, taken_q, pop_q)
        lt = [count < depth - j if depth > j else C(0, 1) for j in range(3)]  # (never below 0: lint-clean)
        held_lt0 = Mux(taken_q, lt[1], lt[0])  # count + taken_q < depth
        held_lt1 = Mux(taken_q, lt[2], lt[1])  # count + taken_q < depth - 1
        room_next = Mux(pop_q, Mux(taken, held_lt0, 1), Mux(taken, held_lt1, held_lt0))
        m.d.comb += [
            tu.out.ready.eq(1),
            fifo.w_en.eq(tu.out.valid), fifo.w_data.eq(tu.out.payload),
            array.room_next.eq(room_next),
        ]
        m.d.sync += [count.eq(count_next), taken_q.eq(taken), pop_q.eq(self.out.valid & self.out.ready)]
        wiring.connect(m, fifo.out, wiring.flipped(self.out))
        return m
