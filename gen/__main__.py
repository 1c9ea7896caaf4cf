"""`python -m gen`: write xnorgen_core.v, config.json and xnorgen_core.h for one configuration.

Why so thin: every parameter check lives in hdl.config.AccelConfig; this only parses, reports a
bad value or an unwritable --out as one `error:` line (exit 2) and replaces the files all or none.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

from golden.cli import EXIT_USAGE, ArgParser
from hdl.config import PARAM_RANGES, POPCOUNT_STYLES, AccelConfig, ConfigError


def _int_or_raw(text: str):
    """Integers in decimal; anything else is handed to AccelConfig as is, which names the range."""
    try:
        return int(text, 10)
    except ValueError:
        return text


def parser() -> argparse.ArgumentParser:
    ap = ArgParser(prog="python -m gen", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    defaults = AccelConfig()
    for name, (lo, hi, meaning) in PARAM_RANGES.items():
        # channels follows cols: no default value to show (SUPPRESS: absent from args, None below)
        default = getattr(defaults, name) if name != "channels" else argparse.SUPPRESS
        ap.add_argument(f"--{name.replace('_', '-')}", dest=name, type=_int_or_raw, default=default,
                        metavar="N", help=f"{meaning}; range {lo}..{hi}".replace("%", "%%")
                        + (" (default: cols)" if name == "channels" else ""))
    ap.add_argument("--popcount", choices=POPCOUNT_STYLES, default="pair", help="PE popcount structure")
    ap.add_argument("--out", default="build/core", help="output directory")
    ap.add_argument("--jobs", type=int, default=2, choices=(1, 2), help="parallel Amaranth conversions")
    return ap


class OutError(Exception):
    """--out cannot take the files (one line: the path and the reason)."""


def _reason(e: OSError) -> str:
    return f"{e.strerror or e}" + (f" ({e.filename})" if e.filename else "")


def plan_out(out_dir: str, names) -> tuple[str, list[str]]:
    """(absolute out_dir, the directories still to make, innermost first); OutError if a name or a
    parent is in the way. Checked before generating too, so a bad --out fails in milliseconds."""
    if not out_dir:
        raise OutError("--out is empty")
    out = os.path.abspath(out_dir)
    missing = []
    d = out
    while not os.path.isdir(d):
        if os.path.lexists(d):
            raise OutError(f"--out {out_dir}: {d} is not a directory")
        missing.append(d)
        d = os.path.dirname(d)
    for name in names:
        path = os.path.join(out, name)
        if os.path.lexists(path) and not os.path.isfile(path):
            raise OutError(f"--out {out_dir}: {name} exists and is not a regular file")
    return out, missing


def write_atomically(out_dir: str, files: dict[str, str], owned: tuple[str, ...] = ()) -> None:
    """Replace out_dir's generated files all or none; raises OutError and leaves out_dir as it was.

    Why the temp dir is inside out_dir: os.replace needs one filesystem (out_dir may be a mount
    point) and out_dir's parent need not be writable. Old files step aside into the temp dir and
    come back if any replace fails. A name in `owned` that this run does not write (the CCU2C model
    after a ccu2 run) is removed with the rest, so config.json never sits beside a stale file."""
    out, missing = plan_out(out_dir, (*files, *owned))
    tmp = None
    try:
        for m in reversed(missing):
            os.mkdir(m)
        tmp = tempfile.mkdtemp(prefix=".xnorgen-", dir=out)
        for name, text in files.items():
            with open(os.path.join(tmp, name), "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
        aside, placed = [], []
        try:
            for name in sorted({*files, *owned}):
                if os.path.lexists(os.path.join(out, name)):
                    os.replace(os.path.join(out, name), os.path.join(tmp, f"{name}.old"))
                    aside.append(name)
            for name in files:
                os.replace(os.path.join(tmp, name), os.path.join(out, name))
                placed.append(name)
        except OSError:
            for name in placed:
                if name not in aside:
                    os.remove(os.path.join(out, name))
            for name in aside:
                os.replace(os.path.join(tmp, f"{name}.old"), os.path.join(out, name))
            raise
    except OSError as e:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp = None
        for m in missing:  # innermost first
            try:
                os.rmdir(m)
            except OSError:
                pass
        raise OutError(f"--out {out_dir}: cannot write: {_reason(e)}") from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    params = {name: getattr(args, name, None) for name in PARAM_RANGES}
    try:
        cfg = AccelConfig(**params)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    from .emit import (  # Amaranth loads only for a valid config
        SIM_CELLS,
        SIM_CELLS_TEXT,
        TOP,
        c_header,
        config_json,
        sim_sources,
        verilog_text,
    )

    owned = (f"{TOP}.v", "config.json", f"{TOP}.h", SIM_CELLS)
    try:
        plan_out(args.out, owned)
    except OutError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE

    files = {
        f"{TOP}.v": verilog_text(cfg, args.popcount, args.jobs),
        "config.json": config_json(cfg, args.popcount),
        f"{TOP}.h": c_header(cfg, args.popcount),
    }
    if SIM_CELLS in sim_sources(args.popcount):
        files[SIM_CELLS] = SIM_CELLS_TEXT
    try:
        write_atomically(args.out, files, owned)
    except OutError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {', '.join(files)} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
