"""Test plans: all stimulus and golden outputs of one simulator run, made on the host beforehand.

Why: making the stimulus needs the generator's configuration code (hdl.config, Amaranth) and
looks at golden popcounts to aim thresholds; the host (pytest worker, ``make sim``) computes every
job once, pickles the plan into the run directory, and the cocotb tests only drive, monitor and
compare. A job's golden out beats are what bulk runs check against; per-beat runs check against the
input monitor's model (cocotb_tests/model.py, golden.reference in the simulator) and use the job's
beats as a cross-check of the driver. Keys name what a test consumes; both sides build them with
the helpers below.
"""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path

from .design import Design
from .harness import BEAT_DEPTH
from .tb import Job

PLAN_FILE = "plan.pkl"
# name -> gen arguments (what a user types after `python -m gen`). Most equal the parameters of
# cases in golden.stimulus.cases(), so the shared amaranth.sim vectors run here too ("shared").
CONFIGS = {
    "1x1_k1": "--rows 1 --cols 1 --k 1 --max-fanin 16 --weight-hop 4",
    "2x3_k7": "--rows 2 --cols 3 --k 7 --max-fanin 70 --weight-hop 4",
    "2x3_k7_fifo3": "--rows 2 --cols 3 --k 7 --max-fanin 70 --weight-hop 4 --out-fifo 3",  # credit flow
    "2x2_k7_n3": "--rows 2 --cols 2 --k 7 --max-fanin 70 --weight-hop 4 --n-thresholds 3",
    "8x2_k7_w8": "--rows 8 --cols 2 --k 7 --max-fanin 448 --weight-rows 8 --weight-hop 4",
    "3x2_k32_w3": "--rows 3 --cols 2 --k 32 --max-fanin 200 --weight-rows 3 --weight-hop 2",
    "1x8_k7_c24": "--rows 1 --cols 8 --k 7 --max-fanin 60 --channels 24 --weight-hop 4",
    "16x16_k8": "--rows 16 --cols 16 --k 8 --max-fanin 256 --weight-hop 4",
    # the ECP5 PE (CCU2C instances, simulated with the model gen writes beside the core)
    "3x8_k32_ccu2": "--rows 3 --cols 8 --k 32 --max-fanin 300 --act-hop 3 --pipeline 2 --popcount ccu2",
    # the row-systolic drain on CCU2C chains (row blocks of 3, the last truncated), overlap 0
    "7x3_k7_drain3_ccu2": ("--rows 7 --cols 3 --k 7 --max-fanin 70 --weight-hop 2 --overlap 0 --out-fifo 16 "
                           "--drain-hop 3 --popcount ccu2"),
    # the long skew lines in RAM ring buffers: block RAM (rows 3..7, columns 3 and 4), and LUT RAM
    # (rows 2..7, columns 2..4) with the ECP5 PE
    "8x5_k7_skewmem4": "--rows 8 --cols 5 --k 7 --max-fanin 70 --weight-hop 1 --skew-mem 4",
    # LFSR accumulators (hdl/lfsr.py) on the ECP5 PE with the two-register drain blocks (a shared case)
    "9x3_k7_drain4x2_lfsr_ccu2": ("--rows 9 --cols 3 --k 7 --max-fanin 70 --weight-hop 2 --out-fifo 12 --drain-hop 4 "
                                  "--drain-regs 2 --acc-lfsr 1 --popcount ccu2"),
    # the gated drain (drain_gate: result registers reset unless selected, LUT ORs), as the 85F board builds it
    "9x3_k7_drain4x2_gate_lfsr_ccu2": ("--rows 9 --cols 3 --k 7 --max-fanin 70 --weight-hop 2 --out-fifo 12 "
                                       "--drain-hop 4 --drain-regs 2 --drain-gate 1 --acc-lfsr 1 --popcount ccu2"),
    "8x5_k7_skewlut3_ccu2": "--rows 8 --cols 5 --k 7 --max-fanin 70 --weight-hop 1 --skew-mem 3 --skew-lutram 1 "
                            "--popcount ccu2",
}
# test groups (regexes over cocotb test names); coverage_summary closes every group
GROUPS = {
    "traffic": r"random_traffic",
    "directed": r"directed",
    "reset": r"reset_|watchdog_fires",
    "coverage": r"coverage_closure",
    "shared": r"shared_cases",
    "bulk": r"bulk",
}

# (input idle, output backpressure) pairs of the robustness matrix
TRAFFIC = [("none", "none"), ("bern10", "bern10"), ("bern50", "bern50"), ("bern90", "bern90"),
           ("bursts", "bursts"), ("bern90", "bern10"), ("bern10", "bern90")]
RESET_POINTS = ("thr", "beats", "drain")
# frame kinds (cocotb_tests/jobs.py): random data, then the directed extremes: full fan-in all-match /
# all-mismatch, ties at the threshold, negative polarity, constant channels, multi-threshold
KINDS = ("random", "match", "mismatch", "ties", "negative", "constant", "multi")


