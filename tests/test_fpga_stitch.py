"""The PE row synthesized once and stitched in (fpga.flow._stitch_rows) gives the netlist a flat synthesis gives.

Yosys only (no place and route): a generated ccu2 core with 3 rows on ECP5, synthesized flat and stitched.
"""

import collections
import json
import re
import shutil
import subprocess

import pytest

from fpga.flow import ROW_MODULE, _stitch_rows, tool
from gen.__main__ import main as gen_main
from hdl.array import row_module_name
from hdl.config import AccelConfig


@pytest.mark.parametrize("style", ["pair", "ccu2"])
@pytest.mark.parametrize("params", [{"rows": 1, "cols": 1, "k": 1}, {"rows": 32, "cols": 32, "k": 15, "act_hop": 2}])
def test_row_module_pattern_matches_the_generated_name(params, style):
    name = row_module_name(AccelConfig(**params), style)
    assert ROW_MODULE.findall(f"module {name}(a, b);\n") == [name]


def _cells(path, top):
    mod = json.loads(path.read_text())["modules"][top]
    return collections.Counter(c["type"] for c in mod["cells"].values() if c["type"] != "$scopeinfo")


def test_stitched_netlist_equals_flat(tmp_path):
    assert gen_main(["--rows", "3", "--cols", "2", "--k", "7", "--popcount", "ccu2", "--max-fanin", "63",
                     "--pipeline", "2", "--out", str(tmp_path / "g")]) == 0
    script = "read_verilog xnorgen_core.v\nsynth_ecp5 -top xnorgen_core\nwrite_json top.json\n"
    cells = {}
    for how in ("flat", "stitched"):
        d = tmp_path / how
        d.mkdir()
        shutil.copy(tmp_path / "g" / "xnorgen_core.v", d)
        notes = []
        text, t = _stitch_rows(d, script, 600, notes) if how == "stitched" else (script, 0.0)
        if how == "stitched":
            row = row_module_name(AccelConfig(rows=3, cols=2, k=7, max_fanin=63, pipeline=2), "ccu2")
            assert t > 0 and (d / f"{row}.json").exists() and row in notes[0]
            assert re.search(rf"blackbox {row}\n\s*synth_ecp5 -top xnorgen_core\ndelete ={row}\n", text), text
        (d / "top.ys").write_text(text)
        subprocess.run([tool("YOSYS"), "-q", "top.ys"], cwd=d, check=True)
        cells[how] = _cells(d / "top.json", "xnorgen_core")
    # every row is back (no black box left) and mapped as in the flat synthesis
    assert all(not t.startswith("xnorgen_") for t in cells["stitched"]), cells["stitched"]
    assert cells["stitched"]["CCU2C"] == cells["flat"]["CCU2C"] > 3 * 2 * 8
    for kind in ("TRELLIS_FF", "LUT4"):
        assert abs(cells["stitched"][kind] - cells["flat"][kind]) <= 0.05 * cells["flat"][kind] + 2, (kind, cells)


def test_no_row_leaves_the_script_alone(tmp_path):
    (tmp_path / "x.v").write_text("module x(input a, output b); assign b = a; endmodule\n")
    script = "read_verilog x.v\nsynth_ecp5 -top x\n"
    assert _stitch_rows(tmp_path, script, 60, []) == (script, 0.0)
