"""A weight-stationary PE array, built only to measure it (issue 3's "unless you measure a better dataflow").

Why: `bench_array_ppa --budget` says no K=15 dataflow of these carry slots reaches 1.0 op/LUT, and
that a weight-stationary column (partial sums flow down, each PE adds its mismatch count; no
accumulator, no result register, no drain) bounds K=23 at 1.065. This builds that array so that the
bound meets place and route: PE(r, c) holds a K-bit weight word (loaded by shifting down the column
while `shift`, a wave one row per cycle), takes row r's activation word r // psum_hop cycles late
(skew lines in LUT RAM) and one hop register every `hop` columns, and adds psum_out = psum_in +
popcount(a ^ w) on bit length K (r + 1) bits, registered every `psum_hop` rows, three cycles after its
activation (mid-tree, sum and psum registers).
With `--lanes 2` neighbouring columns share each weight word (a slice in each PE's flip-flops) and
take their own activation words (two pixels side by side): the same trees and ops per cycle with half
the weight flip-flops, so more of a PE's registers fit its floorplan block (135.7 MHz with --hop 2,
session 31; some 2-tile-tall blocks still overflow).
The bottom row's sums leave on `out`. It is not the product: no fan-in beyond R K, no thresholds, no
stream handshakes, no golden model; tests/test_bench_ws_array.py checks its arithmetic only.

Run: `python -m bench.bench_ws_array [--k 23] [--hop 4] [--psum-hop 1|2] [--lanes 1|2] [--router router1|router2]
[--keep DIR]`
(32x32 on the ECP5-85F in the board harness with the PE floorplan, about 10 minutes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from amaranth.hdl import Cat, Const, Elaboratable, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.carry import Chain, mismatch_tree
from hdl.config import SKEW_MIN_DELAY
from hdl.pe import tree_mid_level
from hdl.skew import SkewLines, delay

LATENCY = 3  # cycles from a PE's activation to its psum_out: mid-tree, sum and psum registers


def psum_width(k: int, rows: int) -> int:
    """Bits of a partial sum over `rows` rows of K bits (0 above row 0): it can never overflow."""
    return (k * rows).bit_length()


class WsPE(Elaboratable):
    """One PE: a stationary weight word and psum_out = psum_in + popcount(a ^ w) (mismatches).

    `own` (lo, hi): the bits of the weight word this PE holds in its flip-flops (`w_own`, loaded from
    `w_in`) when it shares the word with the other PEs of a lane group, which hold the other slices;
    the row then drives `w` from the slices. Without `own` the PE holds the whole word in `w`.
    """

    def __init__(self, k: int, in_w: int, out_w: int, cells: str, registered: bool = True,
                 own: tuple[int, int] | None = None):
        self.k, self.in_w, self.out_w, self.cells, self.registered = k, in_w, out_w, cells, registered
        lo, hi = own or (0, k)
        self.a, self.w_in, self.shift = Signal(k), Signal(hi - lo), Signal()
        self.w = Signal(k, reset_less=True)  # (no reset reaches the grid, as in hdl/pe.py)
        # (a slice is a register of its own even if it is the whole word, K=1: the row drives `w`)
        self.w_own = self.w if own is None else Signal(hi - lo, reset_less=True)
        self.psum_in = Signal(max(in_w, 1))
        self.psum_out = Signal(out_w, reset_less=True)  # (combinational when not `registered`)

    def elaborate(self, platform):
        m = Module()
        with m.If(self.shift):
            m.d.sync += self.w_own.eq(self.w_in)
        chains, sums = psum_chains(m, self.a, self.w, self.psum_in, self.in_w, self.out_w)
        for c in chains:
            c.emit(m, self.cells)
        if self.registered:
            m.d.sync += self.psum_out.eq(Cat(*sums))
        else:
            m.d.comb += self.psum_out.eq(Cat(*sums))
        return m


def psum_chains(m: Module, a: Value, w: Value, psum_in: Value, in_w: int, out_w: int) -> tuple[list[Chain], list]:
    """A PE's carry chains (not emitted) and psum sum bits: the mismatch tree with its mid register,
    the sum's register, then psum_in + sum on out_w bits, continued by the tree's last chain where
    that saves a CCU2C (as the output-stationary accumulator). Also what `bench_array_ppa --budget` counts."""
    k = len(a)
    pc, chains, _ = mismatch_tree("t", [(a[i], w[i]) for i in range(k)], m, tree_mid_level(k))
    pcq = Signal(len(pc.bits), name="pc", reset_less=True)
    m.d.sync += pcq.eq(Cat(*pc.bits))
    add = Chain("p")
    sums = [add.add(pcq[i] if i < len(pcq) else Const(0, 1), psum_in[i] if i < in_w else Const(0, 1))
            for i in range(out_w)]
    if add.append_if_cheaper(chains[-1]):
        chains.pop()
    return [*chains, add], sums


def lane_slice(k: int, lanes: int, lane: int) -> tuple[int, int]:
    """The bits (lo, hi) of a shared weight word that the PE of `lane` holds."""
    return k * lane // lanes, k * (lane + 1) // lanes


class WsRow(Elaboratable):
    """C PEs of row r (a module of its own: the floorplan finds PE chains as row<r>.pe<c>).

    Column c takes activation lane c % lanes (its own word, `acts[lane]`) and weight word c // lanes,
    shared by the `lanes` neighbouring PEs, each holding a slice of it; a lane's activations pass a
    hop register every `hop` of its PEs."""

    def __init__(self, r: int, cols: int, k: int, hop: int, cells: str, registered: bool = True, lanes: int = 1):
        self.hop, self.lanes = hop, lanes
        self.acts = [Signal(k, name=f"act{lane}") for lane in range(lanes)]
        in_w, out_w = psum_width(k, r), psum_width(k, r + 1)
        self.pes = [WsPE(k, in_w, out_w, cells, registered, lane_slice(k, lanes, c % lanes) if lanes > 1 else None)
                    for c in range(cols)]

    def elaborate(self, platform):
        m = Module()
        acts = list(self.acts)
        for c, pe in enumerate(self.pes):
            lane, i = c % self.lanes, c // self.lanes
            if i and i % self.hop == 0:
                acts[lane] = delay(m, acts[lane], 1, f"act_c{c}")
            m.submodules[f"pe{c}"] = pe
            m.d.comb += pe.a.eq(acts[lane])
            if self.lanes > 1:
                group = self.pes[c - lane:c - lane + self.lanes]
                m.d.comb += pe.w.eq(Cat(*(p.w_own for p in group)))
        return m


class WsArray(wiring.Component):
    """R x C weight-stationary array; `out` column c is the mismatch count over all R K bits.

    With `lanes` > 1, `lanes` neighbouring columns share one weight word (C / lanes words per row) and
    each takes its own activation word (`lanes` per row: pixels side by side): the same trees and
    ops per cycle with a weight flip-flop per `lanes` PEs' bits. `act` row r lane l is word r lanes + l."""

    def __init__(self, rows: int, cols: int, k: int, hop: int = 4, cells: str = "ecp5", psum_hop: int = 1,
                 lanes: int = 1):
        if cols % lanes:
            raise ValueError(f"cols ({cols}) must be a multiple of lanes ({lanes})")
        self.rows, self.cols, self.k, self.hop, self.cells, self.psum_hop = rows, cols, k, hop, cells, psum_hop
        self.lanes = lanes
        self.ops_per_cycle = 2 * rows * cols * k
        self.out_w = psum_width(k, rows)
        # a partial-sum register every psum_hop rows (and after the last): the rows between add on
        # combinationally, so they take their activations in the same cycle (skew r // psum_hop)
        self.grid = [WsRow(r, cols, k, hop, cells, r % psum_hop == psum_hop - 1 or r == rows - 1, lanes)
                     for r in range(rows)]
        super().__init__({"act": In(k * rows * lanes), "wgt": In(k * cols // lanes), "shift": In(1),
                          "out": Out(self.out_w * cols)})

    def elaborate(self, platform):
        m = Module()
        R, C, K = self.rows, self.cols, self.k
        L = self.lanes
        act, wgt = Signal(K * R * L, name="act_q", reset_less=True), Signal(K * C // L, name="wgt_q", reset_less=True)
        shift = Signal(name="shift_q", reset_less=True)
        m.d.sync += [act.eq(self.act), wgt.eq(self.wgt), shift.eq(self.shift)]
        lut = self.cells == "ecp5"  # (LUT RAM on ECP5, as the core's skew_lutram; block RAM in simulation)
        skew = SkewLines(m, SKEW_MIN_DELAY[lut], lut=lut)
        rows = self.grid
        for r, row in enumerate(rows):
            m.submodules[f"row{r}"] = row
            for lane, row_act in enumerate(row.acts):
                word = r * L + lane
                m.d.comb += row_act.eq(skew.delay(act[word * K:(word + 1) * K], r // self.psum_hop,
                                                  f"act_r{r}" + (f"l{lane}" if L > 1 else ""), "a"))
            if r:
                shift = delay(m, shift, 1, f"shift_r{r}")
            for c, pe in enumerate(row.pes):
                m.d.comb += pe.shift.eq(shift)
                if r:
                    up = rows[r - 1].pes[c]
                    m.d.comb += [pe.w_in.eq(up.w_own), pe.psum_in.eq(up.psum_out)]
                else:
                    lo, hi = lane_slice(K, L, c % L)
                    m.d.comb += pe.w_in.eq(wgt[(c // L) * K + lo:(c // L) * K + hi])
        skew.emit()
        m.d.comb += self.out.eq(Cat(*(pe.psum_out for pe in rows[-1].pes)))
        return m


def main(argv=None) -> int:
    from fpga.floorplan import Floorplan
    from fpga.ooc import ooc_ppa

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--cols", type=int, default=32)
    ap.add_argument("--k", type=int, default=23)
    ap.add_argument("--hop", type=int, default=4, help="PEs of an activation lane per hop register")
    ap.add_argument("--psum-hop", type=int, default=1, help="PE rows per partial-sum register")
    ap.add_argument("--lanes", type=int, default=1,
                    help="neighbouring columns sharing one weight word, each with its own activations")
    ap.add_argument("--router", choices=("router1", "router2"), default="router1")
    ap.add_argument("--keep", metavar="DIR", help="build in DIR and keep it (nextpnr log, timing report)")
    args = ap.parse_args(argv)
    for opt in ("rows", "cols", "k", "hop", "psum_hop", "lanes"):
        if getattr(args, opt) < 1:
            ap.error(f"--{opt.replace('_', '-')} must be >= 1, got {getattr(args, opt)}")
    if args.cols % args.lanes:
        ap.error(f"--cols ({args.cols}) must be a multiple of --lanes ({args.lanes})")
    arr = WsArray(args.rows, args.cols, args.k, args.hop, psum_hop=args.psum_hop, lanes=args.lanes)
    t0 = time.monotonic()
    rep = ooc_ppa(arr, "ecp5-85f", target_mhz=150.0, ops_per_cycle=arr.ops_per_cycle,
                  name=f"ws_{args.rows}x{args.cols}_k{args.k}_l{args.lanes}", nextpnr_opts=("--router", args.router, "--placer", "heap"),
                  seed=1, timeout_s=3600.0, build_dir=args.keep,
                  floorplan=Floorplan(args.rows, args.cols))
    core = rep.core or rep.total
    print(json.dumps({"rows": args.rows, "cols": args.cols, "k": args.k, "hop": args.hop, "psum_hop": args.psum_hop,
                      "lanes": args.lanes,
                      "lut4_equiv": core["lut4_equiv"], "carry": core["carry"], "ff": core["ff"],
                      "fmax_mhz": rep.core_fmax_mhz, "ops_per_cycle_per_lut": rep.ops_per_cycle_per_lut,
                      "packed_comb": rep.utilization.get("TRELLIS_COMB", {}).get("used"),
                      "flow_s": round(time.monotonic() - t0, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
