"""Generated Verilog: verilator --lint-only -Wall with the reviewed waiver file; Yosys synth + check -assert."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cocotb_tests.build import VERILATOR_BIN
from fpga.flow import tool
from hdl.array import BOOK_LAG
from hdl.core import FIFO_SLICE_COLS

ROOT = Path(__file__).resolve().parents[1]
WAIVERS = ROOT / "hdl" / "verilator_waivers.vlt"
YOSYS = tool("YOSYS")
CONFIGS = {
    "3x2k7_n3_blocks": ["--rows", "3", "--cols", "2", "--k", "7", "--n-thresholds", "3", "--channels", "4"],
    "1x1k1": ["--rows", "1", "--cols", "1", "--k", "1", "--max-fanin", "1"],
    "4x3k64_fc_nooverlap": ["--rows", "4", "--cols", "3", "--k", "64", "--weight-rows", "4", "--overlap", "0",
                            "--popcount", "chain"],
    "5x2k7_fifo8": ["--rows", "5", "--cols", "2", "--k", "7", "--out-fifo", "8"],  # the credit FIFO
    "3x2k7_fifo1": ["--rows", "3", "--cols", "2", "--k", "7", "--out-fifo", "1"],  # room compares below 0
    "7x2k7_drain2": ["--rows", "7", "--cols", "2", "--k", "7", "--weight-hop", "2", "--out-fifo", "12",
                     "--drain-hop", "2"],  # the row-systolic drain
    "4x4k7_hop1": ["--rows", "4", "--cols", "4", "--k", "7", "--weight-hop", "1", "--act-hop", "1"],
    # the long skew lines in RAM (rows 3..7 and column 3 of 4; two weight words per column)
    "8x4k7_skewmem4": ["--rows", "8", "--cols", "4", "--k", "7", "--weight-hop", "1", "--weight-rows", "2",
                       "--skew-mem", "4"],
    "8x4k7_skewlut3": ["--rows", "8", "--cols", "4", "--k", "7", "--weight-hop", "1", "--weight-rows", "2",
                       "--skew-mem", "3", "--skew-lutram", "1"],
    # LFSR accumulators (their restart, the decode table) with two drain registers
    "5x3k7_lfsr": ["--rows", "5", "--cols", "3", "--k", "7", "--weight-hop", "2", "--out-fifo", "12",
                   "--drain-hop", "4", "--drain-regs", "2", "--acc-lfsr", "1"],
    # the 85F board's options in small: carry chains as CCU2C instances (and their simulation model)
    "5x3k7_lfsr_ccu2": ["--rows", "5", "--cols", "3", "--k", "7", "--weight-hop", "2", "--out-fifo", "12",
                        "--drain-hop", "4", "--drain-regs", "2", "--acc-lfsr", "1", "--popcount", "ccu2"],
    # the gated drain: result registers reset unless selected, ORed in LUTs
    "5x3k7_gate": ["--rows", "5", "--cols", "3", "--k", "7", "--weight-hop", "2", "--out-fifo", "12",
                   "--drain-hop", "4", "--drain-regs", "2", "--drain-gate", "1", "--acc-lfsr", "1"],
}


def _gen(tmp_path, args):
    env = dict(os.environ, AMARANTH_USE_YOSYS="builtin")
    subprocess.run([sys.executable, "-m", "gen", *args, "--out", str(tmp_path)], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    return tmp_path / "xnorgen_core.v"


def _verilator():
    exe = shutil.which("verilator") or str(VERILATOR_BIN / "verilator")
    return exe


@pytest.mark.parametrize("name", CONFIGS)
def test_verilator_lint_wall_clean(tmp_path, name):
    v = _gen(tmp_path, CONFIGS[name])
    shutil.copy(WAIVERS, tmp_path)
    env = dict(os.environ, PATH=f"{VERILATOR_BIN}:{os.environ.get('PATH', '')}")
    cells = json.loads((tmp_path / "config.json").read_text())["sim_sources"]  # (ccu2: the CCU2C model)
    r = subprocess.run([_verilator(), "--lint-only", "-Wall", "--top-module", "xnorgen_core", WAIVERS.name, v.name,
                        *cells],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "%Warning" not in r.stderr and "%Error" not in r.stderr


def test_waiver_file_is_small_and_scoped():
    """At most 6 rules, each limited to the generated core (PINMISSING further to the CCU2C carry pins)."""
    line = r"^lint_off -rule (\w+) -file \"\*xnorgen_core\.v\"( -match \"Instance has missing pin: 'C\*'\")?$"
    rules = re.findall(line, WAIVERS.read_text(), re.MULTILINE)
    assert len(rules) <= 6
    assert all(rule == "PINMISSING" for rule, match in rules if match)
    assert ("PINMISSING", "") not in rules
    assert "lint_off" not in re.sub(line, "", WAIVERS.read_text(), flags=re.MULTILINE).replace("// ", "")


@pytest.mark.parametrize("family", ["ecp5", "ice40"])
@pytest.mark.parametrize("name", ["3x2k7_n3_blocks", "5x2k7_fifo8", "7x2k7_drain2", "5x3k7_lfsr", "5x3k7_gate"])
def test_yosys_synth_check_assert(tmp_path, family, name):
    v = _gen(tmp_path, CONFIGS[name])
    script = (f"read_verilog {v.name}; synth_{family} -top xnorgen_core; check -assert; "
              "tee -q -o stat.txt stat")
    r = subprocess.run([YOSYS, "-q", "-p", script], cwd=tmp_path,
                       capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    stat = (tmp_path / "stat.txt").read_text()
    luts = sum(int(n) for n in re.findall(r"^\s+(\d+)\s+(?:SB_)?LUT4$", stat, re.MULTILINE))
    assert luts > 50, stat  # the array is really there (not optimized away)


@pytest.mark.parametrize("name", ["4x4k7_hop1", "7x2k7_drain2", "5x3k7_lfsr", "5x3k7_lfsr_ccu2"])
def test_control_hop_registers_are_not_merged(tmp_path, name):
    """PEs on one anti-diagonal share valid/first/last timing; their hop registers must stay
    separate flip-flops (one merged register would drive PEs across the whole array), and so must
    the credit FIFO's per-slice write-enable copies (hdl/credit_fifo.py) and the column groups' own
    drain tag registers (hdl/array.py)."""
    v = _gen(tmp_path, CONFIGS[name])
    cfg = json.loads((tmp_path / "config.json").read_text())
    p, d = cfg["parameters"], cfg["derived"]
    # 3 bits: valid, not first, valid and last (and with acc_lfsr valid and first: the LFSR's restart)
    n = (3 + p["acc_lfsr"]) * (d["weight_stages"] + p["rows"] * d["act_stages"])
    n += -(-p["cols"] // FIFO_SLICE_COLS) + 1 if p["out_fifo"] else 0  # (+1: the FIFO's `wrote` copy)
    # the bookkeeping's own copies of the input control (hdl/array.py)
    n += 3 * max(0, min(BOOK_LAG, cfg["latency"]["fill"] - 2))
    if p["out_fifo"]:  # each column group's own last tag register: valid, group-first, and on ccu2 (which
        # counts mismatches: P = bits - M) the reduction's bit count
        tag = 2 + (d["acc_width"] if cfg["popcount_style"] == "ccu2" else 0)
        n += tag * sum(1 for g in range(d["act_stages"] + 1) if g + d["drain_stages"] + p["acc_lfsr"])
    assert n > 0
    script = (f"read_verilog {v.name}; synth_ecp5 -top xnorgen_core; "
              f"select -assert-count {n} t:TRELLIS_FF a:keep %i")
    r = subprocess.run([YOSYS, "-q", "-p", script], cwd=tmp_path,
                       capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]


# flip-flops and RAMs as Yosys counts them per family (and the width of one RAM cell, 16 deep)
_FF = {"ecp5": r"TRELLIS_FF", "ice40": r"SB_DFF\w*"}
_RAM = {("ecp5", 0): (r"DP16KD|PDPW16KD", 36), ("ice40", 0): (r"SB_RAM40_4K", 16),  # (pseudo-dual-port; 256x16)
        ("ecp5", 1): (r"TRELLIS_DPR16X4", 4)}


def _synth_counts(tmp_path, family, args, ram):
    v = _gen(tmp_path, args)
    script = f"read_verilog {v.name}; synth_{family} -top xnorgen_core; check -assert; tee -q -o stat.txt stat"
    r = subprocess.run([YOSYS, "-q", "-p", script], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       check=False)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    stat = (tmp_path / "stat.txt").read_text()
    count = lambda pat: sum(int(n) for n in re.findall(rf"^\s+(\d+)\s+(?:{pat})$", stat, re.MULTILINE))
    return count(_FF[family]), count(ram), json.loads((tmp_path / "config.json").read_text())["parameters"]


@pytest.mark.parametrize("family,name", [("ecp5", "8x4k7_skewmem4"), ("ice40", "8x4k7_skewmem4"),
                                         ("ecp5", "8x4k7_skewlut3")])
def test_skew_lines_move_into_ram(tmp_path, family, name):
    """skew_mem: the activation lines of every delay n >= skew_mem share one RAM, and so do the weight
    lines (as many cells as its width needs), and each line keeps 2 flip-flops per bit instead of n;
    the RAM's two pointers cost log2(depth) each, depth the power of 2 above the n - 3 (block) or
    n - 2 (LUT RAM) writes back, and its write enable one (a register, not the constant: hdl/skew.py)."""
    args = CONFIGS[name]
    flops = args[:args.index("--skew-mem")]  # (the skew options come last)
    lut = int("--skew-lutram" in args)
    pat, cell_width = _RAM[family, lut]
    ff_mem, ram, p = _synth_counts(tmp_path / "mem", family, args, pat)
    ff_reg, ram_reg, _ = _synth_counts(tmp_path / "reg", family, flops, pat)
    delays = {}
    for r in range(p["rows"]):
        delays.setdefault(("act", r // p["weight_hop"]), []).append(p["k"])
    for c in range(p["cols"]):
        delays.setdefault(("wgt", c // p["act_hop"]), []).extend([p["k"]] * p["weight_rows"])
    in_mem = {(g, n): w for (g, n), w in delays.items() if n >= p["skew_mem"]}
    assert ram_reg == 0 and ram == sum(-(-sum(w) // cell_width) for w in in_mem.values()) > 0
    saved = sum((n - 2) * sum(w) - 2 * (n - 3 + lut).bit_length() - 1 for (_, n), w in in_mem.items())
    assert ff_reg - ff_mem == saved


@pytest.mark.parametrize("name", ["4x4k7_hop1", "8x4k7_skewlut3"])
@pytest.mark.parametrize("popcount", ["pair", "ccu2"])
def test_reset_stays_out_of_the_array(tmp_path, name, popcount):
    """No flip-flop of a PE, a PE row or a control hop has a reset: a reset net reaching them spans
    the array (in context it was the critical path, hdl/array.py `_hop_reg`). Each module must have
    plain flip-flops, so the check cannot pass on an emptied netlist."""
    v = _gen(tmp_path, [*CONFIGS[name], "--popcount", popcount])
    mods = ("xnorgen_pe_*", "xnorgen_row_*", "*xnorgen_hop_reg*")  # (the last: parameterized)
    script = (f"read_verilog {v.name}; hierarchy -top xnorgen_core; proc; opt_dff; "
              + "".join(f"select -assert-min 1 {m}/t:$dff*; " for m in mods)
              + "select -assert-none " + " ".join(f"{m}/t:{t}" for m in mods
                                                   for t in ("$sdff*", "$adff*", "$dffsr*", "$aldff*")))
    r = subprocess.run([YOSYS, "-q", "-p", script], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       check=False)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]


@pytest.mark.parametrize("popcount", ["pair", "ccu2"])
def test_lfsr_restart_is_local(tmp_path, popcount):
    """acc_lfsr: the one synchronous reset in a PE is the LFSR's restart on `valid and first` (a PE
    control bit, on the PE's own flip-flops); the core's `rst` reaches no PE cell."""
    v = _gen(tmp_path, [*CONFIGS["5x3k7_lfsr"], "--popcount", popcount])
    # (opt_clean: before it `rst` reaches its loads through alias wires; `c:*` would miss $-named cells)
    script = (f"read_verilog {v.name}; hierarchy -top xnorgen_core; proc; opt_dff; opt_clean; "
              "select -assert-count 1 xnorgen_pe_*/t:$sdff*; "
              "select -assert-none xnorgen_pe_*/w:rst %co1 xnorgen_pe_*/w:* %d; "
              "select -assert-none xnorgen_pe_*/w:rst %x:+[SRST] xnorgen_pe_*/t:$sdff* %i; "
              "select -assert-none " + " ".join(f"{m}/t:{t}" for m in ("xnorgen_pe_*", "xnorgen_row_*", "*xnorgen_hop_reg*")
                                                for t in ("$adff*", "$dffsr*", "$aldff*")) + "; "
              "select -assert-none xnorgen_row_*/t:$sdff* *xnorgen_hop_reg*/t:$sdff*")
    r = subprocess.run([YOSYS, "-q", "-p", script], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       check=False)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]


def test_gated_drain_is_flip_flops_with_a_select_reset(tmp_path):
    """drain_gate on ECP5: every gated result register is a TRELLIS_FF whose synchronous reset (LSR)
    comes straight from a select flip-flop (the one-cold row select) and whose data comes from the PE
    result, so the gating costs no LUT; and no drain carry chain is left. A select held one-hot would
    need an inverter LUT on every LSR, which this test rejects."""
    args = [*CONFIGS["5x3k7_gate"], "--popcount", "ccu2"]
    v = _gen(tmp_path, args)
    cfg = json.loads((tmp_path / "config.json").read_text())["parameters"]
    script = f"read_verilog {v.name}; synth_ecp5 -top xnorgen_core; write_json net.json"
    r = subprocess.run([YOSYS, "-q", "-p", script], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       check=False)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    mod = json.loads((tmp_path / "net.json").read_text())["modules"]["xnorgen_core"]
    names: dict = {}
    for n, v_ in mod["netnames"].items():
        for b in v_["bits"]:
            names.setdefault(b, []).append(n)
    driver = {b: c["type"] for c in mod["cells"].values() for p, d in c["port_directions"].items()
              if d == "output" for b in c["connections"][p]}
    gated = [c for c in mod["cells"].values() if c["type"] == "TRELLIS_FF"
             and any(re.search(r"\bdrain_g\d+_r\d+\b", n) for n in names.get(c["connections"]["Q"][0], []))]
    res_width = json.loads((tmp_path / "config.json").read_text())["derived"]["res_width"]
    assert len(gated) == cfg["rows"] * cfg["cols"] * res_width
    assert all(driver.get(c["connections"]["LSR"][0]) == "TRELLIS_FF" for c in gated)
    assert all(c["parameters"]["SRMODE"] == "LSR_OVER_CE" for c in gated)  # synchronous
    assert all(driver.get(c["connections"]["DI"][0]) == "TRELLIS_FF" for c in gated)  # the result register
    assert not [n for n, c in mod["cells"].items() if c["type"] == "CCU2C" and "drain_g" in n]
