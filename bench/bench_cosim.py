"""Cosimulation speed: 32x32 Verilator build time and simulated cycles/s under cocotb.

Targets (issue 4): build <= 120 s on 2 cores; >= 50,000 simulated cycles/s for the 32x32 array.
The build is timed from scratch in a fresh directory (no cache), split into `gen` and the
Verilator build (verilate + C++ compile). Throughput is measured two ways on the same build, both
checking every output beat against the golden model: the bulk harness (Python wakes once per
run) and the Python-per-beat testbench used by the robustness tests. Prints one JSON line.

    python -m bench.bench_cosim [--gen-args "--rows 32 --cols 32"] [--chunks 16]

A bad argument is one `error:` line and exit 2 before anything is built; a failed build or failed
speed test one `error:` line and exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from cocotb_tests.build import BUILD_ROOT, JOBS, GenArgsError, build_seconds, gen_argv, get_build, run_cocotb
from cocotb_tests.plan import make_plan, save_plan
from golden.cli import ArgParser, run_main

MAX_CHUNKS = 4096  # (32x32: about 20 M cycles)


def main(argv: list[str] | None = None) -> int:
    ap = ArgParser(prog="python -m bench.bench_cosim", description=__doc__.splitlines()[0],
                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--gen-args", default="--rows 32 --cols 32",
                    help="arguments for `python -m gen`, one shell-quoted string")
    ap.add_argument("--chunks", type=int, default=16, metavar="N",
                    help=f"bulk runs, the same frames replayed, 1..{MAX_CHUNKS} "
                         "(32x32: 16 runs = 76k cycles, long enough to time)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch build directory")
    ap.add_argument("--cached", action="store_true",
                    help="use (and fill) the regression's build cache instead of a from-scratch build")
    args = ap.parse_args(argv)
    if not 1 <= args.chunks <= MAX_CHUNKS:
        ap.error(f"--chunks must be an integer in 1..{MAX_CHUNKS}, not {args.chunks}")
    try:
        gen_argv(args.gen_args)
    except GenArgsError as e:
        ap.error(str(e))
    run_dir = None
    root = BUILD_ROOT if args.cached else Path(tempfile.mkdtemp(prefix="xnorgen-bench-cosim-"))
    try:
        t0 = time.monotonic()
        try:
            build = get_build(args.gen_args, root=root)
        except RuntimeError as e:
            print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
            return 1
        total_build = time.monotonic() - t0
        parts = build_seconds(build)
        d = build.design
        run_dir = Path(tempfile.mkdtemp(prefix="xnorgen-bench-cosim-run-"))
        t1 = time.monotonic()
        save_plan(make_plan(d, ["speed"], scale=args.chunks / 4), run_dir, d)
        t_plan = time.monotonic() - t1
        res = run_cocotb(build, "cocotb_tests.speed_tests", r"speed_tests\.", run_dir)
        if res["failed"]:
            print(f"error: speed tests failed: {res['failed']} (log {run_dir / 'sim.log'})", file=sys.stderr)
            return 1
        speed = json.loads((run_dir / "speed.json").read_text())
        bulk, beat = speed["bulk"], speed["per_beat"]
        out = {
            "bench": "cosim", "gen_args": args.gen_args, "rows": d.rows, "cols": d.cols, "k": d.k,
            "cores": os.cpu_count(), "make_jobs": JOBS,
            "gen_s": round(parts.get("gen", 0), 2),
            "built_now": total_build > 1,
            "verilator_build_s": round(parts.get("verilator build", 0), 2),
            "verilator_build_cpu_s": round(parts.get("verilator build cpu", 0), 2),
            "build_total_s": round(total_build, 2),
            "plan_s": round(t_plan, 2),
            "bulk_cycles": bulk["cycles"],
            "bulk_cycles_per_s_sim": round(bulk["cycles"] / bulk["sim_seconds"]),
            "bulk_cycles_per_s_with_io": round(bulk["cycles"] / bulk["wall_seconds"]),
            "bulk_cycles_per_cpu_s_sim": round(bulk["cycles"] / bulk["sim_cpu_seconds"]),
            "bulk_cycles_per_cpu_s_with_io": round(bulk["cycles"] / bulk["cpu_seconds"]),
            "per_beat_cycles_per_cpu_s": round(beat["cycles"] / beat["cpu_seconds"]),
            "bulk_beats_checked": bulk["beats_checked"],
            "per_beat_cycles_per_s": round(beat["cycles"] / beat["wall_seconds"]),
            "targets": {"build_s": 120, "cycles_per_s": 50000},
        }
        out["build_ok"] = out["gen_s"] + out["verilator_build_s"] <= 120
        out["speed_ok"] = out["bulk_cycles_per_s_sim"] >= 50000
        print(f"32x32 build: gen {out['gen_s']} s + Verilator {out['verilator_build_s']} s wall "
              f"({out['verilator_build_cpu_s']} s CPU on {JOBS} jobs); target <= 120 s")
        print(f"bulk harness: {out['bulk_cycles_per_s_sim']} cycles/s simulated "
              f"({out['bulk_cycles_per_cpu_s_sim']} per CPU second), {out['bulk_cycles_per_s_with_io']} "
              f"including stimulus/result I/O and checking ({out['bulk_cycles_per_cpu_s_with_io']} per CPU second); "
              f"target >= 50,000")
        print(f"Python per beat: {out['per_beat_cycles_per_s']} cycles/s ({out['per_beat_cycles_per_cpu_s']} per CPU s)")
        print(json.dumps(out))
        return 0
    finally:
        if not args.keep:
            if run_dir is not None:
                shutil.rmtree(run_dir, ignore_errors=True)
            if not args.cached:
                shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_main(main))
