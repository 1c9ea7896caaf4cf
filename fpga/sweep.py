"""`python -m fpga.sweep`: build a grid of (device, R, C, K) points, one CSV and PNG plots.

Every point is a full board build (PLL + UART bridge + core, place and route, no bitstream packing)
with the board's default PE popcount and core configuration (fpga/devices.py, the measured best),
run through a `concurrent.futures.Executor`: `run_sweep(points, executor)` takes any executor, so a
cluster executor (e.g. dask.distributed / submitit) can replace the local process pool unchanged.
A point that fails (does not fit, tool error) becomes a CSV row with its error, not a crash.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import io
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from golden.cli import ArgParser

from .build import LIMITS, DefaultsHelp
from .cores import CORE_KINDS
from .devices import BOARDS, DEVICE_BOARD
from .flow import warm_tools
from .report import write_atomic

__all__ = ["DEFAULT_GRID", "Point", "main", "plot", "run_point", "run_sweep", "write_csv"]


@dataclass(frozen=True)
class Point:
    device: str
    rows: int
    cols: int
    k: int
    mhz: float | None = None     # None: the board's default target


# 2 workers finish it in about the time given in the README (sweep section); the 85F's 32x32 dominates.
DEFAULT_GRID = (
    [Point("ice40-up5k", n, n, 8) for n in (2, 4, 6, 8)]
    + [Point("ecp5-25f", n, n, 8) for n in (4, 8)]
    + [Point("ecp5-85f", n, n, 15) for n in (8, 16, 32)]
)


def run_point(p: Point, core_kind: str = "xnorcore", seed: int = 1) -> dict:
    """One build in a temp dir -> one flat CSV row (picklable, so it runs in any executor)."""
    from .build import build_board
    from .flow import FlowError

    board = DEVICE_BOARD[p.device]
    t0 = time.monotonic()
    row = {"device": p.device, "board": board, "rows": p.rows, "cols": p.cols, "k": p.k, "pes": p.rows * p.cols,
           "popcount": BOARDS[board].default_popcount, "error": ""}
    try:
        with tempfile.TemporaryDirectory(prefix="xnorgen_sweep_") as tmp:
            rep = build_board(board, p.rows, p.cols, p.k, out_dir=Path(tmp) / "b", mhz=p.mhz, seed=seed,
                              core_kind=core_kind, pack=False)
        row.update(rep.flat_row())
        row["device"] = p.device
        row["utilization"] = json.dumps(rep.utilization, sort_keys=True)
    except (FlowError, ValueError) as e:
        row["error"] = str(e)[:300]
    row["wall_s"] = round(time.monotonic() - t0, 1)
    return row


def run_sweep(points, executor: cf.Executor, core_kind: str = "xnorcore", progress=print) -> list[dict]:
    # largest first, so the longest build does not start last and run alone
    futs = {executor.submit(run_point, p, core_kind): p for p in sorted(points, key=lambda p: -p.rows * p.cols * p.k)}
    rows = []
    for f in cf.as_completed(futs):
        row = f.result()
        rows.append(row)
        p = futs[f]
        status = row["error"] or (f"core LUT4 {row.get('core_lut4_equiv')}, Fmax {row.get('fmax_mhz') or 0:.1f} MHz, "
                                  f"{'PASS' if row.get('passed') else 'FAIL'}")
        progress(f"[{len(rows)}/{len(futs)}] {p.device} {p.rows}x{p.cols} k={p.k}: {status} ({row['wall_s']} s)")
    rows.sort(key=lambda r: (r["device"], r["pes"], r["k"]))
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(rows)
    write_atomic(path, buf.getvalue())


def plot(rows: list[dict], path: Path) -> None:
    """LUT4, Fmax, peak GOPS and ops/cycle/LUT against array size (PEs), one line per device."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if not r["error"]]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    panels = [("core_lut4_equiv", "core LUT4 (incl. carry)"), ("fmax_mhz", "Fmax (MHz)"),
              ("peak_gops", "peak binary GOPS at Fmax"), ("ops_per_cycle_per_lut", "binary ops / cycle / LUT4")]
    for ax, (key, label) in zip(axes.flat, panels):
        for dev in sorted({r["device"] for r in ok}):
            pts = sorted((r["pes"], r[key]) for r in ok if r["device"] == dev and r.get(key) not in (None, ""))
            if pts:
                ax.plot([x for x, _ in pts], [float(y) for _, y in pts], marker="o", label=dev)
        if key == "ops_per_cycle_per_lut":
            ax.axhline(1.0, color="k", ls="--", lw=1, label="target 1.0")
        if key == "fmax_mhz":
            for mhz in sorted({BOARDS[DEVICE_BOARD[r["device"]]].default_mhz for r in ok}):
                ax.axhline(mhz, ls=":", lw=1, color="grey")
                ax.annotate(f"target {mhz:g} MHz", (ax.get_xlim()[0], mhz), fontsize=7, color="grey",
                            va="bottom")
        if key in ("core_lut4_equiv", "peak_gops"):
            ax.set_yscale("log")
        ax.set_xlabel("PEs (R x C)")
        ax.set_ylabel(label)
        ax.set_xscale("log", base=2)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # (a sweep where no point built has nothing to label)
            ax.legend(fontsize=8)
    ks = sorted({r["k"] for r in ok})
    fig.suptitle(f"xnorgen array sweep (K = {', '.join(map(str, ks))}; board builds with UART bridge)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def _parse_sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        r, _, c = part.strip().partition("x")
        out.append((int(r), int(c or r)))
    return out


def main(argv=None) -> int:
    p = ArgParser(prog="python -m fpga.sweep", description=__doc__.splitlines()[0], formatter_class=DefaultsHelp)
    p.add_argument("--devices", nargs="+", choices=sorted(DEVICE_BOARD), default=None,
                   help="devices (default: the built-in grid, DEFAULT_GRID)")
    p.add_argument("--sizes", default=None, help="array sizes for --devices (default 2x2,4x4,8x8)")
    p.add_argument("--k", type=int, default=None, help="K for --devices points (default 8)")
    p.add_argument("--workers", type=int, default=2, help="parallel builds")
    p.add_argument("--core", choices=CORE_KINDS, default="xnorcore", help="core to build")
    p.add_argument("--out", default="build/sweep", help="output directory (sweep.csv, sweep.png)")
    a = p.parse_args(argv)
    if a.workers < 1:
        p.error("--workers must be >= 1")
    if not a.devices and (a.sizes is not None or a.k is not None):
        p.error("--sizes and --k need --devices (without it the built-in grid runs)")
    a.sizes = "2x2,4x4,8x8" if a.sizes is None else a.sizes
    try:
        if a.devices:
            sizes = _parse_sizes(a.sizes)
            points = [Point(d, r, c, 8 if a.k is None else a.k) for d in a.devices for r, c in sizes]
        else:
            points = list(DEFAULT_GRID)
    except ValueError:
        p.error(f"bad --sizes {a.sizes!r} (want e.g. 2x2,4x4)")
    for pt in points:  # every point checked before the first build
        for name, value in (("rows", pt.rows), ("cols", pt.cols), ("k", pt.k)):
            lo, hi = LIMITS[name]
            if not lo <= value <= hi:
                flag = "--k" if name == "k" else "--sizes"
                p.error(f"{flag}: {name} {value} out of range {lo}..{hi}")
    out = Path(a.out)
    for d in (out.resolve(), *out.resolve().parents):
        if d.exists() and not d.is_dir():
            p.error(f"--out {a.out}: {d} is not a directory")
    t0 = time.monotonic()
    warm_tools()  # (before the workers run the same tools side by side)
    with cf.ProcessPoolExecutor(max_workers=a.workers) as ex:
        rows = run_sweep(points, ex, a.core)
    write_csv(rows, out / "sweep.csv")
    plot(rows, out / "sweep.png")
    print(f"{len(rows)} points in {time.monotonic() - t0:.0f} s -> {out / 'sweep.csv'}, {out / 'sweep.png'}")
    failed = [r for r in rows if r["error"] and not r["error"].startswith("does not fit")]
    if failed:  # a build that did not run (tool error), not one that missed timing or did not fit (results)
        print(f"fpga.sweep: error: {len(failed)} of {len(rows)} points did not build (their `error` column)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
