"""GeneratedCore: the Verilog that `python -m gen` wrote, as an Amaranth Component (ports from config.json).

Why: FPGA builds and PPA runs must place exactly the generated file; this wraps it with an Instance
and adds the file to the platform, with one plain In/Out member per Verilog port (clk/rst excepted).
"""

from __future__ import annotations

import json
from pathlib import Path

from amaranth.hdl import ClockSignal, Instance, Module, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["GeneratedCore"]


class GeneratedCore(wiring.Component):
    def __init__(self, out_dir):
        out_dir = Path(out_dir)
        self.config = json.loads((out_dir / "config.json").read_text())
        self.verilog_path = out_dir / self.config["verilog"]
        self.ops_per_cycle = self.config["derived"]["binary_ops_per_cycle"]
        self._ports = [p for p in self.config["ports"] if p["name"] not in ("clk", "rst")]
        super().__init__({p["name"]: (In if p["direction"] == "input" else Out)(p["width"]) for p in self._ports})

    def elaborate(self, platform):
        m = Module()
        if platform is not None:
            platform.add_file(self.verilog_path.name, self.verilog_path.read_text())
        kw = {("i_" if p["direction"] == "input" else "o_") + p["name"]: getattr(self, p["name"]) for p in self._ports}
        m.submodules.core = Instance(self.config["top"], i_clk=ClockSignal(), i_rst=ResetSignal(), **kw)
        return m
