"""Threshold-compare unit: P -> y with N thresholds and a polarity per channel, from a memory.

Why a memory of channel blocks: a layer has more output channels than the array has columns; each
tile of C channels selects its entry (`chan_block`), so thresholds are written once per layer.
y = number of i with P >= T_i (polarity bit 1, i.e. +1) or P <= T_i (polarity bit 0, i.e. -1).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .carry import compare_chain
from .config import AccelConfig
from .layouts import drain_layout, out_layout, thr_layout

__all__ = ["ThresholdUnit"]


class ThresholdUnit(wiring.Component):
    """inp (row popcounts) -> out (popcounts + y); `thr` writes the threshold memory.

    Pipeline of 3 registers under one enable (out.ready or an empty output): memory read,
    compare (N*C comparators), count. `thr` is always ready and registered once before the write
    (its valid would otherwise reach every threshold register straight from the port: across a
    32-column array 6.9 ns); a write is seen by rows the unit accepts two or more cycles after it
    (the read port is not transparent). rst does not clear the thresholds.
    """

    def __init__(self, cfg: AccelConfig, style: str = "pair", cells: str = "generic"):
        """style "ccu2": comparators as carry segments (hdl.carry.compare_chain), CCU2C with cells="ecp5"."""
        self.cfg, self.style, self.cells = cfg, style, cells
        super().__init__({
            "inp": In(stream.Signature(drain_layout(cfg))),
            "thr": In(stream.Signature(thr_layout(cfg))),
            "out": Out(stream.Signature(out_layout(cfg))),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        C, N = cfg.cols, cfg.n_thresholds
        m = Module()
        entry = data.StructLayout({"thr": data.ArrayLayout(cfg.thr_width, N * C), "pol": data.ArrayLayout(1, C)})
        out = self.out
        en = ~out.valid | out.ready
        m.d.comb += [self.thr.ready.eq(1), self.inp.ready.eq(en)]
        thr_valid = Signal(reset_less=True)  # (a write taken in a reset cycle still lands, as before)
        thr = Signal(thr_layout(cfg), reset_less=True)
        m.d.sync += [thr_valid.eq(self.thr.valid), thr.eq(self.thr.payload)]
        if cfg.blocks > 1:
            m.submodules.mem = mem = Memory(shape=entry, depth=cfg.blocks, init=[])
            wp = mem.write_port()
            rp = mem.read_port(domain="sync")
            m.d.comb += [
                wp.addr.eq(thr.addr), wp.en.eq(thr_valid), wp.data.thr.eq(thr.thr), wp.data.pol.eq(thr.pol),
                rp.addr.eq(self.inp.payload.chan_block), rp.en.eq(en),
            ]
            tab = rp.data
        else:  # one entry: a register (a depth-1 memory would have a zero-width address) read
            reg = Signal(entry, reset_less=True)  # like the memory: kept across rst, read on accept
            with m.If(thr_valid):
                m.d.sync += [reg.thr.eq(thr.thr), reg.pol.eq(thr.pol)]
            tab = Signal(entry, reset_less=True)
            with m.If(en):
                m.d.sync += tab.eq(reg)

        row_l = data.StructLayout({"row": cfg.row_width, "p": data.ArrayLayout(cfg.acc_width, C),
                                   "last_row": 1})
        s1_valid, s1 = Signal(), Signal(row_l)
        s2_valid, s2 = Signal(), Signal(row_l)
        cmp = Signal(data.ArrayLayout(N, C))
        with m.If(en):
            m.d.sync += [
                s1_valid.eq(self.inp.valid),
                s1.row.eq(self.inp.payload.row), s1.p.eq(self.inp.payload.p),
                s1.last_row.eq(self.inp.payload.last_row),
                s2_valid.eq(s1_valid), s2.eq(s1),
                out.valid.eq(s2_valid),
                out.payload.row.eq(s2.row), out.payload.p.eq(s2.p), out.payload.last_row.eq(s2.last_row),
            ]
            for c in range(C):
                p, pol = s1.p[c], tab.pol[c]
                thr = [tab.thr[i * C + c] for i in range(N)]
                if self.style == "ccu2":
                    chain, ys = compare_chain(f"cmp{c}", p, thr, pol)
                    chain.emit(m, self.cells)
                    m.d.sync += [cmp[c][i].eq(ys[i]) for i in range(N)]
                else:
                    m.d.sync += [cmp[c][i].eq(Mux(pol, p >= t, p <= t)) for i, t in enumerate(thr)]
                m.d.sync += out.payload.y[c].eq(sum(cmp[c][i] for i in range(N)))
        return m
