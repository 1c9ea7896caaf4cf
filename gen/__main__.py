"""`python -m gen`: write xnorgen_core.v, config.json and xnorgen_core.h for one configuration.

Why so thin: every parameter check lives in hdl.config.AccelConfig; this only parses, reports a
bad value as one `error:` line (exit 2) and writes all files atomically (temp dir + os.replace).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

from hdl.config import PARAM_RANGES, POPCOUNT_STYLES, AccelConfig, ConfigError


def _int_or_raw(text: str):
    """Integers in decimal; anything else is handed to AccelConfig as is, which names the range."""
    try:
        return int(text, 10)
    except ValueError:
        return text


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m gen", description=__doc__.splitlines()[0],
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


def write_atomically(out_dir: str, files: dict[str, str]) -> None:
    """Write every file into a temp dir next to out_dir, then os.replace each into place."""
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".xnorgen-", dir=parent)
    try:
        for name, text in files.items():
            with open(os.path.join(tmp, name), "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
        os.makedirs(out_dir, exist_ok=True)
        for name in files:
            os.replace(os.path.join(tmp, name), os.path.join(out_dir, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    params = {name: getattr(args, name, None) for name in PARAM_RANGES}
    try:
        cfg = AccelConfig(**params)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from .emit import (  # Amaranth loads only for a valid config
        SIM_CELLS,
        SIM_CELLS_TEXT,
        TOP,
        c_header,
        config_json,
        sim_sources,
        verilog_text,
    )

    files = {
        f"{TOP}.v": verilog_text(cfg, args.popcount, args.jobs),
        "config.json": config_json(cfg, args.popcount),
        f"{TOP}.h": c_header(cfg, args.popcount),
    }
    if SIM_CELLS in sim_sources(args.popcount):
        files[SIM_CELLS] = SIM_CELLS_TEXT
    write_atomically(args.out, files)
    print(f"wrote {', '.join(files)} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
