"""Which accelerator core a build uses: hdl.core.XnorCore (the default) or the naive baseline (fpga/naive.py).

Why a choice: the naive array is the reference the real core's density is measured against; the report
names the core it measured, so a baseline number is never mistaken for the real core's.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Module
from amaranth.lib import wiring

from .naive import NaiveCore

__all__ = ["CORE_KINDS", "CoreChoice", "make_core"]

CORE_KINDS = ("xnorcore", "naive")


class _GeneratedModulesCore(wiring.Component):
    """XnorCore with its PE and PE-row modules instantiated from the Verilog `python -m gen` writes.

    Why: then a board build places the netlist the benchmarks measure (control hop registers kept
    apart, hdl/kept.py; PE carry chains named as fpga/floorplan.py expects), and a 32x32
    core elaborates in seconds instead of building 1,024 PEs in Amaranth.
    """

    def __init__(self, cfg, style: str):
        from hdl.core import XnorCore, core_signature

        self.cfg, self.style = cfg, style
        self._core = XnorCore(cfg, style, pe_mode="instance", cells="ecp5" if style == "ccu2" else "generic")
        super().__init__(core_signature(cfg))

    def elaborate(self, platform):
        from gen.emit import verilog_text

        m = Module()
        m.submodules.core = core = self._core
        wiring.connect(m, wiring.flipped(self.beat), core.beat)
        wiring.connect(m, wiring.flipped(self.thr), core.thr)
        wiring.connect(m, core.out, wiring.flipped(self.out))
        if platform is not None:
            platform.add_file("xnorgen_modules.v", verilog_text(self.cfg, self.style, jobs=1, parts=("pe", "row")))
        return m


@dataclass
class CoreChoice:
    core: object          # a wiring.Component with stream ports
    name: str
    params: dict
    ops_per_cycle: int    # 2 binary ops (XNOR + accumulate) per bit per PE per cycle


def make_core(kind: str, rows: int, cols: int, k: int, extra: dict | None = None, popcount: str = "pair",
              family: str = "ice40") -> CoreChoice:
    """Build the core; raises ValueError with the parameter's name when it is out of range.

    `extra` holds further AccelConfig fields (e.g. weight_hop, max_fanin) for XnorCore; popcount is
    the PE structure (hdl.config.POPCOUNT_STYLES); "ccu2" is made of ECP5 CCU2C primitives."""
    extra = dict(extra or {})
    if popcount == "ccu2" and family != "ecp5":
        raise ValueError(f"--popcount ccu2 needs an ECP5 device (CCU2C carry cells), not {family}")
    if kind not in CORE_KINDS:
        raise ValueError(f"core must be one of {', '.join(CORE_KINDS)}, not {kind!r}")
    ops = 2 * rows * cols * k
    if kind == "xnorcore":
        from hdl.config import POPCOUNT_STYLES, AccelConfig
        if popcount not in POPCOUNT_STYLES:
            raise ValueError(f"popcount must be one of {', '.join(POPCOUNT_STYLES)}, not {popcount!r}")
        cfg = AccelConfig(rows=rows, cols=cols, k=k, **extra)
        params = {"rows": rows, "cols": cols, "k": k}
        for name in ("max_fanin", "weight_rows", "weight_hop", "act_hop", "n_thresholds", "channels", *extra):
            if hasattr(cfg, name):
                params[name] = getattr(cfg, name)
        params["popcount"] = popcount
        return CoreChoice(_GeneratedModulesCore(cfg, popcount), "XnorCore", params, ops)
    if extra:
        raise ValueError(f"--cfg {', '.join(extra)}: the naive core takes only rows, cols, k")
    return CoreChoice(NaiveCore(rows, cols, k), "NaiveCore", {"rows": rows, "cols": cols, "k": k},
                      ops)
