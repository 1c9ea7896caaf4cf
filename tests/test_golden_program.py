"""Program files: round trip, and every kind of bad file -> one-line error, exit 1, nothing written."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

from golden import infer, program
from golden.cli import run_main
from golden.errors import OutputError, ProgramError
from golden.export import export
from golden.models import mlp

torch.set_num_threads(1)
ROOT = os.path.join(os.path.dirname(__file__), "..")
DEFAULT = os.path.join(ROOT, "golden", "programs", "default.npz")


@pytest.fixture(scope="module")
def small():
    """A small program with a K = 33 layer (a tail in its weight words)."""
    torch.manual_seed(0)
    return export(mlp((1, 8, 8), 10, (33, 20)))


def write_raw(path, manifest, tensors):
    blob = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, manifest=blob, **tensors)


def mutated(prog, mf=None, tf=None):
    m = json.loads(json.dumps(prog.manifest))
    t = {k: v.copy() for k, v in prog.tensors.items()}
    if mf:
        mf(m)
    if tf:
        tf(t)
    return m, t


def _set(d, k, v):
    d[k] = v


BAD = {
    "unknown-version": (lambda m: _set(m, "version", 2), None, "unknown program version 2"),
    "wrong-format": (lambda m: _set(m, "format", "onnx"), None, "manifest format 'onnx'"),
    "nan-scale": (None, lambda t: _set(t, "head.scale", np.array([np.nan], np.float32)),
                  "tensor 'head.scale' contains NaN or Inf"),
    "nan-threshold": (None, lambda t: _set(t, "l1.thresholds", np.full((33, 1), np.nan)),
                      "tensor 'l1.thresholds' has dtype float64, expected int64"),
    "threshold-range": (None, lambda t: t["l2.thresholds"].__setitem__((0, 0), 35),
                        "outside [-1, 34] for acc=popcount, k=33"),
    "weight-shape": (None, lambda t: _set(t, "l2.weight", t["l2.weight"][:-1]),
                     "tensor 'l2.weight' has shape [19, 1], expected [20, 1]"),
    "weight-tail": (None, lambda t: t["l2.weight"].__setitem__((0, 0), np.uint64(1) << np.uint64(40)),
                    "tensor 'l2.weight' has bits set past k=33"),
    "polarity": (None, lambda t: t["l1.polarity"].__setitem__(3, 0), "tensor 'l1.polarity' must hold only"),
    "missing": (None, lambda t: t.pop("l1.polarity"), "tensor 'l1.polarity' is missing"),
    "extra": (None, lambda t: _set(t, "evil", np.zeros(1)), "unexpected tensor 'evil'"),
    "chain": (lambda m: m["layers"][2].__setitem__("in_features", 32), None, "do not match the incoming shape"),
    "op": (lambda m: m["layers"][1].__setitem__("op", "lstm"), None, "unknown op 'lstm'"),
    "k-bit": (lambda m: m["layers"][1].__setitem__("n_thresholds", 3), None, "n_thresholds must be 1"),
    # IntModel reads layer["acc"]: a program without it must fail validation, not inference
    "no-acc": (lambda m: m["layers"][2].pop("acc"), None, "layer 2 (dense): field 'acc' must be 'popcount' here, got None"),
    "no-head-acc": (lambda m: m["layers"][3].pop("acc"), None, "layer 3 (head): field 'acc' must be 'popcount' here"),
    "deep-value": (lambda m: _set(m, "classes", json.loads("[" * 500 + "]" * 500)), None,
                   "field 'classes' must be an integer in [1, 65536], got [[[[...]]]]"),
}


def check_one_line_error(capsys, argv, main, expect):
    assert run_main(main, argv) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and expect in err, err


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_program_is_one_line_error_and_writes_nothing(case, small, tmp_path, capsys):
    mf, tf, expect = BAD[case]
    path = tmp_path / "bad.npz"
    write_raw(path, *mutated(small, mf, tf))
    check_one_line_error(capsys, ["check", str(path)], program.main, expect)
    out = tmp_path / "result.json"
    before = sorted(os.listdir(tmp_path))
    check_one_line_error(capsys, ["--program", str(path), "--dataset", "digits", "--out", str(out)], infer.main,
                         expect)
    assert sorted(os.listdir(tmp_path)) == before and not out.exists()


def replace_member(src, dst, member, data):
    """Copy zip ``src`` to ``dst`` with ``member``'s bytes replaced by raw ``data`` (no .npy header)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, data if info.filename == member else zin.read(info))


