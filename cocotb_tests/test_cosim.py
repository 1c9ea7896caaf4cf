"""pytest entry of the cocotb regression: each configuration is generated with `python -m gen` (the
same CLI strings users type), Verilated once (cached, shared across xdist workers), and the cocotb
tests of cocotb_tests/core_tests.py run on it in groups."""

from __future__ import annotations

import json

import pytest

from cocotb_tests.build import get_build, run_cocotb
from cocotb_tests.plan import CONFIGS, GROUPS, expected_tests, make_plan, save_plan

SMALL = ("1x1_k1", "2x3_k7", "2x3_k7_fifo3", "2x2_k7_n3", "8x2_k7_w8", "3x2_k32_w3", "1x8_k7_c24", "3x8_k32_ccu2",
         "7x3_k7_drain3_ccu2", "8x5_k7_skewmem4")
# the 16x16 build is the longest: its tests go first so xdist overlaps it with the small ones
PLAN = [
    ("16x16_k8", "directed"),
    ("16x16_k8", "bulk"),
    *[(c, g) for c in SMALL for g in ("traffic", "directed", "reset", "shared", "bulk")],
    *[("8x5_k7_skewlut3_ccu2", g) for g in ("traffic", "shared")],
    *[("9x3_k7_drain4x2_lfsr_ccu2", g) for g in ("traffic", "reset", "shared")],
    *[("9x3_k7_drain4x2_gate_lfsr_ccu2", g) for g in ("traffic", "shared")],
    ("2x3_k7", "coverage"),
    ("2x2_k7_n3", "coverage"),
    ("2x3_k7_fifo3", "coverage"),
]


@pytest.mark.parametrize(("config", "group"), PLAN, ids=[f"{c}-{g}" for c, g in PLAN])
def test_cosim(config: str, group: str, tmp_path) -> None:
    build = get_build(CONFIGS[config])
    save_plan(make_plan(build.design, [group], seed=1), tmp_path, build.design)
    res = run_cocotb(build, "cocotb_tests.core_tests", rf"core_tests\.({GROUPS[group]}|coverage_summary)",
                     tmp_path)
    assert not res["failed"], f"{config}: failed cocotb tests {res['failed']} (log: {tmp_path / 'sim.log'})"
    expected = {*expected_tests([group]), "coverage_summary"}
    missing = expected - set(res["passed"])
    assert not missing, f"{config}: tests that did not pass (skipped or never ran): {sorted(missing)} ({res})"
    cov = json.loads((tmp_path / "coverage.json").read_text())
    if group == "coverage":
        assert cov["hit"] == cov["planned"], f"coverage: {cov['hit']} of {cov['planned']} bins"
