"""ECP5 carry-chain slots (half a CCU2C each) and the mismatch-popcount tree built from them.

Why hand-mapped: Yosys maps the popcount adder tree to full adders in plain LUTs (about 3 LUT4 per
XNOR-accumulated bit, 0.45 op/LUT for a 32x32 array). One CCU2C half is a LUT4 whose output P
propagates the carry and whose 2-input sub-LUT (INIT[3:0], inputs A, B) generates it:

    S = P(A,B,C,D) ^ CIN        COUT = P ? CIN : INIT[B:A]

so one slot adds two bits of equal weight computed from four inputs. Three slot kinds do all work:
  * pair:   P = A^B^C^D adds xor(a0,w0) + xor(a1,w1): the XOR is free, and the generate half
            INIT[3:0] = A^B is exactly the carry when the two bits agree (counting XNOR instead
            would need INIT[3:0] = ~(A^B), which the shared truth table forbids, so the tree
            counts mismatches M and the array converts P = bits - M once per column at drain);
  * add / acc: D tied 1, so INIT[3:0] is free for the generate function: x + y, or
            x + (C ? acc : 0) (the accumulator's restart on `first` costs no LUT);
  * boundary: D tied 1 and P = 0: S = CIN takes the previous segment's carry out, and COUT =
            INIT[B:A] injects a new carry-in, e.g. a third xor(a, w) bit: a 3-bit full adder of
            mismatch bits costs two slots.
The same slots emit either as Amaranth logic (simulation, formal) or as CCU2C instances (gen/ for
ECP5); tests/test_hdl_carry.py proves the two equal using Yosys' own CCU2C model.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools

from amaranth.hdl import Cat, Const, Instance, Module, Mux, Signal, Value

__all__ = ["CELLS", "OPEN_CIN_ATTR", "Chain", "Number", "compare_chain", "mismatch_tree", "onehot_mux", "tree_levels"]

CELLS = ("generic", "ecp5")  # how slots are emitted: Amaranth logic, or CCU2C instances
OPEN_CIN_ATTR = "xnorgen_open_cin"  # on a chain's first CCU2C: its CIN is don't-care (see Chain.emit)
_ZERO, _ONE = Const(0, 1), Const(1, 1)


def _init(fn) -> int:
    """16-bit LUT4 truth table of fn(A, B, C, D); index A | B << 1 | C << 2 | D << 3."""
    return sum(fn(a, b, c, d) << (a | b << 1 | c << 2 | d << 3)
               for a, b, c, d in itertools.product((0, 1), repeat=4))


@dataclasses.dataclass(frozen=True)
class Slot:
    """One CCU2C half: truth table, inputs A..D, and its sum output S (a signal made at add time)."""

    init: int
    ins: tuple[Value, Value, Value, Value]
    s: Signal
    value: object  # v(A, B, C, D) in {0, 1, 2}: what the slot adds at its weight (for the check)
    tied: tuple[int | None, ...]  # input constants (None: free)

    def p_zero(self) -> bool:
        """P is 0 for every input the slot can see: COUT = INIT[B:A] ignores CIN, S is CIN."""
        return all(not self.init >> (a | b << 1 | c << 2 | d << 3) & 1
                   for a, b, c, d in itertools.product((0, 1), repeat=4)
                   if all(t is None or t == v for t, v in zip(self.tied, (a, b, c, d))))

    def check(self) -> None:
        """P = (v == 1) everywhere and, where v != 1, the generate half INIT[B:A] == (v == 2)."""
        for bits in itertools.product((0, 1), repeat=4):
            if any(t is not None and t != b for t, b in zip(self.tied, bits)):
                continue
            a, b, c, d = bits
            v = self.value(a, b, c, d)
            p = self.init >> (a | b << 1 | c << 2 | d << 3) & 1
            g = self.init >> (a | b << 1) & 1
            if p != (v == 1) or (v != 1 and g != (v == 2)):
                raise AssertionError(f"slot INIT {self.init:#06x} does not add {bits} correctly")


@dataclasses.dataclass
class Number:
    """An unsigned integer as bits (LSB first) plus its largest possible value."""

    bits: list[Value]
    max: int


class Chain:
    """One physical carry chain: slots in order, CIN of the first is 0.

    Slots must be added in dependency order (a slot's inputs come from earlier slots or outside),
    so the chain has no combinational loop even structurally.
    """

    def __init__(self, name: str):
        self.name, self.slots = name, []
        self._pending_to: list | None = None  # the item list a segment's carry out joins

    def _slot(self, init: int, ins, value, tied) -> Signal:
        s = Signal(name=f"{self.name}_s{len(self.slots)}")
        slot = Slot(init, tuple(Value.cast(i) for i in ins), s, value, tied)
        slot.check()
        self.slots.append(slot)
        if self._pending_to is not None:  # S of any slot after a segment = that segment's carry out
            self._pending_to.append(("bit", s))
            self._pending_to = None
        return s

    def boundary_item(self, item) -> None:
        """Boundary slot injecting an item: ("raw", (a, w)) as xor(a, w), ("bit", b) as b, or None."""
        if item is None or item[0] == "raw":
            self.boundary(item[1] if item else None)
        else:
            init = _init(lambda a, b, c, d: 0 if d else a)
            self._slot(init, (item[1], _ZERO, _ZERO, _ONE), lambda a, b, c, d: 2 * a, (None, 0, 0, 1))

    def position(self, x, y) -> tuple[str, Signal]:
        """Add two items of one weight (+ CIN); returns the sum bit as an item."""
        if x[0] == "raw" and y[0] == "raw":
            return ("bit", self.pair(x[1], y[1]))
        if y[0] == "raw":
            x, y = y, x
        if x[0] == "raw":  # xor(a, w) + b
            init = _init(lambda a, b, c, d: a ^ b ^ c if d else a ^ b)
            return ("bit", self._slot(init, (*x[1], y[1], _ONE), lambda a, b, c, d: (a ^ b) + c,
                                      (None, None, None, 1)))
        return ("bit", self.add(x[1], y[1]))

    def or_terms(self, d0: Value, d1: Value, s0: Value, s1: Value) -> Signal:
        """Carry |= (d0 & s0) | (d1 & s1): P = no term true, and with both selects 0 the generate
        half INIT[3:0] = 1 is exactly "a term is true" (a mux of one-hot selects on the chain)."""
        init = _init(lambda a, b, c, d: 1 - ((a & c) | (b & d)))
        return self._slot(init, (d0, d1, s0, s1), lambda a, b, c, d: 2 if (a & c) | (b & d) else 1, (None,) * 4)

    def sub(self, x: Value, y: Value) -> Signal:
        """x + ~y (+ CIN): with a carry-in of 1, a bit of x - y."""
        init = _init(lambda a, b, c, d: 1 - (a ^ b) if d else a)
        return self._slot(init, (x, y, _ZERO, _ONE), lambda a, b, c, d: a + (1 - b), (None, None, 0, 1))

    def ge_bit(self, p: Value, flip: Value, t: Value) -> Signal:
        """One bit of (p ^ flip) + ~(t ^ flip): the XOR with the polarity cancels in P and stays in G."""
        init = _init(lambda a, b, c, d: 1 - (a ^ c) if d else a ^ b)
        return self._slot(init, (p, flip, t, _ONE), lambda a, b, c, d: (a ^ b) + (1 ^ c ^ b), (None, None, None, 1))

    def boundary(self, pair: tuple[Value, Value] | None = None) -> None:
        """Close the previous segment (its carry out becomes a result bit) and inject xor(pair)."""
        if pair is None:
            self._slot(0, (_ZERO, _ZERO, _ZERO, _ONE), lambda a, b, c, d: 0, (0, 0, 0, 1))
        else:
            init = _init(lambda a, b, c, d: 0 if d else a ^ b)
            self._slot(init, (*pair, _ZERO, _ONE), lambda a, b, c, d: 2 * (a ^ b), (None, None, 0, 1))

    def pair(self, p0: tuple[Value, Value], p1: tuple[Value, Value]) -> Signal:
        """xor(p0) + xor(p1) (+ CIN): S is the weight-1 sum bit."""
        return self._slot(_init(lambda a, b, c, d: a ^ b ^ c ^ d), (*p0, *p1),
                          lambda a, b, c, d: (a ^ b) + (c ^ d), (None,) * 4)

    def add(self, x: Value, y: Value) -> Signal:
        """x + y (+ CIN)."""
        init = _init(lambda a, b, c, d: a ^ b if d else a)
        return self._slot(init, (x, y, _ZERO, _ONE), lambda a, b, c, d: a + b, (None, None, 0, 1))

    def acc(self, y: Value, acc: Value, keep: Value) -> Signal:
        """y + (keep ? acc : 0) (+ CIN): the accumulator restarts when keep is 0."""
        init = _init(lambda a, b, c, d: a ^ (b & c) if d else a)
        return self._slot(init, (y, acc, keep, _ONE), lambda a, b, c, d: a + (b & c), (None, None, None, 1))

    def cut(self) -> None:
        """Make the next slot see CIN = 0, so an independent adder can continue this physical chain."""
        last = self.slots[-1] if self.slots else None
        if last is not None and not (last.p_zero() and last.init & 15 == 0):
            self.boundary(None)

    def align(self) -> None:
        """Pad to a whole CCU2C, so what follows starts a fresh one (nextpnr wants both flip-flops of
        a slice on one clock enable: the tree's registers and the accumulator's must not share)."""
        if self.start_slots() % 2:
            self.boundary(None)

    def start_slots(self) -> int:
        """Slots this chain emits, counting the start slot emit() adds when the first one needs it."""
        return len(self.slots) + (0 if self.slots and self.slots[0].p_zero() else 1)

    def append(self, other: Chain) -> None:
        """Continue this physical chain with `other` (closed, not yet emitted): one chain start less.

        other's first slot sees CIN = 0 as if it started a chain: a P = 0 first slot ignores CIN
        (its S takes this chain's last carry out: the pending carry, if any), else a cut comes first.
        """
        other.close()
        if not (other.slots and other.slots[0].p_zero()):
            self.cut()  # (a carry still pending is taken out by the cut)
        elif self._pending_to is not None:  # other's first slot takes the pending carry out: S = CIN
            self._pending_to.append(("bit", other.slots[0].s))
        self.slots.extend(other.slots)
        self._pending_to = None

    def ccu2(self) -> int:
        """CCU2C this chain emits (its pending carry taken out)."""
        return (self.start_slots() + (self._pending_to is not None) + 1) // 2

    def append_if_cheaper(self, other: Chain) -> bool:
        """Close `other` and continue this chain with it where one physical chain takes fewer CCU2C
        than the two apart (each is padded to whole CCU2C); returns whether it did."""
        other.close()
        if self.ccu2_appended(other) < self.ccu2() + other.ccu2():
            self.append(other)
            return True
        return False

    def ccu2_appended(self, other: Chain) -> int:
        """CCU2C of this chain continued by `other` (a dry run on copies; neither is changed)."""
        mine, theirs = Chain(f"{self.name}_dry"), Chain(f"{other.name}_dry")
        mine.slots, theirs.slots = list(self.slots), list(other.slots)
        mine._pending_to = [] if self._pending_to is not None else None
        theirs._pending_to = [] if other._pending_to is not None else None
        mine.append(theirs)
        return mine.ccu2()

    def close(self) -> None:
        """Extract a carry still pending at the end of the chain."""
        if self._pending_to is not None:
            self.boundary(None)

    # -- emission -------------------------------------------------------------------------------
    def emit(self, m: Module, cells: str) -> None:
        """Drive every slot's S: as Amaranth logic ("generic") or as CCU2C instances ("ecp5").

        The first CCU2C's CIN and the last one's COUT stay unconnected: nextpnr adds a feed-in
        CCU2C for a CIN on any net (constants included) and a pass-out CCU2C for a chain-end COUT
        on any net. Yosys ties an open CIN to 0 and gives an open COUT a dangling net, so the
        ECP5 flow reopens both in the netlist (fpga.netlist.open_chain_ends; the first CCU2C
        carries OPEN_CIN_ATTR). An unconnected CIN is the west neighbour's carry in silicon, so
        the chain must start with a slot whose P is 0 (COUT = its generate half; S unused).
        """
        self.close()
        if self.slots and not self.slots[0].p_zero():
            zero = Slot(0, (_ZERO, _ZERO, _ZERO, _ONE), Signal(name=f"{self.name}_start"),
                        lambda a, b, c, d: 0, (0, 0, 0, 1))
            self.slots.insert(0, zero)
        if cells == "generic":
            cin = _ZERO
            for i, sl in enumerate(self.slots):
                p = Signal(name=f"{self.name}_p{i}")
                co = Signal(name=f"{self.name}_co{i}")
                m.d.comb += [
                    p.eq(Const(sl.init, 16).bit_select(Cat(*sl.ins), 1)),
                    sl.s.eq(p ^ cin),
                    co.eq(Mux(p, cin, Const(sl.init & 15, 4).bit_select(Cat(sl.ins[0], sl.ins[1]), 1))),
                ]
                cin = co
            return
        if cells != "ecp5":
            raise ValueError(f"cells must be one of {CELLS}, not {cells!r}")
        slots = list(self.slots)
        if len(slots) % 2:  # a CCU2C holds two slots; pad with a do-nothing half
            slots.append(Slot(0, (_ZERO, _ZERO, _ZERO, _ONE), Signal(name=f"{self.name}_pad"),
                              lambda a, b, c, d: 0, (0, 0, 0, 1)))
        cin = None
        for j in range(0, len(slots), 2):
            lo, hi = slots[j], slots[j + 1]
            # Yosys ties an unconnected CIN to 0: the attribute tells fpga.netlist.open_chain_ends
            # that this CIN may be opened again (the first slot's P is 0, so CIN is don't-care)
            ports = {f"a_{OPEN_CIN_ATTR}": 1} if cin is None else {"i_CIN": cin}
            if j + 2 < len(slots):
                cin = ports["o_COUT"] = Signal(name=f"{self.name}_ccu{j // 2}_cout")
            m.submodules[f"{self.name}_ccu{j // 2}"] = Instance(
                "CCU2C", p_INIT0=Const(lo.init, 16), p_INIT1=Const(hi.init, 16), p_INJECT1_0="NO",
                p_INJECT1_1="NO", i_A0=lo.ins[0], i_B0=lo.ins[1], i_C0=lo.ins[2], i_D0=lo.ins[3],
                i_A1=hi.ins[0], i_B1=hi.ins[1], i_C1=hi.ins[2], i_D1=hi.ins[3], o_S0=lo.s, o_S1=hi.s, **ports)


def mismatch_tree(name: str, pairs: list[tuple[Value, Value]], m: Module | None = None,
                  mid_level: int | None = None) -> tuple[Number, list[Chain], list[Signal]]:
    """popcount(xor(a, w)) over pairs as carry segments; returns (sum, chains, mid registers).

    The plan knobs (see _build_tree) are chosen per len(pairs) by trying them all: fewest slots,
    then fewest levels (measured for 32 pairs: 48 slots, 5 levels; 1.5 slots per pair).
    """
    return _build_tree(name, pairs, m, mid_level, *_best_knobs(len(pairs)))


@functools.cache
def _best_knobs(k: int) -> tuple[bool, bool, int]:
    best = None
    for reserve in range(min(k, 8) + 1):
        for extend in (True, False):
            for eager in (False, True):
                a, w = Signal(k), Signal(k)
                _, chains, _ = _build_tree("plan", [(a[i], w[i]) for i in range(k)], None, None,
                                           extend, eager, reserve)
                score = (sum(len(c.slots) for c in chains), _build_tree.levels, reserve, not extend, eager)
                best = min(best or score, score)
    return (not best[3], best[4], best[2])


def _build_tree(name: str, pairs: list[tuple[Value, Value]], m: Module | None, mid_level: int | None,
                extend: bool, eager: bool, reserve: int) -> tuple[Number, list[Chain], list[Signal]]:
    """One plan of mismatch_tree.

    extend: a segment runs on through weights holding one item; eager: a segment starts at a
    weight with two items even when it covers only that weight.

    Column compression (Dadda-like) by levels: at each level, segments start at the lowest weight
    holding two or more items, inject a third as carry-in, and run up while a weight still holds
    two items; every sum and extracted carry is an item of the next level. A raw item is an (a, w)
    pair whose XOR the slot computes itself. Done when each weight holds one bit. With m and
    mid_level, the items after that many levels are registered and the tree continues on a new
    chain. The chains are returned unemitted.
    """
    chain = Chain(name)
    chains = [chain]
    # `reserve` raw pairs skip level 1 and wait as carry-ins for segments that would have none
    reserved = [("raw", p) for p in pairs[len(pairs) - reserve:]] if reserve else []
    cols: dict[int, list] = {0: [("raw", p) for p in pairs[:len(pairs) - reserve]]}
    regs: list[Signal] = []
    level = 0
    def unfinished() -> bool:  # a weight holds two items (counting a carry not yet extracted)
        if reserved and cols.get(0) is not None and not any(len(v) > 1 for v in cols.values()):
            cols[0].extend(reserved)  # nothing left to ride on: reserved pairs join as items
            reserved.clear()
        return any(len(v) + (v is chain._pending_to) > 1 or any(it[0] == "raw" for it in v)
                   for v in cols.values())

    while unfinished():
        if m is not None and mid_level is not None and level >= mid_level:
            chain.close()
            cols, regs = _register_cols(m, name, cols)
            if reserved:  # pairs still waiting as carry-ins cross the register as pairs
                held, more = _register_cols(m, f"{name}_res", {0: reserved})
                reserved[:] = held[0]
                regs += more
            chain = Chain(f"{name}b")
            chains.append(chain)
            mid_level = None
        nxt: dict[int, list] = {}
        j = 0
        top = max(cols)
        made = 0
        while j <= top or not made:
            if j > top:  # nothing was worth a segment: take the lowest weight that needs one
                j, force = min(w for w, v in cols.items()
                               if len(v) + (v is chain._pending_to) > 1 or any(it[0] == "raw" for it in v)), True
            else:
                force = False
            here = cols.setdefault(j, [])
            cnt = len(here) + (here is chain._pending_to)  # a carry not yet extracted counts
            lone_raw = cnt == 1 and bool(here) and here[0][0] == "raw" and (force or not nxt.get(j))
            # a segment without a carry-in reduces one item less: only worth it when it runs over
            # two weights or more (else its items wait a level to become someone's carry-in)
            worth = cnt >= 3 or (cnt == 2 and (len(cols.get(j + 1, [])) >= 2 or force or eager))
            if not worth and not lone_raw:
                j += 1
                continue
            made += 1
            inject = here.pop() if cnt >= 3 or lone_raw else (reserved.pop() if reserved and j == 0 else None)
            chain.boundary_item(inject)  # (the boundary also extracts the previous carry)
            i = j
            # run up while a weight holds two items; through a weight holding one (x + carry),
            # which costs a slot like ending would, but leaves one item there instead of two
            while len(cols.get(i, [])) >= 2 or (i > j and len(cols.get(i, [])) == 1 and extend):
                x = cols[i].pop()
                y = cols[i].pop() if cols[i] else ("bit", _ZERO)
                nxt.setdefault(i, []).append(chain.position(x, y))
                i += 1
            if 1 << i <= len(pairs):  # (a carry of weight 2**i > the largest sum is always 0)
                chain._pending_to = nxt.setdefault(i, [])
        for w, v in cols.items():  # items no segment took wait for the next level
            tgt = nxt.setdefault(w, [])
            if chain._pending_to is v:
                chain._pending_to = tgt
            tgt.extend(v)
        cols = nxt  # a weight whose list is still empty may yet get the pending carry
        level += 1
    chain.close()
    if m is not None and mid_level is not None:  # a tree too shallow to split: register its sum
        cols, regs = _register_cols(m, name, cols)
    cols = {w: v for w, v in cols.items() if v}
    width = max(cols) + 1 if cols else 1
    bits = [cols[w][0][1] if cols.get(w) else _ZERO for w in range(width)]
    _build_tree.levels = level  # for tree_levels and the knob search
    return Number(bits, len(pairs)), chains, regs


def tree_levels(k: int) -> int:
    """Levels mismatch_tree builds for k pairs (a dry run on throw-away signals)."""
    a, w = Signal(k), Signal(k)
    mismatch_tree("dry", [(a[i], w[i]) for i in range(k)])
    return _build_tree.levels


def _register_cols(m: Module, name: str, cols: dict[int, list]) -> tuple[dict[int, list], list[Signal]]:
    """Register every item: a bit as one flip-flop, a raw (a, w) pair as two (it stays a pair)."""
    regs, out = [], {}
    for w in sorted(cols):
        for i, (kind, item) in enumerate(cols[w]):
            src = item if kind == "raw" else (item,)
            rs = [Signal(name=f"{name}_mid_w{w}_{i}_{j}", reset_less=True) for j in range(len(src))]
            m.d.sync += [r.eq(v) for r, v in zip(rs, src)]
            regs += rs
            out.setdefault(w, []).append((kind, tuple(rs)) if kind == "raw" else ("bit", rs[0]))
    return out, regs


def compare_chain(name: str, p: Value, thresholds: list[Value], pol: Value) -> tuple[Chain, list[Value]]:
    """y_i = (p >= t_i) if pol else (p <= t_i), one carry segment per threshold (width + 1 slots).

    p <= t is ~p >= ~t in the same width, so both sides are XORed with ~pol; in a slot that XOR
    cancels out of P and lands in the generate half, so one segment serves both polarities
    (two Yosys comparators and a mux cost about twice as much).
    """
    chain = Chain(name)
    width = max(len(p), *(len(t) for t in thresholds))
    flip = ~pol
    outs = []
    for t in thresholds:
        chain.boundary_item(("bit", _ONE))  # +1 of the two's complement (and the previous result out)
        for i in range(width):
            chain.ge_bit(p[i] if i < len(p) else _ZERO, flip, t[i] if i < len(t) else _ZERO)
        res: list = []
        chain._pending_to = res
        outs.append(res)
    chain.close()
    return chain, [r[0][1] for r in outs]


def onehot_mux(name: str, words: list[Value], onehot: Value, bits_per_chain: int = 4,
               cin: Value | None = None) -> tuple[list[Chain], Value]:
    """words[i] where onehot = 1 << i (or 0 where onehot is 0), ORed with cin if given, as
    carry-chain ORs: two words per slot, a slot per result bit more to take the carry out (32 words:
    17 slots per bit against about 29 LUT4 from Yosys). cin enters as that slot's injected carry-in,
    so it is free: the row-systolic drain chains its row blocks through it.

    bits_per_chain result bits share one chain (its ripple is a timing path: 4 x 17 slots).
    """
    width = len(words[0])
    zero = _ZERO
    chains, outs = [], []
    for b in range(width):
        if b % bits_per_chain == 0:
            chains.append(Chain(f"{name}_{b}"))
        chain = chains[-1]
        if cin is not None:
            chain.boundary_item(("bit", cin[b]))  # (previous bit out,) carry-in = cin[b]
        elif chain.slots:
            chain.boundary_item(None)  # previous bit out, carry back to 0
        for j in range(0, len(words), 2):
            two = j + 1 < len(words)
            chain.or_terms(words[j][b], words[j + 1][b] if two else zero, onehot[j], onehot[j + 1] if two else zero)
        res: list = []
        chain._pending_to = res
        outs.append(res)
    for c in chains:
        c.close()
    return chains, Cat(*(r[0][1] for r in outs))
