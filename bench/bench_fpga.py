"""FPGA targets (issue 5): the largest iCE40 UP5K array closing timing at >= 48 MHz, and ECP5-85F 32x32
at >= 150 MHz with >= 1.0 binary op per cycle per LUT4 and the whole bitstream build <= 10 minutes.

Every point is a real board build (PLL + UART bridge + core -> bitstream) with the board's default PE
popcount and core configuration (fpga/devices.py: what `make bitstream` builds); prints one Markdown row and
one JSON line per build, and the verdicts. Run: `python -m bench.bench_fpga [--only ice40|ecp5]`.
Every planned build's core is checked before the first one starts: a bad --k is one `error:` line, exit 2.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from fpga.build import DefaultsHelp, build_board
from fpga.cores import CORE_KINDS, make_core
from fpga.devices import BOARDS
from fpga.flow import FlowError
from golden.cli import ArgParser, run_main

ICE40_SIZES = (2, 4, 6, 8, 10, 12, 16)   # square arrays tried in order until one fails

# nextpnr option study: one congested array per family, each option set with three seeds
STUDY = {
    "ecp5": ("ecp5-85f", 8, [("router1 (default), placer heap", ()),
                              ("router2, placer heap", ("--router", "router2"))]),
    "ice40": ("ice40-up5k", 4, [("router1 (default), placer heap", ()),
                                ("router2, placer heap", ("--router", "router2"))]),
}


def study_nextpnr(family: str, k: int, core: str) -> None:
    """Out-of-context P&R of one array with each option set and seeds 1..3: P&R seconds and Fmax."""
    from fpga.cores import make_core
    from fpga.ooc import ooc_ppa

    device, n, option_sets = STUDY[family]
    print(f"\nnextpnr options on {device}, {n}x{n} K={k} (out of context)\n"
          "| options | seed | P&R s | Fmax MHz | core LUT4 |\n|---|---|---|---|---|")
    for label, opts in option_sets:
        for seed in (1, 2, 3):
            choice = make_core(core, n, n, k)
            rep = ooc_ppa(choice.core, device, nextpnr_opts=opts, seed=seed, ops_per_cycle=choice.ops_per_cycle)
            print(f"| {label} | {seed} | {rep.times_s['pnr']:.1f} | {rep.core_fmax_mhz:.1f} | "
                  f"{rep.core['lut4_equiv']} |", flush=True)


def _build(board, n, k, out, core):
    t0 = time.monotonic()
    try:
        rep = build_board(board, n, n, BOARDS[board].default_k if k is None else k, out_dir=out, core_kind=core)
    except (FlowError, ValueError) as e:
        return None, time.monotonic() - t0, str(e)[:200]
    return rep, time.monotonic() - t0, ""


def _row(board, n, k, rep, wall, err):
    k = BOARDS[board].default_k if k is None else k
    if rep is None:
        print(f"| {board} | {n}x{n} | {k} | - | - | - | - | - | {wall:.0f} | {err} |")
        return {"board": board, "rows": n, "cols": n, "k": k, "error": err, "wall_s": round(wall, 1)}
    c = rep.core
    print(f"| {board} | {n}x{n} | {k} | {rep.design} | {c['lut4_equiv']} / {rep.total['lut4_equiv']} | "
          f"{rep.core_fmax_mhz:.1f} / {rep.target_mhz:.0f} | {rep.ops_per_cycle_per_lut:.3f} | "
          f"{rep.peak_gops:.1f} | {wall:.0f} | {'PASS' if rep.passed else 'FAIL'} |")
    d = {"board": board, "rows": n, "cols": n, "k": k, "core": rep.design, "core_lut4": c["lut4_equiv"],
         "total_lut4": rep.total["lut4_equiv"], "ff": rep.total["ff"], "fmax_mhz": rep.core_fmax_mhz,
         "target_mhz": rep.target_mhz, "ops_per_cycle_per_lut": rep.ops_per_cycle_per_lut,
         "peak_gops": rep.peak_gops, "passed": rep.passed, "wall_s": round(wall, 1),
         "times_s": {k_: round(v, 1) for k_, v in rep.times_s.items()}}
    print("JSON " + json.dumps(d))
    return d


def planned(only: str | None) -> list[tuple[str, int]]:
    """(board, array size) of every build the targets may run, in order."""
    return ([("icebreaker", n) for n in ICE40_SIZES] if only in (None, "ice40") else []) + \
        ([("ulx3s-85f", 32)] if only in (None, "ecp5") else [])


def check_core(board: str, n: int, k: int | None, core: str) -> None:
    """ValueError (naming the parameter) if build_board would reject this core: the same make_core
    call on the board's defaults, in milliseconds instead of after the builds before it."""
    b = BOARDS[board]
    make_core(core, n, n, b.default_k if k is None else k, dict(b.default_cfg) if core == "xnorcore" else None,
              b.default_popcount, b.family)


