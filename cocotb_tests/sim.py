"""`make sim`: generate the default core, cosimulate it in Verilator against the golden model.

Runs `python -m gen` with its defaults (the configuration users get), builds it with the cached
fast Verilator flow, and runs the directed extremes per beat plus random frames through the bulk
harness under every idle/backpressure pattern, all checked beat by beat against
golden/reference.py. Prints a short summary and, last, one line of JSON. Exit status 1 on any
mismatch or failed test.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from .build import BUILD_ROOT, REPO, build_seconds, get_build, run_cocotb
from .network import run_program
from .plan import make_plan, save_plan
from .tb import STATS_FILE

GROUPS = {"directed": r"directed", "bulk": r"bulk"}
DEFAULT_PROGRAM = REPO / "golden" / "programs" / "default.npz"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cocotb_tests.sim", description=__doc__.splitlines()[0])
    ap.add_argument("--gen-args", default="", help="arguments for `python -m gen` (default: its defaults)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the number of random frames")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--program", default=str(DEFAULT_PROGRAM),
                    help="program to run layer by layer on the core ('' to skip)")
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--limit", type=int, default=None, help="first N test samples only")
    args = ap.parse_args(argv)
    if args.scale <= 0:
        print(f"error: --scale must be > 0, not {args.scale}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    try:
        build = get_build(args.gen_args)
        t_build = time.monotonic() - t0
    except RuntimeError as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    d = build.design
    run_dir = BUILD_ROOT / "make_sim"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    save_plan(make_plan(d, list(GROUPS), seed=args.seed, scale=args.scale), run_dir, d)
    res = run_cocotb(build, "cocotb_tests.core_tests", rf"core_tests\.({'|'.join(GROUPS.values())})", run_dir)
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

    failed = list(res["failed"])
    net = None
    if args.program:
        if not Path(args.program).exists():
            print(f"error: program {args.program} does not exist", file=sys.stderr)
            return 2
        print(f"  program {args.program} on {args.dataset} (test split), layer by layer on the core:")
        net = run_program(build, args.program, run_dir / "network", args.dataset, args.limit)
        checked += net["checked"]
        mismatches += net["scoreboard_mismatches"] + net["mismatches_vs_intmodel"]
        cycles += net["cycles"]
        failed += [f"network:{t}" for layer in net["layers"] for t in layer["failed_tests"]]
        print(f"  accuracy {net['accuracy']:.4f} on {net['samples']} samples (integer model "
              f"{net['intmodel_accuracy']:.4f}), {net['mismatches_vs_intmodel']} layer-output mismatches, "
              f"{net['prediction_mismatches']} prediction mismatches")
    seconds = time.monotonic() - t0
    ok = not failed and mismatches == 0 and checked > 0
    summary = {"configuration": config, "gen_args": args.gen_args, "vectors_checked": checked,
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
    sys.exit(main())
