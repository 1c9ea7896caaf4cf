"""Folded thresholds == the torch float model's BatchNorm + sign / multi-threshold, for every P."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golden.errors import FoldError
from golden.fold import acc_range, f32, fold_float32, fold_ideal
from golden.layers import BatchNorm, MultiThresholdAct

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
C = 3


def f32s(lo, hi):
    return st.floats(float(np.float32(lo)), float(np.float32(hi)), width=32, allow_nan=False, allow_infinity=False)


tiny = st.builds(lambda m, s: float(np.float32(s * m)), f32s(1.401298464324817e-45, 1e-30), st.sampled_from([-1, 1]))
gammas = st.one_of(st.just(0.0), st.just(-0.0), f32s(-100, 100), tiny)




@st.composite
def channel(draw, k, has_alpha, has_bias):
    """Parameters of one channel; two thirds of the time mean or beta is steered onto an exact
    float32 tie at some P (or a few ulps from it), computed with this channel's own alpha/bias."""
    alpha = draw(st.one_of(st.just(0.0), f32s(1e-3, 4))) if has_alpha else None
    bias = draw(f32s(-50, 50)) if has_bias else None
    gamma, var = draw(gammas), draw(f32s(0, 1e3))
    mean, beta = draw(f32s(-300, 300)), draw(f32s(-50, 50))
    tie = draw(st.sampled_from(["beta", "mean", "none"]))
    if tie != "none":
        p0 = draw(st.integers(0, k))
        z = np.float32(2 * p0 - k)
        if alpha is not None:
            z = np.float32(z * np.float32(alpha))
        if bias is not None:
            z = np.float32(z + np.float32(bias))
        ulps = draw(st.sampled_from([0, 1, -1, 2, -2]))
        if tie == "mean":  # z - mean == 0 at p0, beta tiny or zero
            mean = float(z)
            beta = draw(st.sampled_from([0.0, -0.0, 1e-30, -1e-30]))
        else:  # y == 0 exactly at p0 (then nudged by a few ulps)
            bn = BatchNorm(1)
            bn.weight.data[:] = gamma
            bn.running_var[:] = var
            c = bn.folded_scale().numpy()[0]
            v = np.float32(np.float32(z - np.float32(mean)) * c)
            beta = float(np.float32(-v))
        for _ in range(abs(ulps)):
            beta = float(np.nextafter(np.float32(beta), np.float32(np.inf if ulps > 0 else -np.inf)))
    return alpha, bias, gamma, var, mean, beta


def torch_reference(acc_kind, k, chans, levels=None):
    """What the torch eval model computes for every accumulator value: rows = acc, cols = channels."""
    lo, hi = acc_range(acc_kind, k)
    acc = torch.arange(lo, hi + 1)
    d = (2 * acc - k if acc_kind == "popcount" else acc).float()[:, None].repeat(1, len(chans))
    alpha = [ch[0] for ch in chans]
    bias = [ch[1] for ch in chans]
    if alpha[0] is not None:
        d = d * torch.tensor(alpha, dtype=torch.float32)
    if bias[0] is not None:
        d = d + torch.tensor(bias, dtype=torch.float32)
    bn = BatchNorm(len(chans))
    with torch.no_grad():
        bn.weight[:] = torch.tensor([ch[2] for ch in chans])
        bn.running_var[:] = torch.tensor([ch[3] for ch in chans])
        bn.running_mean[:] = torch.tensor([ch[4] for ch in chans])
        bn.bias[:] = torch.tensor([ch[5] for ch in chans])
    bn.eval()
    with torch.no_grad():
        y = bn(d)
        out = (y >= 0).long() if levels is None else MultiThresholdAct(thresholds=torch.tensor(levels))(y).long()
    return acc.numpy(), out.numpy(), bn


def fold_like(acc_kind, k, chans, bn, levels=(0.0,)):
    alpha = None if chans[0][0] is None else [ch[0] for ch in chans]
    bias = None if chans[0][1] is None else [ch[1] for ch in chans]
    return fold_float32(acc_kind, k, bn.running_mean.numpy(), bn.folded_scale().numpy(), bn.bias.detach().numpy(),
                        alpha=alpha, bias=bias, levels=levels)


