"""Data loading: digits split, and Fashion-MNIST idx validation with one-line errors."""

from __future__ import annotations

import gzip
import json
import struct

import numpy as np
import pytest

from golden import data, infer, train
from golden.cli import run_main
from golden.errors import DataError


def idx(dims, payload=None, magic=None):
    head = magic if magic is not None else struct.pack(">HBB", 0, 8, len(dims))
    body = payload if payload is not None else bytes(int(np.prod(dims)))
    return gzip.compress(head + struct.pack(f">{len(dims)}I", *dims) + body, mtime=0)


def corrupt_deflate(gz):
    """A gzip file with an intact header whose first deflate byte is flipped: zlib.error, not OSError."""
    b = bytearray(gz)
    b[10] ^= 0xFF
    return bytes(b)


def make(tmp_path, images=None, labels=None, n=5, prefix="t10k"):
    files = {f"{prefix}-images-idx3-ubyte.gz": images if images is not None else idx((n, 28, 28)),
             f"{prefix}-labels-idx1-ubyte.gz": labels if labels is not None else idx((n,), bytes(range(n)))}
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
    "deflate": ({"images": corrupt_deflate(idx((5, 28, 28)))}, "cannot read gzip idx file (Error -3"),
    "no-images": ({"images": idx((0, 28, 28)), "labels": idx((0,), b"")},
                  "t10k-images-idx3-ubyte.gz: holds 0 images"),
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


@pytest.mark.parametrize("main,argv,expect", [
    (infer.main, ["--dataset", "fashion-mnist"], "holds 0 images"),
    (train.main, ["--dataset", "fashion-mnist", "--arch", "mlp", "--quiet"], "holds 0 images"),
])
def test_empty_data_set_is_one_line_error(main, argv, expect, tmp_path, monkeypatch, capsys):
    """An idx file with 0 images fails in the loader, naming the file, not in concatenate / torch.cat."""
    for prefix in ("train", "t10k"):
        make(tmp_path, idx((0, 28, 28)), idx((0,), b""), prefix=prefix)
    monkeypatch.setattr(data, "FASHION_DIR", str(tmp_path))
    assert run_main(main, argv) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith(f"error: {tmp_path}/") and expect in err, err


def test_train_needs_a_full_batch(tmp_path, monkeypatch, capsys):
    """Fewer training samples than one batch would train nothing and export an untrained network."""
    for prefix in ("train", "t10k"):
        make(tmp_path, prefix=prefix)
    monkeypatch.setattr(data, "FASHION_DIR", str(tmp_path))
    argv = ["--dataset", "fashion-mnist", "--arch", "mlp", "--quiet", "--out", str(tmp_path / "p.npz")]
    assert run_main(train.main, argv) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == "error: fashion-mnist train split has 5 samples, fewer than one batch of 128\n"
    assert not (tmp_path / "p.npz").exists()


def test_train_batch_2_is_the_minimum_that_runs(tmp_path, monkeypatch, capsys):
    """--batch 2 (the CLI's lower bound) trains: BatchNorm has 2 values per channel."""
    for prefix in ("train", "t10k"):
        make(tmp_path, prefix=prefix)
    monkeypatch.setattr(data, "FASHION_DIR", str(tmp_path))
    assert run_main(train.main, ["--dataset", "fashion-mnist", "--arch", "mlp", "--quiet", "--no-twin",
                                 "--epochs", "1", "--batch", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["test_samples"] == 5
