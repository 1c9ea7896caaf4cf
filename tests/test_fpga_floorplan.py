"""fpga.floorplan: PE blocks tile the fabric, pinned cells are what nextpnr's packer makes, and they stay put.

Why nextpnr in the loop: the pinned TRELLIS_COMB halves replace nextpnr's own CCU2C conversion, so
the proof that they are the same cells is nextpnr's packer output for both netlists.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fpga.floorplan import (
    Floorplan,
    FloorplanError,
    PlcGrid,
    _pin_feed_ffs,
    auto_floorplan,
    pe_regions,
    pin_pe_chains,
)
from fpga.flow import tool
from fpga.netlist import open_chain_ends
from gen.emit import verilog_text
from hdl.config import AccelConfig

YOSYS = tool("YOSYS")
NEXTPNR = tool("NEXTPNR_ECP5")


@pytest.mark.parametrize("device,rows,cols,margins", [
    ("LFE5U-85F", 32, 32, (0, 0, 0, 0)), ("LFE5U-85F", 3, 7, (2, 1, 3, 4)), ("LFE5U-25F", 1, 1, (0, 0, 0, 0)),
    ("LFE5U-25F", 16, 5, (0, 0, 0, 0))])
def test_regions_tile_the_grid(device, rows, cols, margins):
    grid = PlcGrid.load(device)
    west, north, east, south = margins
    inner = {(x, y) for x in grid.xs[west:len(grid.xs) - east] for y in grid.ys[north:len(grid.ys) - south]}
    seen: set[tuple[int, int]] = set()
    regions = pe_regions(grid, rows, cols, margins)
    assert set(regions) == {(r, c) for r in range(rows) for c in range(cols)}
    for (r, c), reg in regions.items():
        tiles = {(x, y) for x in range(reg.x_lo, reg.x_hi) for y in reg.ys}
        assert tiles and not tiles & seen and tiles <= inner
        seen |= tiles
        if c:  # columns run west to east, rows north to south, like the array is drawn
            assert regions[(r, c - 1)].x_hi == reg.x_lo
        if r:
            assert max(regions[(r - 1, c)].ys) < min(reg.ys)
    assert seen == inner


def test_region_errors():
    grid = PlcGrid.load("LFE5U-25F")
    with pytest.raises(FloorplanError, match=r"^a 64x64 grid needs at least 64 x 64 logic tiles; LFE5U-25F leaves "
                                             r"\d+ x \d+ inside margins \(0, 0, 0, 0\)$"):
        pe_regions(grid, 64, 64)
    with pytest.raises(FloorplanError, match=r"^no floorplan for device 'iCE40UP5K' \(ECP5 only: "):
        PlcGrid.load("iCE40UP5K")


@pytest.mark.parametrize("device,rows,cols,margins,pinned", [
    ("LFE5U-85F", 32, 32, (0, 0, 0, 0), True),    # 123 x 85 tiles: 10.2 per PE, the measured floorplan
    ("LFE5U-85F", 16, 16, (0, 0, 0, 0), False),   # 40.8 per PE: left to nextpnr
    ("LFE5U-85F", 16, 16, (40, 20, 40, 20), True),  # margins shrink the region: 43 x 45 tiles, 7.6 per PE
    ("LFE5U-25F", 12, 12, (0, 0, 0, 0), False),   # 69 x 44 tiles: 21.1 per PE
    ("LFE5U-25F", 16, 12, (0, 0, 0, 0), True),    # 15.8 per PE (the limit is 16)
    ("LFE5U-25F", 16, 16, (0, 0, 0, 0), True),    # 11.9 per PE
    ("LFE5U-85F", 1, 1, (0, 0, 119, 81), True),   # 4 x 4 tiles: exactly the limit
    ("LFE5U-85F", 1, 1, (0, 0, 119, 80), False),  # 4 x 5
    ("iCE40UP5K", 8, 8, (0, 0, 0, 0), False),     # no floorplan off ECP5
])
def test_auto_floorplan_pins_dense_grids_only(device, rows, cols, margins, pinned):
    assert auto_floorplan(device, rows, cols, margins) is pinned


def _synth(tmp: Path, rows: int, cols: int, k: int, acc_lfsr: int = 0, **more) -> Path:
    """A generated ccu2 core as Yosys leaves it for nextpnr (chain ends opened, as fpga.flow does)."""
    cfg = AccelConfig(rows=rows, cols=cols, k=k, max_fanin=255, pipeline=2, act_hop=2, weight_hop=2,
                      acc_lfsr=acc_lfsr, **more)
    (tmp / "core.v").write_text(verilog_text(cfg, "ccu2", jobs=1))
    subprocess.run([YOSYS, "-q", "-p", "read_verilog core.v; synth_ecp5 -abc9 -top xnorgen_core; write_json core.json"],
                   cwd=tmp, check=True, capture_output=True)
    open_chain_ends(tmp / "core.json")
    return tmp / "core.json"


def _packed(tmp: Path, netlist: str, *extra: str) -> dict:
    subprocess.run([NEXTPNR, "--25k", "--out-of-context", "--json", netlist, *extra, "--write", "out.json",
                    "--log", "pnr.log"], cwd=tmp, check=True, capture_output=True)
    mod = json.loads((tmp / "out.json").read_text())["modules"]
    return next(iter(mod.values()))


def _comb_view(mod: dict) -> dict:
    """PE carry halves after packing: name -> (parameters, net name on each port)."""
    names = {}
    for net, info in mod["netnames"].items():
        for b in info["bits"]:
            names.setdefault(b, net)
    view = {}
    for name, cell in mod["cells"].items():
        if cell["type"] == "TRELLIS_COMB" and re.search(r"\.pe\d+\.\w+_ccu\d+\$CCU2_COMB\d$", name):
            params = {k: str(v).strip() for k, v in cell["parameters"].items()
                      if k in ("MODE", "INITVAL", "CCU2_INJECT1")}
            ports = {p: [names.get(b, b) for b in bits] for p, bits in cell["connections"].items()
                     if p in ("A", "B", "C", "D", "F", "FCI", "FCO") and bits}  # (unconnected: absent or [])
            view[name] = (params, ports)
    return view


def test_pinned_cells_are_the_packers_cells(tmp_path):
    """The pinned halves equal nextpnr's own conversion of the same CCU2C: parameters and nets."""
    netlist = _synth(tmp_path, 2, 3, 7)
    shutil.copy(netlist, tmp_path / "pinned.json")
    stats = pin_pe_chains(tmp_path / "pinned.json", "LFE5U-25F", Floorplan(2, 3))
    assert stats["pes"] == 6 and stats["comb_pinned"] > 6 * 8 and stats["ff_pinned"] > 0
    ref = _comb_view(_packed(tmp_path, "core.json", "--pack-only"))
    got = _comb_view(_packed(tmp_path, "pinned.json", "--pack-only"))
    assert len(ref) == stats["comb_pinned"]
    assert got == ref


