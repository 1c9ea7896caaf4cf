"""Data sets as uint8 images: sklearn digits (8x8) and Fashion-MNIST (28x28) from Debian's idx files.

Why uint8: the first layer of every xnorgen network takes 8-bit integer inputs (or their
binarization), so the torch model, the integer model and the accelerator see the very same
integers; nothing is normalized by a float division that could round differently.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from golden.errors import DataError

FASHION_DIR = os.environ.get("XNORGEN_FASHION_DIR", "/usr/share/datasets/fashion-mnist")
FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
DATASETS = ("digits", "fashion-mnist")
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0  # fixed: the test split never depends on the training seed
BINARY_INPUT_THRESHOLD = 128  # u8 pixel >= 128 -> bit 1 (+1) when inputs are binarized


@dataclass(frozen=True)
class Split:
    """Images [N, 1, H, W] uint8 and labels [N] int64."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def load(name: str, split: str) -> Split:
    """Load ``split`` ("train" or "test") of data set ``name`` as uint8 images."""
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r} (expected train or test)")
    if name == "digits":
        return _digits(split)
    if name == "fashion-mnist":
        return _fashion(split)
    raise DataError(f"unknown dataset {name!r} (expected one of {', '.join(DATASETS)})")


def n_classes(name: str) -> int:
    """Number of classes (both data sets have 10)."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r} (expected one of {', '.join(DATASETS)})")
    return 10


def _digits(split: str) -> Split:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    # digits pixels are integers 0..16; map them onto 0..255 exactly (integer arithmetic).
    x = ((d.images.astype(np.int64) * 255 + 8) // 16).astype(np.uint8)[:, None, :, :]
    y = d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(
        x, y, test_size=DIGITS_TEST_FRACTION, random_state=DIGITS_SPLIT_SEED, stratify=y)
    return Split(xtr, ytr) if split == "train" else Split(xte, yte)


def _fashion(split: str) -> Split:
    img_name, lbl_name = FASHION_FILES[split]
    img_path = os.path.join(FASHION_DIR, img_name)
    lbl_path = os.path.join(FASHION_DIR, lbl_name)
    for p in (img_path, lbl_path):
        if not os.path.isfile(p):
            raise DataError(f"Fashion-MNIST file {p} is missing: run `make fashion-data` "
                            "(or apt-get install dataset-fashion-mnist)")
    x = read_idx(img_path, ndim=3)
    y = read_idx(lbl_path, ndim=1).astype(np.int64)
    if len(x) == 0:  # an empty split would crash training and inference far from its cause
        raise DataError(f"{img_path}: holds 0 images")
    if len(x) != len(y):
        raise DataError(f"{img_path}: {len(x)} images but {lbl_path} has {len(y)} labels")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{lbl_path}: label {int(y.max())} out of range 0..9")
    return Split(x[:, None, :, :], y)


def read_idx(path: str, ndim: int) -> np.ndarray:
    """Read a gzip'd idx file of unsigned bytes, checking magic, rank and length (one-line errors)."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as err:  # zlib.error: corrupt deflate data inside a valid header
        raise DataError(f"{path}: cannot read gzip idx file ({err})") from None
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise DataError(f"{path}: idx header truncated ({len(raw)} bytes)")
    zero, dtype_code, rank = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DataError(f"{path}: bad idx magic 0x{raw[:4].hex()} (expected unsigned-byte idx 0x000008..)")
    if rank != ndim:
        raise DataError(f"{path}: idx rank {rank}, expected {ndim}")
    dims = struct.unpack(f">{ndim}I", raw[4:head])
    n = int(np.prod(dims, dtype=np.int64))
    if len(raw) - head != n:
        raise DataError(f"{path}: idx dims {list(dims)} need {n} bytes of data, file has {len(raw) - head}")
    # a copy: frombuffer over bytes is read-only, and torch.from_numpy warns on read-only arrays
    return np.frombuffer(raw, dtype=np.uint8, offset=head).reshape(dims).copy()
