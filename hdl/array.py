"""R x C output-stationary systolic XNOR-popcount array with internal skew and a draining result bank.

Why this shape: activations hop right one register per `act_hop` PEs (short wires), weights go
down each column with a pipeline register every `weight_hop` rows, and the core skews its inputs so
one input beat is one reduction step for every PE. Valid/first/last travel with the activations,
so input bubbles flow through and the PE grid never stalls (no global enable on ~R*C*K flip-flops):
only the input waits, when a `last` beat would overwrite a result bank that is still draining
(overlap 0: when any beat would, the accumulators being the bank).

Timing: a beat accepted in cycle t is seen by PE(r, c) in cycle t + 1 + r // weight_hop + c // act_hop.
"""

from __future__ import annotations

import functools
import operator

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Mux, ResetSignal, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .carry import Chain, onehot_mux
from .config import AccelConfig
from .kept import kept_reg
from .layouts import beat_layout, drain_layout
from .lfsr import lfsr_value
from .pe import counts_mismatches, pe_logic
from .skew import SkewLines
from .skew import delay as _delay

__all__ = ["XnorArray", "ctl_width", "drain_block_ccu2", "pe_module_name"]


BOOK_LAG = 2  # cycles the drain-side bookkeeping takes the input control late (at most fill - 2)


def pe_module_name(cfg: AccelConfig, style: str = "pair") -> str:
    """Verilog name of the PE module gen/ emits once and every row instantiates C times."""
    return f"xnorgen_pe_k{cfg.k}_w{cfg.acc_width}_o{cfg.overlap}_p{cfg.pipeline}_l{cfg.lfsr_width}_{style}"


def row_module_name(cfg: AccelConfig, style: str = "pair") -> str:
    """Verilog name of the PE-row module gen/ emits once and the array instantiates R times."""
    return (f"xnorgen_row_c{cfg.cols}_h{cfg.act_hop}_k{cfg.k}_w{cfg.acc_width}_o{cfg.overlap}"
            f"_p{cfg.pipeline}_l{cfg.lfsr_width}_{style}")


