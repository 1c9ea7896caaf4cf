"""Board top level: board clock -> PLL -> core clock domain, a shell (UART bridge or OOC harness), the core.

Why one top for both: out-of-context measurements and real bitstreams then share the clocking, reset and
constraints, so an OOC Fmax is the Fmax of the real build's core domain.
"""

from __future__ import annotations

from amaranth import ClockDomain, ClockSignal, Elaboratable, Module
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from .devices import Board
from .pll import Pll, ecp5_pll, ice40_pll

__all__ = ["CORE_MODULE", "BoardTop"]

# RTLIL module name Amaranth gives the core (submodule "shell" of "top", its submodule "core").
CORE_MODULE = "top.shell.core"


class BoardTop(Elaboratable):
    """`shell` is a Component with `rx: In(1)`, `tx: Out(1)` that adds the core as its submodule `core`."""

    def __init__(self, board: Board, shell, target_mhz: float):
        self.board = board
        self.shell = shell
        clk_hz = self._board_clk_hz()
        make = ice40_pll if board.family == "ice40" else ecp5_pll
        self.pll_settings = make(clk_hz / 1e6, target_mhz)

    def _board_clk_hz(self) -> float:
        plat = self.board.make_platform()
        return plat.lookup(plat.default_clk).clock.frequency

    def elaborate(self, platform):
        m = Module()
        if self.board.family == "ice40":
            clk_pin = platform.request(platform.default_clk, dir="-").io
        else:
            m.submodules.clk_buf = clk_buf = io.Buffer("i", platform.request(platform.default_clk, dir="-"))
            clk_pin = clk_buf.i
        m.submodules.pll = pll = Pll(self.pll_settings, clk_pin)
        m.domains.sync = ClockDomain("sync")
        m.d.comb += ClockSignal("sync").eq(pll.clk)
        m.submodules.reset = ResetSynchronizer(~pll.locked, domain="sync")
        platform.add_clock_constraint(pll.clk, self.pll_settings.fout_mhz * 1e6)

        m.submodules.shell = self.shell
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buf = rx_buf = io.FFBuffer("i", uart.rx)
        m.submodules.tx_buf = tx_buf = io.FFBuffer("o", uart.tx)
        m.d.comb += [self.shell.rx.eq(rx_buf.i), tx_buf.o.eq(self.shell.tx)]
        if self.board.name.startswith("ulx3s"):
            # amaranth-boards' ULX3S gates the USB-UART bridge with this pin; keep it enabled
            m.submodules.txen_buf = txen = io.Buffer("o", platform.request("uart_tx_enable", 0, dir="-"))
            m.d.comb += txen.o.eq(1)
        return m