def test_pinned_cells_stay_put(tmp_path):
    """Placed and routed, every pinned cell sits on its bel and each pinned flip-flop beside its LUT."""
    _synth(tmp_path, 2, 3, 7)
    stats = pin_pe_chains(tmp_path / "core.json", "LFE5U-25F", Floorplan(2, 3))
    assert stats["ff_feed_pinned"] > 6 * 2  # at least each PE's result register
    pinned = json.loads((tmp_path / "core.json").read_text())
    want = {n: c["attributes"]["BEL"] for m in pinned["modules"].values() for n, c in m["cells"].items()
            if "BEL" in c["attributes"]}
    placed = _packed(tmp_path, "core.json", "--router", "router1", "--timing-allow-fail")
    got = {n: c["attributes"].get("NEXTPNR_BEL") for n, c in placed["cells"].items() if n in want}
    assert got == want
    regions = pe_regions(PlcGrid.load("LFE5U-25F"), 2, 3)
    for name, bel in want.items():  # a chain half inside its own PE's block, a flip-flop inside a block
        x, y = map(int, re.match(r"X(\d+)/Y(\d+)/", bel).groups())
        inside = {pe for pe, reg in regions.items() if reg.x_lo <= x < reg.x_hi and y in reg.ys}
        half = re.search(r"\.row(\d+)\.pe(\d+)\.\w+_ccu\d+\$CCU2_COMB\d$", name)
        assert inside == {(int(half[1]), int(half[2]))} if half else len(inside) == 1, (name, bel)


@pytest.mark.parametrize("more", [{}, {"out_fifo": 12, "drain_hop": 2, "drain_gate": 1}])
def test_lfsr_core_pins_its_own_flip_flops(tmp_path, more):
    """acc_lfsr: the result register (loaded from the PE's flip-flops) and the delayed `last` (by name)
    are pinned in their PE's block; flip-flops with a set/reset net (the LFSR's restart, a gated drain
    register's select) are pinned eight of one control set to a tile of their own, since nextpnr wants
    one such net per tile (it refused an LFSR flip-flop pinned slice by slice, and four of one net
    beside flip-flops of another or of none), the rest left to the placer; nextpnr accepts every bel."""
    _synth(tmp_path, 2, 3, 7, acc_lfsr=1, **more)
    pin_pe_chains(tmp_path / "core.json", "LFE5U-25F", Floorplan(2, 3))
    cells = {n: c for m in json.loads((tmp_path / "core.json").read_text())["modules"].values()
             for n, c in m["cells"].items() if c["type"] == "TRELLIS_FF"}
    def pinned(pattern):
        got = [("BEL" in c["attributes"]) for n, c in cells.items() if re.search(pattern, n)]
        assert got, pattern
        return set(got)
    assert pinned(r"(\.pe_res|row\d+[._]res)_TRELLIS") == {True}
    assert pinned(r"\.pe\d+\.pe_lfsr") == {False}  # 6 bits: fewer than a tile
    if more:
        assert pinned(r"drain_g\d+_r\d+") == {True, False}  # 9 bits: 8 pinned
    assert pinned(r"\.pe\d+\.pe_vlast_d") == {True}
    lsr_at: dict = {}
    for c in cells.values():
        bel = c["attributes"].get("BEL")
        if bel and any(isinstance(b, int) for b in c["connections"].get("LSR", [])):
            x, y = re.fullmatch(r"X(\d+)/Y(\d+)/SLICE[A-D]\.FF\d", bel).groups()
            lsr_at.setdefault((x, y), []).append(c["connections"]["LSR"][0])
    if more:
        assert lsr_at and all(len(v) == 8 and len(set(v)) == 1 for v in lsr_at.values())
        pinned_at = {}
        for c in cells.values():
            if "BEL" in c["attributes"]:
                pinned_at.setdefault(c["attributes"]["BEL"].split("/SLICE")[0], []).append(c)
        assert all(len(pinned_at[f"X{x}/Y{y}"]) == 8 for x, y in lsr_at)  # nothing else pinned there
    _packed(tmp_path, "core.json", "--router", "router1", "--timing-allow-fail")


