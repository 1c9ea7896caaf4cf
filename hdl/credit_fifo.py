"""CreditFifo: the credit flow's output FIFO, with no full check on its write side and sliced storage.

Why not `amaranth.lib.fifo.SyncFIFOBuffered`: in the credit flow the drain reads a row only while the
FIFO has room for every beat in flight (hdl/core.py), so a write can never meet a full FIFO. The
library FIFO still gates each write with its level (`w_rdy`): on a floorplanned 32x32 array that
gate (level register -> two LUTs -> the write enable of ~90 LUT-RAM cells spread under the columns)
was the critical path, 10.5 ns. Here the write enable is the writer's valid flip-flop itself, and the
read side keeps only compares of registers before its clock enables.

Why slices: a 32-column output word is ~360 bits written from under every column, so its storage
spreads over the chip's width and one read pointer reaching all of it was the next critical path
(5.6 ns of routing). Each slice (the caller chooses which payload bits, e.g. a group of columns)
has its own memory and its own copy of both pointers. The copies are counters that each feed back
their own value, so synthesis cannot merge them as equal registers.

Contract: `w_en` must not be high while `depth` beats are stored (the caller's credits ensure it).
`out` is a stream whose payload is registered (first word through after one cycle).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["CreditFifo"]


class CreditFifo(wiring.Component):
    """`depth` beats of `width` bits in LUT RAM; each read port's register is the output register.

    `slices`: lists of payload bit indices, one memory each (every bit in exactly one); default one.
    """

    def __init__(self, width: int, depth: int, slices: list[list[int]] | None = None):
        self.width, self.depth = width, depth  # (depth >= 1: AccelConfig.out_fifo)
        self.slices = [list(range(width))] if slices is None else [list(s) for s in slices]
        if sorted(i for s in self.slices for i in s) != list(range(width)):
            raise ValueError(f"slices must hold every bit index 0..{width - 1} exactly once")
        super().__init__({"w_en": In(1), "w_data": In(width), "out": Out(stream.Signature(width))})

    def elaborate(self, platform):
        m = Module()
        size = 1 << (self.depth - 1).bit_length() if self.depth > 1 else 2  # ring of a power of 2
        level = Signal(range(self.depth + 1))  # beats in the RAM (not the output register)
        nonempty = Signal()  # level != 0, a flip-flop
        out = self.out
        take = nonempty & (~out.valid | out.ready)  # RAM head -> output register
        # (a take never reads the entry being written: that needs level == size, which the credits
        # only allow when depth == size and then no write is due)
        read = [None] * self.width
        for j, bits in enumerate(self.slices):
            # (no ram_style: Yosys picks LUT RAM on ECP5 for this shape, block RAM on iCE40)
            m.submodules[f"storage{j}"] = mem = Memory(shape=len(bits), depth=size, init=[])
            wp = mem.write_port()
            rp = mem.read_port(domain="sync")  # its data register is (this slice of) the output register
            wptr = Signal(range(size), name=f"wptr{j}")
            rptr = Signal(range(size), name=f"rptr{j}")
            m.d.comb += [wp.en.eq(self.w_en), wp.addr.eq(wptr), wp.data.eq(Cat(self.w_data[i] for i in bits)),
                         rp.en.eq(take), rp.addr.eq(rptr)]
            with m.If(self.w_en):
                m.d.sync += wptr.eq(wptr + 1)
            with m.If(take):
                m.d.sync += rptr.eq(rptr + 1)
            for n, i in enumerate(bits):
                read[i] = rp.data[n]
        m.d.comb += out.payload.eq(Cat(*read))
        with m.If(take):
            m.d.sync += out.valid.eq(1)
        with m.Elif(out.ready):
            m.d.sync += out.valid.eq(0)
        # level's next value and nonempty's, chosen by (w_en, take) among compares of the register
        m.d.sync += [
            level.eq(level + self.w_en - take),
            nonempty.eq(Mux(self.w_en == take, level != 0, Mux(self.w_en, 1, level > 1))),
        ]
        return m