CORRUPT = {  # how -> expected message
    "truncated": "not a readable program .npz",
    "empty": "not a readable program .npz",
    "text": "not a readable program .npz (not a zip archive)",
    "no-manifest": "no 'manifest' member",
    "bad-json": "manifest is not valid JSON",
    "npy-renamed": "not a readable program .npz (a single .npy array, not an archive)",
    "raw-manifest": "member 'manifest' is not a .npy array",
    "raw-tensor": "member 'head.scale' is not a .npy array",
    "deep-json": "manifest is not valid JSON (nested too deeply)",
    "huge-int": "manifest is not valid JSON (Exceeds the limit",
    "bad-deflate": "not a readable program .npz (truncated or corrupt: Error -3",
}


def break_deflate(path, member):
    """Make ``member``'s first deflate block header say BTYPE=11 (reserved): zlib.error when read."""
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        off = z.getinfo(member).header_offset
    n_name, n_extra = struct.unpack("<HH", raw[off + 26:off + 30])  # local header, not the central one
    raw[off + 30 + n_name + n_extra] = 0b111  # BFINAL=1, BTYPE=11
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("how", sorted(CORRUPT))
def test_corrupt_files(how, tmp_path, capsys):
    path = tmp_path / "p.npz"
    with open(DEFAULT, "rb") as f:
        raw = f.read()
    if how == "npy-renamed":
        with open(path, "wb") as f:
            np.save(f, np.arange(3))
    elif how == "raw-manifest":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("manifest", b"{}")
    elif how == "raw-tensor":
        replace_member(DEFAULT, path, "head.scale.npy", b"hello")
    elif how == "deep-json":
        np.savez(path, manifest=np.frombuffer(b"[" * 100000 + b"]" * 100000, dtype=np.uint8))
    elif how == "huge-int":
        np.savez(path, manifest=np.frombuffer(b'{"classes": ' + b"1" * 5000 + b"}", dtype=np.uint8))
    elif how == "bad-deflate":
        np.savez_compressed(path, manifest=np.zeros(100, np.uint8))
        break_deflate(path, "manifest.npy")
    elif how == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "text":
        path.write_text("hello\n")
    elif how == "no-manifest":
        np.savez(path, x=np.zeros(3))
    else:
        np.savez(path, manifest=np.frombuffer(b"{not json", dtype=np.uint8))
    check_one_line_error(capsys, ["check", str(path)], program.main, CORRUPT[how])


def test_validate_rejects_non_array_tensor(small):
    """In-memory programs get the same check np.load's raw bytes get on disk."""
    t = dict(small.tensors, **{"head.scale": b"hello"})
    with pytest.raises(ProgramError, match="tensor 'head.scale' is not an array .got bytes."):
        program.validate(small.manifest, t)


def test_save_into_a_directory_is_output_error(small, tmp_path):
    """Writing onto a directory (or any OSError) is a one-line OutputError; no temp file stays behind."""
    (tmp_path / "p.npz").mkdir()
    with pytest.raises(OutputError, match="p.npz: cannot write program"):
        program.save(small, str(tmp_path / "p.npz"))
    assert os.listdir(tmp_path) == ["p.npz"] and os.listdir(tmp_path / "p.npz") == []


def test_round_trip_and_atomic_save(small, tmp_path):
    path = tmp_path / "p.npz"
    program.save(small, str(path))
    back = program.load(str(path))
    assert back.manifest == json.loads(json.dumps(small.manifest))
    assert set(back.tensors) == set(small.tensors)
    for k, v in small.tensors.items():
        assert back.tensors[k].dtype == v.dtype and np.array_equal(back.tensors[k], v)
    assert oct(os.stat(path).st_mode & 0o777) != oct(0o600)


def test_save_never_leaves_half_files(small, tmp_path, monkeypatch):
    path = tmp_path / "p.npz"
    path.write_bytes(b"old")
    m, t = mutated(small, tf=lambda t: _set(t, "head.scale", np.array([np.inf], np.float32)))
    with pytest.raises(ProgramError, match="head.scale"):
        program.save(program.Program(m, t), str(path))

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(OutputError, match="cannot write program .disk full."):
        program.save(small, str(path))
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["p.npz"]


def test_shipped_program_checks(capsys):
    assert program.main(["check", DEFAULT]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and out["layers"] == ["flatten", "dense:256", "dense:256", "head:10"]


def test_real_entry_point_truncated_file(tmp_path):
    path = tmp_path / "t.npz"
    with open(DEFAULT, "rb") as f:
        path.write_bytes(f.read()[:100])
    r = subprocess.run([sys.executable, "-m", "golden.program", "check", str(path)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"error: {path}: not a readable program .npz")
