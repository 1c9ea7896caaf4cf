"""PPA of the generated core (issue 3): 32x32 on ECP5-85F and 8x8 on iCE40 UP5K, out of context.

Prints LUT4 (LUT4 equivalents: an ECP5 CCU2C counts as 2), FF, Fmax from nextpnr (ECP5 with
`--router router2`) and binary ops per cycle per LUT4 (2 ops per XNOR-accumulated bit:
2*R*C*K per cycle), against the goals >= 1.0 op/LUT and >= 150 MHz on ECP5.

The place-and-route goes through fpga.ooc.ooc_ppa (the FPGA flow's out-of-context harness), fed the
exact Verilog `python -m gen` writes. A 32x32 run takes many minutes.
Run: `python -m bench.bench_array_ppa [--only ecp5|ice40] [--k K] [--popcount STYLE]`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

POINTS = {
    "ecp5": {"device": "ecp5-85f", "rows": 32, "cols": 32, "k": 16, "target_mhz": 150.0},
    "ice40": {"device": "ice40-up5k", "rows": 8, "cols": 8, "k": 8, "target_mhz": 48.0},
}


def run_point(family: str, k: int | None, popcount: str, max_fanin: int, weight_hop: int) -> dict:
    from fpga.ooc import ooc_ppa
    from gen.component import GeneratedCore

    p = dict(POINTS[family])
    if k is not None:
        p["k"] = k
    with tempfile.TemporaryDirectory(prefix="xnorgen_ppa_") as tmp:
        out = Path(tmp) / "core"
        cmd = [sys.executable, "-m", "gen", "--rows", str(p["rows"]), "--cols", str(p["cols"]), "--k", str(p["k"]),
               "--max-fanin", str(max_fanin), "--weight-hop", str(weight_hop), "--popcount", popcount,
               "--out", str(out)]
        subprocess.run(cmd, check=True, capture_output=True)
        cfg = json.loads((out / "config.json").read_text())
        ops = cfg["derived"]["binary_ops_per_cycle"]
        t0 = time.monotonic()
        rep = ooc_ppa(GeneratedCore(out), p["device"], target_mhz=p["target_mhz"], ops_per_cycle=ops,
                      params=cfg["parameters"], name=f"xnorgen_core_{p['rows']}x{p['cols']}")
        secs = time.monotonic() - t0
    core = rep.core or rep.total
    return {"family": family, "device": p["device"], "rows": p["rows"], "cols": p["cols"], "k": p["k"],
            "max_fanin": max_fanin, "weight_hop": weight_hop, "popcount": popcount,
            "lut4_equiv": core["lut4_equiv"], "carry": core["carry"], "ff": core["ff"], "ebr": core["ebr"],
            "fmax_mhz": rep.core_fmax_mhz, "target_mhz": p["target_mhz"], "ops_per_cycle": ops,
            "ops_per_cycle_per_lut": rep.ops_per_cycle_per_lut, "fits": rep.fits, "flow_s": round(secs, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=sorted(POINTS))
    ap.add_argument("--k", type=int, help="override K of the point(s)")
    ap.add_argument("--popcount", default="pair")
    ap.add_argument("--max-fanin", type=int, default=1024)
    ap.add_argument("--weight-hop", type=int, default=4)
    args = ap.parse_args(argv)
    print("| device | R x C | K | popcount | LUT4 | FF | Fmax MHz (target) | ops/cycle/LUT | fits | flow s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for fam in ([args.only] if args.only else ["ice40", "ecp5"]):
        r = run_point(fam, args.k, args.popcount, args.max_fanin, args.weight_hop)
        fmax = "n/a" if r["fmax_mhz"] is None else f"{r['fmax_mhz']:.1f}"
        opl = "n/a" if r["ops_per_cycle_per_lut"] is None else f"{r['ops_per_cycle_per_lut']:.3f}"
        print(f"| {r['device']} | {r['rows']}x{r['cols']} | {r['k']} | {r['popcount']} | {r['lut4_equiv']} | "
              f"{r['ff']} | {fmax} ({r['target_mhz']:g}) | {opl} | {r['fits']} | {r['flow_s']} |", flush=True)
        print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
