"""`python -m gen`: bad parameters (exact message, exit 2, nothing written), determinism, config.json."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from golden.payload import pack_payload, unpack_payload
from hdl.config import AccelConfig
from hdl.layouts import beat_layout, layout_fields, out_layout, thr_layout

ROOT = Path(__file__).resolve().parents[1]


def gen(*args, out):
    env = dict(os.environ, AMARANTH_USE_YOSYS="builtin")
    return subprocess.run([sys.executable, "-m", "gen", *args, "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def _snapshot(d: Path):
    if not d.exists():
        return None
    return {p.relative_to(d): (p.read_bytes() if p.is_file() else "dir") for p in sorted(d.rglob("*"))}


BAD = [
    (["--rows", "0"], r"error: rows must be an integer in 1\.\.64, not 0"),
    (["--rows", "-3"], r"error: rows must be an integer in 1\.\.64, not -3"),
    (["--rows", "2.5"], r"error: rows must be an integer in 1\.\.64, not '2\.5'"),
    (["--rows", "99999999999999999999999"], r"error: rows must be an integer in 1\.\.64, not 99999999999999999999999"),
    (["--cols", "65"], r"error: cols must be an integer in 1\.\.64, not 65"),
    (["--k", "0"], r"error: k must be an integer in 1\.\.256, not 0"),
    (["--k", "16", "--max-fanin", "8"], r"error: max_fanin must be an integer in k \(16\)\.\.65536, not 8"),
    (["--rows", "6", "--weight-rows", "4"], r"error: weight_rows must divide rows \(6\), not 4"),
    (["--cols", "4", "--channels", "6"], r"error: channels must be a multiple of cols \(4\), not 6"),
    (["--overlap", "2"], r"error: overlap must be an integer in 0\.\.1, not 2"),
    (["--out-fifo", "65"], r"error: out_fifo must be an integer in 0\.\.64, not 65"),
    (["--drain-hop", "4"], r"error: drain_hop must be 0 when out_fifo is 0 \(the stall flow\), not 4"),
    (["--out-fifo", "8", "--weight-hop", "4", "--drain-hop", "3"],
     r"error: drain_hop must be 0 or an integer in weight_hop \(4\)\.\.64, not 3"),
    (["--out-fifo", "8", "--drain-hop", "65"], r"error: drain_hop must be an integer in 0\.\.64, not 65"),
    (["--out-fifo", "8", "--weight-hop", "2", "--drain-hop", "3", "--drain-regs", "2"],
     r"error: drain_hop must be 0 or an integer in drain_regs x weight_hop \(4\)\.\.64, not 3"),
    (["--out-fifo", "8", "--weight-hop", "64", "--drain-hop", "64", "--drain-regs", "2"],
     r"error: drain_hop must be 0 when drain_regs x weight_hop \(128\) > 64, not 64"),
    (["--out-fifo", "8", "--drain-regs", "2"], r"error: drain_regs must be 1 when drain_hop is 0 \(no row blocks\), not 2"),
    (["--out-fifo", "8", "--drain-hop", "4", "--drain-regs", "3"], r"error: drain_regs must be an integer in 1\.\.2, not 3"),
    (["--out-fifo", "8", "--drain-gate", "1"], r"error: drain_gate must be 0 when drain_hop is 0 \(no row blocks\), not 1"),
    (["--out-fifo", "8", "--drain-hop", "4", "--drain-gate", "2"], r"error: drain_gate must be an integer in 0\.\.1, not 2"),
    (["--acc-lfsr", "2"], r"error: acc_lfsr must be an integer in 0\.\.1, not 2"),
    (["--k", "1", "--max-fanin", "2046", "--acc-lfsr", "1"],
     r"error: acc_lfsr must be 0 when max_fanin > 2045 \(more than 1023 LFSR states at k=1\), not 1"),
    (["--skew-mem", "3"], r"error: skew_mem must be 0 or an integer in 4\.\.64, not 3"),
    (["--skew-mem", "65"], r"error: skew_mem must be an integer in 0\.\.64, not 65"),
    (["--skew-mem", "2", "--skew-lutram", "1"], r"error: skew_mem must be 0 or an integer in 3\.\.64, not 2"),
    (["--skew-lutram", "1"], r"error: skew_lutram must be 0 when skew_mem is 0 \(no RAM lines\), not 1"),
    (["--skew-mem", "4", "--skew-lutram", "2"], r"error: skew_lutram must be an integer in 0\.\.1, not 2"),
]


@pytest.mark.parametrize("args,msg", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_parameter_is_one_line_exit_2_nothing_written(tmp_path, args, msg):
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "config.json").write_text("old contents\n")
    before = _snapshot(tmp_path)
    r = gen(*args, out=existing)
    assert r.returncode == 2
    assert re.fullmatch(msg + r"\n", r.stderr), r.stderr
    assert r.stdout == ""
    assert _snapshot(tmp_path) == before
    fresh = tmp_path / "fresh"
    r = gen(*args, out=fresh)
    assert r.returncode == 2 and not fresh.exists()


def test_same_arguments_byte_identical(tmp_path):
    args = ["--rows", "3", "--cols", "2", "--k", "7", "--n-thresholds", "3", "--channels", "4"]
    assert gen(*args, out=tmp_path / "a").returncode == 0
    assert gen(*args, "--jobs", "1", out=tmp_path / "b").returncode == 0
    a, b = _snapshot(tmp_path / "a"), _snapshot(tmp_path / "b")
    assert sorted(str(p) for p in a) == ["config.json", "xnorgen_core.h", "xnorgen_core.v"]
    assert a == b
    assert b"/work/" not in a[Path("xnorgen_core.v")], "no absolute paths in the Verilog"


def test_config_json_describes_ports_and_fields(tmp_path):
    args = ["--rows", "3", "--cols", "2", "--k", "7", "--n-thresholds", "2", "--channels", "6"]
    assert gen(*args, out=tmp_path).returncode == 0
    cfgj = json.loads((tmp_path / "config.json").read_text())
    cfg = AccelConfig(rows=3, cols=2, k=7, n_thresholds=2, channels=6)
    assert cfgj["parameters"] == cfg.params()
    assert cfgj["latency"]["out"] == cfg.out_latency()
    assert cfgj["latency"]["out_beats"] == [[9, 10, 11], [10, 11], [11], [11]]  # 3 rows: split 0..3
    ports = {p["name"]: p for p in cfgj["ports"]}
    for name, lay in (("beat", beat_layout(cfg)), ("thr", thr_layout(cfg)), ("out", out_layout(cfg))):
        st = cfgj["streams"][name]
        assert ports[st["payload"]]["width"] == lay.size == st["width"]
        assert [{k: v for k, v in f.items() if k != "meaning"} for f in st["fields"]] == layout_fields(lay)
        assert all(f["meaning"] for f in st["fields"])
    assert ports["beat__valid"]["direction"] == "input" and ports["out__valid"]["direction"] == "output"
    # the Verilog has exactly these ports on the top module
    text = (tmp_path / "xnorgen_core.v").read_text()
    top = text[text.index("module xnorgen_core("):]
    top = top[:top.index(");")]
    assert sorted(re.findall(r"\w+", top)[2:]) == sorted(ports)
    # pack/unpack round trip through the published offsets
    beat = {"act": [1, 2, 3], "wgt": [4, 5], "first": 1, "last": 0, "split": 1, "chan_block": 2}
    fields = cfgj["streams"]["beat"]["fields"]
    assert unpack_payload(fields, pack_payload(fields, beat)) == beat
    hdr = (tmp_path / "xnorgen_core.h").read_text()
    assert "#define XNORGEN_BEAT_WGT_OFFSET 21" in hdr and "#define XNORGEN_LATENCY_OUT" in hdr


def _header_macros(path: Path) -> dict[str, str]:
    """Every XNORGEN_ macro as a C compiler sees it (a name defined twice keeps only its last value)."""
    r = subprocess.run(["gcc", "-dM", "-E", "-include", str(path), "-x", "c", "/dev/null"],
                       capture_output=True, text=True, check=True)
    return dict(re.findall(r"^#define (XNORGEN_\w+) (.*)$", r.stdout, re.MULTILINE))


def _expected_macros(cfgj: dict) -> dict[str, str]:
    def c(*parts):
        return "_".join(str(p).upper() for p in parts)
    exp = {"XNORGEN_CORE_H": "", "XNORGEN_FORMAT_VERSION": str(cfgj["format_version"]),
           "XNORGEN_TOP": json.dumps(cfgj["top"]), "XNORGEN_POPCOUNT_STYLE": json.dumps(cfgj["popcount_style"]),
           "XNORGEN_SIM_SOURCES": json.dumps(" ".join(cfgj["sim_sources"]))}
    for section in ("parameters", "derived"):
        exp.update({c("XNORGEN", k): str(v) for k, v in cfgj[section].items()})
    exp.update({c("XNORGEN_LATENCY", k): str(v) for k, v in cfgj["latency"].items() if k not in ("meaning", "out_beats")})
    exp.update({c("XNORGEN_LATENCY_OUT_BEATS_SPLIT", s): "{" + ", ".join(map(str, lats)) + "}"
                for s, lats in enumerate(cfgj["latency"]["out_beats"])})
    exp.update({c("XNORGEN_PORT", p["name"], "width"): str(p["width"]) for p in cfgj["ports"]})
    for s, sd in cfgj["streams"].items():
        exp[c("XNORGEN", s, "payload_width")] = str(sd["width"])
        for f in sd["fields"]:
            for key in ("offset", "width", "count", "elem_width"):
                if key in f:
                    exp[c("XNORGEN", s, f["name"], key)] = str(f[key])
    return exp


@pytest.mark.parametrize("args", [["--rows", "3", "--cols", "2", "--k", "7", "--n-thresholds", "2"],
                                  ["--rows", "2", "--cols", "3", "--popcount", "ccu2", "--acc-lfsr", "1"]])
def test_c_header_compiles_and_states_config_json(tmp_path, args):
    """Every macro, as gcc reads it, equals its config.json fact, and no name is defined twice (the
    derived thr_width and the thr stream's width were both XNORGEN_THR_WIDTH: the last one won)."""
    assert gen(*args, out=tmp_path).returncode == 0
    hdr = tmp_path / "xnorgen_core.h"
    cfgj = json.loads((tmp_path / "config.json").read_text())
    # the out_beats initializers as C arrays: compiled, run, printed back
    splits = range(len(cfgj["latency"]["out_beats"]))
    (tmp_path / "use.c").write_text("\n".join([
        '#include <stdio.h>', '#include "xnorgen_core.h"',
        *(f"static const int s{i}[] = XNORGEN_LATENCY_OUT_BEATS_SPLIT_{i};" for i in splits),
        "int main(void) {", "    unsigned i;",
        *(f'    for (i = 0; i < sizeof s{i} / sizeof s{i}[0]; i++) printf("%d%c", s{i}[i], '
          f'i + 1 < sizeof s{i} / sizeof s{i}[0] ? \' \' : \'\\n\');' for i in splits),
        "    return XNORGEN_ROWS - XNORGEN_ROWS;", "}", ""]))
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic-errors", "-o", str(tmp_path / "use"),
                    str(tmp_path / "use.c")], check=True, capture_output=True, text=True)
    printed = subprocess.run([str(tmp_path / "use")], check=True, capture_output=True, text=True).stdout
    assert [[int(v) for v in line.split()] for line in printed.splitlines()] == cfgj["latency"]["out_beats"]
    defines = re.findall(r"^#define (\w+)", hdr.read_text(), re.MULTILINE)
    assert len(defines) == len(set(defines))
    assert _header_macros(hdr) == _expected_macros(cfgj)