@st.composite
def layer(draw, kmax=300):
    k = draw(st.one_of(st.just(1), st.integers(1, kmax)))
    has_alpha, has_bias = draw(st.booleans()), draw(st.booleans())
    return k, [draw(channel(k, has_alpha, has_bias)) for _ in range(C)]


@SETTINGS
@given(layer())
def test_fold_matches_torch_bn_sign_for_every_p(kc):
    k, chans = kc
    acc, ref, bn = torch_reference("popcount", k, chans)
    folded = fold_like("popcount", k, chans, bn)
    got = folded.apply(acc[:, None] + np.zeros((1, C), dtype=np.int64))
    np.testing.assert_array_equal(got, ref)
    assert np.all((folded.thresholds >= 0) & (folded.thresholds <= k + 1))
    const = (ref == ref[:1]).all(axis=0)  # constant channels use the design's canonical encoding
    assert np.all(folded.polarity[const] == 1)
    assert np.all(np.isin(folded.thresholds[const, 0], [0, k + 1]))


@SETTINGS
@given(st.integers(1, 3), st.data())
def test_fold_u8dot_first_layer(k, data):
    chans = [data.draw(channel(k, False, False)) for _ in range(C)]
    acc, ref, bn = torch_reference("u8dot", k, chans)
    folded = fold_like("u8dot", k, chans, bn)
    np.testing.assert_array_equal(folded.apply(acc[:, None] + np.zeros((1, C), dtype=np.int64)), ref)


@SETTINGS
@given(layer(kmax=100), st.lists(f32s(-4, 4), min_size=1, max_size=7, unique=True))
def test_multi_threshold_fold_matches_torch(kc, levels):
    k, chans = kc
    levels = sorted(levels)
    acc, ref, bn = torch_reference("popcount", k, chans, levels)
    folded = fold_like("popcount", k, chans, bn, levels)
    assert folded.thresholds.shape == (C, len(levels))
    np.testing.assert_array_equal(folded.apply(acc[:, None] + np.zeros((1, C), dtype=np.int64)), ref)


def test_default_multi_threshold_levels_are_uniform_rounding():
    act = MultiThresholdAct(bits=2)
    x = torch.tensor([-9.0, -1.5, -1.0, -0.5, 0.0, 0.49, 0.5, 1.5, 9.0])
    assert act(x).tolist() == [0, 0, 1, 1, 2, 2, 2, 3, 3]


@SETTINGS
@given(layer(kmax=120))
def test_ideal_fold_agrees_with_float32_away_from_ties(kc):
    k, chans = kc
    acc, ref, bn = torch_reference("popcount", k, chans)
    alpha = None if chans[0][0] is None else [ch[0] for ch in chans]
    bias = None if chans[0][1] is None else [ch[1] for ch in chans]
    ideal = fold_ideal("popcount", k, [ch[2] for ch in chans], [ch[5] for ch in chans], [ch[4] for ch in chans],
                       [ch[3] for ch in chans], bn.eps, alpha=alpha, bias=bias)
    got = ideal.apply(acc[:, None] + np.zeros((1, C), dtype=np.int64))
    # float64 estimate of the real y; where it is clearly away from 0 both folds must agree
    z = (2 * acc[:, None] - k).astype(np.float64) * (1 if alpha is None else np.float64(np.float32(alpha)))
    z = z + (0 if bias is None else np.float64(np.float32(bias)))
    g, b, m, v = (np.array([ch[i] for ch in chans], dtype=np.float32).astype(np.float64) for i in (2, 5, 4, 3))
    y = g * (z - m) / np.sqrt(v + np.float64(np.float32(bn.eps))) + b
    # float32 rounding of z, z - mean, c and the sum moves y by at most a few ulps of each term
    err = 1e-5 * (np.abs(g) / np.sqrt(v + 1e-5) * (np.abs(z) + np.abs(m)) + np.abs(b)) + 1e-30
    clear = np.abs(y) > err
    np.testing.assert_array_equal(got[clear], ref[clear])


