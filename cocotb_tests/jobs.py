"""Stimulus -> :class:`~cocotb_tests.tb.Job`: port-level beats plus the golden output beats.

A frame is one reduction (``first`` .. ``last``) over every row; its outputs are the drained row
groups. Thresholds and polarities are chosen per frame, and some choices look at the frame's
popcounts first so that ties (P == T), near misses and constant channels really occur.
"""

from __future__ import annotations

import random

import numpy as np

from golden.conventions import multi_threshold

from .design import Design
from .plan import KINDS  # noqa: F401  (the kinds frame() understands)
from .tb import Job


def _popcounts(d: Design, act, wgt) -> np.ndarray:
    """P[r, c] of one frame: sum over beats of popcount(XNOR(act_r, wgt_{r % W, c})) on K bits."""
    R, C, K, W = d.rows, d.cols, d.k, d.weight_rows
    a = np.asarray(act, dtype=object)  # [L, R] python ints (K may exceed 64)
    w = np.asarray(wgt, dtype=object)  # [L, W*C]
    mask = (1 << K) - 1
    P = np.zeros((R, C), dtype=np.int64)
    for t in range(a.shape[0]):
        for r in range(R):
            for c in range(C):
                P[r, c] += K - ((a[t, r] ^ w[t, (r % W) * C + c]) & mask).bit_count()
    return P


def expected_outputs(d: Design, P: np.ndarray, split: int, thr, pol) -> list[dict]:
    """Out beats of a frame: row groups of 2**split summed, thresholded, in drain order."""
    s = 1 << split
    R = d.rows
    ts = np.asarray(thr, dtype=np.int64)  # [C, N]
    sg = np.where(np.asarray(pol) > 0, 1, -1)
    out = []
    for g in range(R // s):
        p = P[g * s:(g + 1) * s].sum(axis=0)
        y = multi_threshold(p, ts, sg)
        out.append(dict(row=g * s, p=[int(v) for v in p], y=[int(v) for v in y], last_row=int(g == R // s - 1)))
    return out


COVER = [(rel, pol) for rel in (1, 0, -1) for pol in (1, 0)]  # T - P (below, tie, above) x polarity


def _thresholds(d: Design, rng: random.Random, kind: str, P: np.ndarray, split: int, rot: int = 0):
    """thr[C][N], pol[C] for a frame; directed kinds aim at ties, extremes and constant channels;
    "cover" gives channel c the relation/polarity COVER[(c + rot) % 6] for the first row group."""
    C, N, F = d.cols, d.n_thresholds, d.max_fanin
    s = 1 << split
    p0 = P[:s].sum(axis=0)  # the first drained group
    thr, pol = [], []
    for c in range(C):
        if kind == "cover":
            delta, pc = COVER[(c + rot) % len(COVER)]
            ts = [min(max(int(p0[c]) + delta, 0), F + 1) for _ in range(N)]
        elif kind == "ties":
            base = int(p0[c])
            ts = [min(max(base + rng.choice((0, 0, -1, 1)), 0), F + 1) for _ in range(N)]
            ts[0] = base
            pc = rng.randint(0, 1)
        elif kind == "constant":
            ts = [rng.choice((0, F + 1)) for _ in range(N)]
            pc = rng.randint(0, 1)
        else:
            lo, hi = max(0, int(p0[c]) - 3), min(F + 1, int(p0[c]) + 3)
            ts = [rng.randint(lo, hi) if rng.random() < 0.7 else rng.randint(0, F + 1) for _ in range(N)]
            pc = 0 if kind == "negative" else rng.randint(0, 1)
        thr.append(ts)
        pol.append(pc)
    return thr, pol


def frame(d: Design, rng: random.Random, kind: str = "random", length: int | None = None, split: int = 0,
          chan_block: int = 0, thr=None, pol=None, name: str = "frame", rot: int = 0) -> Job:
    """One frame of the given kind (see KINDS); ``thr``/``pol`` fixed when given."""
    R, C, K, W = d.rows, d.cols, d.k, d.weight_rows
    s = 1 << split
    max_len = max(1, d.max_fanin // (K * s))
    if kind in ("all_match", "all_mismatch"):
        length = max_len  # the full fan-in: P reaches F (all match) or 0 (all mismatch)
    elif length is None:
        length = rng.randint(1, min(4, max_len))
    if length * K * s > d.max_fanin:
        raise ValueError(f"frame of {length} beats x {K} bits x {s} rows exceeds max_fanin {d.max_fanin}")
    mask = (1 << K) - 1
    act, wgt = [], []
    for _ in range(length):
        if kind in ("all_match", "all_mismatch"):
            x = rng.getrandbits(K)
            wgt.append([x] * (W * C))
            act.append([x if kind == "all_match" else x ^ mask] * R)
        else:
            wgt.append([rng.getrandbits(K) for _ in range(W * C)])
            act.append([rng.getrandbits(K) for _ in range(R)])
    P = _popcounts(d, act, wgt)
    if thr is None or pol is None:
        thr, pol = _thresholds(d, rng, kind, P, split, rot)
    beats = [dict(act=act[t], wgt=wgt[t], first=int(t == 0), last=int(t == length - 1), split=split,
                  chan_block=chan_block) for t in range(length)]
    writes = [dict(addr=chan_block, thr=[thr[c][i] for i in range(d.n_thresholds) for c in range(C)], pol=pol)]
    exp = expected_outputs(d, P, split, thr, pol)
    meta = [dict(thr=thr, pol=pol)] * len(exp)
    return Job(writes, beats, exp, meta, f"{name}:{kind}")


def splits(d: Design) -> list[int]:
    """log2 of every legal split (a power of two dividing R)."""
    return [j for j in range(d.rows.bit_length()) if d.rows % (1 << j) == 0]


def chan_blocks(d: Design) -> int:
    return max(1, d.channels // d.cols)


def random_frames(d: Design, rng: random.Random, n: int, kinds=("random",), name: str = "f") -> list[Job]:
    """``n`` frames cycling through ``kinds`` with random split and channel block."""
    return [frame(d, rng, kinds[i % len(kinds)], split=rng.choice(splits(d)),
                  chan_block=rng.randrange(chan_blocks(d)), name=f"{name}{i}", rot=i) for i in range(n)]


def shared_threshold_frames(d: Design, rng: random.Random, n: int, length: int | None = None,
                            name: str = "b") -> list[Job]:
    """Frames for one bulk run: the harness writes every threshold first, so each channel block
    gets one threshold set, and frames only reference blocks whose thresholds are final."""
    blocks = chan_blocks(d)
    sets = []
    for _ in range(blocks):
        thr = [[rng.randint(0, d.max_fanin + 1) for _ in range(d.n_thresholds)] for _ in range(d.cols)]
        sets.append((thr, [rng.randint(0, 1) for _ in range(d.cols)]))
    jobs = []
    for i in range(n):
        cb = rng.randrange(blocks)
        split = rng.choice(splits(d))
        ln = length or rng.randint(1, min(4, max(1, d.max_fanin // (d.k << split))))
        jobs.append(frame(d, rng, "random", length=ln, split=split, chan_block=cb, thr=sets[cb][0],
                          pol=sets[cb][1], name=f"{name}{i}"))
    return jobs