def test_pin_errors(tmp_path):
    netlist = _synth(tmp_path, 2, 3, 7)
    before = netlist.read_bytes()
    with pytest.raises(FloorplanError, match=r"^core\.json: carry chains of 6 PEs found, not of a 3x3 grid "):
        pin_pe_chains(netlist, "LFE5U-25F", Floorplan(3, 3))
    # 2 x 3 blocks on the 25F are about 24 x 11 tiles: ample, so shrink them with margins
    grid = PlcGrid.load("LFE5U-25F")
    with pytest.raises(FloorplanError, match=r"^PE \(0, 0\): its carry chains need \d+ LUT slots in rows of at "
                                             r"most 8; the block is 1 x \d+ tiles"):
        pin_pe_chains(netlist, "LFE5U-25F", Floorplan(2, 3, (0, 0, len(grid.xs) - 3, 0)))
    assert netlist.read_bytes() == before  # nothing written on error
    with pytest.raises(FloorplanError, match=r"^margins must be four tile counts >= 0 \(west, north, east, south\), "
                                             r"not \(1, 2, 3\)$"):
        Floorplan(2, 3, (1, 2, 3))


def _feed_net(ffs: dict[str, set]) -> dict:
    """A netlist of one chain half per PE of a 2x2 grid and flip-flops name -> the PEs whose halves
    their Q drives (net i + 100 for the i-th flip-flop)."""
    cells = {f"row{r}.pe{c}.t_ccu0$CCU2_COMB0": {"type": "TRELLIS_COMB", "connections": {"A": [], "B": []}}
             for r in range(2) for c in range(2)}
    for i, (name, pes) in enumerate(ffs.items()):
        q = 100 + i
        cells[name] = {"type": "TRELLIS_FF", "attributes": {}, "parameters": {},
                       "connections": {"CLK": [1], "CE": [2], "LSR": ["0"], "DI": [200 + i], "Q": [q]},
                       "port_directions": {"CLK": "input", "CE": "input", "LSR": "input", "DI": "input",
                                           "Q": "output"}}
        for r, c in pes:
            cells[f"row{r}.pe{c}.t_ccu0$CCU2_COMB0"]["connections"]["A"].append(q)
    return cells


def _block_of(cells: dict, regions: dict, name: str) -> tuple[int, int]:
    x, y = map(int, re.match(r"X(\d+)/Y(\d+)/", cells[name]["attributes"]["BEL"]).groups())
    return next(pe for pe, reg in regions.items() if reg.x_lo <= x < reg.x_hi and y in reg.ys)


def test_feed_ffs_go_to_the_pes_they_feed():
    """A flip-flop named after a PE whose chains it does not feed (Yosys names a shift chain's stage
    after the next stage's input port) goes to the PEs it feeds; a word two PEs share spreads over
    both blocks rather than filling the first (bench_ws_array --lanes: 23 weight bits per group)."""
    cells = _feed_net({"row1.pe1.port$7$0_TRELLIS_FF_Q": {(0, 0)},
                       **{f"row0.w{i}_TRELLIS_FF_Q": {(0, 0), (0, 1)} for i in range(4)}})
    regions = pe_regions(PlcGrid.load("LFE5U-25F"), 2, 2)
    assert _pin_feed_ffs(cells, regions, {}, {}, {}) == 5
    assert _block_of(cells, regions, "row1.pe1.port$7$0_TRELLIS_FF_Q") == (0, 0)
    assert sorted(_block_of(cells, regions, f"row0.w{i}_TRELLIS_FF_Q") for i in range(4)) == [(0, 0)] * 2 + [(0, 1)] * 2