def main(argv=None) -> int:
    p = ArgParser(prog="python -m bench.bench_fpga", description=__doc__.splitlines()[0],
                  formatter_class=DefaultsHelp)
    p.add_argument("--only", choices=("ice40", "ecp5"), default=None, help="one target (default: both)")
    p.add_argument("--k", type=int, default=None,
                   help="K of every build (default: the board's; with --study-nextpnr 8)")
    p.add_argument("--core", choices=CORE_KINDS, default="xnorcore", help="the array core to build")
    p.add_argument("--study-nextpnr", choices=("ecp5", "ice40"), default=None,
                   help="instead of the targets: compare nextpnr routers / placers / seeds on this family")
    a = p.parse_args(argv)
    for board, n in [] if a.study_nextpnr else planned(a.only):
        try:
            check_core(board, n, a.k, a.core)
        except ValueError as e:
            p.error(f"--k {a.k} on {board} {n}x{n}: {e}")
    if a.study_nextpnr:
        n = STUDY[a.study_nextpnr][1]
        try:
            make_core(a.core, n, n, 8 if a.k is None else a.k)
        except ValueError as e:
            p.error(f"--k {a.k} on {n}x{n}: {e}")
    if a.study_nextpnr:
        study_nextpnr(a.study_nextpnr, 8 if a.k is None else a.k, a.core)
        return 0
    print("| board | array | K | core | LUT4 core / total | Fmax / target MHz | ops/cycle/LUT4 | peak GOPS | "
          "build s | result |\n|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench_fpga_") as tmp:
        if a.only in (None, "ice40"):
            best = fitting = None
            for n in ICE40_SIZES:        # grow until the array no longer fits (or the build fails)
                rep, wall, err = _build("icebreaker", n, a.k, Path(tmp) / f"ice{n}", a.core)
                _row("icebreaker", n, a.k, rep, wall, err)
                if rep is None or not rep.fits:
                    break
                fitting = n
                if rep.passed:
                    best = n
            print(f"VERDICT ice40-up5k: largest array closing timing at >= 48 MHz: "
                  f"{f'{best}x{best}' if best else 'none'}; largest that fits: "
                  f"{f'{fitting}x{fitting}' if fitting else 'none'}")
        if a.only in (None, "ecp5"):
            rep, wall, err = _build("ulx3s-85f", 32, a.k, Path(tmp) / "ecp5", a.core)
            _row("ulx3s-85f", 32, a.k, rep, wall, err)
            ok = rep is not None and rep.passed and rep.core_fmax_mhz >= 150 and \
                rep.ops_per_cycle_per_lut >= 1.0 and wall <= 600
            print(f"VERDICT ecp5-85f 32x32: {'MET' if ok else 'NOT MET'} (Fmax >= 150 MHz, >= 1.0 op/cycle/LUT4, "
                  f"build <= 600 s; build took {wall:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