class XnorRow(wiring.Component):
    """C PEs of one row: the activation word and its valid/first/last hop right, a register per act_hop PEs.

    Why a module: Amaranth emits one module per Elaboratable instance, so gen/ converts one row
    (and one PE) and instantiates them (`pe_mode="instance"`); simulation uses `"inline"`.
    PE c sees the row's inputs c // act_hop cycles late; `wgt` word c must already be skewed so.
    """

    def __init__(self, cfg: AccelConfig, style: str = "pair", pe_mode: str = "inline", cells: str = "generic"):
        self.cfg, self.style, self.pe_mode, self.cells = cfg, style, pe_mode, cells
        super().__init__({
            "act": In(cfg.k), "wgt": In(data.ArrayLayout(cfg.k, cfg.cols)), "ctl": In(ctl_width(cfg)),
            "res": Out(data.ArrayLayout(cfg.res_width, cfg.cols)),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        m = Module()
        act, ctl = self.act, self.ctl
        for c in range(cfg.cols):
            if c and c % cfg.act_hop == 0:  # one register per act_hop columns (fan-out act_hop)
                act = _delay(m, act, 1, f"act_c{c}")
                ctl = kept_reg(m, ctl, f"ctl_c{c}", self.pe_mode)
            if self.pe_mode == "inline":
                _, res = pe_logic(m, f"pe{c}", act, self.wgt[c], ctl[0], ctl[1], ctl[2], cfg.k,
                                  cfg.acc_width, self.style, bool(cfg.overlap), cfg.pipeline, self.cells,
                                  cfg.lfsr_width, ctl[3] if cfg.acc_lfsr else None)
                m.d.comb += self.res[c].eq(res)
            else:
                m.submodules[f"pe{c}"] = Instance(
                    pe_module_name(cfg, self.style), i_clk=ClockSignal(), i_rst=ResetSignal(),
                    i_a=act, i_w=self.wgt[c], i_valid=ctl[0], i_nfirst=ctl[1], i_vlast=ctl[2],
                    o_res=self.res[c], **({"i_vfirst": ctl[3]} if cfg.acc_lfsr else {}))
        return m


def ctl_width(cfg: AccelConfig) -> int:
    """Control bits a PE takes: valid, valid and not first, valid and last (+ valid and first: acc_lfsr)."""
    return 3 + cfg.acc_lfsr


def _group_sum_chain(m: Module, name: str, bits: Value, m_part: Value, acc: Value, keep: Value, cells: str) -> Value:
    """(keep ? acc : 0) + (bits - m_part) mod 2**width: two carry segments (width + 1 and width slots)."""
    chain = Chain(name)
    chain.boundary_item(("bit", Const(1, 1)))  # the +1 of bits + ~m_part + 1
    conv = [chain.sub(bits[i], m_part[i]) for i in range(len(acc))]
    chain.boundary_item(None)  # (its carry out, bit width, is dropped: mod 2**width)
    total = Cat(*(chain.acc(conv[i], acc[i], keep) for i in range(len(acc))))
    chain.emit(m, cells)
    return total


def drain_block_ccu2(width: int, rows: int, per: int | None = None) -> int:
    """CCU2C of one column's drain row block: throw-away chains from onehot_mux itself, padded to
    whole CCU2C, `per` result bits per chain (default: the array's choice; bench_array_ppa --budget)."""
    chains, _ = onehot_mux("plan", [Signal(width) for _ in range(rows)], Signal(rows),
                           bits_per_chain=_drain_chain_bits(width, rows) if per is None else per,
                           cin=Signal(width))
    return sum((c.start_slots() + 1) // 2 for c in chains)


@functools.cache
def _drain_chain_bits(width: int, rows: int) -> int:
    """Result bits per carry chain of a drain row block (a divisor of one column's `width`, so no
    chain spans two columns): the fewest CCU2C, then the shortest chain.

    The ripple is a timing path (a block of 8 rows at acc_width 10: one chain per column is 26
    CCU2C, 1.8 ns of carry; two chains of 5 bits cost the same 26 and ripple half as far).
    """
    return min((per for per in range(1, width + 1) if width % per == 0),
               key=lambda per: (drain_block_ccu2(width, rows, per), per))


class XnorArray(wiring.Component):
    """The PE grid plus result bank and drain; `drain` carries one (group-summed) row per beat.

    Drain: once every PE of a reduction has captured (config.fill_latency() cycles after the
    `last` handshake), row i is read in cycle order i = 0..R-1; rows of one split group
    (2**split consecutive rows, the last group truncated at R) are summed and leave as one beat.
    In the credit flow PE(r, c) is read (c // act_hop) [+ 1 + drain_regs x (r // drain_hop)] cycles
    after the row counter passes r: no later than its capture, since drain_hop >= drain_regs x weight_hop.
    """

    def __init__(self, cfg: AccelConfig, style: str = "pair", pe_mode: str = "inline", cells: str = "generic"):
        if pe_mode not in ("inline", "instance"):
            raise ValueError(f"pe_mode must be 'inline' or 'instance', not {pe_mode!r}")
        self.cfg, self.style, self.pe_mode, self.cells = cfg, style, pe_mode, cells
        super().__init__({
            "beat": In(stream.Signature(beat_layout(cfg))),
            "drain": Out(stream.Signature(drain_layout(cfg))),
            # credit flow (XnorCore with out_fifo): the drain reads a row only while there is room for
            # its beat; `room_next` is that for the next cycle (the array registers it, with its own
            # `draining`, as `read`). `taken` marks the read of a group's last row, i.e. one drain
            # beat (one out beat) on its way
            "room_next": In(1, init=1),
            "taken": Out(1),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        R, C, K, W, G = cfg.rows, cfg.cols, cfg.k, cfg.weight_rows, cfg.weight_hop
        m = Module()
        beat, pay = self.beat, self.beat.payload

        busy = Signal()  # the result bank holds a reduction that has not been read out completely
        # A beat opens a reduction if it carries `first` or none is open (after a reset, after a
        # `last`): framing by `last` alone is enough, and a `first` inside a reduction restarts it.
        # Why: with `first` taken only from the payload, a reduction without it added onto the
        # previous one's accumulators, and at overlap 0 its `last` did not wait for the drain, so its
        # beats were lost (session 36: three reductions back to back gave the beats of one)
        open_ = Signal(name="open")  # a beat was taken and the reduction's `last` was not yet
        first = pay.first | ~open_
        # overlap: only a `last` waits for the bank; otherwise the accumulators are the bank and the
        # next reduction's first beat waits until they are read. Without overlap that is every beat
        # while busy: busy starts at a `last` (no reduction open then) and no beat is taken until it
        # ends, so a beat arriving while busy always opens one. `ready` is then ~busy alone, one
        # flip-flop (`first` in it added LUT levels to the iCEBreaker bridge's handshake: 45.3 MHz)
        m.d.comb += beat.ready.eq(~pay.last | ~busy if cfg.overlap else ~busy)
        accept = beat.valid & beat.ready
        with m.If(accept):
            m.d.sync += open_.eq(~pay.last)

        # -- input register (data loads every cycle; the valid bit tags it) -----------------------
        in_act = Signal(data.ArrayLayout(K, R), name="in_act", reset_less=True)
        in_wgt = Signal(data.ArrayLayout(K, W * C), name="in_wgt", reset_less=True)
        # valid, valid and not first, valid and last (, valid and first): decoded once, not per PE
        in_ctl = Signal(ctl_width(cfg), name="in_ctl")
        m.d.sync += [in_act.eq(pay.act), in_wgt.eq(pay.wgt),
                     in_ctl.eq(Cat(accept, accept & ~first, accept & pay.last, accept & first))]

        # -- skew: row group h = r // G is delayed h cycles, column c is delayed c cycles ----------
        n_groups = cfg.weight_stages + 1
        ctl = [in_ctl]
        for h in range(1, n_groups):
            ctl.append(kept_reg(m, ctl[h - 1], f"ctl_g{h}", self.pe_mode))
        skew = SkewLines(m, cfg.skew_mem, bool(cfg.skew_lutram))  # (the long lines in RAM: skew.emit below)
        acts = [skew.delay(in_act[r], r // G, f"act_r{r}", "act") for r in range(R)]
        wtop = [[in_wgt[j * C + c] for j in range(W)] for c in range(C)]
        wg = [[None] * C for _ in range(n_groups)]  # wg[h][c][j]: weight word j seen by group h
        for c in range(C):
            wg[0][c] = [skew.delay(wtop[c][j], c // cfg.act_hop, f"wgt_c{c}_j{j}", "wgt") for j in range(W)]
            for h in range(1, n_groups):
                needed = {r % W for r in range(h * G, R)}
                wg[h][c] = [_delay(m, wg[h - 1][c][j], 1, f"wgt_g{h}_c{c}_j{j}") if j in needed else None
                            for j in range(W)]
        skew.emit()
        # -- PE rows: one module type, R instances (activations + control hop right inside) --------
        res = []
        for r in range(R):
            h = r // G
            row_w = Cat(*(wg[h][c][r % W] for c in range(C)))
            if self.pe_mode == "inline":
                row = XnorRow(cfg, self.style, "inline", self.cells)
                m.submodules[f"row{r}"] = row
                m.d.comb += [row.act.eq(acts[r]), row.wgt.eq(row_w), row.ctl.eq(ctl[h])]
                row_res = row.res
            else:
                row_res = Signal(data.ArrayLayout(cfg.res_width, C), name=f"row{r}_res")
                m.submodules[f"row{r}"] = Instance(
                    row_module_name(cfg, self.style), i_clk=ClockSignal(), i_rst=ResetSignal(),
                    i_act=acts[r], i_wgt=row_w, i_ctl=ctl[h], o_res=row_res)
            res.append([row_res[c] for c in range(C)])

        # -- reduction metadata: split and chan_block are latched from a reduction's first beat ----
        # The bookkeeping (bit count, metadata, countdown) takes the beats from `book`, a copy of the
        # input register's control one cycle later (`lag`), kept apart so that it can sit by the drain
        # at the far end of the array: only `busy`, `ready` and the input register see the beat port,
        # whose flip-flops may be across the chip (the bridge's), and the input register that starts
        # the control hops is not the one the bookkeeping reads (on 32x32 board builds that net was
        # the critical path, 3.3-4.8 ns of routing down the array). The countdown is `lag` shorter.
        fill = cfg.fill_latency()
        lag = max(0, min(BOOK_LAG, fill - 2))
        in_meta = Signal(cfg.split_width + cfg.chan_block_width, name="in_meta", reset_less=True)
        m.d.sync += in_meta.eq(Cat(pay.split, pay.chan_block))
        book, book_meta = in_ctl, in_meta
        for j in range(lag):  # (a chain, so the placer can spread it down the array)
            book = kept_reg(m, book, f"book_ctl{j}", self.pe_mode, reset=True)
        # the split travels as its group mask, (1 << split) - 1 as a thermometer (bit j: split > j), made
        # in the last bookkeeping register: computed where the bank latches it, the shift and subtract
        # were a carry chain behind `book`'s mux (book_ctl1 -> cur_split -> bank_mask, 1.94 ns of logic
        # and 4.43 of routing on a 32x32 board build); now each mask bit is one LUT after the flip-flops
        mask_w = cfg.row_width + 1
        def thermometer(split):  # (no compare a split field this narrow cannot pass: lint's CMPCONST)
            top = (1 << len(split)) - 1
            return Cat(*(split > j if j < top else Const(0, 1) for j in range(mask_w)))
        if lag:
            book_meta = _delay(m, in_meta, lag - 1, "book_meta")
            book_mask = Signal(mask_w, name="book_mask", reset_less=True)
            book_cb = Signal(cfg.chan_block_width, name="book_cb", reset_less=True)
            m.d.sync += [book_mask.eq(thermometer(book_meta[:cfg.split_width])),
                         book_cb.eq(book_meta[cfg.split_width:])]
        else:
            book_mask, book_cb = thermometer(in_meta[:cfg.split_width]), in_meta[cfg.split_width:]
        cur_mask = Signal(mask_w)
        cur_cb = Signal(cfg.chan_block_width)
        in_first = book[0] & ~book[1]
        mask_next = Mux(in_first, book_mask, cur_mask)  # up to the beat in `book`
        cb_next = Mux(in_first, book_cb, cur_cb)
        m.d.sync += [cur_mask.eq(mask_next), cur_cb.eq(cb_next)]
        bank_mask = Signal(mask_w)  # rows per split group - 1 of the bank being drained
        bank_cb = Signal(cfg.chan_block_width)
        # bits per row of the current reduction: a mismatch-counting PE (ccu2) holds bits - P
        mism = counts_mismatches(self.style)
        cur_bits = Signal(cfg.acc_width)
        bank_bits = Signal(cfg.acc_width)
        # (from the beat port, this adder was the critical path of a 32x32 board build: the bridge's
        # `first` flip-flop 52 tiles away)
        # (`first` selects after the adder: the adder then hangs off cur_bits alone, not off `book`)
        bits_next = Mux(book[1], (cur_bits + K)[:cfg.acc_width], K)  # up to the beat in `book`
        if mism:
            with m.If(book[0]):
                m.d.sync += cur_bits.eq(bits_next)

        # -- fill countdown, then drain rows 0..R-1 ---------------------------------------------
        cnt = Signal(range(fill + 1))
        armed = Signal()  # counting down (busy is already set `lag` cycles before the countdown loads)
        draining = Signal()
        draining_next = Signal()
        m.d.comb += draining_next.eq(draining)
        m.d.sync += draining.eq(draining_next)
        i = Signal(cfg.row_width)  # at least 1 bit: a zero-width signal becomes [-1:0] in Verilog
        # Only `busy` takes the `last` handshake in its own cycle (it gates `ready`); the bank's
        # metadata, the countdown and `glast` take it one cycle later from a register, so the
        # handshake logic (valid, last, busy) does not feed a clock enable spread over the array
        # (in context at 16x16 that was the critical path: 4 LUTs and 2.67 ns of routing).
        # 1 + lag cycles later the *_next values hold what the `last` beat brought, and nothing reads
        # the bank before the countdown ends (fill >= 2 + lag). The register is `book`'s (the input
        # register's) valid-and-last bit.
        took_last = book[2]
        with m.If(accept & pay.last):
            m.d.sync += busy.eq(1)
        with m.If(took_last):
            # (the mask as a register: computed from the split at every read, it was the critical path
            # of a floorplanned 32x32, split -> shift -> subtract -> the group-first compare, 7.5 ns)
            m.d.sync += [bank_mask.eq(mask_next), bank_cb.eq(cb_next)]
            if mism:
                m.d.sync += bank_bits.eq(bits_next)
            if fill > 2 + lag:
                m.d.sync += [cnt.eq(fill - 3 - lag), armed.eq(1)]
            else:
                m.d.comb += draining_next.eq(1)
        with m.Elif(armed):
            with m.If(cnt == 0):
                m.d.comb += draining_next.eq(1)
                m.d.sync += armed.eq(0)
            with m.Else():
                m.d.sync += cnt.eq(cnt - 1)

        o = self.drain
        # credit flow (out_fifo): the consumer takes every drain beat, `room` throttles the reads, and
        # the drain is systolic: column group g = c // act_hop reads its row g cycles after the row
        # counter (the row select hops right like the activations), so no select net spans the array
        S = cfg.act_stages if cfg.out_fifo else 0
        # drain_hop (credit flow): row r is also read r // drain_hop cycles late, and an OR chain with a
        # register per row block carries the selected row down its column (no row mux spans it)
        D, Sd = cfg.drain_hop, cfg.drain_stages
        en = Const(1) if cfg.out_fifo else ~o.valid | o.ready
        mask = bank_mask
        read = Signal(name="read")  # a row is read this cycle
        # row i is the last of its split group: a register set one row ahead, so the credit loop
        # (read -> taken -> the core's counter -> room_next -> read) does not go through the split mask
        glast = Signal()
        def group_last(row, msk):  # row is the last of its split group (msk = rows per group - 1)
            return (((row + 1) & msk) == 0) | (row == R - 1)
        with m.If(took_last):  # (the bank is empty then: i == 0, no read)
            m.d.sync += glast.eq(group_last(Const(0, cfg.row_width), mask_next))
        if cfg.out_fifo:
            # `read` (draining and room) as a flip-flop of its own, loaded with both next values: it
            # enables the row select, whose flip-flops the placer pulls towards the array; as a LUT
            # after `draining` and `room` it was the critical path of 32x32 board builds (`draining`
            # -> `read` -> 4.3-5.1 ns of routing -> the row select's enable)
            m.d.sync += read.eq(draining_next & self.room_next)
        else:
            m.d.comb += read.eq(en & draining)
        m.d.comb += self.taken.eq(read & glast)
        if cfg.drain_gate:  # the row select held inverted (one-cold): the gated registers' synchronous reset
            # is then a select flip-flop itself, with no inverter LUT per row (ECP5's LSR has no inversion in Yosys' map)
            onehot = Signal(R, init=((1 << R) - 1) ^ 1, name="onecold")
        else:
            onehot = Signal(R, init=1) if self.style == "ccu2" or D else None  # the row select, stays 1 << i
        # tags: what a read needs besides the row, one cycle after it. valid/gfirst/bits feed each column
        # group's sum; the drain beat's own fields are computed here, at the read, so that after their
        # long delay line they load the beat's registers with no logic and no enable in between (on a
        # floorplanned 32x32 a LUT-made enable at the end of that line was the critical path, 7.6 ns)
        tag_l = data.StructLayout({"valid": 1, "gfirst": 1, "bits": cfg.acc_width, "cb": cfg.chan_block_width,
                                   "beat": 1, "grow": cfg.row_width, "lastrow": 1})
        tags = Signal(tag_l, name="rd_tags")
        gtag_l = data.StructLayout({"valid": 1, "gfirst": 1, "bits": cfg.acc_width})  # what a group's sum takes
        gfirst = (i & mask) == 0
        # the first row of the group being read: groups are aligned to 2**split rows, so it is i with the
        # low split bits cleared (no register: its enable, out.ready -> ... -> read & gfirst, was the
        # iCE40 8x8's critical path)
        grow = (i & ~mask)[:cfg.row_width]
        with m.If(en):  # the tags load every enabled cycle (no `draining` in their enable); valid tags them
            m.d.sync += [
                tags.valid.eq(read), tags.gfirst.eq(gfirst),
                tags.bits.eq(bank_bits),  # (the bank may take the next reduction's count after the last read)
                tags.cb.eq(bank_cb), tags.beat.eq(read & glast), tags.grow.eq(grow),
                tags.lastrow.eq(i == R - 1),
            ]
            with m.If(read):
                # glast of row i + 1 without computing i + 1: ((i + 2) & mask) == 0 is, mask being
                # 2^s - 1, the low s bits of i equal to mask - 1 = mask & ~1 (an adder here put a carry
                # chain on the credit loop: room -> read -> i + 2 -> compare -> glast, 6.6-7.0 ns at 32x32)
                nxt_last = (((i ^ (mask & ~1)) & mask) == 0) | (i == R - 2)
                m.d.sync += [i.eq(i + 1), glast.eq(nxt_last)]
                if onehot is not None:
                    m.d.sync += onehot.eq(onehot.rotate_left(1))
                with m.If(i == R - 1):
                    m.d.comb += draining_next.eq(0)
                    m.d.sync += [i.eq(0), busy.eq(0)]

        # -- per column group g: row mux, row register, group sum (split reduction); all g cycles
        # late in a systolic drain, then S - g registers so the drain beat leaves aligned -------------
        groups = [range(g * cfg.act_hop, min((g + 1) * cfg.act_hop, C)) for g in range(S + 1)] if S else [range(C)]
        for g, cols in enumerate(groups):
            words = [Cat(*(res[r][c] for c in cols)) for r in range(R)]
            if D:  # row block b ORs its rows (select 1 + g + drain_regs x b cycles late) into what the block above registered
                # (the select's first register, counted in drain_stages, leaves the row select flip-flops,
                # enabled by `read`, no load but it: one fed the array's corner, 5.36 ns of routing into
                # a row block's chain, the critical path of a 32x32 board build)
                sel, row_sel = _delay(m, onehot, 1 + g, f"sel_g{g}"), None
                for b in range((R - 1) // D + 1):
                    rows = range(b * D, min((b + 1) * D, R))
                    sel_b = _delay(m, sel[rows.start:rows.stop], cfg.drain_regs * b, f"sel_g{g}_b{b}")
                    if row_sel is not None:  # (with drain_regs 2, one register near each block)
                        for j in range(cfg.drain_regs):
                            above = Signal(len(row_sel), name=f"drain_g{g}_b{b}_in{'' if j == 0 else j}",
                                           reset_less=True)
                            m.d.sync += above.eq(row_sel)
                            row_sel = above
                    if cfg.drain_gate:  # each row through a register that is 0 unless selected, then LUT ORs
                        gated = []
                        for j, r in enumerate(rows):
                            q = Signal(len(words[r]), name=f"drain_g{g}_r{r}", reset_less=True)
                            m.d.sync += q.eq(Mux(sel_b[j], 0, words[r]))  # (sel_b: one-cold)
                            gated.append(q)
                        row_sel = functools.reduce(operator.or_, gated if row_sel is None else [row_sel, *gated])
                    elif self.style == "ccu2":  # (the block above enters as each bit's carry-in: free)
                        chains, row_sel = onehot_mux(f"drain_g{g}_b{b}", [words[r] for r in rows], sel_b,
                                                     bits_per_chain=_drain_chain_bits(cfg.res_width, len(rows)),
                                                     cin=row_sel)
                        for ch in chains:
                            ch.emit(m, self.cells)
                    else:
                        terms = [words[r] & sel_b[j].replicate(len(words[r])) for j, r in enumerate(rows)]
                        row_sel = functools.reduce(operator.or_, terms if row_sel is None else [row_sel, *terms])
            elif onehot is not None:  # the row mux on carry chains, selected by the one-hot row register
                chains, row_sel = onehot_mux(f"drain_g{g}" if S else "drain", words, _delay(m, onehot, g, f"sel_g{g}"))
                for ch in chains:
                    ch.emit(m, self.cells)
            else:  # (Yosys: ~29-37 LUT4 per bit at R=32)
                row_sel = Cat(*words).word_select(_delay(m, i, g, f"sel_g{g}"), len(cols) * cfg.res_width)
            got = Signal(len(row_sel), name=f"rd_p_g{g}", reset_less=True)
            with m.If(en):
                m.d.sync += got.eq(row_sel)
            # the tags reach the group's sum chains g + Sd (+ acc_lfsr) cycles after the read. In the
            # credit flow the last of those registers is the group's own copy (kept: equal copies would
            # merge back into the one line all groups tap, whose flip-flops then fed sum chains across the
            # array, 2.4-3.0 ns of routing, the harness's critical path at 150.1 MHz)
            own = 1 if cfg.out_fifo and g + Sd + cfg.acc_lfsr else 0
            # (without a copy, the decode register below takes the last cycle: in the stall flow it holds with en)
            tag_delay = g + Sd + (cfg.acc_lfsr - 1 if own else 0)
            tg = data.View(tag_l, _delay(m, tags.as_value(), tag_delay, f"rd_tags_g{g}", False))
            if cfg.acc_lfsr:  # a register of decoded values, one cycle (the tags follow)
                dec = Signal(len(cols) * cfg.acc_width, name=f"rd_dec_g{g}", reset_less=True)
                with m.If(en):
                    m.d.sync += dec.eq(Cat(*(lfsr_value(m, f"dec{c}", got[j * cfg.res_width:(j + 1) * cfg.res_width],
                                                        K, cfg.lfsr_width)[:cfg.acc_width] for j, c in enumerate(cols))))
                got = dec
            if own:  # (en is 1 here: the copies need no enable)
                tg = data.View(gtag_l, Cat(kept_reg(m, tg.valid, f"rd_tags_g{g}_valid", self.pe_mode, reset=True),
                                           kept_reg(m, Cat(tg.gfirst, tg.bits), f"rd_tags_g{g}_sum", self.pe_mode)))
            elif cfg.acc_lfsr:
                tg_d = Signal(tag_l, name=f"rd_tags_dec_g{g}")
                with m.If(en):
                    m.d.sync += tg_d.eq(tg)
                tg = tg_d
            for j, c in enumerate(cols):
                part = got[j * cfg.acc_width:(j + 1) * cfg.acc_width]
                acc = Signal(cfg.acc_width, name=f"gsum{c}", reset_less=True) if S else o.payload.p[c]
                with m.If(en & tg.valid):
                    if self.style == "ccu2":  # P = bits - M, then the group sum, on one carry chain
                        m.d.sync += acc.eq(_group_sum_chain(m, f"gsum{c}", tg.bits, part, acc, ~tg.gfirst, self.cells))
                    else:
                        if mism:
                            part = (tg.bits - part)[:cfg.acc_width]
                        m.d.sync += acc.eq(Mux(tg.gfirst, 0, acc) + part)
                if S:
                    m.d.comb += o.payload.p[c].eq(_delay(m, acc, S - g, f"gsum{c}"))
        # -- the drain beat's valid and metadata: S + Sd + 2 (+ acc_lfsr) cycles after the read of its group's last row
        ts = data.View(tag_l, _delay(m, tags.as_value(), S + Sd, "rd_tags_s", False))
        if cfg.acc_lfsr:  # (the decode register)
            ts_d = Signal(tag_l, name="rd_tags_s_dec")
            with m.If(en):
                m.d.sync += ts_d.eq(ts)
            ts = ts_d
        meta = [o.valid, o.payload.last_row, o.payload.chan_block, o.payload.row]
        if S:  # (o.payload.p is driven comb from the de-skew registers, so its other fields must be too)
            meta = [Signal(len(v), name=f"drain_{n}") for v, n in zip(meta, ("valid", "last_row", "cb", "row"))]
            m.d.comb += [o.valid.eq(meta[0]), o.payload.last_row.eq(meta[1]), o.payload.chan_block.eq(meta[2]),
                         o.payload.row.eq(meta[3])]
        with m.If(en):  # (between beats these fields are don't-care: valid is low)
            m.d.sync += [meta[0].eq(ts.beat), meta[1].eq(ts.lastrow), meta[2].eq(ts.cb), meta[3].eq(ts.grow)]
        return m
