"""pytest entry of the cocotb regression: each configuration is generated with `python -m gen` (the
same CLI strings users type), Verilated once (cached, shared across xdist workers), and the cocotb
tests of cocotb_tests/core_tests.py run on it in groups."""

from __future__ import annotations

import json

import pytest

from cocotb_tests.build import get_build, run_cocotb
from cocotb_tests.plan import make_plan, save_plan

# name -> gen arguments. Small and odd on purpose: 1x1 with K = 1, non-square, odd K, multi-threshold,
# split reductions over several channel blocks, and one 16x16.
CONFIGS = {
    "1x1_k1": "--rows 1 --cols 1 --k 1 --max-fanin 3",
    "2x3_k7": "--rows 2 --cols 3 --k 7 --max-fanin 21",
    "4x2_k5_n3": "--rows 4 --cols 2 --k 5 --max-fanin 40 --n-thresholds 3",
    "4x4_k8_w4": "--rows 4 --cols 4 --k 8 --max-fanin 64 --weight-rows 4 --channels 12",
    "3x5_k13": "--rows 3 --cols 5 --k 13 --max-fanin 39 --channels 10",
    "16x16_k8": "--rows 16 --cols 16 --k 8 --max-fanin 256",
}
# test groups (regexes over cocotb test names); coverage_summary closes every group
GROUPS = {
    "traffic": r"random_traffic",
    "directed": r"directed",
    "reset": r"reset_",
    "coverage": r"coverage_closure",
    "bulk": r"bulk",
}
PLAN = [
    *[(c, g) for c in ("1x1_k1", "2x3_k7", "4x2_k5_n3", "4x4_k8_w4", "3x5_k13")
      for g in ("traffic", "directed", "reset", "bulk")],
    ("2x3_k7", "coverage"),
    ("4x2_k5_n3", "coverage"),
    ("16x16_k8", "directed"),
    ("16x16_k8", "bulk"),
]


@pytest.mark.parametrize(("config", "group"), PLAN, ids=[f"{c}-{g}" for c, g in PLAN])
def test_cosim(config: str, group: str, tmp_path) -> None:
    build = get_build(CONFIGS[config])
    save_plan(make_plan(build.design, [group], seed=1), tmp_path)
    res = run_cocotb(build, "cocotb_tests.core_tests", rf"core_tests\.({GROUPS[group]}|coverage_summary)",
                     tmp_path)
    assert not res["failed"], f"{config}: failed cocotb tests {res['failed']} (log: {tmp_path / 'sim.log'})"
    assert len(res["passed"]) >= 2, f"{config}: nothing ran ({res})"
    cov = json.loads((tmp_path / "coverage.json").read_text())
    if group == "coverage":
        assert cov["hit"] == cov["planned"], f"coverage: {cov['hit']} of {cov['planned']} bins"
