"""PPA report of one FPGA build: parsed from Yosys `stat -json` and the nextpnr `--report` JSON.

Why two sources: nextpnr's utilisation is what decides whether a design fits (physical cells, including
harness and IO), while Yosys' statistics of the core synthesized on its own give
the cost of the accelerator core alone, which is what binary ops per LUT must be measured on.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = [
    "CELL_CLASSES",
    "PpaReport",
    "cell_counts",
    "parse_nextpnr_report",
    "parse_yosys_stat",
    "write_atomic",
]

# Yosys cell type -> report column. LUT4 counts every physical LUT4: an ECP5 CCU2C holds two of them;
# an iCE40 SB_CARRY rides in the logic cell of its SB_LUT4 and has no LUT of its own (nextpnr may still
# add carry-only cells to legalise a chain: they are in the utilisation's logic cells, not in LUT4).
# LUT RAM (ECP5 TRELLIS_DPR16X4) is its own column: a second density figure counts it (LUTRAM_SITES).
CELL_CLASSES: dict[str, dict[str, tuple[str, int]]] = {
    "ecp5": {
        "LUT4": ("lut4", 1), "CCU2C": ("carry", 1), "TRELLIS_FF": ("ff", 1), "DP16KD": ("ebr", 1),
        "PDPW16KD": ("ebr", 1), "TRELLIS_DPR16X4": ("lutram", 1), "MULT18X18D": ("dsp", 1),
        "ALU54B": ("dsp", 1),
    },
    "ice40": {
        "SB_LUT4": ("lut4", 1), "SB_CARRY": ("carry", 1), "SB_RAM40_4K": ("ebr", 1),
        "SB_SPRAM256KA": ("spram", 1), "SB_MAC16": ("dsp", 1),
    },
}


LUTRAM_SITES = 6  # LUT4 sites a DPR16X4 takes once packed: 4 RAM LUTs + 2 of a third slice for the write port


def cell_counts(by_type: dict[str, int], family: str) -> dict[str, int]:
    """Fold Yosys cell types into lut4/carry/ff/ebr/spram/dsp (+ lut4_equiv = LUT4s incl. carry halves)."""
    out = {"lut4": 0, "carry": 0, "ff": 0, "ebr": 0, "spram": 0, "dsp": 0, "lutram": 0}
    for typ, n in by_type.items():
        if family == "ice40" and typ.startswith("SB_DFF"):
            out["ff"] += n
            continue
        cls = CELL_CLASSES[family].get(typ)
        if cls is not None:
            out[cls[0]] += n * cls[1]
    out["lut4_equiv"] = out["lut4"] + (2 * out["carry"] if family == "ecp5" else 0)
    return out


def parse_yosys_stat(path: str | os.PathLike, family: str, core_module: str | None = None
                     ) -> tuple[dict[str, int], dict[str, int] | None]:
    """(whole design, core module or None) cell counts from a `stat -json` file."""
    data = json.loads(Path(path).read_text())
    total = cell_counts(data["design"]["num_cells_by_type"], family)
    core = None
    if core_module is not None:
        modules = data["modules"]
        key = next((k for k in (core_module, "\\" + core_module) if k in modules), None)
        # a core whose outputs reach nothing is removed whole: report it as empty, not as an error
        core = cell_counts({}, family) if key is None else _module_counts(modules, key, family)
    return total, core


def _module_counts(modules: dict, key: str, family: str) -> dict[str, int]:
    """Cell counts of one module including the modules it instantiates (if any were kept)."""
    by_type: dict[str, int] = {}

    def walk(k: str, mult: int) -> None:
        for typ, n in modules[k]["num_cells_by_type"].items():
            sub = next((s for s in (typ, "\\" + typ) if s in modules), None)
            if sub is not None:
                walk(sub, mult * n)
            else:
                by_type[typ] = by_type.get(typ, 0) + mult * n

    walk(key, 1)
    return cell_counts(by_type, family)


def parse_nextpnr_report(path: str | os.PathLike) -> tuple[dict[str, dict[str, int]], dict[str, dict]]:
    """(utilisation {bel type: {used, available}}, fmax {clock net: {achieved, constraint}}) in MHz."""
    data = json.loads(Path(path).read_text())
    util = {k: {"used": int(v["used"]), "available": int(v["available"])}
            for k, v in data.get("utilization", {}).items() if v.get("used", 0) or k in _MAIN_BELS}
    fmax = {k: {"achieved": float(v["achieved"]), "constraint": float(v["constraint"])}
            for k, v in data.get("fmax", {}).items()}
    return util, fmax


_MAIN_BELS = {"TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D", "ICESTORM_LC", "ICESTORM_RAM",
              "ICESTORM_SPRAM", "ICESTORM_DSP"}


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write via temp file + os.replace so a crash never leaves half a report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@dataclass
class PpaReport:
    """Everything one build measured. `core` is the accelerator alone, `total` the whole chip."""

    design: str
    device: str
    family: str
    params: dict
    target_mhz: float
    total: dict[str, int]
    core: dict[str, int] | None
    utilization: dict[str, dict[str, int]]
    fmax: dict[str, dict[str, float]]
    times_s: dict[str, float]
    binary_ops_per_cycle: int = 0
    nextpnr_options: list[str] = field(default_factory=list)
    bitstream: str | None = None
    host_interface: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return all(v["used"] <= v["available"] for v in self.utilization.values())

    @property
    def timing_met(self) -> bool:
        return bool(self.fmax) and all(v["achieved"] >= v["constraint"] for v in self.fmax.values())

    @property
    def passed(self) -> bool:
        return self.fits and self.timing_met

    @property
    def core_fmax_mhz(self) -> float | None:
        """Fmax of the slowest clock domain (the core runs in the only fast domain)."""
        return min((v["achieved"] for v in self.fmax.values()), default=None)

    @property
    def ops_per_cycle_per_lut(self) -> float | None:
        """2 ops per XNOR-accumulated bit, over the core's LUT4s (carry halves included on ECP5)."""
        luts = (self.core or self.total)["lut4_equiv"]
        return self.binary_ops_per_cycle / luts if luts and self.binary_ops_per_cycle else None

    @property
    def ops_per_cycle_per_lut_with_lutram(self) -> float | None:
        """The same, with each LUT RAM cell counted as the LUT4 sites it packs into (LUTRAM_SITES)."""
        c = self.core or self.total
        luts = c["lut4_equiv"] + LUTRAM_SITES * c.get("lutram", 0)
        return self.binary_ops_per_cycle / luts if luts and self.binary_ops_per_cycle else None

    @property
    def peak_gops(self) -> float | None:
        f = self.core_fmax_mhz
        return self.binary_ops_per_cycle * f / 1000 if f and self.binary_ops_per_cycle else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(fits=self.fits, timing_met=self.timing_met, passed=self.passed,
                 fmax_mhz=self.core_fmax_mhz, ops_per_cycle_per_lut=self.ops_per_cycle_per_lut,
                 ops_per_cycle_per_lut_with_lutram=self.ops_per_cycle_per_lut_with_lutram,
                 peak_gops=self.peak_gops)
        return d

    def flat_row(self) -> dict:
        """One CSV row (for the sweep)."""
        row = {"design": self.design, "device": self.device, **{f"p_{k}": v for k, v in self.params.items()},
               "target_mhz": self.target_mhz, "fmax_mhz": self.core_fmax_mhz, "passed": self.passed,
               "fits": self.fits, "timing_met": self.timing_met,
               "ops_per_cycle": self.binary_ops_per_cycle, "ops_per_cycle_per_lut": self.ops_per_cycle_per_lut,
               "ops_per_cycle_per_lut_with_lutram": self.ops_per_cycle_per_lut_with_lutram,
               "peak_gops": self.peak_gops}
        row.update({f"total_{k}": v for k, v in self.total.items()})
        row.update({f"core_{k}": v for k, v in (self.core or {}).items()})
        row.update({f"t_{k}": round(v, 2) for k, v in self.times_s.items()})
        return row

    def to_markdown(self) -> str:
        def fmt(x, nd=2):
            return "-" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))

        p = ", ".join(f"{k}={v}" for k, v in self.params.items())
        lines = [f"### {self.design} on {self.device} ({p})", "",
                 "| | LUT4 (+carry) | carry | LUT RAM | FF | EBR | SPRAM | DSP |", "|---|---|---|---|---|---|---|---|"]
        for name, c in (("core", self.core), ("total", self.total)):
            if c:
                lines.append(f"| {name} | {c['lut4_equiv']} | {c['carry']} | {c.get('lutram', 0)} | {c['ff']} | "
                             f"{c['ebr']} | {c['spram']} | {c['dsp']} |")
        lines += ["", "| bel | used | available |", "|---|---|---|"]
        lines += [f"| {k} | {v['used']} | {v['available']} |" for k, v in sorted(self.utilization.items())]
        lines += ["", "| clock | Fmax MHz | target MHz | met |", "|---|---|---|---|"]
        lines += [f"| `{k}` | {v['achieved']:.1f} | {v['constraint']:.1f} | "
                  f"{'yes' if v['achieved'] >= v['constraint'] else 'NO'} |" for k, v in self.fmax.items()]
        lines += ["", (f"- pass: **{'PASS' if self.passed else 'FAIL'}** (fits: {self.fits}, timing met: "
                       f"{self.timing_met})"),
                  (f"- binary ops/cycle: {self.binary_ops_per_cycle}; ops/cycle/LUT4 (core): "
                   f"{fmt(self.ops_per_cycle_per_lut)} ({fmt(self.ops_per_cycle_per_lut_with_lutram)} with each LUT RAM "
                   f"cell as {LUTRAM_SITES} LUT4); peak binary GOPS at Fmax: {fmt(self.peak_gops, 1)}"),
                  "- tool times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in self.times_s.items())]
        if self.host_interface:
            lines.append(f"- host interface: {self.host_interface}")
        if self.nextpnr_options:
            lines.append(f"- nextpnr options: `{' '.join(self.nextpnr_options)}`")
        lines += [f"- note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def write(self, out_dir: str | os.PathLike, stem: str = "report") -> tuple[Path, Path]:
        out_dir = Path(out_dir)
        j, m = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
        write_atomic(j, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        write_atomic(m, self.to_markdown())
        return j, m