def test_exact_float32_ties_fold_like_torch():
    """Deterministic: 150 channels with y == 0 exactly (in float32) at a random P0; the real-valued
    sum there is off zero by the rounding of (z - mean) * c, so only exact emulation agrees."""
    rng = np.random.default_rng(7)
    for _ in range(150):
        k = int(rng.integers(1, 60))
        gamma, var, mean = (float(np.float32(v)) for v in (rng.uniform(-3, 3), rng.uniform(0, 3), rng.uniform(-20, 20)))
        p0 = int(rng.integers(0, k + 1))
        bn = BatchNorm(1)
        bn.weight.data[:] = gamma
        bn.running_var[:] = var
        v = np.float32(np.float32(np.float32(2 * p0 - k) - np.float32(mean)) * bn.folded_scale().numpy()[0])
        chans = [(None, None, gamma, var, mean, float(-v))]
        acc, ref, bn = torch_reference("popcount", k, chans)
        assert ref[p0, 0] == 1
        np.testing.assert_array_equal(fold_like("popcount", k, chans, bn).apply(acc[:, None]), ref)


def test_real_arithmetic_disagrees_with_float32_at_ties():
    """Why the reference is float32: with beta = -c, torch's y(P=1, K=1) = fl(c + beta) = 0 fires,
    while the real y = gamma / sqrt(var + eps) + beta is off zero by c's rounding error. For some
    var the real value is negative, so a fold in real arithmetic would disagree with torch."""
    disagreements = 0
    for i in range(40):
        var = np.float32(1.0 + i / 16)
        chans = [(None, None, 1.0, float(var), 0.0, 0.0)]
        _, _, bn = torch_reference("popcount", 1, chans)
        beta = -bn.folded_scale().numpy()[0]
        chans = [(None, None, 1.0, float(var), 0.0, float(beta))]
        acc, ref, bn = torch_reference("popcount", 1, chans)
        fl = fold_like("popcount", 1, chans, bn).apply(acc[:, None])
        ideal = fold_ideal("popcount", 1, [1.0], [beta], [0.0], [var], float(np.float32(bn.eps))).apply(acc[:, None])
        np.testing.assert_array_equal(fl, ref)
        assert ref[1, 0] == 1  # the exact float32 tie fires (sign(0) = +1)
        disagreements += int(ideal[1, 0] != ref[1, 0])
    assert 0 < disagreements < 40


def test_gamma_zero_is_constant_channel():
    f = fold_float32("popcount", 10, [0.0, 0.0], [0.0, -0.0], [0.5, -0.5])
    assert f.polarity.tolist() == [1, 1] and f.thresholds[:, 0].tolist() == [0, 11]


def test_non_finite_parameters_raise_fold_error():
    with pytest.raises(FoldError, match="channel 0"):
        fold_float32("popcount", 4, [float("nan")], [1.0], [0.0])
    with pytest.raises(FoldError, match="overflows"):
        fold_float32("popcount", 4, [0.0], [3e38], [0.0], alpha=[3e38])


def test_negative_alpha_raises_fold_error():
    """alpha < 0 would flip the accumulator's direction, which the single-switch search cannot express."""
    with pytest.raises(FoldError, match=r"channel 1: alpha -0.5 < 0"):
        fold_float32("popcount", 4, [0.0, 0.0], [1.0, 1.0], [0.0, 0.0], alpha=[1.0, -0.5])


def _midpoint(f, up):
    """A float64 exactly halfway between float32 f and its neighbour: the round-to-even case."""
    with np.errstate(over="ignore"):  # nextafter(max float32) is inf: then f itself is used
        g = np.nextafter(np.float32(f), np.float32(np.inf if up else -np.inf))
    return (float(f) + float(g)) / 2 if np.isfinite(g) else float(f)


@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                 st.builds(_midpoint, st.floats(width=32, allow_nan=False, allow_infinity=False), st.booleans())))
@settings(max_examples=300, deadline=None)
def test_f32_rounds_like_ieee(x):
    ref = np.float32(x) if abs(x) < 3.4028235677973366e38 else np.float32(np.inf)
    if np.isinf(ref):
        with pytest.raises(OverflowError):
            f32(Fraction(x))
    else:
        assert f32(Fraction(x)) == Fraction(float(ref))
