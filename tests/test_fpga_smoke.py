"""Smoke builds through the whole board flow (PLL + UART bridge + core -> bitstream) for each family.

The check that matters: the core's LUT count grows with the array, i.e. the results really reach the
UART pins and synthesis removed nothing. One test per family, so pytest-xdist runs them in parallel.
"""

import json

import pytest

from fpga.build import build_board

FIGURES = ("lut4", "lut4_equiv", "carry", "ff", "ebr", "spram", "dsp")


@pytest.mark.parametrize("board,popcount", [("icebreaker", "pair"), ("ulx3s-25f", "pair"), ("ulx3s-25f", "ccu2")])
def test_smoke_build_scales_with_array(board, popcount, tmp_path):
    k = 4 if board == "icebreaker" else 16  # the ECP5 ccu2 PE is small per bit: K=4 is mostly overhead
    # ccu2: the PE chains pinned too (fpga/floorplan.py), which "auto" leaves off on a grid this sparse
    fp = "on" if popcount == "ccu2" else "auto"
    small = build_board(board, 1, 1, k, out_dir=tmp_path / "small", mhz=40, popcount=popcount, floorplan=fp)
    big = build_board(board, 2, 2, k, out_dir=tmp_path / "big", mhz=40, popcount=popcount, floorplan=fp)
    if popcount == "ccu2":  # the hand-mapped PE really is carry cells in the board flow
        assert big.core["carry"] >= 4 * 8
    for rep, d in ((small, tmp_path / "small"), (big, tmp_path / "big")):
        data = json.loads((d / "report.json").read_text())
        assert (d / "report.md").read_text().startswith("### ")
        assert (d / ("top.bin" if board == "icebreaker" else "top.bit")).stat().st_size > 10_000
        for part in ("core", "total"):
            assert set(FIGURES) <= set(data[part]), part
        assert data["fmax"], "no clock domain in the nextpnr report"
        for clk in data["fmax"].values():
            assert clk["achieved"] > 0 and clk["constraint"] > 0
        assert {"synth", "pnr", "pack"} <= set(data["times_s"])
        assert data["ops_per_cycle_per_lut"] > 0 and data["peak_gops"] > 0
        assert data["fits"] is True
        # the PE row synthesized once and stitched into each instance (fpga.flow._stitch_rows)
        assert any(n.startswith("synthesis: xnorgen_row_") for n in data["notes"]), data["notes"]
        if popcount == "ccu2":
            assert any(n.startswith("floorplan (fpga.floorplan): ") for n in data["notes"]), data["notes"]
        if board != "icebreaker":  # clock and synchronized reset each on a global network (fpga/top.py)
            assert data["utilization"]["DCCA"]["used"] == 2, data["utilization"].get("DCCA")
    # 4x the PEs: the core (synthesized alone) must grow well beyond its control overhead ...
    assert big.core["lut4_equiv"] >= 2 * small.core["lut4_equiv"] > 0
    assert big.core["ff"] > small.core["ff"]
    assert big.binary_ops_per_cycle == 4 * small.binary_ops_per_cycle
    # ... and that growth must survive in the whole chip: if results did not reach the pins,
    # synthesis of the full design would drop the array while the core-alone figures stay the same
    core_growth = big.core["lut4_equiv"] - small.core["lut4_equiv"]
    chip_growth = big.total["lut4_equiv"] - small.total["lut4_equiv"]
    assert chip_growth >= 0.8 * core_growth, (chip_growth, core_growth)
    assert big.total["lut4_equiv"] >= big.core["lut4_equiv"]


VERILOG = """
module xnorpop(input clk, input [15:0] a, input [15:0] w, output reg [4:0] p);
  always @(posedge clk) p <= $countones(~(a ^ w));
endmodule
"""


def test_ooc_verilog_file(tmp_path):
    """Out-of-context P&R of a Verilog file: ports read back by Yosys, nothing optimised away."""
    from fpga.ooc import ooc_ppa

    src = tmp_path / "xnorpop.v"
    src.write_text(VERILOG)
    rep = ooc_ppa(src, "ice40-up5k", top_module="xnorpop", target_mhz=48, ops_per_cycle=32,
                  build_dir=tmp_path / "b")
    assert rep.core["lut4_equiv"] >= 8 and rep.core["ff"] == 5
    assert rep.total["ff"] >= 16 + 16 + 5          # the harness chain feeds all 32 input bits
    assert rep.fmax and rep.fits and rep.ops_per_cycle_per_lut > 0


def test_ooc_harness_keeps_core_delay_lines(tmp_path):
    """No core register merges into the harness: a plain shift chain equals the core's reset-less
    input and hop registers (D = chain[i] like chain[i + 1]) and Yosys fused them, collapsing a
    column's weight hops into one flip-flop (the routed 32x32 critical path)."""
    from fpga.harness import harness_flops
    from fpga.ooc import ooc_ppa
    from gen.__main__ import main as gen_main
    from gen.component import GeneratedCore

    # weight and activation hops at every PE, so every delay line is a candidate for a merge
    assert gen_main(["--rows", "3", "--cols", "2", "--k", "3", "--weight-hop", "1", "--act-hop", "1",
                     "--max-fanin", "15", "--out", str(tmp_path / "core")]) == 0
    core = GeneratedCore(tmp_path / "core")
    rep = ooc_ppa(core, "ice40-up5k", target_mhz=40, build_dir=tmp_path / "b")
    assert rep.total["ff"] >= rep.core["ff"] + harness_flops(core), (rep.total["ff"], rep.core["ff"])
