"""Run a Program with packed bits and integers only (numpy); bit-exact with the torch eval model.

Why it exists: it is the executable meaning of a program file, independent of torch, and the
model the RTL is checked against layer by layer. Every binary layer is conventions.xnor_popcount
on packed words followed by an integer threshold compare; the 8-bit first layer is computed the
way an XNOR array would: bit-plane by bit-plane, sum_i x_i w_i = sum_b 2^b (P_b + popcount(w) - K)
where P_b = popcount(XNOR(plane_b, w)) (derivation: with a = #(x=1, w=+1), b = #(x=1, w=-1),
P_b = a + #(x=0, w=-1) and popcount(w) = a + #(x=0, w=+1), so P_b + popcount(w) - K = a - b).
Max-pool of +-1 values is an OR of bits. Scores of the head are float32(2P - K) * scale, the same
IEEE product torch computes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from golden.conventions import pack_bits, threshold, xnor_popcount
from golden.data import BINARY_INPUT_THRESHOLD
from golden.program import Program

__all__ = ["IntModel", "Result", "combine_planes", "popcount_matmul"]

_CHUNK_ELEMS = 1 << 22  # bounds the [rows, out, words] temporary of one popcount step


@dataclass(frozen=True)
class Result:
    """Head dot products 2P - K [N, classes] (int64), float32 scores, predicted class [N]."""

    dot: np.ndarray
    scores: np.ndarray
    pred: np.ndarray


def popcount_matmul(a_words: np.ndarray, w_words: np.ndarray, k: int) -> np.ndarray:
    """P[m, o] = popcount(XNOR(a[m], w[o])) over k bits, chunked over rows to bound memory."""
    m, o, nw = a_words.shape[0], w_words.shape[0], w_words.shape[1]
    out = np.empty((m, o), dtype=np.int64)
    step = max(1, _CHUNK_ELEMS // max(1, o * nw))
    for s in range(0, m, step):
        out[s:s + step] = xnor_popcount(a_words[s:s + step, None, :], w_words[None, :, :], k)
    return out


def combine_planes(planes_p, popw, k: int) -> np.ndarray:
    """sum_b 2^b (P_b + popcount(w) - k): the signed dot product of u8 pixels with +-1 weights,
    from the popcounts P_b [M, out] of bit planes b = 0, 1, ... (an iterable: one plane at a time)
    and popw, the popcount of each weight row [out]."""
    acc = None
    for b, pb in enumerate(planes_p):
        term = (pb + popw - k) << b
        acc = term if acc is None else acc + term
    return acc


def _im2col(x: np.ndarray, ker: int, stride: int) -> tuple[np.ndarray, int, int]:
    """[N, C, H, W] -> [N*Ho*Wo, C*ker*ker] in torch's weight flatten order (c, i, j)."""
    n, c = x.shape[:2]
    win = sliding_window_view(x, (ker, ker), axis=(2, 3))[:, :, ::stride, ::stride]
    ho, wo = win.shape[2], win.shape[3]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * ker * ker)
    return np.ascontiguousarray(cols), ho, wo


class IntModel:
    """Integer/bit model of a validated Program."""

    def __init__(self, program: Program):
        self.program = program
        self.kind = program.manifest["input"]["kind"]
        self.in_shape = tuple(program.manifest["input"]["shape"])

    def _acc(self, layer: dict, rows: np.ndarray) -> np.ndarray:
        """Accumulator [M, out] of a weighted layer from input rows [M, k]: {0,1} bits or u8 pixels."""
        w = self.program.tensor(f"{layer['name']}.weight")
        k = layer["k"]
        if layer["acc"] == "popcount":
            return popcount_matmul(pack_bits(rows), w, k)
        popw = np.bitwise_count(w).sum(axis=-1, dtype=np.int64)  # u8 pixels: one pass per bit plane
        return combine_planes((popcount_matmul(pack_bits((rows >> b) & 1), w, k) for b in range(8)), popw, k)

    def _fire(self, layer: dict, acc: np.ndarray) -> np.ndarray:
        name = layer["name"]
        thr = self.program.tensor(f"{name}.thresholds")[:, 0]
        return threshold(acc, thr, self.program.tensor(f"{name}.polarity"))

    def forward(self, x: np.ndarray, trace: list | None = None) -> Result:
        """x: uint8 images [N, C, H, W]. ``trace`` (a list) receives every layer's integer output."""
        x = np.asarray(x)
        if x.dtype != np.uint8 or x.shape[1:] != self.in_shape:
            raise ValueError(f"expected uint8 input of shape [N, {', '.join(map(str, self.in_shape))}], "
                             f"got {x.dtype} {list(x.shape)}")
        a = x if self.kind == "u8" else (x >= BINARY_INPUT_THRESHOLD).astype(np.uint8)
        n = len(x)
        for layer in self.program.layers:
            op = layer["op"]
            if op == "flatten":
                a = a.reshape(n, -1)
            elif op == "maxpool":
                c, h, w = a.shape[1:]
                a = a[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
            elif op == "dense":
                a = self._fire(layer, self._acc(layer, a))
            elif op == "conv":
                pad, ker, stride = layer["pad"], layer["kernel"], layer["stride"]
                if pad:
                    pv = 1 if layer["pad_value"] > 0 else 0  # bit of the declared +-1 padding value
                    a = np.pad(a, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=pv)
                cols, ho, wo = _im2col(a, ker, stride)
                acc = self._acc(layer, cols)
                a = self._fire(layer, acc).reshape(n, ho, wo, -1).transpose(0, 3, 1, 2)
            elif op == "head":
                acc = self._acc(layer, a)
                dot = 2 * acc - layer["k"] if layer["acc"] == "popcount" else acc
                scale = self.program.tensor(f"{layer['name']}.scale")[0]
                scores = dot.astype(np.float32) * np.float32(scale)
                if trace is not None:
                    trace.append(dot)
                return Result(dot, scores, np.argmax(dot, axis=1))
            if trace is not None:
                trace.append(a)
        raise AssertionError("validated programs end with a head")

    def predict(self, x: np.ndarray, batch: int = 1024) -> Result:
        """forward() in batches (bounded memory); concatenated results."""
        parts = [self.forward(x[s:s + batch]) for s in range(0, len(x), batch)]
        return Result(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("dot", "scores", "pred")))
