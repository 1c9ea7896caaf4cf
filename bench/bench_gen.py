"""Generation time of `python -m gen --rows 32 --cols 32` (issue 3 target: <= 10 s wall, warm caches).

Runs the real CLI in a subprocess (so Python start-up and imports count), once to warm the caches and
then `--repeat` times; prints the best and the median wall time, the CPU time (user + sys of gen and
its worker, which a busy machine does not inflate) and the Verilog size.
Run: `python -m bench.bench_gen [--rows 32 --cols 32 --repeat 3]`.
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--cols", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("extra", nargs="*", help="further gen arguments (after --)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xnorgen_bench_gen_") as tmp:
        cmd = [sys.executable, "-m", "gen", "--rows", str(args.rows), "--cols", str(args.cols), *args.extra,
               "--out", str(Path(tmp) / "core")]
        subprocess.run(cmd, check=True, capture_output=True)  # warm-up
        times, cpu = [], []
        for _ in range(args.repeat):
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
        size = (Path(tmp) / "core" / "xnorgen_core.v").stat().st_size
    res = {"bench": "gen", "rows": args.rows, "cols": args.cols, "best_s": round(min(times), 2),
           "median_s": round(statistics.median(times), 2), "cpu_s": round(min(cpu), 2), "verilog_bytes": size,
           "target_s": 10.0}
    print(f"python -m gen --rows {args.rows} --cols {args.cols}: best {res['best_s']} s, median "
          f"{res['median_s']} s over {args.repeat} runs (target <= 10 s), {res['cpu_s']} s CPU; "
          f"Verilog {size / 1e6:.2f} MB")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
