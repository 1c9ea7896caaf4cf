"""CLI argument errors: one line, exit code 2, nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from golden import infer, program, train
from golden.cli import run_main

ROOT = os.path.join(os.path.dirname(__file__), "..")

BAD_ARGS = [
    (train.main, ["--dataset", "cifar", "--arch", "mlp"], "invalid choice: 'cifar'"),
    (train.main, ["--dataset", "digits"], "the following arguments are required: --arch"),
    (train.main, ["--dataset", "digits", "--arch", "mlp", "--epochs", "0"], "--epochs must be in [1, 100000]"),
    (train.main, ["--dataset", "digits", "--arch", "mlp", "--epochs", "x"], "invalid int value: 'x'"),
    (train.main, ["--dataset", "digits", "--arch", "mlp", "--lr", "-1"], "--lr must be in (0, 10]"),
    (train.main, ["--dataset", "digits", "--arch", "mlp", "--out", "p.txt"], "--out must name a .npz file"),
    (train.main, ["--dataset", "digits", "--arch", "mlp", "--out", "/nonexistent/dir/p.npz"], "does not exist"),
    (train.main, ["--dataset", "digits", "--arch", "mlp", "--threads", "-1"], "--threads must be in [0, 64]"),
    # BatchNorm in training mode needs > 1 value per channel
    (train.main, ["--dataset", "digits", "--arch", "mlp", "--batch", "1"], "--batch must be in [2, 100000], got 1"),
    (train.main, ["--dataset", "digits", "--arch", "mlp", "--seed", "99999999999999999999999"],
     "--seed must be in [0, 4294967295]"),
    (train.main, ["--dataset", "digits", "--arch", "mlp", "--seed", "-1"], "--seed must be in [0, 4294967295]"),
    (infer.main, ["--dataset", "digits", "--limit", "0"], "--limit must be >= 1"),
    (infer.main, ["--dataset", "digits", "--out", "/nonexistent/dir/r.json"], "does not exist"),
    (program.main, [], "the following arguments are required: cmd"),
    (program.main, ["check"], "the following arguments are required: file"),
    (program.main, ["frobnicate", "x"], "invalid choice: 'frobnicate'"),
]


@pytest.mark.parametrize("main,argv,expect", BAD_ARGS)
def test_bad_args_one_line_exit_2(main, argv, expect, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("error: ") and expect in err, err
    assert os.listdir(tmp_path) == []


def test_real_entry_point_bad_arch():
    r = subprocess.run([sys.executable, "-m", "golden.train", "--dataset", "digits", "--arch", "rnn"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    assert "argument --arch: invalid choice: 'rnn'" in r.stderr


def test_infer_default_program_json(capsys):
    assert infer.main(["--dataset", "digits"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["samples"] == 360 and res["accuracy"] >= 0.93


TRAIN_FAST = ["--dataset", "digits", "--arch", "mlp", "--epochs", "1", "--no-twin", "--quiet"]


@pytest.mark.parametrize("module,argv,name", [
    ("golden.infer", ["--dataset", "digits"], "out.json"),
    ("golden.train", TRAIN_FAST, "out.npz"),
])
def test_out_is_a_directory_rejected_before_work(module, argv, name, tmp_path):
    """--out naming a directory is a usage error at once, not a traceback after the long work."""
    (tmp_path / name).mkdir()
    r = subprocess.run([sys.executable, "-m", module, *argv, "--out", str(tmp_path / name)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("error: ") and "is a directory" in r.stderr
    assert os.listdir(tmp_path) == [name] and os.listdir(tmp_path / name) == []


def _make_dir_then(fn, path):
    """Wrap fn so ``path`` turns into a directory while the work runs: the write itself must then fail."""
    def wrapped(*a, **k):
        res = fn(*a, **k)
        os.mkdir(path)
        return res
    return wrapped


def test_infer_write_failure_is_one_line(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r.json"
    monkeypatch.setattr(infer, "infer", _make_dir_then(infer.infer, out))
    assert run_main(infer.main, ["--dataset", "digits", "--out", str(out)]) == 1
    o, err = capsys.readouterr()
    assert o == "" and err.count("\n") == 1 and err.startswith(f"error: {out}: cannot write result"), err
    assert os.listdir(tmp_path) == ["r.json"] and os.listdir(out) == []


def test_train_write_failure_is_one_line(tmp_path, monkeypatch, capsys):
    out = tmp_path / "p.npz"
    monkeypatch.setattr(train, "compare", _make_dir_then(train.compare, out))
    assert run_main(train.main, [*TRAIN_FAST, "--out", str(out)]) == 1
    o, err = capsys.readouterr()
    assert o == "" and err.count("\n") == 1 and err.startswith(f"error: {out}: cannot write program"), err
    assert os.listdir(tmp_path) == ["p.npz"] and os.listdir(out) == []


def test_seed_range_top_is_accepted(capsys):
    """The largest --seed trains (torch and the batch-order generator take it)."""
    assert run_main(train.main, [*TRAIN_FAST, "--seed", "4294967295"]) == 0
    assert json.loads(capsys.readouterr().out)["seed"] == 4294967295