BAD_OUT = [
    ("file", r"error: --out {out}: {tmp}/file is not a directory"),
    ("file/sub", r"error: --out {out}: {tmp}/file is not a directory"),
    ("", r"error: --out is empty"),
    ("dir_in_the_way", r"error: --out {out}: config\.json exists and is not a regular file"),
]


@pytest.mark.parametrize("out,msg", BAD_OUT, ids=[o or "empty" for o, _ in BAD_OUT])
def test_bad_out_is_one_line_exit_2_nothing_written(tmp_path, out, msg):
    (tmp_path / "file").write_text("not a directory\n")
    (tmp_path / "dir_in_the_way" / "config.json").mkdir(parents=True)
    (tmp_path / "dir_in_the_way" / "xnorgen_core.v").write_text("old\n")
    before = _snapshot(tmp_path)
    r = subprocess.run([sys.executable, "-m", "gen", "--rows", "1", "--cols", "1", "--out", out], cwd=tmp_path,
                       env=dict(os.environ, AMARANTH_USE_YOSYS="builtin", PYTHONPATH=str(ROOT)),
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 2
    assert re.fullmatch(msg.format(out=re.escape(out), tmp=re.escape(str(tmp_path))) + r"\n", r.stderr), r.stderr
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("args,msg", [(["--jobs", "3"], r"argument --jobs: invalid choice: 3 \(choose from 1, 2\)"),
                                      (["--popcount", "tree2"], r"argument --popcount: invalid choice: 'tree2'.*"),
                                      (["--rows"], r"argument --rows: expected one argument")])
def test_bad_argument_is_one_line_exit_2(tmp_path, args, msg):
    r = subprocess.run([sys.executable, "-m", "gen", "--out", str(tmp_path / "o"), *args], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 2 and r.stdout == ""
    assert re.fullmatch(r"error: python -m gen: " + msg + r"\n", r.stderr), r.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_failed_replace_puts_every_old_file_back(tmp_path, monkeypatch):
    """All or none: the third os.replace fails (after old files stepped aside and one new file is in
    place); the directory is as it was, and directories the call made are gone again."""
    from gen import __main__ as cli
    old = tmp_path / "old"
    old.mkdir()
    (old / "a.v").write_text("old a\n")
    (old / "stale.v").write_text("old stale\n")
    before = _snapshot(tmp_path)
    real, calls, fail_at = os.replace, [], [4]

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == fail_at[0]:
            raise OSError(28, "No space left on device", str(dst))
        return real(src, dst)

    monkeypatch.setattr(cli.os, "replace", failing)
    with pytest.raises(cli.OutError, match=r"^--out .*: cannot write: No space left on device \(.*\)$"):
        cli.write_atomically(str(old), {"a.v": "new a\n", "b.json": "new b\n"}, owned=("stale.v",))
    calls.clear()  # a fresh --out: the second new file fails, the made directories go again
    fail_at[0] = 2
    with pytest.raises(cli.OutError):
        cli.write_atomically(str(tmp_path / "x" / "y"), {"a.v": "new a\n", "b.json": "new b\n"})
    assert _snapshot(tmp_path) == before
    monkeypatch.setattr(cli.os, "replace", real)
    cli.write_atomically(str(old), {"a.v": "new a\n", "b.json": "new b\n"}, owned=("stale.v",))
    assert _snapshot(old) == {Path("a.v"): b"new a\n", Path("b.json"): b"new b\n"}


def test_a_ccu2_run_then_a_pair_run_leaves_no_stale_model(tmp_path):
    assert gen("--rows", "1", "--cols", "1", "--popcount", "ccu2", out=tmp_path).returncode == 0
    assert (tmp_path / "xnorgen_sim_cells.v").exists()
    assert gen("--rows", "1", "--cols", "1", out=tmp_path).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "xnorgen_core.h", "xnorgen_core.v"]


def test_help_shows_ranges_and_defaults():
    r = subprocess.run([sys.executable, "-m", "gen", "--help"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert r.returncode == 0
    assert "range 1..64" in r.stdout and "(default: 8)" in r.stdout
    assert "(default: cols)" in r.stdout and "(default: None)" not in r.stdout
