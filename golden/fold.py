"""(scale alpha, bias, BatchNorm) followed by sign -> one integer threshold and a polarity per channel.

Derivation. A layer's integer accumulator ``acc`` (P = popcount(XNOR) in [0, K] for +-1 inputs,
or the signed dot product for the 8-bit input layer) gives the pre-BN value z = alpha * d + bias
with d = 2P - K (or d = acc). BatchNorm gives y = gamma * (z - mean) / sqrt(var + eps) + beta and
the binary activation is y >= 0. In real arithmetic y >= 0 iff gamma * (z - mean) >= -beta * s with
s = sqrt(var + eps) irrational in general: ``fold_ideal`` decides this exactly by squaring (no
sqrt is ever evaluated), so with gamma > 0 the channel fires iff z >= mean - beta * s / gamma.

The float model, however, does not compute in real arithmetic: it runs float32 operations, and at
a near-tie a correctly rounded float32 result can land on the other side of 0 than the real value.
The reference the integer model must match is therefore *the float32 computation torch performs*
(layers.BatchNorm's eval form): z1 = fl(d * alpha), z = fl(z1 + bias), u = fl(z - mean),
v = fl(u * c), y = fl(v + beta), with c = fl(gamma / fl(sqrt(fl(var + eps)))) the float32 per-channel
tensor the model itself holds. ``fold_float32`` (the one xnorgen uses) evaluates those operations
exactly on Fractions, rounding each result to float32 exactly as IEEE 754 round-to-nearest-even
does (``f32``), so it agrees with torch on every integer acc, ties included. Every step is a
monotone function of acc (rounding is monotone; multiplying by c flips direction when c < 0), so
y >= theta switches at most once over [lo, hi] and a binary search finds the switching point.

Encoding (docs/design.md): polarity +1 means y = [acc >= T], polarity -1 means y = [acc <= T].
A constant channel (gamma = 0, alpha = 0, c underflowed to 0, or a switch outside [lo, hi]) has
polarity +1 and T = lo (always 1) or T = hi + 1 (always 0). For k-bit activations, each level
theta_i of layers.MultiThresholdAct folds to its own T_i with one shared polarity, so
y = #{i : acc >= T_i} (qonnx MultiThreshold); a level that never fires under polarity -1 gets
T_i = lo - 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from golden.conventions import multi_threshold
from golden.errors import FoldError

__all__ = ["Folded", "acc_range", "eval_float32", "f32", "fold_float32", "fold_ideal"]

_F32_MAX_EXP = 128
_F32_MIN_EXP = -126
_F32_MANT = 23


def f32(q: Fraction) -> Fraction:
    """Round an exact rational to the nearest float32 (ties to even, subnormals); overflow raises."""
    if q == 0:
        return Fraction(0)
    a = -q if q < 0 else q
    n, d = a.numerator, a.denominator
    e = n.bit_length() - d.bit_length()
    if (n << max(0, -e)) < (d << max(0, e)):
        e -= 1  # now 2^e <= a < 2^(e+1)
    shift = max(e, _F32_MIN_EXP) - _F32_MANT  # value of one unit in the last place
    num, den = (n, d << shift) if shift >= 0 else (n << -shift, d)
    m, r = divmod(num, den)
    if 2 * r > den or (2 * r == den and m & 1):
        m += 1
    out = Fraction(m) * (Fraction(2) ** shift)
    if out >= 2 ** _F32_MAX_EXP:
        raise OverflowError("float32 overflow")
    return -out if q < 0 else out


@dataclass(frozen=True)
class Folded:
    """Per-channel thresholds [C, N] (int64) on the accumulator range [lo, hi], polarity [C] (+-1)."""

    thresholds: np.ndarray
    polarity: np.ndarray
    lo: int
    hi: int

    def apply(self, acc: np.ndarray) -> np.ndarray:
        """y for accumulators acc [..., C]: count of fired levels (0/1 for binary channels)."""
        return multi_threshold(acc, self.thresholds, self.polarity)


def acc_range(acc_kind: str, k: int) -> tuple[int, int]:
    """[lo, hi] of the accumulator: popcount P in [0, K]; u8 dot product in [-255 K, 255 K]."""
    if acc_kind == "popcount":
        return 0, k
    if acc_kind == "u8dot":
        return -255 * k, 255 * k
    raise ValueError(f"unknown accumulator kind {acc_kind!r}")


def _dot(acc_kind: str, k: int) -> Callable[[int], int]:
    return (lambda p: 2 * p - k) if acc_kind == "popcount" else (lambda a: a)


def _fr(x) -> Fraction:
    x = float(np.float32(x))
    if not np.isfinite(x):
        raise FoldError(f"non-finite parameter {x}")
    return Fraction(x)


def _levels(levels) -> list[Fraction]:
    lv = [_fr(t) for t in np.asarray(levels, dtype=np.float32).reshape(-1)]
    if not lv:
        raise FoldError("no threshold levels")
    return lv


def _search(pred: Callable[[int], bool], lo: int, hi: int, rising: bool) -> int:
    """Switching point of a monotone predicate: rising -> min acc with pred; falling -> max acc."""
    if rising:
        a, b = lo, hi  # pred(hi) is True
        while a < b:
            mid = (a + b) // 2
            a, b = (a, mid) if pred(mid) else (mid + 1, b)
        return a
    a, b = lo, hi  # pred(lo) is True
    while a < b:
        mid = (a + b + 1) // 2
        a, b = (mid, b) if pred(mid) else (a, mid - 1)
    return a


def _fold(pred_for_level: Callable[[int, int], Callable[[int], bool]], n_ch: int, n_lv: int,
          lo: int, hi: int) -> Folded:
    thr = np.zeros((n_ch, n_lv), dtype=np.int64)
    pol = np.ones(n_ch, dtype=np.int8)
    for ch in range(n_ch):
        preds = [pred_for_level(ch, i) for i in range(n_lv)]
        ends = [(p(lo), p(hi)) for p in preds]
        rising = any(not a and b for a, b in ends)
        falling = any(a and not b for a, b in ends)
        if rising and falling:  # impossible for a monotone channel: a bug, not bad input
            raise AssertionError(f"channel {ch}: levels switch in both directions")
        pol[ch] = -1 if falling else 1
        for i, (p, (a, b)) in enumerate(zip(preds, ends, strict=True)):
            if a == b:  # constant level
                if pol[ch] > 0:
                    thr[ch, i] = lo if a else hi + 1
                else:
                    thr[ch, i] = hi if a else lo - 1
            else:
                thr[ch, i] = _search(p, lo, hi, rising=not falling)
    return Folded(thr, pol, lo, hi)


def eval_float32(d: int, mean: Fraction, c: Fraction, beta: Fraction,
                 alpha: Fraction | None = None, bias: Fraction | None = None) -> Fraction:
    """y exactly as torch computes it in float32 from the integer dot d (see module docstring)."""
    z = Fraction(d)
    if alpha is not None:
        z = f32(z * alpha)
    if bias is not None:
        z = f32(z + bias)
    return f32(f32(f32(z - mean) * c) + beta)


def fold_float32(acc_kind: str, k: int, mean, c, beta, alpha=None, bias=None, levels=(0.0,)) -> Folded:
    """Fold the float32 eval computation of layers.BatchNorm (+ alpha, bias) and y >= theta_i.

    ``mean``, ``c`` (= BatchNorm.folded_scale()), ``beta``, ``alpha``, ``bias`` are per-channel
    float32 arrays exactly as the torch model holds them; ``levels`` are the activation's float32
    thresholds theta_i (``(0.0,)`` for sign).
    """
    lo, hi = acc_range(acc_kind, k)
    dot = _dot(acc_kind, k)
    mean, c, beta = (np.asarray(v, dtype=np.float32).reshape(-1) for v in (mean, c, beta))
    n_ch = len(mean)
    alpha = None if alpha is None else np.asarray(alpha, dtype=np.float32).reshape(-1)
    bias = None if bias is None else np.asarray(bias, dtype=np.float32).reshape(-1)
    for name, v in (("c", c), ("beta", beta), ("alpha", alpha), ("bias", bias)):
        if v is not None and len(v) != n_ch:
            raise FoldError(f"{name} has {len(v)} channels, mean has {n_ch}")
    lv = _levels(levels)

    def pred_for_level(ch: int, i: int) -> Callable[[int], bool]:
        try:
            m, cc, b = _fr(mean[ch]), _fr(c[ch]), _fr(beta[ch])
            al = None if alpha is None else _fr(alpha[ch])
            bi = None if bias is None else _fr(bias[ch])
        except FoldError as err:
            raise FoldError(f"channel {ch}: {err}") from None
        if al is not None and al < 0:
            raise FoldError(f"channel {ch}: alpha {float(al)} < 0")

        def pred(acc: int) -> bool:
            try:
                return eval_float32(dot(acc), m, cc, b, al, bi) >= lv[i]
            except OverflowError:
                raise FoldError(f"channel {ch}: BatchNorm overflows float32 at accumulator {acc}") from None
        return pred

    return _fold(pred_for_level, n_ch, len(lv), lo, hi)


def _ge_sqrt(a: Fraction, b: Fraction, v: Fraction) -> bool:
    """Exactly decide a + b * sqrt(v) >= 0 for rationals a, b and v > 0, by squaring."""
    if a >= 0 and b >= 0:
        return True
    if a <= 0 and b <= 0:
        return a == 0 and b == 0
    if a > 0:  # b < 0: a >= -b sqrt(v)
        return a * a >= b * b * v
    return b * b * v >= a * a  # a < 0 < b


def fold_ideal(acc_kind: str, k: int, gamma, beta, mean, var, eps: float, alpha=None, bias=None,
               levels=(0.0,)) -> Folded:
    """Fold in exact real arithmetic: y = gamma (z - mean) / sqrt(var + eps) + beta >= theta.

    The parameters are taken as the exact rationals their float32 values denote; sqrt is never
    evaluated (gamma (z - mean) + (beta - theta) sqrt(var + eps) >= 0 is decided by squaring).
    Agrees with fold_float32 except where y is within float32 rounding of theta.
    """
    lo, hi = acc_range(acc_kind, k)
    dot = _dot(acc_kind, k)
    arrs = [np.asarray(v, dtype=np.float32).reshape(-1) for v in (gamma, beta, mean, var)]
    n_ch = len(arrs[0])
    alpha = None if alpha is None else np.asarray(alpha, dtype=np.float32).reshape(-1)
    bias = None if bias is None else np.asarray(bias, dtype=np.float32).reshape(-1)
    lv = _levels(levels)
    e = Fraction(eps)

    def pred_for_level(ch: int, i: int) -> Callable[[int], bool]:
        g, b, m, v = (_fr(a[ch]) for a in arrs)
        al = Fraction(1) if alpha is None else _fr(alpha[ch])
        bi = Fraction(0) if bias is None else _fr(bias[ch])
        if v + e <= 0:
            raise FoldError(f"channel {ch}: var + eps <= 0")
        return lambda acc: _ge_sqrt(g * (al * dot(acc) + bi - m), b - lv[i], v + e)

    return _fold(pred_for_level, n_ch, len(lv), lo, hi)
