"""Packed XNOR-popcount == the float +-1 matmul, for any K (1, odd, > 64), both packings."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from golden.conventions import (
    PAD_ACT_BIT,
    PAD_WGT_BIT,
    from_bits,
    pack_bits,
    pack_words,
    popcount_to_dot,
    xnor_popcount,
)
from golden.intmodel import popcount_matmul

torch.set_num_threads(1)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.just(1), st.just(64), st.just(65), st.integers(1, 300)), st.integers(1, 5), st.integers(1, 5),
       st.integers(0, 2**32 - 1))
def test_packed_xnor_popcount_equals_float_matmul(k, m, o, seed):
    rng = np.random.default_rng(seed)
    a, w = rng.integers(0, 2, (m, k), dtype=np.uint8), rng.integers(0, 2, (o, k), dtype=np.uint8)
    ref = torch.from_numpy(from_bits(a)).float() @ torch.from_numpy(from_bits(w)).float().T
    p = popcount_matmul(pack_bits(a), pack_bits(w), k)
    np.testing.assert_array_equal(popcount_to_dot(p, k), ref.numpy().astype(np.int64))
    np.testing.assert_array_equal(p, xnor_popcount(pack_bits(a)[:, None], pack_bits(w)[None], k))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 200), st.sampled_from([1, 7, 8, 32, 64]), st.integers(0, 2**32 - 1))
def test_hardware_words_with_pads_give_the_same_p(k, width, seed):
    """Tail pads (activation 0, weight 1) never count: sum of per-word popcounts == P."""
    rng = np.random.default_rng(seed)
    a, w = rng.integers(0, 2, k, dtype=np.uint8), rng.integers(0, 2, k, dtype=np.uint8)
    aw, ww = pack_words(a, width, PAD_ACT_BIT), pack_words(w, width, PAD_WGT_BIT)
    mask = (1 << width) - 1
    p_hw = sum((~(x ^ y) & mask).bit_count() for x, y in zip(aw, ww, strict=True))
    assert p_hw == int(xnor_popcount(pack_bits(a), pack_bits(w), k)) == int(np.sum(a == w))


def test_bit_level_reference_needs_no_torch():
    """Testbenches import the reference and stimulus in simulator processes: keep torch (seconds of import)
    out of them, so a monitor can call the model per beat."""
    import subprocess
    import sys

    code = "import sys, golden.reference, golden.stimulus; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
