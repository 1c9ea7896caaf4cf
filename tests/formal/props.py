"""Formal property wrappers (Amaranth Assert/Assume) for yowasp-sby: PE, stream contract (with beat order,
a response bound and exact beat cycles), threshold unit, skew lines, skid buffer.

Why wrappers as Components: every DUT input is a top-level port, so the solver drives it freely
(including `rst` at any time); the properties compare the DUT with independent shadow models.
"""

from __future__ import annotations

import itertools

from amaranth.hdl import Assert, Assume, Cat, Fragment, Module, Mux, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In

from hdl.config import AccelConfig
from hdl.core import XnorCore
from hdl.layouts import beat_layout, drain_layout, out_layout, thr_layout
from hdl.lfsr import lfsr_value
from hdl.pe import XnorPE
from hdl.skew import SkewLines, delay
from hdl.threshold import ThresholdUnit


class PeShadow(wiring.Component):
    """XnorPE accumulator == a wide shadow sum (equality), for every reduction within max_fanin.

    `acc_width` may be set narrower than max_fanin needs: that is the deliberately broken PE, which
    wraps, and which this property must catch (an `acc <= shadow` inequality would let it pass).
    With `lfsr` bits (an LFSR accumulator, hdl/lfsr.py) the PE's state is decoded by the drain's table
    and res lags one cycle; an LFSR too short for max_fanin is the broken PE then.
    """

    def __init__(self, k: int, max_fanin: int, acc_width: int | None = None, pipeline: int = 1,
                 style: str = "pair", lfsr: int = 0):
        self.k, self.fanin, self.pipeline, self.style, self.lfsr = k, max_fanin, pipeline, style, lfsr
        self.acc_width = acc_width if acc_width is not None else max_fanin.bit_length()
        super().__init__({"a": In(k), "w": In(k), "valid": In(1), "first": In(1), "last": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.pe = pe = XnorPE(self.k, self.acc_width, self.style, pipeline=self.pipeline, lfsr=self.lfsr)
        m.d.comb += [pe.a.eq(self.a), pe.w.eq(self.w), pe.valid.eq(self.valid),
                     pe.nfirst.eq(self.valid & ~self.first), pe.vlast.eq(self.valid & self.last)]
        if self.lfsr:
            m.d.comb += pe.vfirst.eq(self.valid & self.first)
        a, w, valid, first, last = self.a, self.w, self.valid, self.first, self.last
        # the shadow sees the inputs when the PE's accumulator does; like the PE's, its registers have
        # no reset, so a beat in flight at a reset still lands (the array's reset stops none)
        for _ in range(self.pipeline):
            d = [Signal.like(a, reset_less=True), Signal.like(w, reset_less=True),
                 *(Signal(reset_less=True) for _ in range(3))]
            m.d.sync += [d[0].eq(a), d[1].eq(w), d[2].eq(valid), d[3].eq(first), d[4].eq(last)]
            a, w, valid, first, last = d
        wide = self.fanin.bit_length() + 4
        # the PE's accumulator and result have no reset (every reduction starts with `first`, the
        # drain reads complete ones only): so neither has the shadow
        shadow = Signal(wide, reset_less=True)
        res_shadow = Signal(wide, reset_less=True)
        # independent popcount: bit-by-bit sum of XNOR (no pairing, no tree structure)
        # (the ccu2 PE counts mismatches, XOR, and the array converts: see hdl/carry.py)
        pc = sum((a[i] != w[i]) if pe.counts_mismatches else (a[i] == w[i]) for i in range(self.k))
        nxt = Mux(first, 0, shadow) + pc
        with m.If(valid):
            m.d.sync += shadow.eq(nxt)
            with m.If(last):
                m.d.sync += res_shadow.eq(nxt)
        # the environment keeps every reduction within max_fanin (what the config promises)
        m.d.comb += Assume(~valid | (nxt <= self.fanin))
        if not self.lfsr:
            m.d.comb += [Assert(pe.acc == shadow), Assert(pe.res == res_shadow)]
            return m
        res_lag = Signal(wide, reset_less=True)
        m.d.sync += res_lag.eq(res_shadow)
        # the drain's own decode table; the all-ones state (off the cycle) stands for a count none reaches
        off = 1 << self.lfsr
        m.d.comb += [Assert(lfsr_value(m, "acc", pe.acc, self.k, self.lfsr, off) == shadow),
                     Assert(lfsr_value(m, "res", pe.res, self.k, self.lfsr, off) == res_lag)]
        return m


def _groups(cfg: AccelConfig, split: Value) -> Value:
    """Number of groups of 2**split rows in R rows, for every split field value."""
    return Mux(split >= cfg.log2_rows, 1, (cfg.rows + (1 << split) - 1) >> split)


class _ProbedCore(XnorCore):
    """XnorCore that keeps its credit FIFO (`probe_fifo`, None without out_fifo) for white-box checks."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        self.probe_fifo = m.submodules.fifo if self.cfg.out_fifo else None
        return m


class StreamContract(wiring.Component):
    """XnorCore output: payload stable while valid & !ready; no out beat that no input asked for.

    `owed` counts out beats implied by accepted `last` beats (one per split group); an out beat with
    owed == 0 would be an output without input.
    """

    def __init__(self, cfg: AccelConfig):
        self.cfg = cfg
        super().__init__({"beat_valid": In(1), "beat_payload": In(beat_layout(cfg)), "thr_valid": In(1),
                          "thr_payload": In(thr_layout(cfg)), "out_ready": In(1)})

    def elaborate(self, platform):
        cfg = self.cfg
        m = Module()
        self._core = core = _ProbedCore(cfg)
        m.submodules.core = Fragment.get(core, platform)  # elaborated now: OutOrder reads its FIFO's ports
        m.d.comb += [core.beat.valid.eq(self.beat_valid), core.beat.payload.eq(self.beat_payload),
                     core.thr.valid.eq(self.thr_valid), core.thr.payload.eq(self.thr_payload),
                     core.out.ready.eq(self.out_ready)]
        groups = Signal(cfg.row_width + 1)
        # split is latched on a reduction's first beat: one with `first`, or any beat while none is
        # open (after a reset or a `last`; docs/design.md), like the array does
        cur_split = Signal(cfg.split_width)
        taken = core.beat.valid & core.beat.ready
        inside = Signal()
        with m.If(taken):
            m.d.sync += inside.eq(~self.beat_payload.last)
        first = self.beat_payload.first | ~inside
        with m.If(taken & first):
            m.d.sync += cur_split.eq(self.beat_payload.split)
        split = Mux(first, self.beat_payload.split, cur_split)
        m.d.comb += groups.eq(_groups(cfg, split))
        self._split = split  # (for the subclasses)
        owed = Signal(16)
        self._took = took = taken & self.beat_payload.last  # (took and gave: for the subclasses)
        self._gave = gave = core.out.valid & core.out.ready
        m.d.sync += owed.eq(owed + Mux(took, groups, 0) - gave)
        m.d.comb += Assert(~core.out.valid | (owed != 0))
        prev_stall = Signal()
        prev_payload = Signal(out_layout(cfg))
        m.d.sync += [prev_stall.eq(core.out.valid & ~core.out.ready), prev_payload.eq(core.out.payload)]
        with m.If(prev_stall):
            m.d.comb += [Assert(core.out.valid), Assert(core.out.payload.as_value() == prev_payload.as_value())]
        return m


def longest_wait(cfg: AccelConfig) -> int:
    """The most cycles in a row an owed out beat is not valid with out.ready high: from a `last`
    handshake to the first beat (counting the handshake's cycle), or between two beats."""
    waits = []
    for split in range(1 << cfg.split_width):
        lat = cfg.out_beat_latencies(split)
        waits += [lat[0], *(b - a - 1 for a, b in itertools.pairwise(lat))]
    return max(waits)


class OutOrder(StreamContract):
    """StreamContract, and: each reduction's out beats are its groups in order (`row` = g << split,
    `last_row` on the last), none lost, repeated or reordered; reductions in flight (`last` taken,
    a beat still owed) within the property's queue of max(4, out_fifo + 1) (in amaranth.sim with
    out.ready low and one-beat reductions the core takes exactly 4 without out_fifo, out_fifo + 1
    with it); a beat owed is never more than `bound` invalid cycles away (default `longest_wait`,
    the most it waits with out.ready high); and (white-box) the credit FIFO is never written while
    full. Any input (a reduction opens with `first`, after a `last` or after a reset), any
    back-pressure, resets at any time.

    Why beyond the contract: a lost, duplicated or never-valid beat, a credit returned twice or a
    FIFO overrun all passed StreamContract, which checks stability and "no output without input"
    (formal audit, session 35).
    """

    def __init__(self, cfg: AccelConfig, bound: int | None = None):
        self.bound = longest_wait(cfg) if bound is None else bound
        self.inflight = max(4, cfg.out_fifo + 1)
        super().__init__(cfg)

    def elaborate(self, platform):
        cfg = self.cfg
        m = super().elaborate(platform)
        core = self._core
        took, gave = self._took, self._gave
        # reductions whose `last` was taken: their split and the cycle it was taken in
        self._now = now = Signal(8, reset_less=True)
        m.d.sync += now.eq(now + 1)
        sw = cfg.split_width
        m.submodules.red = red = SyncFIFO(width=sw + len(now), depth=self.inflight)
        m.d.comb += [red.w_data.eq(Cat(self._split, now)), red.w_en.eq(took),
                     Assert(red.w_rdy | ~took)]
        s, g = red.r_data[:sw], Signal(cfg.row_width + 1)
        self._head, self._g = (s, red.r_data[sw:], red.r_rdy), g
        groups = _groups(cfg, s)
        with m.If(gave):
            m.d.comb += [Assert(red.r_rdy), Assert(core.out.payload.row == (g << s)[:cfg.row_width]),
                         Assert(core.out.payload.last_row == (g == groups - 1))]
            with m.If(g == groups - 1):
                m.d.sync += g.eq(0)
                m.d.comb += red.r_en.eq(1)
            with m.Else():
                m.d.sync += g.eq(g + 1)
        if core.probe_fifo is not None:
            # the credit FIFO's contract (hdl/credit_fifo.py): no write while out_fifo beats are stored
            # or being written. At out_fifo 5 (a ring of 8) one credit too many broke it invisibly
            # at the ports (formal audit, session 35)
            fifo, held = core.probe_fifo, Signal(range(cfg.out_fifo + 2))
            m.d.sync += held.eq(held + fifo.w_en - gave)
            m.d.comb += Assert(~fifo.w_en | (held < cfg.out_fifo))
        wait = Signal(range(self.bound + 2))
        with m.If(core.out.valid | ~(red.r_rdy | took)):
            m.d.sync += wait.eq(0)
        with m.Elif(wait <= self.bound):
            m.d.sync += wait.eq(wait + 1)
        m.d.comb += Assert(wait <= self.bound)
        return m


class OutTiming(OutOrder):
    """OutOrder with out.ready held high: out beat g of a reduction at split s is valid exactly
    `AccelConfig.out_beat_latencies(s)[g]` cycles after its `last` handshake (config.json's
    out_beats), and at no other cycle; for every split value, resets at any time. Only for configs
    whose beats never wait for credits (out_fifo 0 or >= credit_round_trip): with fewer, a beat also
    waits for the previous reduction's credits, which out_beats leaves out."""

    def __init__(self, cfg: AccelConfig, late: int = 0):
        """late: expect every beat this many cycles later (a wrong table, which must fail)."""
        if 0 < cfg.out_fifo < cfg.credit_round_trip():
            raise ValueError(f"OutTiming: out_fifo {cfg.out_fifo} < credit_round_trip {cfg.credit_round_trip()}")
        self.late = late
        super().__init__(cfg)

    def elaborate(self, platform):
        cfg = self.cfg
        m = super().elaborate(platform)
        core = self._core
        m.d.comb += Assume(self.out_ready)
        s, t_last, pending = self._head
        lat = Signal(range(256), init=255)  # (no beat is due at 255 cycles in these BMC depths)
        with m.Switch(s):
            for split in range(1 << cfg.split_width):
                with m.Case(split), m.Switch(self._g):
                    for g, cycles in enumerate(cfg.out_beat_latencies(split)):
                        with m.Case(g):
                            m.d.comb += lat.eq(cycles + self.late)
        due = (t_last + lat)[:len(self._now)]
        m.d.comb += Assert(core.out.valid == (pending & (self._now == due)))
        return m


class ThresholdRef(wiring.Component):
    """ThresholdUnit == reference: y = #(P >= T_i) or #(P <= T_i) from a shadow table, in order, under stalls."""

    def __init__(self, cfg: AccelConfig, style: str = "pair"):
        self.cfg, self.style = cfg, style
        super().__init__({"inp_valid": In(1), "inp_payload": In(drain_layout(cfg)), "thr_valid": In(1),
                          "thr_payload": In(thr_layout(cfg)), "out_ready": In(1)})

    def elaborate(self, platform):
        cfg = self.cfg
        C, N = cfg.cols, cfg.n_thresholds
        m = Module()
        m.submodules.tu = tu = ThresholdUnit(cfg, self.style)
        m.d.comb += [tu.inp.valid.eq(self.inp_valid), tu.inp.payload.eq(self.inp_payload),
                     tu.thr.valid.eq(self.thr_valid), tu.thr.payload.eq(self.thr_payload),
                     tu.out.ready.eq(self.out_ready)]
        entry = data.StructLayout({"thr": data.ArrayLayout(cfg.thr_width, N * C), "pol": data.ArrayLayout(1, C)})
        # like the threshold memory, the shadow table keeps its contents across rst; a write reaches
        # it one cycle after its handshake, as the unit registers `thr` before writing
        table = [Signal(entry, name=f"shadow_{b}", reset_less=True) for b in range(cfg.blocks)]
        w_valid, w = Signal(reset_less=True), Signal(thr_layout(cfg), reset_less=True)
        m.d.sync += [w_valid.eq(self.thr_valid), w.eq(self.thr_payload)]
        for b in range(cfg.blocks):
            with m.If(w_valid & (w.addr == b)):
                m.d.sync += [table[b].thr.eq(w.thr), table[b].pol.eq(w.pol)]
        # a block address past the table is outside the contract
        m.d.comb += Assume(~self.thr_valid | (self.thr_payload.addr < cfg.blocks))
        m.d.comb += Assume(~self.inp_valid | (self.inp_payload.chan_block < cfg.blocks))
        cur = Signal(entry)
        for b in range(cfg.blocks):
            with m.If(self.inp_payload.chan_block == b):
                m.d.comb += cur.eq(table[b])
        exp = Signal(out_layout(cfg))
        m.d.comb += [exp.row.eq(self.inp_payload.row), exp.p.eq(self.inp_payload.p),
                     exp.last_row.eq(self.inp_payload.last_row)]
        for c in range(C):
            p = self.inp_payload.p[c]
            hits = [Mux(cur.pol[c], p >= cur.thr[i * C + c], p <= cur.thr[i * C + c]) for i in range(N)]
            m.d.comb += exp.y[c].eq(sum(hits))
        m.submodules.q = q = SyncFIFO(width=len(exp.as_value()), depth=4)
        m.d.comb += [q.w_data.eq(exp.as_value()), q.w_en.eq(tu.inp.valid & tu.inp.ready),
                     q.r_en.eq(tu.out.valid & tu.out.ready)]
        with m.If(tu.out.valid):
            m.d.comb += [Assert(q.r_rdy), Assert(tu.out.payload.as_value() == q.r_data)]
        m.d.comb += Assume(q.w_rdy | ~self.inp_valid)  # the shadow queue is deeper than the pipeline
        return m


class SkewEquiv(wiring.Component):
    """SkewLines (RAM ring buffers for n >= min_mem) == plain flip-flop delay lines, in every cycle.

    Several delays share the class's bookkeeping, as the array's rows and columns do; `ref_extra`
    lengthens the reference lines (the deliberately wrong model, which must fail).
    """

    def __init__(self, delays: tuple[int, ...], lut: bool, width: int = 2, ref_extra: int = 0):
        self.delays, self.lut, self.ref_extra = delays, lut, ref_extra
        super().__init__({"x": In(data.ArrayLayout(width, len(delays)))})

    def elaborate(self, platform):
        m = Module()
        lines = SkewLines(m, min(self.delays), self.lut)
        outs = [lines.delay(self.x[i], n, f"line{i}") for i, n in enumerate(self.delays)]
        lines.emit()
        # a line holds real samples once it has been written n times (the solver picks the RAM's
        # initial contents: hardware tags them invalid with the valid bit, which travels in flip-flops)
        age = Signal(range(max(self.delays) + 1), reset_less=True)
        with m.If(age != max(self.delays)):
            m.d.sync += age.eq(age + 1)
        for i, n in enumerate(self.delays):
            ref = delay(m, self.x[i], n + self.ref_extra, f"ref{i}")
            with m.If(age >= n):
                m.d.comb += Assert(outs[i] == ref)
        return m


class SkidRef(wiring.Component):
    """SkidBuffer against an ideal zero-latency queue: out.valid iff a taken beat is undelivered (or
    one is being taken), and its payload is the oldest such beat. The core's stream contract checks
    stability and order at the core's ports, where a lost or replaced skid beat can hide."""

    def __init__(self, cfg: AccelConfig):
        from hdl.skid import SkidBuffer

        self._skid = SkidBuffer
        self.lay = drain_layout(cfg)
        super().__init__({"inp_valid": In(1), "inp_payload": In(self.lay), "out_ready": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.sk = sk = self._skid(self.lay)
        m.d.comb += [sk.inp.valid.eq(self.inp_valid), sk.inp.payload.eq(self.inp_payload),
                     sk.out.ready.eq(self.out_ready)]
        m.submodules.q = q = SyncFIFO(width=len(self.inp_payload.as_value()), depth=3)
        took = sk.inp.valid & sk.inp.ready
        gave = sk.out.valid & sk.out.ready
        passthru = took & ~q.r_rdy & gave
        m.d.comb += [Assert(sk.out.valid == (q.r_rdy | took)),
                     Assert(~sk.out.valid | (sk.out.payload.as_value()
                                             == Mux(q.r_rdy, q.r_data, self.inp_payload.as_value()))),
                     q.w_data.eq(self.inp_payload.as_value()), q.w_en.eq(took & ~passthru),
                     q.r_en.eq(gave & q.r_rdy),
                     Assert(q.w_rdy | ~(took & ~passthru))]  # never more than its one held beat
        return m
