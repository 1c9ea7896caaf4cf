"""CLI and PLL checks that need no place and route."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fpga.devices import BOARDS
from fpga.flow import tool
from fpga.pll import ecp5_pll, ice40_pll
from hdl.config import AccelConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args,needle", [
    (["--rows", "0"], "--rows 0 out of range 1..64"),
    (["--cols", "65"], "--cols 65 out of range 1..64"),
    (["--k", "0"], "--k 0 out of range 1..256"),
    (["--rows", "x"], "invalid int value: 'x'"),
    (["--board", "nexys"], "invalid choice: 'nexys'"),
    (["--mhz", "1000"], "outside 16..275 MHz"),
    (["--board", "ulx3s-85f", "--mhz", "500"], "outside 3.125..400 MHz"),
    (["--baud", "0"], "--baud 0 must be positive"),
    (["--seeds", "0"], "--seeds 0 out of range 1..16"),
    (["--board", "ulx3s-85f", "--seeds", "17"], "--seeds 17 out of range 1..16"),
    (["--cfg", "weight_hop"], "expected NAME=INTEGER"),
    (["--core", "xnorcore", "--cfg", "weight_hop=99"], "weight_hop must be an integer in"),
    (["--core", "auto"], "invalid choice: 'auto' (choose from 'xnorcore', 'naive')"),
    (["--core", "naive", "--cfg", "weight_hop=2"], "--cfg weight_hop: the naive core takes only rows, cols, k"),
    (["--baud", "20000000"], "too fast"),
    # the board's default core fields apply (fpga/devices.py): the UP5K's max_fanin=255, the 85F's weight_hop=2
    (["--k", "256"], "max_fanin must be an integer in k (256)..65536, not 255"),
    (["--board", "ulx3s-85f", "--cfg", "drain_hop=1"], "drain_hop must be 0 or an integer in drain_regs x weight_hop (4)..64, not 1"),
])
def test_bad_params_one_line_exit_2_nothing_written(args, needle, tmp_path):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "fpga.build", *args, "--out", str(out)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 2
    assert needle in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert r.stdout == ""
    assert list(tmp_path.iterdir()) == []


BAD_OUT = [
    (".", "--out .: is the working directory or holds it; a build replaces its --out"),
    ("..", "--out ..: is the working directory or holds it; a build replaces its --out"),
    ("mine", "--out mine: not empty and not an earlier build's output (no report.json); a build replaces its --out"),
    ("notes.txt", "--out notes.txt: {tmp}/notes.txt is not a directory"),
    ("notes.txt/b", "--out notes.txt/b: {tmp}/notes.txt is not a directory"),
]


@pytest.mark.parametrize("out,needle", BAD_OUT, ids=[o for o, _ in BAD_OUT])
def test_an_out_that_holds_other_files_is_refused_before_the_build(out, needle, tmp_path):
    """A build replaces --out whole: `--out .` once emptied the directory it ran in."""
    work = tmp_path / "work"
    (work / "mine").mkdir(parents=True)
    (work / "mine" / "thesis.tex").write_text("keep\n")
    (work / "notes.txt").write_text("keep\n")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    r = subprocess.run([sys.executable, "-m", "fpga.build", "--rows", "2", "--cols", "2", "--out", out],
                       cwd=work, capture_output=True, text=True, check=False, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2, r.stderr
    assert needle.format(tmp=work) in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_replacing_an_earlier_build_is_all_or_nothing(tmp_path, monkeypatch):
    from fpga import build
    old, new = tmp_path / "out", tmp_path / ".new"
    old.mkdir()
    (old / "report.json").write_text("old\n")
    new.mkdir()
    (new / "report.json").write_text("new\n")
    real = Path.rename

    def failing(self, target):
        if self == new:
            raise OSError(5, "Input/output error")
        return real(self, target)

    monkeypatch.setattr(Path, "rename", failing)
    with pytest.raises(OSError):
        build._replace_dir(new, old)
    assert (old / "report.json").read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == [".new", "out"]
    monkeypatch.setattr(Path, "rename", real)
    build._replace_dir(new, old)
    assert (old / "report.json").read_text() == "new\n" and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failed_tool_keeps_the_log_its_message_names(tmp_path):
    """The flow's temp dir is removed on failure, so its logs move to <out>.failed, which the message names."""
    out = tmp_path / "b"
    r = subprocess.run([sys.executable, "-m", "fpga.build", "--rows", "1", "--cols", "1", "--k", "2", "--out", str(out)],
                       capture_output=True, text=True, check=False, timeout=600, cwd=ROOT,
                       env={**os.environ, "NEXTPNR_ICE40": "false"})
    assert r.returncode == 1 and not out.exists(), r.stderr
    log = re.search(r"log (\S+\.log)\)", r.stderr)
    assert log and Path(log.group(1)).is_file() and Path(log.group(1)).parent == Path(f"{out}.failed"), r.stderr


