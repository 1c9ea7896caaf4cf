"""`python -m cocotb_tests.sim` (make sim): bad arguments, programs and data fail in seconds with one
`error:` line, before any core is generated or simulated (a real run takes minutes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "golden" / "programs" / "default.npz"
TIMEOUT = 90  # s: every case fails within seconds; a run that reaches the simulator takes minutes
# XNORGEN_GEN for cases that must never reach the generator: if one does, it fails at once (instead
# of building and simulating for minutes) and the test sees the generator's error, not its own
GUARD_GEN = f"{sys.executable} -c \"import sys; sys.exit('error: the generator ran')\""


def run_sim(args: list[str], tmp_path: Path, **env) -> subprocess.CompletedProcess:
    """The real entry point, with its build cache in tmp_path (which must stay untouched)."""
    e = {**os.environ, "XNORGEN_COCOTB_BUILD": str(tmp_path / "cocotb"), "XNORGEN_GEN": GUARD_GEN, **env}
    return subprocess.run([sys.executable, "-m", "cocotb_tests.sim", *args], cwd=ROOT, env=e,
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)


def assert_one_line_error(r: subprocess.CompletedProcess, code: int, expect: str) -> None:
    assert r.returncode == code, r.stderr
    assert r.stdout == ""  # no summary, no JSON line (the docstring says so)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
    assert expect in r.stderr


def test_help_shows_defaults_and_explains_every_option(tmp_path):
    """Every option has a help text and shows its default (--seed and --dataset had neither)."""
    r = run_sim(["--help"], tmp_path)
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    for part in ("seed of the random frames (default: 1)", "{digits,fashion-mnist}",
                 "the program classifies (default: digits)", "(default: 1.0)", "(default: all)",
                 "default.npz)"):
        assert part in text, part


@pytest.mark.parametrize("args,expect", [
    (["--limit", "0"], "--limit must be an integer >= 1, not 0"),
    (["--limit", "-5"], "--limit must be an integer >= 1, not -5"),
    (["--scale", "nan"], "--scale must be a number in (0, 1000], not nan"),
    (["--scale", "inf"], "--scale must be a number in (0, 1000], not inf"),
    (["--scale", "0"], "--scale must be a number in (0, 1000], not 0.0"),
    (["--dataset", "bogus"], "argument --dataset: invalid choice: 'bogus'"),
    (["--gen-args", "--rows 0"], "--gen-args '--rows 0': rows must be an integer in 1..64, not 0"),
    (["--gen-args", "--rows '2"], "No closing quotation"),
    (["--gen-args", "--popcount bogus"], "argument --popcount: invalid choice: 'bogus'"),
    (["--program", "no/such/program.npz"], "--program no/such/program.npz does not exist"),
])
def test_bad_argument_is_one_line_exit_2_before_any_build(args, expect, tmp_path):
    # (--gen-args are checked by gen's own rules, which another XNORGEN_GEN would skip)
    r = run_sim(args, tmp_path, **{"XNORGEN_GEN": ""} if args[0] == "--gen-args" else {})
    assert_one_line_error(r, 2, expect)
    assert not (tmp_path / "cocotb").exists()


def _bits_program(path: Path) -> None:
    import torch

    from golden.export import export
    from golden.models import mlp
    from golden.program import save

    torch.manual_seed(0)
    save(export(mlp((1, 8, 8), 10, (16,), input_kind="bits")), str(path))


def _cnn_program(path: Path) -> None:
    import torch

    from golden.export import export
    from golden.models import cnn
    from golden.program import save

    torch.manual_seed(0)
    save(export(cnn((1, 8, 8), 10)), str(path))


BAD_PROGRAMS = {
    "text": (lambda p: p.write_text("not a program\n"), "not a readable program .npz"),
    "truncated": (lambda p: p.write_bytes(DEFAULT.read_bytes()[:200]), "not a readable program .npz"),
    "directory": (lambda p: p.mkdir(), "cannot read"),
    "no-manifest": (lambda p: np.savez(p, x=np.zeros(3)), "no 'manifest' member"),
    "bits-input": (_bits_program, "input 'bits': only programs on u8 input are supported"),
    "conv-layer": (_cnn_program, "layer 0 (conv) is not supported by the network cosimulation"),
}


@pytest.mark.parametrize("case", sorted(BAD_PROGRAMS))
def test_bad_program_is_one_line_exit_1_before_any_build(case, tmp_path):
    make, expect = BAD_PROGRAMS[case]
    path = tmp_path / "p.npz"
    make(path)
    r = run_sim(["--program", str(path)], tmp_path)
    assert_one_line_error(r, 1, expect)
    assert str(path) in r.stderr
    assert not (tmp_path / "cocotb").exists()


def test_missing_dataset_is_one_line_exit_1_before_any_build(tmp_path):
    r = run_sim(["--dataset", "fashion-mnist"], tmp_path, XNORGEN_FASHION_DIR=str(tmp_path / "none"))
    assert_one_line_error(r, 1, "Fashion-MNIST file")
    assert "make fashion-data" in r.stderr
    assert not (tmp_path / "cocotb").exists()


def test_failed_generator_run_names_gens_reason(tmp_path):
    """With another generator (XNORGEN_GEN) the arguments are not checked up front: the line still
    carries gen's own reason, which is not on the first line of its log."""
    r = run_sim(["--gen-args", "--rows 0", "--program", ""], tmp_path, XNORGEN_GEN=f"{sys.executable} -B -m gen")
    assert_one_line_error(r, 1, "python -m gen --rows 0 failed (exit 2): rows must be an integer in 1..64, not 0")


def test_program_too_wide_for_the_core_is_a_program_error():
    """After the build, before the simulation: a layer whose fan-in exceeds the core's max_fanin."""
    from cocotb_tests.network import check_program
    from golden.errors import ProgramError
    from golden.program import load

    prog = load(str(DEFAULT))
    check_program(prog, "p.npz", SimpleNamespace(k=16, max_fanin=256))
    with pytest.raises(ProgramError, match=r"p\.npz: layer 2 \(l2\): fan-in 256 needs a core with max_fanin >= 264"):
        check_program(prog, "p.npz", SimpleNamespace(k=24, max_fanin=256))
