"""fpga.netlist.open_chain_ends: nextpnr packs the ccu2 PE's carry chains without adding cells.

Why a place-free nextpnr run: the cost of a feed-in / pass-out CCU2C only shows after nextpnr's
packer (Yosys' statistics cannot see it), and packing takes seconds.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from amaranth.back import verilog

from fpga.flow import tool
from fpga.netlist import open_chain_ends
from hdl.pe import XnorPE

YOSYS = tool("YOSYS")
NEXTPNR = tool("NEXTPNR_ECP5")


def _added_carries(tmp: Path, netlist: str) -> tuple[int, int]:
    """(TRELLIS_COMB after packing, of them halves of CCU2C that nextpnr's packer added)."""
    subprocess.run([NEXTPNR, "--25k", "--out-of-context", "--json", netlist, "--pack-only", "--write", "packed.json",
                    "--log", "pack.log"], cwd=tmp, check=True, capture_output=True)
    packed = json.loads((tmp / "packed.json").read_text())
    combs = [n for mod in packed["modules"].values() for n, c in mod["cells"].items() if c["type"] == "TRELLIS_COMB"]
    return len(combs), sum(n.startswith("$nextpnr_CCU2C") for n in combs)


@pytest.mark.parametrize("pipeline,lfsr", [(1, 0), (2, 0), (2, 6)])
def test_chain_ends_cost_no_cells(tmp_path, pipeline, lfsr):
    pe = XnorPE(31, 10, "ccu2", expose_acc=False, pipeline=pipeline, cells="ecp5", lfsr=lfsr)
    (tmp_path / "pe.v").write_text(verilog.convert(pe, name="pe", emit_src=False))
    script = "read_verilog pe.v; synth_ecp5 -abc9 -top pe; tee -q -o stat.json stat -json; write_json pe.json"
    subprocess.run([YOSYS, "-q", "-p", script], cwd=tmp_path, check=True, capture_output=True)
    cells = json.loads((tmp_path / "stat.json").read_text())["modules"]["\\pe"]["num_cells_by_type"]
    sites = 2 * cells["CCU2C"] + cells.get("LUT4", 0)  # LUT4 sites Yosys' statistics count
    shutil.copy(tmp_path / "pe.json", tmp_path / "raw.json")
    # pipeline 1: tree and accumulator share one chain; pipeline 2: the mid-tree register splits the
    # tree's chain in two, and the tree's second half continues the accumulator's chain, since both
    # have an odd slot count (hdl/pe.py says why): 31 + 24 slots, 28 CCU2C instead of 29. With an LFSR
    # accumulator (acc_lfsr) its 5 binary bits and a start slot are 6, and the tree's second chain
    # takes their carry out in its first slot: 31 + 19 slots, 26 CCU2C
    chains = {1: 1, 2: 2}[pipeline]
    assert cells["CCU2C"] == {(1, 0): 27, (2, 0): 28, (2, 6): 26}[(pipeline, lfsr)]
    assert open_chain_ends(tmp_path / "pe.json") == (chains, chains)
    combs, added = _added_carries(tmp_path, "pe.json")
    assert added == 0 and combs <= sites + 2  # (+ nextpnr's constant drivers)
    # as Yosys leaves it, every chain costs nextpnr a feed-in and a pass-out CCU2C (2 COMB each)
    raw_combs, raw_added = _added_carries(tmp_path, "raw.json")
    assert raw_added == 4 * chains and raw_combs == combs + raw_added
    assert open_chain_ends(tmp_path / "pe.json") == (0, 0)  # idempotent


def test_constant_carry_in_of_yosys_adders_is_kept(tmp_path):
    """Yosys' own adders need their constant CIN: only a chain marked by hdl.carry is opened."""
    (tmp_path / "add.v").write_text("module add(input clk, input [7:0] a, b, output reg [8:0] s);\n"
                                    "always @(posedge clk) s <= a + b + 1;\nendmodule\n")
    subprocess.run([YOSYS, "-q", "-p", "read_verilog add.v; synth_ecp5 -top add; write_json add.json"],
                   cwd=tmp_path, check=True, capture_output=True)
    before = json.loads((tmp_path / "add.json").read_text())
    n_cin, _ = open_chain_ends(tmp_path / "add.json")
    after = json.loads((tmp_path / "add.json").read_text())
    assert n_cin == 0
    cins = [c["connections"]["CIN"] for d in (before, after) for c in d["modules"]["add"]["cells"].values()
            if c["type"] == "CCU2C"]
    assert cins[:len(cins) // 2] == cins[len(cins) // 2:]
