"""XnorCore: the generated top level (beat / thr / out streams, docs/design.md).

Why a thin wrapper: the array and the threshold unit are tested on their own; the core only
connects them, so its ports are exactly the contract that gen/ writes into config.json.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .array import XnorArray
from .config import AccelConfig
from .layouts import beat_layout, out_layout, thr_layout
from .threshold import ThresholdUnit

__all__ = ["XnorCore"]


class XnorCore(wiring.Component):
    """beat (in) -> PE array -> threshold unit -> out; thr (in) writes the threshold memory."""

    def __init__(self, cfg: AccelConfig, style: str = "pair", pe_mode: str = "inline", cells: str = "generic"):
        """cells: "ecp5" makes the ccu2 PE out of CCU2C primitives (synthesis for ECP5 only)."""
        self.cfg, self.style, self.pe_mode, self.cells = cfg, style, pe_mode, cells
        super().__init__({
            "beat": In(stream.Signature(beat_layout(cfg))),
            "thr": In(stream.Signature(thr_layout(cfg))),
            "out": Out(stream.Signature(out_layout(cfg))),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.array = array = XnorArray(self.cfg, self.style, self.pe_mode, self.cells)
        m.submodules.threshold = tu = ThresholdUnit(self.cfg, self.style, self.cells)
        wiring.connect(m, wiring.flipped(self.beat), array.beat)
        wiring.connect(m, wiring.flipped(self.thr), tu.thr)
        wiring.connect(m, array.drain, tu.inp)
        wiring.connect(m, tu.out, wiring.flipped(self.out))
        return m
