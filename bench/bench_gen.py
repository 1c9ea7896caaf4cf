"""Generation time of `python -m gen --rows 32 --cols 32` (issue 3 target: <= 10 s wall, warm caches).

Runs the real CLI in a subprocess (so Python start-up and imports count), once to warm the caches and
then `--repeat` times; prints the best and the median wall time, the CPU time (user + sys of gen and
its worker, which a busy machine does not inflate) and the Verilog size.
Run: `python -m bench.bench_gen [--rows 32 --cols 32 --repeat 3] [-- further gen arguments]`.
Arguments gen would reject are one `error:` line and exit 2 before anything runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cocotb_tests.build import GenArgsError, check_gen_argv
from golden.cli import ArgParser, run_main

MAX_REPEAT = 100


def _gen(cmd: list[str]) -> None:
    """One timed gen run; a failure is one `error:` line with gen's reason (RuntimeError)."""
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode:
        lines = [ln for ln in (r.stderr or r.stdout).splitlines() if ln.strip()] or ["no output"]
        raise RuntimeError(f"python -m gen failed (exit {r.returncode}): {lines[-1].removeprefix('error: ')}")


def _time_gen(gen_args: list[str], repeat: int) -> tuple[list[float], list[float], int]:
    """(wall seconds, CPU seconds) of each of `repeat` gen runs after a warm-up, and the Verilog's size."""
    with tempfile.TemporaryDirectory(prefix="xnorgen_bench_gen_") as tmp:
        cmd = [sys.executable, "-m", "gen", *gen_args, "--out", str(Path(tmp) / "core")]
        _gen(cmd)  # warm-up
        times, cpu = [], []
        for _ in range(repeat):
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            _gen(cmd)
            times.append(time.perf_counter() - t0)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
        return times, cpu, (Path(tmp) / "core" / "xnorgen_core.v").stat().st_size


def main(argv=None) -> int:
    ap = ArgParser(prog="python -m bench.bench_gen", description=__doc__.splitlines()[0],
                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--rows", type=int, default=32, help="gen --rows")
    ap.add_argument("--cols", type=int, default=32, help="gen --cols")
    ap.add_argument("--repeat", type=int, default=3, help=f"timed runs after the warm-up, 1..{MAX_REPEAT}")
    ap.add_argument("extra", nargs="*", default=[], help="further gen arguments (after --)")
    args = ap.parse_args(argv)
    if not 1 <= args.repeat <= MAX_REPEAT:
        ap.error(f"--repeat must be an integer in 1..{MAX_REPEAT}, not {args.repeat}")
    gen_args = ["--rows", str(args.rows), "--cols", str(args.cols), *args.extra]
    try:
        check_gen_argv(gen_args)
    except GenArgsError as e:
        ap.error(str(e))
    try:
        times, cpu, size = _time_gen(gen_args, args.repeat)
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    res = {"bench": "gen", "rows": args.rows, "cols": args.cols, "best_s": round(min(times), 2),
           "median_s": round(statistics.median(times), 2), "cpu_s": round(min(cpu), 2), "verilog_bytes": size,
           "target_s": 10.0}
    print(f"python -m gen --rows {args.rows} --cols {args.cols}: best {res['best_s']} s, median "
          f"{res['median_s']} s over {args.repeat} runs (target <= 10 s), {res['cpu_s']} s CPU; "
          f"Verilog {size / 1e6:.2f} MB")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
