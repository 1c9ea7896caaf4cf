"""Benchmark of golden/: integer-model throughput and digits-MLP training time. One JSON line.

    python -m bench.bench_golden [--no-train] [--repeat N]

Why a script and not a timed test: timings depend on the machine and its load; they are measured
and reported (README), never asserted.
"""

from __future__ import annotations

import json
import os
import sys
import time

# before torch loads (golden/__init__.py would be too late here: torch is imported first below)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch

from golden import data
from golden.cli import ArgParser, run_main
from golden.export import export
from golden.infer import DEFAULT_PROGRAM
from golden.intmodel import IntModel
from golden.models import mlp
from golden.program import load
from golden.train import run, set_threads


def throughput(model: IntModel, x: np.ndarray, repeat: int) -> float:
    """Best-of-``repeat`` samples per second of IntModel.predict."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        model.predict(x)
        best = min(best, time.perf_counter() - t0)
    return len(x) / best


def main(argv: list[str] | None = None) -> int:
    p = ArgParser(prog="python -m bench.bench_golden", description=__doc__.splitlines()[0])
    p.add_argument("--no-train", dest="train", action="store_false", help="skip the training-time run")
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args(argv)
    if a.repeat < 1:
        p.error(f"--repeat must be >= 1, got {a.repeat}")
    out: dict = {"bench": "golden", "threads": set_threads(), "loadavg_1m": round(os.getloadavg()[0], 2)}
    test = data.load("digits", "test")
    out["int_digits_mlp_samples_per_s"] = round(throughput(IntModel(load(DEFAULT_PROGRAM)), test.x, a.repeat), 1)
    torch.manual_seed(0)  # FINN SFC shape on 28x28 inputs (random weights: throughput only)
    sfc = IntModel(export(mlp((1, 28, 28), 10, (256, 256, 256))))
    x = np.random.default_rng(0).integers(0, 256, (2000, 1, 28, 28), dtype=np.uint8)
    out["int_sfc_784_256x3_samples_per_s"] = round(throughput(sfc, x, a.repeat), 1)
    if a.train:
        s = run("digits", "mlp", quiet=True)
        out["train_digits_mlp"] = {k: s[k] for k in ("seconds", "binary_train_seconds", "fp32_train_seconds",
                                                       "binary_test_acc", "fp32_test_acc", "int_mismatches",
                                                       "threads")}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
