"""`python -m fpga.build`: a bitstream and its report for one board and array size.

The top level is PLL + UART bridge (fpga/bridge.py) + core, so every array input is loadable from the
host and every result goes back over the UART: nothing can be optimised away. The report
(report.json, report.md) sits next to the bitstream in the output directory, which appears only when
the whole build succeeded (built in a temp dir beside it, then renamed).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from golden.cli import ArgParser
from hdl.config import POPCOUNT_STYLES

from .bridge import UartBridge
from .cores import CORE_KINDS, make_core
from .devices import BOARDS
from .floorplan import AUTO_MAX_TILES_PER_PE, Floorplan, auto_floorplan
from .flow import FlowError, FlowOptions, run_flow
from .report import PpaReport
from .top import CORE_MODULE, BoardTop, board_pll

__all__ = ["DefaultsHelp", "build_board", "main", "parse_margins"]

LIMITS = {"rows": (1, 64), "cols": (1, 64), "k": (1, 256)}
MAX_SEEDS = 16  # --seeds: nextpnr runs one build may make


class DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults, except the None / empty ones (those say their default in the text)."""

    def _get_help_string(self, action):
        if action.default in (None, [], False):
            return action.help
        return super()._get_help_string(action)


def build_board(board_name: str, rows: int, cols: int, k: int, *, out_dir: str | Path, mhz: float | None = None,
                baud: int = 115200, seed: int = 1, seeds: int | None = None, core_kind: str = "xnorcore",
                pack: bool = True,
                nextpnr_opts: tuple[str, ...] | None = None, core_cfg: dict | None = None,
                popcount: str | None = None, floorplan: str = "auto",
                margins: tuple[int, int, int, int] = (0, 0, 0, 0)) -> PpaReport:
    """Build and write the report; raises ValueError on bad parameters (before anything is written).

    The board's defaults (fpga/devices.py: its measured best build) fill in: popcount None is the
    board's PE, and `core_cfg` fields go over the board's core fields (XnorCore only).

    floorplan "auto" pins the PE carry chains (fpga/floorplan.py) for ccu2 cores on ECP5 whose grid fills
    the device (at most AUTO_MAX_TILES_PER_PE logic tiles per PE), "on" insists
    (an error where there are none), "off" leaves all placement to nextpnr."""
    board = BOARDS[board_name]
    seeds = board.default_seeds if seeds is None else seeds
    if not 1 <= seeds <= MAX_SEEDS:
        raise ValueError(f"--seeds {seeds} out of range 1..{MAX_SEEDS}")
    for name, value in (("rows", rows), ("cols", cols), ("k", k)):
        lo, hi = LIMITS[name]
        if not lo <= value <= hi:
            raise ValueError(f"--{name} {value} out of range {lo}..{hi}")
    target = board.default_mhz if mhz is None else mhz
    popcount = board.default_popcount if popcount is None else popcount
    if core_kind == "xnorcore":  # (the naive core takes no fields)
        core_cfg = {**dict(board.default_cfg), **(core_cfg or {})}
    choice = make_core(core_kind, rows, cols, k, core_cfg, popcount, board.family)
    if baud <= 0:
        raise ValueError(f"--baud {baud} must be positive")
    pll = board_pll(board, target)             # validates the PLL range before anything is written
    divisor = round(pll.fout_mhz * 1e6 / baud)
    if divisor < 4:
        raise ValueError(f"--baud {baud} too fast for a {pll.fout_mhz:.1f} MHz clock")
    top = BoardTop(board, UartBridge(choice.core, divisor), pll)
    actual_baud = top.pll_settings.fout_mhz * 1e6 / divisor
    s = top.pll_settings
    notes = [f"PLL {s.fin_mhz:g} MHz -> {s.fout_mhz:.3f} MHz (VCO {s.fvco_mhz:.1f} MHz, {s.params})",
             f"core: {choice.name}"]
    if floorplan not in ("auto", "on", "off"):
        raise ValueError(f"--floorplan must be auto, on or off, not {floorplan!r}")
    chains = board.family == "ecp5" and popcount == "ccu2" and choice.name == "XnorCore"
    if floorplan == "on" and not chains:
        raise ValueError("--floorplan on needs a ccu2 XnorCore on an ECP5 board (its PE carry chains are pinned)")
    platform = board.make_platform()
    pin = floorplan == "on" or (floorplan == "auto" and chains and auto_floorplan(platform.device, rows, cols, margins))
    plan = Floorplan(rows, cols, tuple(margins)) if pin else None
    opts = FlowOptions(nextpnr_opts=board.nextpnr_opts if nextpnr_opts is None else nextpnr_opts, seed=seed,
                       seeds=seeds, pack=pack, extra_notes=notes, floorplan=plan)

    out_dir = check_out_dir(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        rep = run_flow(platform, top, tmp, family=board.family, design=choice.name,
                       device=f"{board.device} ({board.name})", params=choice.params, target_mhz=target,
                       ops_per_cycle=choice.ops_per_cycle, core_module=CORE_MODULE, options=opts,
                       host_interface=f"UART bridge on the board's UART pins, {actual_baud:.0f} baud 8N1, "
                                      "framed protocol (fpga/bridge.py, fpga/host.py)")
        if rep.bitstream:
            rep.bitstream = str(out_dir / Path(rep.bitstream).name)
        rep.write(tmp)
        _replace_dir(tmp, out_dir)
        shutil.rmtree(out_dir.with_name(out_dir.name + ".failed"), ignore_errors=True)  # (an older failure's logs)
    except FlowError as e:  # keep the logs the message names: in <out>.failed, not a deleted temp dir
        failed = out_dir.with_name(out_dir.name + ".failed")
        shutil.rmtree(failed, ignore_errors=True)
        tmp.rename(failed)
        raise FlowError(str(e).replace(str(tmp), str(failed))) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return rep


def check_out_dir(out_dir: str | Path) -> Path:
    """--out as a Path; ValueError before any build if replacing it could lose anything.

    Why: a build replaces its output directory whole, so --out must be absent, empty or an earlier
    build's output (it holds report.json); `.`, a checkout or a directory of other files is refused."""
    out = Path(out_dir)
    if not str(out_dir):
        raise ValueError("--out is empty")
    full = out.resolve()
    for d in (full, *full.parents):
        if d.exists() and not d.is_dir():
            raise ValueError(f"--out {out_dir}: {d} is not a directory")
    if full == Path.cwd().resolve() or full in Path.cwd().resolve().parents:
        raise ValueError(f"--out {out_dir}: is the working directory or holds it; a build replaces its --out")
    if full.is_dir() and any(full.iterdir()) and not (full / "report.json").is_file():
        raise ValueError(f"--out {out_dir}: not empty and not an earlier build's output (no report.json); "
                         f"a build replaces its --out")
    return out


def _replace_dir(new: Path, out: Path) -> None:
    """Put `new` at `out`; the old `out` steps aside first and comes back if the rename fails."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        out.rename(old / "d")
    try:
        new.rename(out)
    except BaseException:
        if old is not None:
            (old / "d").rename(out)
            old.rmdir()
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def parse_margins(text: str) -> tuple[int, int, int, int]:
    """W,N,E,S tile counts (argparse type: a bad value is a one-line error)."""
    parts = text.split(",")
    if len(parts) != 4 or not all(v.strip().isdigit() for v in parts):
        raise argparse.ArgumentTypeError(f"expected four tile counts W,N,E,S, not {text!r}")
    return tuple(int(v) for v in parts)


def main(argv=None) -> int:
    p = ArgParser(prog="python -m fpga.build", description=__doc__.splitlines()[0],
                formatter_class=DefaultsHelp)
    p.add_argument("--board", choices=sorted(BOARDS), default="icebreaker", help="target board")
    def per_board(attr):
        return "default per board: " + ", ".join(f"{n} {getattr(b, attr):g}" for n, b in sorted(BOARDS.items()))

    p.add_argument("--rows", type=int, default=None, help=f"PE rows R 1..64 ({per_board('default_rows')})")
    p.add_argument("--cols", type=int, default=None, help=f"PE columns C 1..64 ({per_board('default_cols')})")
    p.add_argument("--k", type=int, default=None, help=f"bits per word K 1..256 ({per_board('default_k')})")
    p.add_argument("--mhz", type=float, default=None, help=f"core clock target, MHz ({per_board('default_mhz')})")
    p.add_argument("--baud", type=int, default=115200, help="UART baud rate")
    p.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    p.add_argument("--seeds", type=int, default=None,
                   help=f"nextpnr runs at most: seeds SEED, SEED+1, ... until one meets timing, else the fastest "
                        f"is kept, 1..{MAX_SEEDS} ({per_board('default_seeds')})")
    p.add_argument("--core", choices=CORE_KINDS, default="xnorcore",
                   help="xnorcore = hdl.core.XnorCore; naive = the baseline array (fpga/naive.py)")
    p.add_argument("--popcount", choices=POPCOUNT_STYLES, default=None,
                   help="PE popcount structure (ccu2: ECP5 carry cells) (default per board: " + ", ".join(
                       f"{n} {b.default_popcount}" for n, b in sorted(BOARDS.items())) + ")")
    p.add_argument("--floorplan", choices=("auto", "on", "off"), default="auto",
                   help="pin each PE's carry chains to its block of the fabric (auto: ccu2 cores on ECP5 at most "
                        f"{AUTO_MAX_TILES_PER_PE} logic tiles per PE, e.g. 32x32 on the 85F)")
    p.add_argument("--margins", type=parse_margins, default="0,0,0,0", metavar="W,N,E,S",
                   help="with the floorplan: tiles left to the placer at the west, north, east and south edges")
    p.add_argument("--cfg", action="append", default=[], metavar="NAME=VALUE",
                   help="further hdl.config.AccelConfig field, e.g. --cfg weight_hop=4 (repeatable; over the "
                        "board's defaults: " + "; ".join(f"{n} " + (" ".join(f"{k}={v}" for k, v in b.default_cfg)
                                                                    or "none") for n, b in sorted(BOARDS.items()))
                        + ")")
    p.add_argument("--strict", action="store_true", help="exit 1 when timing or fit is not met")
    p.add_argument("--out", default=None, help="output directory (default: build/<board>_<R>x<C>_k<K>)")
    a = p.parse_args(argv)
    b = BOARDS[a.board]
    rows = b.default_rows if a.rows is None else a.rows
    cols = b.default_cols if a.cols is None else a.cols
    k = b.default_k if a.k is None else a.k
    out = Path(a.out or f"build/{a.board}_{rows}x{cols}_k{k}")
    core_cfg = {}
    for item in a.cfg:
        name, eq, value = item.partition("=")
        if not eq or not value.lstrip("-").isdigit():
            p.error(f"--cfg {item!r}: expected NAME=INTEGER")
        core_cfg[name] = int(value)
    try:
        rep = build_board(a.board, rows, cols, k, out_dir=out, mhz=a.mhz, baud=a.baud, seed=a.seed,
                          seeds=a.seeds, core_kind=a.core, core_cfg=core_cfg, popcount=a.popcount, floorplan=a.floorplan,
                          margins=a.margins)
    except (ValueError, TypeError) as e:    # TypeError: an unknown AccelConfig field
        p.error(str(e))
    except FlowError as e:
        print(f"fpga.build: {e}", file=sys.stderr)
        return 1
    print(rep.to_markdown())
    print(f"bitstream: {rep.bitstream}\nreport: {out / 'report.json'} {out / 'report.md'}")
    if not rep.passed:
        worst = min(rep.fmax.values(), key=lambda v: v["achieved"] - v["constraint"], default=None)
        why = "does not fit" if not rep.fits else (
            f"Fmax {worst['achieved']:.1f} MHz < target {worst['constraint']:.1f} MHz" if worst else "no clock")
        print(f"fpga.build: WARNING: timing/fit NOT met ({why}); the bitstream may not work at this clock",
              file=sys.stderr)
        return 1 if a.strict else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
