"""The benchmark CLIs (bench_array_ppa, bench_gen, bench_cosim, bench_fpga): a bad argument is one
`error:` line and exit 2 within seconds, before any generation, build or place and route (which take
minutes); a failed tool run is one line with the tool's own reason; --help shows the defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60  # s: every case here fails within seconds; a real benchmark run takes minutes
# another generator command (the same gen): the up-front check steps aside, the tool run itself fails
OTHER_GEN = f"{sys.executable} -B -m gen"
# bench_cosim's generator for cases that must never reach it: if one does, it fails at once instead of
# a 32x32 Verilator build of minutes
GUARD_GEN = f"{sys.executable} -c \"import sys; sys.exit('error: the generator ran')\""


def run(module: str, args: list[str], tmp_path: Path, **env) -> subprocess.CompletedProcess:
    e = {**os.environ, "XNORGEN_COCOTB_BUILD": str(tmp_path / "cocotb"), "TMPDIR": str(tmp_path), **env}
    return subprocess.run([sys.executable, "-m", f"bench.{module}", *args], cwd=ROOT, env=e,
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)


def assert_one_line_error(r: subprocess.CompletedProcess, code: int, expect: str) -> None:
    assert r.returncode == code, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
    assert expect in r.stderr, r.stderr


BAD_ARGS = [
    ("bench_array_ppa", ["--only", "ice40", "--rows", "0"], "ice40 point: rows must be an integer in 1..64, not 0"),
    ("bench_array_ppa", ["--only", "ice40", "--k", "0"], "ice40 point: k must be an integer in 1..256, not 0"),
    ("bench_array_ppa", ["--only", "ecp5", "--max-fanin", "3"], "ecp5 point: max_fanin must be an integer in k (15)"),
    ("bench_array_ppa", ["--popcount", "bogus"], "argument --popcount: invalid choice: 'bogus'"),
    ("bench_array_ppa", ["--only", "ice40", "--popcount", "ccu2"], "--popcount ccu2 needs an ECP5 device"),
    ("bench_gen", ["--rows", "0"], "rows must be an integer in 1..64, not 0"),
    ("bench_gen", ["--repeat", "0"], "--repeat must be an integer in 1..100, not 0"),
    ("bench_gen", ["--repeat", "-1"], "--repeat must be an integer in 1..100, not -1"),
    ("bench_gen", ["--", "--popcount", "bogus"], "python -m gen: argument --popcount: invalid choice: 'bogus'"),
    ("bench_cosim", ["--chunks", "nan"], "argument --chunks: invalid int value: 'nan'"),
    ("bench_cosim", ["--chunks", "0"], "--chunks must be an integer in 1..4096, not 0"),
    ("bench_cosim", ["--chunks", "-3"], "--chunks must be an integer in 1..4096, not -3"),
    ("bench_cosim", ["--gen-args=--rows 0"], "--gen-args '--rows 0': rows must be an integer in 1..64, not 0"),
    ("bench_cosim", ["--gen-args=--rows '2"], "No closing quotation"),
    ("bench_fpga", ["--only", "ice40", "--k", "0"], "--k 0 on icebreaker 2x2: k must be an integer in 1..256, not 0"),
    ("bench_fpga", ["--only", "ecp5", "--k", "257"], "--k 257 on ulx3s-85f 32x32: k must be an integer in 1..256"),
    ("bench_fpga", ["--study-nextpnr", "ice40", "--k", "0"], "k must be an integer in 1..256, not 0"),
]


@pytest.mark.parametrize("module,args,expect", BAD_ARGS, ids=[f"{m}:{' '.join(a)}" for m, a, _ in BAD_ARGS])
def test_bad_argument_is_one_line_exit_2_before_any_work(module, args, expect, tmp_path):
    guard = module == "bench_cosim" and args[0] == "--chunks"
    r = run(module, args, tmp_path, **{"XNORGEN_GEN": GUARD_GEN} if guard else {})
    assert_one_line_error(r, 2, expect)
    assert r.stdout == ""  # not even a table header
    assert list(tmp_path.iterdir()) == []  # no scratch directory, no build


ROWS_0 = "failed (exit 2): rows must be an integer in 1..64, not 0"
TOOL_FAILS = [
    ("bench_array_ppa", ["--only", "ice40", "--rows", "0"], f"ice40 point: python -m gen {ROWS_0}"),
    ("bench_gen", ["--rows", "0"], f"python -m gen {ROWS_0}"),
    ("bench_cosim", ["--gen-args=--rows 0"], f"python -m gen --rows 0 {ROWS_0}"),
]


@pytest.mark.parametrize("module,args,expect", TOOL_FAILS, ids=[m for m, _, _ in TOOL_FAILS])
def test_failed_gen_run_is_one_line_with_gens_reason(module, args, expect, tmp_path):
    """XNORGEN_GEN set: no up-front check, so gen itself runs and fails; its reason reaches the line."""
    r = run(module, args, tmp_path, XNORGEN_GEN=OTHER_GEN)
    assert_one_line_error(r, 1, expect)


@pytest.mark.parametrize("module,shown", [
    ("bench_array_ppa", ["(default: heap)", "(default: router1)", "(default: ooc)", "(default: on)",
                         "{pair,chain,tree,ccu2}"]),
    ("bench_gen", ["(default: 32)", "(default: 3)"]),
    ("bench_cosim", ["(default: --rows 32 --cols 32)", "(default: 16)"]),
    ("bench_fpga", ["(default: xnorcore)", "(default: both)", "(default: the board's"]),
])
def test_help_shows_defaults(module, shown, tmp_path):
    r = run(module, ["--help"], tmp_path)
    assert r.returncode == 0 and r.stderr == ""
    text = " ".join(r.stdout.split())
    for part in shown:
        assert part in text, part
    assert "(default: None)" not in text
