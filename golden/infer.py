"""Run a program file with the integer model on a data split; one JSON line on stdout.

    python -m golden.infer --program FILE --dataset digits [--split test] [--limit N] [--out RESULT.json]

Why: the shipped program must be checkable without training, exactly as the accelerator
will run it (bits and integers only).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import numpy as np

from golden import data
from golden.cli import ArgParser, check_out_path, run_main
from golden.errors import OutputError, ProgramError
from golden.intmodel import IntModel
from golden.program import load

DEFAULT_PROGRAM = os.path.join(os.path.dirname(__file__), "programs", "default.npz")


def write_json_atomic(obj: dict, path: str) -> None:
    """Write JSON via a temp file in the same directory and os.replace (never half-written).

    An OSError (``path`` a directory, no permission, disk full) becomes a one-line OutputError."""
    d = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=d)
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise OutputError(f"{path}: cannot write result ({err.strerror or err})") from None
        raise


def infer(program_path: str, dataset: str, split: str = "test", limit: int | None = None) -> dict:
    """Integer-model accuracy and throughput of a program on a data split."""
    prog = load(program_path)
    ds = data.load(dataset, split)
    x, y = (ds.x, ds.y) if limit is None else (ds.x[:limit], ds.y[:limit])
    want = tuple(prog.manifest["input"]["shape"])
    if x.shape[1:] != want:
        raise ProgramError(f"{program_path}: program input shape {list(want)} does not fit {dataset} "
                           f"images {list(x.shape[1:])}")
    t0 = time.perf_counter()
    res = IntModel(prog).predict(x)
    dt = time.perf_counter() - t0
    return {"program": program_path, "dataset": dataset, "split": split, "samples": len(y),
            "accuracy": round(float(np.mean(res.pred == y)), 4), "seconds": round(dt, 4),
            "samples_per_s": round(len(y) / dt, 1) if dt > 0 else None}


def main(argv: list[str] | None = None) -> int:
    p = ArgParser(prog="python -m golden.infer", description="Integer-model inference of a program file.")
    p.add_argument("--program", default=DEFAULT_PROGRAM, help="program .npz (default: the shipped one)")
    p.add_argument("--dataset", required=True, choices=data.DATASETS)
    p.add_argument("--split", default="test", choices=("train", "test"))
    p.add_argument("--limit", type=int, help="only the first N samples")
    p.add_argument("--out", help="also write the JSON result to this file (atomically)")
    a = p.parse_args(argv)
    if a.limit is not None and a.limit < 1:
        p.error(f"--limit must be >= 1, got {a.limit}")
    check_out_path(p, a.out)
    result = infer(a.program, a.dataset, a.split, a.limit)
    if a.out:
        write_json_atomic(result, a.out)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
