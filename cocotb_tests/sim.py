"""`make sim`: generate the default core, cosimulate it in Verilator against the golden model.

Runs `python -m gen` with its defaults (the configuration users get), builds it with the cached
fast Verilator flow, and runs the directed extremes per beat plus random frames through the bulk
harness under every idle/backpressure pattern, all checked beat by beat against
golden/reference.py. Prints a short summary and, last, one line of JSON. Exit status 1 on any
mismatch or failed test.

Bad input prints one `error: ...` line on stderr and no summary or JSON: exit 2 for a bad argument
(--scale, --limit, --dataset, --gen-args; checked before anything is built), 1 for a program file
that cannot be read or run on the core, a missing data set (both loaded before the build) or a
failed build.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

from golden.cli import ArgParser, run_main
from golden.data import DATASETS

from .build import BUILD_ROOT, REPO, GenArgsError, build_seconds, gen_argv, get_build, run_cocotb
from .plan import make_plan, save_plan
from .tb import STATS_FILE

GROUPS = {"directed": r"directed", "bulk": r"bulk"}
DEFAULT_PROGRAM = REPO / "golden" / "programs" / "default.npz"
MAX_SCALE = 1000.0  # (40,000 random frames per stall pattern: hours; a larger scale only exhausts memory)


def parser() -> ArgParser:
    ap = ArgParser(prog="python -m cocotb_tests.sim", description=__doc__.splitlines()[0],
                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--gen-args", default="",
                    help="arguments for `python -m gen`, one shell-quoted string (default: %(default)r, gen's own defaults)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help=f"multiply the number of random frames (0 < scale <= {MAX_SCALE:g})")
    ap.add_argument("--seed", type=int, default=1, help="seed of the random frames")
    ap.add_argument("--program", default=str(DEFAULT_PROGRAM),
                    help="program to run layer by layer on the core ('' to skip)")
    ap.add_argument("--dataset", choices=DATASETS, default="digits",
                    help="data set whose test split the program classifies")
    ap.add_argument("--limit", type=int, default=argparse.SUPPRESS, metavar="N",
                    help="first N >= 1 test samples only (default: all)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    limit = getattr(args, "limit", None)
    if not (math.isfinite(args.scale) and 0 < args.scale <= MAX_SCALE):
        ap.error(f"--scale must be a number in (0, {MAX_SCALE:g}], not {args.scale}")
    if limit is not None and limit < 1:
        ap.error(f"--limit must be an integer >= 1, not {limit}")
    try:
        gen_argv(args.gen_args)
    except GenArgsError as e:
        ap.error(str(e))
    net_input = None
    if args.program:  # loaded and checked before the build (ProgramError / DataError: one line, exit 1)
        if not Path(args.program).exists():
            ap.error(f"--program {args.program} does not exist")
        from .network import NetworkInput

        net_input = NetworkInput(args.program, args.dataset, limit)
    t0 = time.monotonic()
    try:
        build = get_build(args.gen_args)
        t_build = time.monotonic() - t0
    except RuntimeError as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    d = build.design
    if net_input is not None:  # (the program's fan-ins against this core's max_fanin)
        from .network import check_program

        check_program(net_input.program, args.program, d)
    run_dir = BUILD_ROOT / "make_sim"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    save_plan(make_plan(d, list(GROUPS), seed=args.seed, scale=args.scale), run_dir, d)
    res = run_cocotb(build, "cocotb_tests.core_tests", rf"core_tests\.({'|'.join(GROUPS.values())})", run_dir,
                     seed=args.seed)
    stats = [json.loads(line) for line in (run_dir / STATS_FILE).read_text().splitlines()] \
        if (run_dir / STATS_FILE).exists() else []
    checked = sum(s["checked"] for s in stats)
    mismatches = sum(s["mismatches"] + s["missing"] for s in stats)
    cycles = sum(s["cycles"] for s in stats)
    config = {k: d.params[k] for k in ("rows", "cols", "k", "max_fanin", "weight_rows", "n_thresholds", "channels")}
    bt = build_seconds(build)
    how = (f"gen {bt.get('gen', 0):.1f} s + Verilator build {bt.get('verilator build', 0):.1f} s"
           if t_build > 1 else f"cached build {build.dir.name}")
    print(f"xnorgen cosimulation of {d.top} {d.rows}x{d.cols} k={d.k} max_fanin={d.max_fanin} ({how})")
    for s in stats:
        print(f"  {s['test']:<28} {s['checked']:>6} output beats  {s['mismatches']:>3} mismatches  "
              f"{s['cycles']:>8} cycles")
    print(f"  cocotb tests: {len(res['passed'])} passed, {len(res['failed'])} failed {res['failed'] or ''}")

    failed = list(res["failed"]) + [f"{t} (skipped)" for t in res["skipped"]]
    net = None
    if net_input is not None:
        from .network import run_program

        print(f"  program {args.program} on {args.dataset} (test split), layer by layer on the core:")
        net = run_program(build, net_input, run_dir / "network", seed=args.seed)
        checked += net["checked"]
        mismatches += net["scoreboard_mismatches"] + net["mismatches_vs_intmodel"]
        cycles += net["cycles"]
        failed += [f"network:{t}" for layer in net["layers"] for t in layer["failed_tests"]]
        print(f"  accuracy {net['accuracy']:.4f} on {net['samples']} samples (integer model "
              f"{net['intmodel_accuracy']:.4f}), {net['mismatches_vs_intmodel']} layer-output mismatches, "
              f"{net['prediction_mismatches']} prediction mismatches")
    seconds = time.monotonic() - t0
    ok = not failed and mismatches == 0 and checked > 0
    summary = {"configuration": config, "gen_args": args.gen_args, "seed": args.seed, "vectors_checked": checked,
               "mismatches": mismatches, "failed_tests": failed, "cycles": cycles,
               "seconds": round(seconds, 2), "ok": ok}
    if net is not None:
        summary["network"] = {"program": args.program, "dataset": args.dataset, "samples": net["samples"],
                              "accuracy": net["accuracy"], "intmodel_accuracy": net["intmodel_accuracy"],
                              "mismatches_vs_intmodel": net["mismatches_vs_intmodel"],
                              "prediction_mismatches": net["prediction_mismatches"], "cycles": net["cycles"]}
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run_main(main))
