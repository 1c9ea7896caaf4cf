"""Test plans: all stimulus and golden outputs of one simulator run, made on the host beforehand.

Why: the golden model imports torch, which takes ~20 s to import inside the simulator's embedded
Python (and every simulator run would pay it). The host (pytest worker, ``make sim``) computes
every job once, pickles the plan into the run directory, and the cocotb tests only drive, monitor
and compare. Keys name what a test consumes; both sides build them with the helpers below.
"""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path

from .design import Design
from .tb import Job

PLAN_FILE = "plan.pkl"
# (input idle, output backpressure) pairs of the robustness matrix
TRAFFIC = [("none", "none"), ("bern10", "bern10"), ("bern50", "bern50"), ("bern90", "bern90"),
           ("bursts", "bursts"), ("bern90", "bern10"), ("bern10", "bern90")]
RESET_POINTS = ("thr", "beats", "drain")
# frame kinds (cocotb_tests/jobs.py): random data, then the directed extremes
KINDS = ("random", "all_match", "all_mismatch", "ties", "negative", "constant", "multi")


def traffic_key(src: str, snk: str) -> str:
    return f"traffic/{src}/{snk}"


def directed_key(kind: str) -> str:
    return f"directed/{kind}"


def reset_keys(where: str) -> tuple[str, str]:
    """(the job cut by the reset, the jobs run afterwards)."""
    return f"reset/{where}/cut", f"reset/{where}/after"


def coverage_keys(stall: str, phase: str) -> tuple[str, str]:
    return f"cov/{stall}/{phase}/cut", f"cov/{stall}/{phase}/run"


def bulk_key(pattern: str) -> str:
    return f"bulk/{pattern}"


def make_plan(d: Design, groups, seed: int = 1, scale: float = 1.0) -> dict[str, list[Job]]:
    """Every job the given test groups consume, from the shared stimulus and golden model."""
    from . import coverage, jobs  # host side only: imports the golden model (torch)
    from .traffic import STALL_NAMES

    def n(base: int) -> int:
        return max(1, round(base * scale))

    kinds = KINDS if d.n_thresholds > 1 else tuple(k for k in jobs.KINDS if k != "multi")
    plan: dict[str, list[Job]] = {}
    for group in groups:
        rng = random.Random(f"{seed}/{group}")
        if group == "traffic":
            for src, snk in TRAFFIC:
                plan[traffic_key(src, snk)] = jobs.random_frames(d, rng, n(6), kinds, name=f"{src}/{snk}/")
        elif group == "directed":
            for kind in KINDS:
                plan[directed_key(kind)] = [
                    jobs.frame(d, rng, kind, split=sp, chan_block=rng.randrange(jobs.chan_blocks(d)),
                               name=f"s{sp}r{rep}")
                    for sp in jobs.splits(d) for rep in range(2)]
        elif group == "reset":
            for where in (*RESET_POINTS, "stall"):
                cut, after = reset_keys(where)
                plan[cut] = jobs.shared_threshold_frames(d, rng, 3, name=f"cut-{where}-")
                plan[after] = jobs.random_frames(d, rng, 3, kinds, name="after")
        elif group == "coverage":
            for stall in STALL_NAMES:
                for phase in coverage.RESET_PHASES:
                    cut, run = coverage_keys(stall, phase)
                    plan[cut] = jobs.shared_threshold_frames(d, rng, 2, name="cut")
                    plan[run] = jobs.random_frames(d, rng, 6, ("cover",), name=f"{stall}/{phase}/")
        elif group == "bulk":
            for pattern in STALL_NAMES:
                plan[bulk_key(pattern)] = jobs.shared_threshold_frames(d, rng, n(40))
        else:
            raise ValueError(f"unknown test group {group!r}")
    return plan


def save_plan(plan: dict[str, list[Job]], run_dir: Path) -> Path:
    path = run_dir / PLAN_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(plan))
    os.replace(tmp, path)
    return path


def load_plan() -> dict[str, list[Job]]:
    """Inside the simulator: the plan in the run directory."""
    return pickle.loads(Path(PLAN_FILE).read_bytes())
