"""The bit-level conventions of xnorgen, written once; every package imports them from here.

Why one module: bit-exactness between PyTorch, the packed integer model, Amaranth and the
Verilog testbenches only holds if they agree on every one of these choices.

- bit 1 <-> +1, bit 0 <-> -1.
- sign(x) = +1 for x >= 0, -1 otherwise (``torch.sign(0) == 0`` is *not* our sign).
- Packing is LSB-first: element ``i`` of a vector lands in bit ``i % W`` of word ``i // W``
  (``numpy.packbits(..., bitorder="little")``), for any word width W (numpy uses 64, hardware K).
- P = popcount(XNOR(a, w)) over the K valid bits; dot = 2P - K.
- Tail padding of a hardware word: activation pad bit 0, weight pad bit 1, so XNOR of a pad
  position is 0 and padding never contributes to P (no valid-bit mask is needed in the PE).
- threshold: y = 1 iff P >= T (polarity +1) or P <= T (polarity -1).
- multi-threshold: y = number of i with P >= T_i (qonnx MultiThreshold); with polarity -1,
  y = number of i with P <= T_i.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch only where a tensor is passed: the bit-level reference stays numpy-only
    import torch

__all__ = [
    "PAD_ACT_BIT",
    "PAD_WGT_BIT",
    "dot_to_popcount",
    "from_bits",
    "multi_threshold",
    "pack_bits",
    "pack_words",
    "popcount_to_dot",
    "sign",
    "threshold",
    "to_bits",
    "unpack_bits",
    "unpack_words",
    "xnor_popcount",
]

PAD_ACT_BIT = 0
PAD_WGT_BIT = 1


def sign(x: torch.Tensor) -> torch.Tensor:
    """+1 where x >= 0, -1 elsewhere, same dtype as x."""
    import torch

    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


def to_bits(x) -> np.ndarray:
    """+-1 (or any real) array -> uint8 {0, 1}, bit = (x >= 0)."""
    if hasattr(x, "detach"):  # a torch.Tensor (without importing torch for numpy callers)
        x = x.detach().cpu().numpy()
    return (np.asarray(x) >= 0).astype(np.uint8)


def from_bits(bits) -> np.ndarray:
    """{0, 1} array -> int8 {-1, +1}."""
    return np.asarray(bits, dtype=np.int8) * 2 - 1


def pack_bits(bits) -> np.ndarray:
    """Pack {0, 1} along the last axis into uint64 words, LSB-first, zero tail."""
    bits = np.asarray(bits, dtype=np.uint8)
    n = bits.shape[-1]
    nwords = max(1, -(-n // 64))
    padded = np.zeros(bits.shape[:-1] + (nwords * 64,), dtype=np.uint8)
    padded[..., :n] = bits
    return np.packbits(padded, axis=-1, bitorder="little").view("<u8").reshape(bits.shape[:-1] + (nwords,))


def unpack_bits(words, n: int) -> np.ndarray:
    """Inverse of pack_bits: uint64 words -> {0, 1} uint8 of length n on the last axis."""
    words = np.ascontiguousarray(np.asarray(words, dtype="<u8"))
    as_bytes = words.view(np.uint8).reshape(words.shape[:-1] + (words.shape[-1] * 8,))
    return np.unpackbits(as_bytes, axis=-1, bitorder="little")[..., :n]


def pack_words(bits, k: int, pad_bit: int) -> list[int]:
    """One {0, 1} vector -> hardware words of width k (Python ints), LSB-first, tail padded."""
    bits = [int(b) for b in np.asarray(bits, dtype=np.uint8).reshape(-1)]
    nwords = max(1, -(-len(bits) // k))
    bits = bits + [pad_bit] * (nwords * k - len(bits))
    return [sum(b << j for j, b in enumerate(bits[i * k:(i + 1) * k])) for i in range(nwords)]


def unpack_words(words, k: int, n: int) -> np.ndarray:
    """Hardware words of width k -> the first n bits as uint8 {0, 1}."""
    out = [(int(w) >> j) & 1 for w in words for j in range(k)]
    return np.asarray(out[:n], dtype=np.uint8)


def xnor_popcount(a_words, w_words, k: int) -> np.ndarray:
    """P = popcount(XNOR(a, w)) over the first k bits of packed uint64 vectors (broadcasting).

    ``a_words`` [..., n_words] and ``w_words`` [..., n_words] as made by pack_bits; bits past k
    are masked out, so the zero tail of pack_bits never counts.
    """
    a = np.asarray(a_words, dtype=np.uint64)
    w = np.asarray(w_words, dtype=np.uint64)
    nwords = a.shape[-1]
    if k > nwords * 64 or k < 0:
        raise ValueError(f"k={k} does not fit {nwords} words")
    mask = np.zeros(nwords, dtype=np.uint64)
    full, rest = divmod(k, 64)
    mask[:full] = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
    if rest:
        mask[full] = np.uint64((1 << rest) - 1)
    return np.bitwise_count(~(a ^ w) & mask).sum(axis=-1, dtype=np.int64)


def popcount_to_dot(p, k: int):
    """dot = 2P - K."""
    return 2 * p - k


def dot_to_popcount(dot, k: int):
    """P = (dot + K) / 2 (dot and K always have the same parity)."""
    return (dot + k) // 2


def threshold(p, t, polarity):
    """y = 1 iff P >= T (polarity +1) or P <= T (polarity -1); numpy broadcasting."""
    p, t, polarity = np.asarray(p), np.asarray(t), np.asarray(polarity)
    return np.where(polarity > 0, p >= t, p <= t).astype(np.uint8)


def multi_threshold(p, ts, polarity):
    """y = number of i with P >= T_i (polarity +1) or P <= T_i (polarity -1).

    ``ts`` has the thresholds on its last axis; ``p`` and ``polarity`` broadcast against ts[..., 0].
    """
    p, ts, polarity = np.asarray(p)[..., None], np.asarray(ts), np.asarray(polarity)[..., None]
    return np.where(polarity > 0, p >= ts, p <= ts).sum(axis=-1).astype(np.int64)
