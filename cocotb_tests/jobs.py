"""Shared stimulus (golden/stimulus.py) + shared reference (golden/reference.py) -> port-level Jobs.

Host side only (imports the golden model). A frame is one reduction (its opening beat .. ``last``,
golden.stimulus.FRAMINGS; "mixed" may send aborted beats before it) over every row; its outputs are
the drained row groups. The data comes from the shared reduction builder; thresholds are chosen
after looking at the frame's popcounts (ref_array), so ties, near misses and constant channels
really occur; expected beats come from ref_threshold(ref_array).
"""

from __future__ import annotations

import random

from golden.reference import ref_array
from golden.stimulus import FRAMINGS, Case, ThrWrite, cases, make_reduction, max_beats
from hdl.config import AccelConfig

from .design import Design
from .model import expected_beats
from .plan import KINDS
from .tb import Job

# "cover" gives channel c the (T - P, polarity) pair COVER[(c + rot) % 6]: below / tie / above x +-1
COVER = [(delta, pol) for delta in (1, 0, -1) for pol in (1, 0)]
_MODES = {"match": "match", "mismatch": "mismatch"}  # full fan-in: all XNOR bits 1 / all 0


def params(d: Design) -> dict:
    """The AccelConfig parameters as the reference functions take them."""
    return dict(d.raw["parameters"])


def to_job(d: Design, thr_writes, reductions, name: str, drain=None, memory=None, framing: str = "first",
           seed: int = 0) -> Job:
    """Port-level beats and the golden out beats (with per-beat thresholds for coverage).

    ``drain``: the array's beats when the caller computed them (e.g. vectorized for a whole network
    layer); ``memory``: the threshold writes the outputs see, when not (only) this job's own (a
    job that reuses entries written by earlier ones writes none itself); ``framing``, ``seed``: how
    the beats mark where reductions begin (golden.stimulus.FRAMINGS; the outputs are the same).
    """
    p = params(d)
    case = Case(name, tuple(sorted(p.items())), tuple(thr_writes), tuple(reductions), seed=seed, framing=framing)
    seen = case.thr_writes if memory is None else tuple(memory)
    expected, meta = expected_beats(p, seen, case.reductions, drain)
    return Job(case.thr_beats(), case.beats(), expected, meta, name)


def splits(d: Design) -> list[int]:
    """Every split value the core takes: 2**split rows per group, the last group truncated."""
    return list(range(((d.rows - 1).bit_length()) + 1))


def chan_blocks(d: Design) -> int:
    return max(1, d.channels // d.cols)


def _thresholds(d: Design, rng: random.Random, kind: str, p0, rot: int) -> tuple[list, list]:
    """thr[C][N], pol[C] for a frame whose first row group has popcounts p0."""
    C, N, F = d.cols, d.n_thresholds, d.max_fanin
    thr, pol = [], []
    for c in range(C):
        base = int(p0[c])
        if kind == "cover":
            delta, pc = COVER[(c + rot) % len(COVER)]
            ts = [min(max(base + delta, 0), F + 1)] * N
        elif kind == "ties":
            ts = [base] + [min(max(base + rng.choice((0, -1, 1)), 0), F + 1) for _ in range(N - 1)]
            pc = rng.randint(0, 1)
        elif kind == "constant":
            ts = [rng.choice((0, F + 1)) for _ in range(N)]  # T = 0 / F + 1: constant channels
            pc = rng.randint(0, 1)
        else:
            ts = [rng.randint(max(0, base - 3), min(F + 1, base + 3)) if rng.random() < 0.7
                  else rng.randint(0, F + 1) for _ in range(N)]
            pc = 0 if kind == "negative" else rng.randint(0, 1)
        thr.append(ts)
        pol.append(pc)
    return thr, pol


def thr_write(d: Design, addr: int, thr, pol) -> ThrWrite:
    """thr[c][i] -> the memory entry layout (threshold i of column c at index i*C + c)."""
    return ThrWrite(addr, tuple(thr[c][i] for i in range(d.n_thresholds) for c in range(d.cols)), tuple(pol))


def frame(d: Design, rng: random.Random, kind: str = "random", length: int | None = None, split: int = 0,
          chan_block: int = 0, thr=None, pol=None, name: str = "frame", rot: int = 0, framing: str = "first") -> Job:
    """One frame of ``kind`` (plan.KINDS, or "cover"); ``thr``/``pol`` fixed when given; ``framing``
    (golden.stimulus.FRAMINGS): "mixed" may put aborted beats before the frame."""
    if kind not in KINDS and kind != "cover":
        raise ValueError(f"unknown frame kind {kind!r}")
    p = params(d)
    max_len = max_beats(p, split)
    if kind in _MODES:
        length = max_len  # the full fan-in: P reaches its maximum (all match) or 0 (all mismatch)
    elif length is None:
        length = rng.randint(1, min(4, max_len))
    red = make_reduction(rng, p, min(length, max_len), split=split, chan_block=chan_block,
                     mode=_MODES.get(kind, "random"))
    if thr is None or pol is None:
        thr, pol = _thresholds(d, rng, kind, ref_array(p, [red])[0]["p"], rot)
    seed = rng.getrandbits(32) if framing == "mixed" else 0
    return to_job(d, [thr_write(d, chan_block, thr, pol)], [red], f"{name}:{kind}", framing=framing, seed=seed)


def random_frames(d: Design, rng: random.Random, n: int, kinds=("random",), name: str = "f") -> list[Job]:
    """``n`` frames cycling through ``kinds`` with random split, channel block and framing (with or
    without `first`, or after aborted beats that its `first` drops)."""
    return [frame(d, rng, kinds[i % len(kinds)], split=rng.choice(splits(d)),
                  chan_block=rng.randrange(chan_blocks(d)), name=f"{name}{i}", rot=i, framing=rng.choice(FRAMINGS))
            for i in range(n)]


def shared_threshold_frames(d: Design, rng: random.Random, n: int, length: int | None = None,
                            name: str = "b") -> list[Job]:
    """Frames whose thresholds are fixed per channel block (one set per block): what a bulk run
    needs, since the harness writes every threshold before the first beat."""
    sets = []
    for _ in range(chan_blocks(d)):
        thr = [[rng.randint(0, d.max_fanin + 1) for _ in range(d.n_thresholds)] for _ in range(d.cols)]
        sets.append((thr, [rng.randint(0, 1) for _ in range(d.cols)]))
    out = []
    for i in range(n):
        cb = rng.randrange(len(sets))
        out.append(frame(d, rng, "random", length=length, split=rng.choice(splits(d)), chan_block=cb,
                         thr=sets[cb][0], pol=sets[cb][1], name=f"{name}{i}"))
    return out


def shared_cases(d: Design) -> list[Job]:
    """The cases of golden.stimulus.cases() (also run by the amaranth.sim tests) for this config.

    A case names only the parameters it sets; AccelConfig fills in the defaults before comparing.
    """
    mine = params(d)
    return [to_job(d, c.thr_writes, c.reductions, c.name, framing=c.framing, seed=c.seed) for c in cases()
            if AccelConfig(**c.config).params() == mine]