def expected_tests(groups) -> list[str]:
    """The cocotb test names (as results.xml spells them) a run of ``groups`` must pass; a run that
    passes fewer (not found, skipped, filtered away) checked less than it claims."""
    from .traffic import STALL_NAMES

    names = {
        "traffic": [f"random_traffic/src={a}/snk={b}" for a, b in TRAFFIC],
        "directed": [*(f"directed/kind={k}" for k in KINDS), "directed_timing"],
        "reset": [*(f"reset_mid_stream/where={w}" for w in RESET_POINTS), "reset_while_stalled", "watchdog_fires"],
        "coverage": ["coverage_closure"],
        "shared": [f"shared_cases/src={a}/snk={b}" for a, b in TRAFFIC[1:5]],
        "bulk": [f"bulk/pattern={p}" for p in STALL_NAMES],
    }
    return [n for g in groups for n in names[g]]


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


SPEED_FRAME_BEATS = 64


def speed_key(i) -> str:
    return f"speed/{i}"


NET_BULK, NET_BEAT = "net/bulk/", "net/beat"  # network_layer: harness chunks, or per-beat jobs
TIMING_KEY = "timing"  # directed_timing: one frame per split value
TIMING_B2B_KEY = "timing/b2b"  # directed_timing: frames queued back to back (one threshold set)
SHARED_KEY = "shared"  # golden.stimulus.cases() whose parameters equal this configuration's


def make_plan(d: Design, groups, seed: int = 1, scale: float = 1.0) -> dict[str, list[Job]]:
    """Every job the given test groups consume, from the shared stimulus and golden model."""
    from . import coverage, jobs  # host side only: the stimulus generators
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
            # one frame per split field value, for the cycle of every out beat (config.json's out_beats)
            plan[TIMING_KEY] = [jobs.frame(d, rng, "random", split=sp, name=f"timing-s{sp}")
                                for sp in range(len(d.raw["latency"]["out_beats"]))]
            for kind in KINDS:
                plan[directed_key(kind)] = [
                    jobs.frame(d, rng, kind, split=sp, chan_block=rng.randrange(jobs.chan_blocks(d)),
                               name=f"s{sp}r{rep}")
                    for sp in jobs.splits(d) for rep in range(2)]
            plan[TIMING_B2B_KEY] = jobs.shared_threshold_frames(d, rng, 8, name="b2b")
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
        elif group == "shared":
            plan[SHARED_KEY] = jobs.shared_cases(d)
        elif group == "speed":
            # long reductions, one threshold set: harness-sized chunks for the throughput benchmark
            per = max(1, BEAT_DEPTH // SPEED_FRAME_BEATS)
            frames = jobs.shared_threshold_frames(d, rng, per, length=SPEED_FRAME_BEATS, name="speed")
            for i in range(n(4)):
                plan[speed_key(i)] = frames  # the same frames replayed: stimulus cost stays off the clock
            plan[speed_key("per_beat")] = frames[:max(1, 2000 // SPEED_FRAME_BEATS)]
        elif group == "bulk":
            for pattern in STALL_NAMES:
                plan[bulk_key(pattern)] = jobs.shared_threshold_frames(d, rng, n(40))
        else:
            raise ValueError(f"unknown test group {group!r}")
    return plan


def network_plan(jobs: list[Job], bulk: bool) -> dict[str, list[Job]]:
    """One layer's jobs: per beat, or cut into chunks that fit the harness memories."""
    from .harness import OUT_DEPTH, THR_DEPTH
    if not bulk:
        return {NET_BEAT: jobs}
    plan: dict[str, list[Job]] = {}
    chunk: list[Job] = []
    sizes = [0, 0, 0]
    for j in jobs:
        add = (len(j.beats), len(j.expected), len(j.thr_writes))
        if chunk and any(s + a > cap for s, a, cap in zip(sizes, add, (BEAT_DEPTH, OUT_DEPTH, THR_DEPTH), strict=True)):
            plan[f"{NET_BULK}{len(plan)}"] = chunk
            chunk, sizes = [], [0, 0, 0]
        chunk.append(j)
        sizes = [s + a for s, a in zip(sizes, add, strict=True)]
    if chunk:
        plan[f"{NET_BULK}{len(plan)}"] = chunk
    return plan


def save_plan(plan: dict[str, list[Job]], run_dir: Path, design: Design | None = None) -> Path:
    """Pickle the plan (payloads packed here when ``design`` is given, off the simulator's clock)."""
    if design is not None:
        for jobs in plan.values():
            for j in jobs:
                j.payloads(design)
    path = run_dir / PLAN_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(plan))
    os.replace(tmp, path)
    return path


def load_plan() -> dict[str, list[Job]]:
    """Inside the simulator: the plan in the run directory."""
    return pickle.loads(Path(PLAN_FILE).read_bytes())
