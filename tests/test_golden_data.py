"""Data loading: digits split, and Fashion-MNIST idx validation with one-line errors."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from golden import data
from golden.errors import DataError


def idx(dims, payload=None, magic=None):
    head = magic if magic is not None else struct.pack(">HBB", 0, 8, len(dims))
    body = payload if payload is not None else bytes(int(np.prod(dims)))
    return gzip.compress(head + struct.pack(f">{len(dims)}I", *dims) + body)


def make(tmp_path, images=None, labels=None, n=5):
    files = {"t10k-images-idx3-ubyte.gz": images if images is not None else idx((n, 28, 28)),
             "t10k-labels-idx1-ubyte.gz": labels if labels is not None else idx((n,), bytes(range(n)))}
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
    return tmp_path


def test_digits_split_is_fixed_and_u8():
    tr, te = data.load("digits", "train"), data.load("digits", "test")
    assert tr.x.shape == (1437, 1, 8, 8) and te.x.shape == (360, 1, 8, 8) and te.x.dtype == np.uint8
    assert te.x.max() == 255 and np.bincount(te.y).min() >= 35  # stratified
    assert np.array_equal(data.load("digits", "test").x, te.x)


def test_fashion_tiny_valid(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "FASHION_DIR", str(make(tmp_path)))
    s = data.load("fashion-mnist", "test")
    assert s.x.shape == (5, 1, 28, 28) and s.y.tolist() == [0, 1, 2, 3, 4]


BAD = {
    "magic": ({"images": idx((5, 28, 28), magic=b"\x00\x00\x0d\x03")}, "bad idx magic 0x00000d03"),
    "rank": ({"images": idx((5, 784))}, "idx rank 2, expected 3"),
    "short": ({"images": idx((5, 28, 28), payload=bytes(100))}, "need 3920 bytes of data, file has 100"),
    "header": ({"images": gzip.compress(b"\x00\x00")}, "idx header truncated"),
    "gzip": ({"images": b"not gzip at all"}, "cannot read gzip idx file"),
    "count": ({"labels": idx((4,), bytes(4))}, "5 images but"),
    "label": ({"labels": idx((5,), bytes([0, 1, 2, 3, 12]))}, "label 12 out of range 0..9"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_fashion_bad_idx_one_line(case, tmp_path, monkeypatch):
    kw, expect = BAD[case]
    monkeypatch.setattr(data, "FASHION_DIR", str(make(tmp_path, **kw)))
    with pytest.raises(DataError) as e:
        data.load("fashion-mnist", "test")
    assert expect in str(e.value) and "\n" not in str(e.value)


def test_fashion_missing_tells_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "FASHION_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"make fashion-data.*apt-get install dataset-fashion-mnist"):
        data.load("fashion-mnist", "train")


def test_unknown_dataset_and_split():
    with pytest.raises(DataError, match="unknown dataset 'mnist'"):
        data.load("mnist", "train")
    with pytest.raises(DataError, match="unknown split 'val'"):
        data.load("digits", "val")
