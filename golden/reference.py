"""Reference model of the XnorCore ports: what every out beat carries, from the stimulus objects.

Why here (golden/) and in plain ints: the amaranth.sim tests (tests/) and the Verilator/cocotb
tests (cocotb_tests/) check the same RTL against the same functions; both read beats as dicts of
ints/lists in emission order. Bit conventions come from golden/conventions.py only.

`params` is a mapping with the AccelConfig fields (rows, cols, k, max_fanin, weight_rows,
n_thresholds, channels); config.json's "parameters" object is such a mapping.
"""

from __future__ import annotations

import numpy as np

from golden.conventions import multi_threshold, pack_bits, unpack_words, xnor_popcount

__all__ = ["acc_width", "drain_beats", "ref_array", "ref_core", "ref_pe", "ref_threshold", "threshold_table"]


def acc_width(params) -> int:
    """Bits of P: P lies in [0, max_fanin]."""
    return max(1, int(params["max_fanin"]).bit_length())


def ref_pe(a_words, w_words, k: int) -> int:
    """P of one PE over one reduction: popcount(XNOR) of the concatenated k-bit words."""
    n = len(a_words) * k
    a_bits = unpack_words(a_words, k, n)
    w_bits = unpack_words(w_words, k, n)
    return int(xnor_popcount(pack_bits(a_bits), pack_bits(w_bits), n))


def _groups(rows: int, split: int):
    g = 1 << split
    return [(s, min(s + g, rows)) for s in range(0, rows, g)]


def ref_array(params, reductions) -> list[dict]:
    """Drain beats of the PE array: per reduction, per split group, the summed P of each column.

    Group size is 2**split consecutive rows (the last group truncated at `rows`); P sums wrap at
    acc_width bits exactly as the hardware does (a stimulus within max_fanin never wraps).
    """
    R, C, K, W = (int(params[n]) for n in ("rows", "cols", "k", "weight_rows"))
    pick = (np.arange(R)[:, None] % W) * C + np.arange(C)[None, :]  # PE (r, c) takes weight word (r % W) C + c
    out = []
    for red in reductions:
        # every PE at once: ref_pe's P (tests/test_golden_reference.py holds the two equal), vectorized
        # because testbench monitors call this per reduction (a 32x32 per PE in Python: ~10x slower)
        a = pack_bits(_word_bits(red.act, K))
        w = pack_bits(_word_bits(red.wgt, K))
        p = xnor_popcount(a[:, None, :], w[pick], len(red.act) * K).astype(np.int64)
        out.extend(drain_beats(params, p, red.split, red.chan_block))
    return out


def _word_bits(beats, k: int) -> np.ndarray:
    """beats [B][N] of k-bit words -> bits [N, B k] uint8, each word LSB first (as unpack_words)."""
    nbytes = (k + 7) // 8
    buf = b"".join((int(w) & ((1 << k) - 1)).to_bytes(nbytes, "little") for beat in beats for w in beat)
    n = len(beats[0]) if beats else 0
    bits = np.unpackbits(np.frombuffer(buf, np.uint8), bitorder="little").reshape(len(beats), n, nbytes * 8)
    return np.ascontiguousarray(bits[:, :, :k].transpose(1, 0, 2)).reshape(n, len(beats) * k)


def drain_beats(params, p, split: int = 0, chan_block: int = 0) -> list[dict]:
    """Drain beats of one reduction from the P of every PE (p [rows, cols]): per split group, the
    summed P of each column, wrapped at acc_width bits (the framing ref_array uses)."""
    R, C = int(params["rows"]), int(params["cols"])
    mask = (1 << acc_width(params)) - 1
    return [{"row": lo, "p": [int(p[lo:hi, c].sum()) & mask for c in range(C)], "last_row": int(hi == R),
             "chan_block": chan_block} for lo, hi in _groups(R, split)]


def threshold_table(params, thr_writes) -> tuple[np.ndarray, np.ndarray]:
    """Threshold memory after the writes, in order: T [blocks, N, C] and polarity +-1 [blocks, C].

    The memory powers up as zeros: T = 0 with polarity bit 0 (-1), i.e. y = (P <= 0).
    """
    C, N = int(params["cols"]), int(params["n_thresholds"])
    blocks = int(params["channels"]) // C
    t = np.zeros((blocks, N, C), dtype=np.int64)
    pol = -np.ones((blocks, C), dtype=np.int64)
    for wr in thr_writes:
        t[wr.addr] = np.asarray(wr.thr, dtype=np.int64).reshape(N, C)
        pol[wr.addr] = np.where(np.asarray(wr.pol) > 0, 1, -1)
    return t, pol


def ref_threshold(params, thr_writes, drain_beats) -> list[dict]:
    """Out beats of the threshold unit: raw P plus y = multi_threshold(P, T, polarity)."""
    t, pol = threshold_table(params, thr_writes)
    out = []
    for d in drain_beats:
        b = d["chan_block"]
        y = multi_threshold(np.asarray(d["p"]), t[b].T, pol[b])
        out.append({"row": d["row"], "p": list(d["p"]), "y": [int(v) for v in y], "last_row": d["last_row"]})
    return out


def ref_core(params, thr_writes, reductions) -> list[dict]:
    """Out beats of XnorCore, in order, for threshold writes done before the reductions."""
    return ref_threshold(params, thr_writes, ref_array(params, reductions))
