"""The naive XNOR-popcount array, a baseline with stream ports like hdl.core.XnorCore's (`--core naive`).

Why it is kept: the FPGA flow was first built around it, and it stays the reference point the real
core's density is measured against (docs/measurements.md, the first board builds), and a small second
core for the UART bridge's tests (the bridge reads any core's signature). It is deliberately plain:
every PE adds popcount(XNOR) of its row's activation word and its column's weight word; on `last` all
accumulators are copied out and drained one row per beat. No thresholds, no systolic skew.
"""

from __future__ import annotations

from amaranth import Array, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["NaiveCore"]


class NaiveCore(wiring.Component):
    """R x C PEs, K-bit words, accumulators wide enough for `max_fanin` bits."""

    def __init__(self, rows: int, cols: int, k: int, max_fanin: int = 4096):
        if min(rows, cols, k) < 1 or max_fanin < k:
            raise ValueError(f"bad naive core shape rows={rows} cols={cols} k={k} max_fanin={max_fanin}")
        self.rows, self.cols, self.k, self.max_fanin = rows, cols, k, max_fanin
        self.acc_width = max_fanin.bit_length()
        beat = data.StructLayout({"act": data.ArrayLayout(k, rows), "wgt": data.ArrayLayout(k, cols),
                                  "first": 1, "last": 1})
        out = data.StructLayout({"row": range(rows), "p": data.ArrayLayout(self.acc_width, cols),
                                 "last_row": 1})
        super().__init__({"beat": In(stream.Signature(beat)), "out": Out(stream.Signature(out))})

    @property
    def ops_per_cycle(self) -> int:
        return 2 * self.rows * self.cols * self.k

    def elaborate(self, platform):
        m = Module()
        R, C, K, W = self.rows, self.cols, self.k, self.acc_width
        acc = [[Signal(W, name=f"acc_{r}_{c}") for c in range(C)] for r in range(R)]
        res = Array(Signal(data.ArrayLayout(W, C), name=f"res_{r}") for r in range(R))
        pending = Signal()
        drain_row = Signal(range(R))
        b = self.beat.payload
        # stage 1: registered popcounts; stage 2: accumulate. A `last` in stage 1 waits while the
        # previous results still drain.
        pc = [[Signal(range(K + 1), name=f"pc_{r}_{c}") for c in range(C)] for r in range(R)]
        s1_valid, s1_first, s1_last = Signal(), Signal(), Signal()
        stall = s1_valid & s1_last & pending
        m.d.comb += self.beat.ready.eq(~stall)
        with m.If(~stall):
            m.d.sync += [s1_valid.eq(self.beat.valid), s1_first.eq(b.first), s1_last.eq(b.last)]
            for r in range(R):
                for c in range(C):
                    x = ~(b.act[r] ^ b.wgt[c])
                    m.d.sync += pc[r][c].eq(sum(x[i] for i in range(K)))
            with m.If(s1_valid):
                for r in range(R):
                    for c in range(C):
                        nxt = Mux(s1_first, 0, acc[r][c]) + pc[r][c]
                        m.d.sync += acc[r][c].eq(nxt)
                        with m.If(s1_last):
                            m.d.sync += res[r][c].eq(nxt)
                with m.If(s1_last):
                    m.d.sync += pending.eq(1)
        m.d.comb += [self.out.valid.eq(pending), self.out.payload.row.eq(drain_row),
                     self.out.payload.p.eq(res[drain_row]), self.out.payload.last_row.eq(drain_row == R - 1)]
        with m.If(self.out.valid & self.out.ready):
            m.d.sync += drain_row.eq(Mux(drain_row == R - 1, 0, drain_row + 1))
            with m.If(drain_row == R - 1):
                m.d.sync += pending.eq(0)
        return m
