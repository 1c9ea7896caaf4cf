"""Report arithmetic and the sweep's CSV / plot writers, on synthetic numbers (no place and route)."""

import csv

from fpga.report import PpaReport, cell_counts
from fpga.sweep import plot, write_csv


def test_cell_counts_lut4_equivalents():
    ecp5 = cell_counts({"LUT4": 10, "CCU2C": 3, "TRELLIS_FF": 7, "DP16KD": 1, "PFUMX": 4}, "ecp5")
    assert ecp5["lut4_equiv"] == 16 and ecp5["ff"] == 7 and ecp5["ebr"] == 1
    ice = cell_counts({"SB_LUT4": 10, "SB_CARRY": 3, "SB_DFFE": 2, "SB_DFFSR": 1, "SB_SPRAM256KA": 2}, "ice40")
    assert ice["lut4_equiv"] == 10 and ice["carry"] == 3 and ice["ff"] == 3 and ice["spram"] == 2


def test_lutram_counts_in_the_second_density_figure():
    """LUT RAM is not in LUT4 (the headline op/LUT) but in its own column and in the figure beside it."""
    core = cell_counts({"LUT4": 10, "CCU2C": 3, "TRELLIS_DPR16X4": 2}, "ecp5")
    assert core["lut4_equiv"] == 16 and core["lutram"] == 2
    r = PpaReport(design="d", device="ecp5-85f", family="ecp5", params={}, target_mhz=150.0, total=core, core=core,
                  utilization={}, fmax={"clk": {"achieved": 151.0, "constraint": 150.0}}, times_s={},
                  binary_ops_per_cycle=56)
    assert r.ops_per_cycle_per_lut == 56 / 16 and r.ops_per_cycle_per_lut_with_lutram == 56 / (16 + 6 * 2)
    assert "| core | 16 | 3 | 2 |" in r.to_markdown() and "(2.00 with each LUT RAM cell as 6 LUT4)" in r.to_markdown()
    assert r.flat_row()["ops_per_cycle_per_lut_with_lutram"] == 2.0


def _report(fmax, target, used=100, avail=5280, ops=512, core_luts=256):
    return PpaReport(design="d", device="ice40-up5k", family="ice40", params={"rows": 4}, target_mhz=target,
                     total=cell_counts({"SB_LUT4": 300}, "ice40"), core=cell_counts({"SB_LUT4": core_luts}, "ice40"),
                     utilization={"ICESTORM_LC": {"used": used, "available": avail}},
                     fmax={"clk": {"achieved": fmax, "constraint": target}}, times_s={"pnr": 1.0},
                     binary_ops_per_cycle=ops)


def test_pass_fail_and_figures():
    r = _report(50.0, 48.0)
    assert r.passed and r.ops_per_cycle_per_lut == 2.0 and r.peak_gops == 512 * 50 / 1000
    assert not _report(40.0, 48.0).passed
    assert not _report(50.0, 48.0, used=6000).passed
    assert "PASS" in r.to_markdown() and "| `clk` | 50.0 | 48.0 | yes |" in r.to_markdown()


def test_sweep_csv_and_plot(tmp_path):
    rows = []
    for dev, n, f in (("ice40-up5k", 2, 60.0), ("ice40-up5k", 4, 50.0), ("ecp5-25f", 4, 180.0)):
        row = {"device": dev, "board": "b", "rows": n, "cols": n, "k": 8, "pes": n * n, "error": ""}
        row.update(_report(f, 48.0, ops=2 * n * n * 8).flat_row())
        row["device"] = dev
        rows.append(row)
    rows.append({"device": "ecp5-85f", "board": "b", "rows": 64, "cols": 64, "k": 8, "pes": 4096,
                 "error": "does not fit"})
    write_csv(rows, tmp_path / "s.csv")
    back = list(csv.DictReader((tmp_path / "s.csv").read_text().splitlines()))
    assert len(back) == 4 and back[-1]["error"] == "does not fit"
    plot(rows, tmp_path / "s.png")
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_exit_status_counts_builds_that_did_not_run(tmp_path, monkeypatch):
    """A tool error fails the sweep (exit 1); a point that does not fit is a result (exit 0)."""
    from fpga import sweep

    def fake(errors):
        def run(points, ex, core):
            return [{"device": p.device, "board": "b", "rows": p.rows, "cols": p.cols, "k": p.k, "pes": p.rows * p.cols,
                     "error": e} for p, e in zip(points, errors, strict=True)]
        return run

    monkeypatch.setattr(sweep, "warm_tools", lambda: None)
    args = ["--devices", "ice40-up5k", "--sizes", "2x2,4x4", "--out", str(tmp_path)]
    monkeypatch.setattr(sweep, "run_sweep", fake(["", "does not fit: ICESTORM_LC 6000/5280 used/available"]))
    assert sweep.main(args) == 0
    monkeypatch.setattr(sweep, "run_sweep", fake(["", "nextpnr failed (exit 1, log x)"]))
    assert sweep.main(args) == 1
    assert (tmp_path / "sweep.csv").is_file()