@pytest.mark.parametrize("args,needle", [
    (["--devices", "ice40-up5k", "--sizes", "0x0"], "--sizes: rows 0 out of range 1..64"),
    (["--devices", "ice40-up5k", "--k", "999"], "--k: k 999 out of range 1..256"),
    (["--sizes", "2x2"], "--sizes and --k need --devices (without it the built-in grid runs)"),
    (["--devices", "ice40-up5k", "--out", "notes.txt"], "--out notes.txt: {tmp}/notes.txt is not a directory"),
    (["--devices", "nexys"], "invalid choice: 'nexys'"),
])
def test_sweep_refuses_bad_points_before_building(args, needle, tmp_path):
    (tmp_path / "notes.txt").write_text("keep\n")
    r = subprocess.run([sys.executable, "-m", "fpga.sweep", *args], cwd=tmp_path, capture_output=True, text=True,
                       check=False, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and r.stdout == ""
    assert needle.format(tmp=tmp_path) in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_board_default_drain_keeps_one_beat_per_cycle(name):
    """A credit-flow default needs out_fifo >= the credit round trip, or its drain stalls a cycle in
    every few (the 85F's 28 fell behind the round trip as registers were added to its loop: 31, then 32)."""
    b = BOARDS[name]
    cfg = AccelConfig(rows=b.default_rows, cols=b.default_cols, k=b.default_k, **dict(b.default_cfg))
    assert not cfg.out_fifo or cfg.out_fifo >= cfg.credit_round_trip(), (cfg.out_fifo, cfg.credit_round_trip())


def _tool_out(cmd, cwd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=cwd)


@pytest.mark.parametrize("fin,fout", [(12, 48), (12, 60), (12, 36)])
def test_ice40_pll_matches_icepll(fin, fout, tmp_path):
    s = ice40_pll(fin, fout)
    text = _tool_out(["yowasp-icepll", "-i", str(fin), "-o", str(fout)], tmp_path).stdout
    achieved = float(re.search(r"F_PLLOUT:\s+([\d.]+) MHz \(achieved\)", text).group(1))
    assert s.fout_mhz == pytest.approx(achieved, abs=1e-3)
    assert 533 <= s.fvco_mhz <= 1066


@pytest.mark.parametrize("fin,fout", [(25, 150), (25, 200), (25, 62.5)])
def test_ecp5_pll_matches_ecppll(fin, fout, tmp_path):
    s = ecp5_pll(fin, fout)
    text = _tool_out(["yowasp-ecppll", "-i", str(fin), "-o", str(fout), "-f", "pll.v"], tmp_path).stdout
    achieved = float(re.search(r"clkout0 frequency: ([\d.]+) MHz", text).group(1))
    assert s.fout_mhz == pytest.approx(achieved, abs=1e-3)
    assert 400 <= s.fvco_mhz <= 800
    assert s.params["CLKOP_CPHASE"] == s.params["CLKOP_DIV"] - 1


def test_tools_resolve():
    assert tool("YOSYS")
