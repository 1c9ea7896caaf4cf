"""CreditFifo: the credit flow's output FIFO, built for a payload as wide as the array.

Why not `amaranth.lib.fifo.SyncFIFOBuffered`: a 32-column output word is ~360 bits written from
under every column, so its storage spreads over the chip's width, and on a floorplanned 32x32 array
every net that reached all of it was in turn the critical path:
- the library FIFO gates each write with its fill level (`w_rdy`), level register -> two LUTs ->
  the write enable of ~90 LUT-RAM cells: 10.5 ns. In the credit flow the drain reads a row only
  while the FIFO has room for every beat in flight (hdl/core.py), so a write can never meet a full
  FIFO and needs no gate;
- one read pointer reaching all the storage: 5.6 ns of routing; one write enable: 4.7 ns.
So the storage is cut into slices (the caller picks which payload bits, a group of columns each),
and each slice registers its own write (a kept copy of the write enable: hdl/kept.py) and has its
own copy of both pointers (counters that feed back their own values, which synthesis cannot merge).
The read is asynchronous and the payload comes straight from the RAM: no output register whose
clock enable would carry `out.ready` across the chip.

Contract: `w_en` must not be high while `depth` beats are stored or being written (the caller's
credits ensure it). A beat written in cycle t is valid on `out` in cycle t + 2.
"""

from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .kept import kept_reg

__all__ = ["CreditFifo", "up_down"]


def up_down(value: Value, up: Value, down: Value) -> Value:
    """value + up - down, with up and down as the selects of the last multiplexers (not adder inputs).

    Why: both usually arrive from far away (a handshake, a consumer's ready); as adder inputs they
    put the carry chain at the end of a long net (the FIFO level and the core's credit counter were
    each a 32x32 critical path that way). Wraps like the sum it stands for."""
    return Mux(up, Mux(down, value, value + 1), Mux(down, value - 1, value))[:len(value)]


class CreditFifo(wiring.Component):
    """`depth` beats of `width` bits in LUT RAM (asynchronous read).

    `slices`: lists of payload bit indices, one memory each (every bit in exactly one); default one.
    `pe_mode`: "instance" when the Verilog is generated (the write-enable copies are kept cells).
    """

    def __init__(self, width: int, depth: int, slices: list[list[int]] | None = None, pe_mode: str = "inline"):
        self.width, self.depth, self.pe_mode = width, depth, pe_mode  # (depth >= 1: AccelConfig.out_fifo)
        self.slices = [list(range(width))] if slices is None else [list(s) for s in slices]
        if sorted(i for s in self.slices for i in s) != list(range(width)):
            raise ValueError(f"slices must hold every bit index 0..{width - 1} exactly once")
        super().__init__({"w_en": In(1), "w_data": In(width), "out": Out(stream.Signature(width))})

    def elaborate(self, platform):
        m = Module()
        size = 1 << (self.depth - 1).bit_length() if self.depth > 1 else 2  # ring of a power of 2
        out = self.out
        # the write is registered (per slice, below): `wrote` is that registered write, seen here
        # (a kept copy of its own: Yosys otherwise merged it with a slice's write-enable copy, which
        # sits under its columns, far from this level logic: 2.7 ns of routing on a 32x32)
        wrote = kept_reg(m, self.w_en, "wrote", self.pe_mode, reset=True)
        level = Signal(range(self.depth + 1))  # beats in the RAM
        # out.valid is a flip-flop (level != 0 one cycle ahead): computed from `level` it was a LUT
        # tree that synthesis shared with the consumer's logic, on the 32x32 board build's critical
        # path (level -> 3 LUTs across the chip -> the read pointers' enable, 8.1 ns)
        nonempty = Signal()
        m.d.comb += out.valid.eq(nonempty)
        pop = nonempty & out.ready
        # (a pending read never meets the entry being written: that needs level == size, which the
        # credits only allow when depth == size and then no write is due)
        read = [None] * self.width
        for j, bits in enumerate(self.slices):
            # (no ram_style: Yosys picks LUT RAM on ECP5 for this shape, block RAM on iCE40)
            m.submodules[f"storage{j}"] = mem = Memory(shape=len(bits), depth=size, init=[])
            wp = mem.write_port()
            rp = mem.read_port(domain="comb")
            w_en = kept_reg(m, self.w_en, f"w_en{j}", self.pe_mode, reset=True)
            w_data = Signal(len(bits), name=f"w_data{j}", reset_less=True)
            wptr = Signal(range(size), name=f"wptr{j}")
            rptr = Signal(range(size), name=f"rptr{j}")
            m.d.sync += w_data.eq(Cat(self.w_data[i] for i in bits))
            m.d.comb += [wp.en.eq(w_en), wp.addr.eq(wptr), wp.data.eq(w_data), rp.addr.eq(rptr)]
            with m.If(w_en):
                m.d.sync += wptr.eq(wptr + 1)
            with m.If(pop):
                m.d.sync += rptr.eq(rptr + 1)
            for n, i in enumerate(bits):
                read[i] = rp.data[n]
        m.d.comb += out.payload.eq(Cat(*read))
        # (out.ready -> the level's adder was a critical path of the 32x32 board build, 6.7 ns)
        m.d.sync += [level.eq(up_down(level, wrote, pop)),
                     nonempty.eq(Mux(wrote == pop, level != 0, Mux(wrote, 1, level > 1 if self.depth > 1 else C(0, 1))))]
        return m
