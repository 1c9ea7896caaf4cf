"""Out-of-context PPA: synthesize, place and route one design on a device and return its PpaReport.

Usage (e.g. from bench/):

    from fpga.ooc import ooc_ppa
    rep = ooc_ppa(XnorCore(cfg), "ecp5-85f", target_mhz=150, ops_per_cycle=2 * R * C * K)
    rep.core["lut4_equiv"], rep.core_fmax_mhz, rep.ops_per_cycle_per_lut, rep.times_s

`design` is an Amaranth `wiring.Component` (its signature gives the ports) or a Verilog / RTLIL file
(`top_module` names its top; ports are read back with Yosys). The design is wrapped in the OOC harness
(fpga/harness.py: serial chain in, pipelined XOR fold out, on the board's UART pins) behind the same
PLL the board builds use, so the core clock is constrained to `target_mhz`. Runs in a temp dir (kept
when `build_dir` is given); the first call of each YoWASP tool JIT-compiles it (about a minute).
Devices: ice40-up5k, ecp5-25f, ecp5-85f.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from amaranth import Module
from amaranth.hdl import Instance
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .devices import board_for_device
from .floorplan import Floorplan
from .flow import FlowError, FlowOptions, run_flow, tool
from .harness import OocHarness
from .report import PpaReport
from .top import CORE_MODULE, BoardTop, board_pll

__all__ = ["FileCore", "ooc_ppa"]


class FileCore(wiring.Component):
    """A Verilog/RTLIL module as a Component: one plain In/Out member per port (read back with Yosys)."""

    def __init__(self, path: str | os.PathLike, top_module: str):
        self.path, self.top_module = Path(path), top_module
        self.source = self.path.read_text()
        ports = _yosys_ports(self.path, top_module)
        self._ports = ports
        members = {}
        for name, (direction, width) in ports.items():
            if direction == "inout":
                raise ValueError(f"{path}: inout port {name!r} is not supported out of context")
            members[_member_name(name)] = (In if direction == "input" else Out)(width)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        if platform is not None:
            platform.add_file(self.path.name, self.source)
        kw = {}
        for name, (direction, _w) in self._ports.items():
            kw[("i_" if direction == "input" else "o_") + name] = getattr(self, _member_name(name))
        # named `core_inst` so that the kept hierarchy level is the file's own module
        m.submodules.core_inst = Instance(self.top_module, **kw)
        return m


def _member_name(port: str) -> str:
    return "p_" + "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in port)


def _yosys_ports(path: Path, top: str) -> dict[str, tuple[str, int]]:
    """{port: (direction, width)} of module `top` in a Verilog/RTLIL file."""
    reader = "read_rtlil" if path.suffix == ".il" else ("read_verilog -sv" if path.suffix == ".sv" else
                                                         "read_verilog")
    with tempfile.TemporaryDirectory(prefix="xnorgen_ports_") as tmp:
        tmp = Path(tmp)
        (tmp / path.name).write_text(path.read_text())
        script = f"{reader} {path.name}; hierarchy -top {top}; proc; write_json -compat-int ports.json"
        r = subprocess.run([tool("YOSYS"), "-q", "-p", script], check=False, cwd=tmp, capture_output=True,
                           text=True)
        if r.returncode != 0:
            raise FlowError(f"yosys could not read {path} (top {top}): {r.stderr.strip()[-300:]}")
        mod = json.loads((tmp / "ports.json").read_text())["modules"][top]
    return {n: (p["direction"], len(p["bits"])) for n, p in mod["ports"].items()}


def ooc_ppa(design, device: str, *, target_mhz: float | None = None, top_module: str | None = None,
            ops_per_cycle: int = 0, params: dict | None = None, name: str | None = None,
            build_dir: str | os.PathLike | None = None, nextpnr_opts: tuple[str, ...] | None = None,
            seed: int = 1, pack: bool = False, timeout_s: float = 3600.0,
            floorplan: Floorplan | None = None) -> PpaReport:
    """Place and route `design` on `device` out of context and return its report (see module doc)."""
    board = board_for_device(device)
    target = board.default_mhz if target_mhz is None else float(target_mhz)
    if isinstance(design, (str, os.PathLike)):
        if top_module is None:
            raise ValueError("top_module is required for a Verilog/RTLIL file")
        core = FileCore(design, top_module)
        core_module = top_module
        name = name or top_module
    elif isinstance(design, wiring.Component):
        core = design
        core_module = CORE_MODULE
        name = name or type(design).__name__
    else:
        raise TypeError(f"design must be a wiring.Component or a file path, not {type(design).__name__}")
    if not ops_per_cycle and hasattr(core, "ops_per_cycle"):
        ops_per_cycle = int(core.ops_per_cycle)

    top = BoardTop(board, OocHarness(core), board_pll(board, target))
    opts = FlowOptions(nextpnr_opts=board.nextpnr_opts if nextpnr_opts is None else tuple(nextpnr_opts),
                       seed=seed, pack=pack, timeout_s=timeout_s, floorplan=floorplan,
                       extra_notes=[(f"out of context on {board.name} pins; PLL {top.pll_settings.fin_mhz:g} "
                                     f"-> {top.pll_settings.fout_mhz:.3f} MHz")])
    run = lambda d: run_flow(board.make_platform(), top, d, family=board.family, design=name,
                             device=device, params=params or {}, target_mhz=target,
                             ops_per_cycle=ops_per_cycle, core_module=core_module, options=opts,
                             host_interface="none (out-of-context harness: serial chain in, XOR fold out)")
    if build_dir is not None:
        return run(Path(build_dir))
    with tempfile.TemporaryDirectory(prefix="xnorgen_ooc_") as tmp:
        return run(Path(tmp))
