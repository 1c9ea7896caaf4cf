"""CLI argument errors: one line, exit code 2, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from golden import infer, program, train

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
    import json
    res = json.loads(capsys.readouterr().out)
    assert res["samples"] == 360 and res["accuracy"] >= 0.93
