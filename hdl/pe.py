"""XNOR-popcount processing element: P accumulation for one output.

Why functions and not one Elaboratable per PE: a 32x32 array elaborated as 1,024 modules took 76 s
to generate; `pe_logic` adds one PE's statements to the caller's module, so the array is one
module built by loops. `XnorPE` wraps the same function as a Component for unit tests and formal.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .carry import Chain, mismatch_tree, tree_levels
from .config import POPCOUNT_STYLES
from .lfsr import lfsr_step, low_width, state_width

__all__ = ["POPCOUNT_STYLES", "XnorPE", "counts_mismatches", "pe_logic", "popcount_xnor", "tree_mid_level"]


def _balanced_sum(terms: list[Value], m: Module | None = None, name: str = "",
                  reg: Module | None = None) -> Value:
    """Sum as a balanced tree of 2-input adds (short carry chains, each level widens by 1 bit).

    With m given, every partial sum is a kept signal, so Yosys maps each add to a carry chain
    instead of merging the tree into one multi-operand add (full-adder LUT logic).
    """
    level = 0
    mid = max(1, (len(terms) - 1).bit_length()) // 2  # add levels before the mid-tree register
    while len(terms) > 1 or (reg is not None and level <= mid):
        if reg is not None and level == mid:  # pipeline register halfway down the tree
            regs = [Signal(len(t), name=f"{name}_mid{i}", reset_less=True) for i, t in enumerate(terms)]
            reg.d.sync += [r.eq(t) for r, t in zip(regs, terms)]
            terms, reg = regs, None
            continue
        nxt = []
        for i in range(0, len(terms) - 1, 2):
            t = terms[i] + terms[i + 1]
            if m is not None:
                s = Signal(len(t), name=f"{name}_s{level}_{i // 2}", attrs={"keep": 1})
                m.d.comb += s.eq(t)
                t = s
            nxt.append(t)
        level += 1
        if len(terms) % 2:
            nxt.append(terms[-1])
        terms = nxt
    return terms[0]


def popcount_xnor(m: Module, name: str, a: Value, w: Value, k: int, style: str = "pair",
                  mid_register: bool = False) -> Value:
    """popcount(~(a ^ w)) over k bits, as a combinational expression.

    "pair": the XNOR is fused into a first level that one LUT4 holds per output bit: two bit pairs
    (a0, w0, a1, w1) -> a 2-bit count, then a balanced adder tree (carry chains).
    "chain": as "pair", but every adder of the tree is kept separate (one carry chain each).
    "tree": XNOR bits straight into a balanced adder tree.
    """
    reg = m if mid_register else None
    x = Signal(k, name=f"{name}_xnor")  # a signal, so each bit's use does not re-emit the XNOR
    m.d.comb += x.eq(~(a ^ w))
    if k == 1:
        return _balanced_sum([x[0]], None, name, reg)
    if style == "tree":
        return _balanced_sum([x[i] for i in range(k)], None, name, reg)
    if style not in ("pair", "chain"):
        raise ValueError(f"style must be one of {POPCOUNT_STYLES}, not {style!r}")
    terms = [Cat(x[i] ^ x[i + 1], x[i] & x[i + 1]) for i in range(0, k - 1, 2)]
    if k % 2:
        terms.append(x[k - 1])
    return _balanced_sum(terms, m if style == "chain" else None, name, reg)


def pe_logic(m: Module, name: str, a: Value, w: Value, valid: Value, nfirst: Value, vlast: Value,
             k: int, acc_width: int, style: str = "pair", overlap: bool = True,
             pipeline: int = 1, cells: str = "generic", lfsr: int = 0,
             vfirst: Value | None = None) -> tuple[Value, Value]:
    """Add one PE to module m; returns (acc, res).

    Control comes pre-decoded from the array (one register per hop, no LUT per PE): valid,
    nfirst = valid and not first (the array's: a reduction's first beat), vlast = valid and `last`. On a valid beat:
    acc <= (nfirst ? acc : 0) + popcount; with overlap, on vlast the result register res takes
    the same value (so the next reduction can start the next cycle while res drains); without,
    res is acc itself (the array holds back the next reduction). acc_width is derived from
    max_fanin, so it never wraps. The popcount is of XNOR (P) for the generic styles and of XOR
    (mismatches M, see hdl/carry.py) for "ccu2"; `counts_mismatches(style)` says which.
    pipeline 1 registers the popcount before the accumulator (measured 96 MHz without it on
    ECP5), pipeline 2 adds a register halfway down the popcount tree (and, for ccu2, starts the
    accumulator on a fresh carry chain, which the tree's second half may continue).

    lfsr = n > 0 (hdl/lfsr.py): the accumulator is `low_width(k)` binary bits plus an n-bit LFSR
    that steps on their carry out and restarts on vfirst = valid and first; acc and res are then
    that state (`hdl.lfsr.state_width`), which the drain decodes. nfirst must be 0 on an invalid beat
    (the array sends valid and not first): a restart adds the popcount alone, below 2**low_width,
    so no carry leaves an invalid beat. res takes the state one cycle after vlast (the LFSR's next
    state is not a LUT-free signal; the state is a flip-flop's).
    """
    # No reset in a PE: every reduction starts with a restart (its first beat, as the array marks
    # it), the drain reads complete ones only, and whatever the PE's control held before a reset
    # arrives ahead of the next reduction (the hop registers' docstring, hdl/array.py). A reset net
    # would span the array (and, on ECP5, would have to be shared by every flip-flop of a PLC).
    if lfsr and vfirst is None:
        raise ValueError("an LFSR accumulator needs vfirst")
    ctl = Cat(valid, nfirst, vlast, *([vfirst] if lfsr else []))
    acc = Signal(low_width(k) if lfsr else acc_width, name=f"{name}_acc", reset_less=True)
    if style == "ccu2":
        return _ccu2_pe(m, name, a, w, ctl, k, acc, overlap, pipeline, cells, lfsr)
    pc = popcount_xnor(m, name, a, w, k, style, mid_register=pipeline >= 2)
    if pipeline >= 2:
        ctl_m = Signal(len(ctl), name=f"{name}_ctl_mid", reset_less=True)
        m.d.sync += ctl_m.eq(ctl)
        ctl = ctl_m
    if pipeline:
        pc_q = Signal(len(pc), name=f"{name}_pc", reset_less=True)
        ctl_q = Signal(len(ctl), name=f"{name}_ctl", reset_less=True)
        m.d.sync += [pc_q.eq(pc), ctl_q.eq(ctl)]
        pc, ctl = pc_q, ctl_q
    total = Mux(ctl[1], acc, Const(0, len(acc))) + pc
    with m.If(ctl[0]):
        m.d.sync += acc.eq(total[:len(acc)])
    if lfsr:
        return _lfsr_part(m, name, acc, total[len(acc)], ctl, overlap, lfsr)
    if not overlap:
        return acc, acc
    res = Signal(acc_width, name=f"{name}_res", reset_less=True)
    with m.If(ctl[2]):
        m.d.sync += res.eq(total)
    return acc, res


def _lfsr_part(m: Module, name: str, low: Signal, carry: Value, ctl: Value, overlap: bool,
               n: int) -> tuple[Value, Value]:
    """The LFSR above the binary bits: restart (synchronous reset) on vfirst = ctl[3], step on carry."""
    cnt = Signal(n, name=f"{name}_lfsr", reset_less=True)
    with m.If(ctl[3]):
        m.d.sync += cnt.eq(0)
    with m.Elif(carry):
        m.d.sync += cnt.eq(lfsr_step(cnt))
    state = Cat(low, cnt)
    if not overlap:
        return state, state
    vlast_d = Signal(name=f"{name}_vlast_d", reset_less=True)
    res = Signal(len(state), name=f"{name}_res", reset_less=True)
    m.d.sync += vlast_d.eq(ctl[2])
    with m.If(vlast_d):
        m.d.sync += res.eq(state)
    return state, res


def tree_mid_level(k: int) -> int:
    """Tree levels before the ccu2 PE's mid-tree register (pipeline 2): about half of them."""
    return max(2, (tree_levels(k) + 1) // 2)


def counts_mismatches(style: str) -> bool:
    """The ccu2 PE accumulates popcount(XOR) = bits - P (see hdl/carry.py for why)."""
    return style == "ccu2"


def _ccu2_pe(m, name, a, w, ctl, k, acc, overlap, pipeline, cells, lfsr):
    """The ccu2 PE: mismatch tree and accumulator on ECP5 carry chains (hdl/carry.py)."""
    mid = tree_mid_level(k) if pipeline >= 2 else None
    pc, chains, regs = mismatch_tree(f"{name}_t", [(a[i], w[i]) for i in range(k)], m, mid)
    if regs:
        ctl_m = Signal(len(ctl), name=f"{name}_ctl_mid", reset_less=True)
        m.d.sync += ctl_m.eq(ctl)
        ctl = ctl_m
    bits = pc.bits
    if pipeline:
        pc_q = Signal(len(bits), name=f"{name}_pc", reset_less=True)
        ctl_q = Signal(len(ctl), name=f"{name}_ctl", reset_less=True)
        m.d.sync += [pc_q.eq(Cat(*bits)), ctl_q.eq(ctl)]
        bits, ctl = [pc_q[i] for i in range(len(bits))], ctl_q
    valid, nfirst, vlast = ctl[0], ctl[1], ctl[2]
    if pipeline >= 2:
        # the speed point: the accumulator is a chain of its own, at one CCU2C per PE. After a cut
        # in the tree's chain nextpnr still times the carry through it (P = 0 does not remove the
        # arc), so the tree's second half looked as if it rippled on through the accumulator
        # (routed 16x16: 144.8 -> 154.1 MHz).
        acc_chain = Chain(f"{name}_a")
        chains.append(acc_chain)
    else:
        # the area point: the accumulator continues the tree's physical chain after a cut (the cut
        # doubles as its start slot); four tree levels between registers set the clock here anyway
        acc_chain = chains[-1]
        acc_chain.cut()
        acc_chain.align()
    sums = [acc_chain.acc(bits[i] if i < len(bits) else Const(0, 1), acc[i], nfirst) for i in range(len(acc))]
    carry: list = []
    if lfsr:  # the carry out of the binary bits steps the LFSR
        acc_chain._pending_to = carry
    if pipeline >= 2 and len(chains) > 1:
        # Each chain is padded to whole CCU2C: two chains of an odd slot count waste a slot each.
        # Then the tree's last chain continues the accumulator's where that saves a CCU2C
        # (accumulator first: the false carry path it adds starts at registers and ripples on into
        # the tree's last level, not the tree into the accumulator, which session 7 measured at
        # -10 MHz); its first slot then takes a pending carry out for free.
        tail = chains[-2]
        if acc_chain.append_if_cheaper(tail):
            chains.remove(tail)
    for c in chains:
        c.emit(m, cells)
    with m.If(valid):
        m.d.sync += acc.eq(Cat(*sums))
    if lfsr:
        return _lfsr_part(m, name, acc, carry[0][1], ctl, overlap, lfsr)
    if not overlap:
        return acc, acc
    res = Signal(len(acc), name=f"{name}_res", reset_less=True)
    with m.If(vlast):
        m.d.sync += res.eq(Cat(*sums))
    return acc, res


class XnorPE(wiring.Component):
    """One PE as a Component: unit tests, formal, and the one Verilog module gen/ instantiates R*C times.

    Amaranth emits every Elaboratable instance as its own module; gen/ instead converts this
    Component once and lets the array instantiate it (`pe_mode="instance"`), which keeps a 32x32
    generation in seconds and the Verilog small.
    """

    def __init__(self, k: int, acc_width: int, style: str = "pair", expose_acc: bool = True,
                 overlap: bool = True, pipeline: int = 1, cells: str = "generic", lfsr: int = 0):
        self.k, self.acc_width, self.style, self.expose_acc = k, acc_width, style, expose_acc
        self.overlap, self.pipeline, self.cells, self.lfsr = overlap, pipeline, cells, lfsr
        self.counts_mismatches = counts_mismatches(style)
        # what res (and acc) hold: the sum, or with an LFSR its state (hdl/lfsr.py decodes it)
        self.res_width = state_width(k, lfsr) if lfsr else acc_width
        # control as the array delivers it: nfirst = valid and not first, vlast = valid and last,
        # vfirst = valid and first (LFSR accumulators only)
        ports = {"a": In(k), "w": In(k), "valid": In(1), "nfirst": In(1), "vlast": In(1),
                 "res": Out(self.res_width)}
        if lfsr:
            ports["vfirst"] = In(1)
        if expose_acc:  # tests and formal look at the running sum; the generated core does not
            ports["acc"] = Out(self.res_width)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        acc, res = pe_logic(m, "pe", self.a, self.w, self.valid, self.nfirst, self.vlast,
                            self.k, self.acc_width, self.style, self.overlap, self.pipeline, self.cells,
                            self.lfsr, self.vfirst if self.lfsr else None)
        m.d.comb += self.res.eq(res)
        if self.expose_acc:
            m.d.comb += self.acc.eq(acc)
        return m
