"""Prove the regression bites: run it on deliberately broken copies of the generated Verilog.

Each mutant is a regex patch applied to a scratch copy of `gen`'s output in its own build directory
(hdl/ is never touched). The regression must fail on every mutant and pass on the original.

    python -m cocotb_tests.mutants [--config 2x3_k7] [--groups traffic,directed,reset,bulk]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from .build import get_build, run_cocotb
from .plan import CONFIGS, GROUPS, expected_tests, make_plan, save_plan

# name -> (regex, replacement) on the generated Verilog
ATTR = r"(?:\(\*[^*]*\*\) )?"  # an optional Yosys (* src = ... *) attribute
MUTANTS = {
    # PE: XNOR -> XOR (every popcount becomes K - P)
    "xnor_to_xor": (rf"(assign pe_xnor = )~ {ATTR}", r"\1"),
    # threshold unit: P >= T -> P > T (only ties change)
    "ge_to_gt": (rf"(s1\[\d+:\d+\]) >= {ATTR}(tab\[)", r"\1 > \2"),
    # threshold pipeline advances although out.ready is low: a stalled beat is overwritten (dropped)
    "drop_stalled_beat": (rf"\| {ATTR}out__ready;", r"| 1'b1;"),
    # the core's out.valid: a stalled beat is withdrawn every other cycle and offered again (no data
    # lost, so only the stream-rule monitors see it)
    "withdraw_stalled_beat": (r"\.out__valid\(out__valid\)((?:,\n[^;]*?)?\n  \);)",
                              (r".out__valid(wd_v)\1\n  reg wd_t = 1'b0; always @(posedge clk) wd_t <= ~wd_t;"
                               r"\n  assign out__valid = wd_v & (out__ready | wd_t);")),
}


def run(config: str, groups: list[str], patches=()) -> dict[str, list[str]]:
    build = get_build(CONFIGS[config], patches=tuple(patches))
    run_dir = Path(tempfile.mkdtemp(prefix="xnorgen-mutant-"))
    save_plan(make_plan(build.design, groups), run_dir)
    regex = "|".join(GROUPS[g] for g in groups)
    return run_cocotb(build, "cocotb_tests.core_tests", rf"core_tests\.({regex})", run_dir)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cocotb_tests.mutants", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="2x3_k7")
    ap.add_argument("--groups", default="traffic,directed,reset,bulk")
    ap.add_argument("--only", default="", help="comma-separated mutant names (default: all)")
    args = ap.parse_args(argv)
    groups = args.groups.split(",")
    names = args.only.split(",") if args.only else list(MUTANTS)
    ok = True
    report = {}
    for name in ["original", *names]:
        t0 = time.monotonic()
        res = run(args.config, groups, [] if name == "original" else [MUTANTS[name]])
        caught = bool(res["failed"]) or bool(set(expected_tests(groups)) - set(res["passed"]))
        good = not caught if name == "original" else caught
        ok &= good
        report[name] = {"failed": res["failed"], "passed": len(res["passed"]), "seconds": round(time.monotonic() - t0, 1)}
        verdict = ("passes" if not caught else "FAILS") if name == "original" else \
            ("caught" if caught else "NOT CAUGHT")
        print(f"{name:<18} {verdict:<10} {len(res['failed'])} failed / {len(res['passed'])} passed: "
              f"{', '.join(res['failed'])}")
    print(json.dumps({"config": args.config, "groups": groups, "ok": ok, "mutants": report}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
