"""Board top level: board clock -> PLL -> core clock domain, a shell (UART bridge or OOC harness), the core.

Why one top for both: out-of-context measurements and real bitstreams then share the clocking, reset and
constraints, so an OOC Fmax is the Fmax of the real build's core domain.
"""

from __future__ import annotations

from amaranth import ClockDomain, ClockSignal, Elaboratable, Module, ResetSignal
from amaranth.hdl import Instance
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from .devices import Board
from .pll import Pll, PllSettings, ecp5_pll, ice40_pll

__all__ = ["CORE_MODULE", "BoardTop", "board_pll"]

# RTLIL module name Amaranth gives the core (submodule "shell" of "top", its submodule "core").
CORE_MODULE = "top.shell.core"


def board_pll(board: Board, target_mhz: float) -> PllSettings:
    """PLL settings from the board's clock to `target_mhz` (ValueError if out of the PLL's range)."""
    plat = board.make_platform()
    fin_mhz = plat.lookup(plat.default_clk).clock.frequency / 1e6
    return (ice40_pll if board.family == "ice40" else ecp5_pll)(fin_mhz, target_mhz)


class BoardTop(Elaboratable):
    """`shell` is a Component with `rx: In(1)`, `tx: Out(1)` that adds the core as its submodule `core`."""

    def __init__(self, board: Board, shell, pll_settings: PllSettings):
        self.board = board
        self.shell = shell
        self.pll_settings = pll_settings

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
        rst_domain = "sync"
        if self.board.family == "ecp5":
            # the synchronized reset reaches every reset flip-flop of the core; on the fabric it was
            # the critical path of a routed 32x32 (14 ns across the chip), so a DCCA puts it on a
            # global network like the clock (nextpnr-ecp5 promotes only clocks by itself)
            rst_domain = "rst_gen"
            m.domains.rst_gen = ClockDomain("rst_gen")
            m.d.comb += ClockSignal("rst_gen").eq(pll.clk)
            m.submodules.reset_gbuf = Instance("DCCA", i_CLKI=ResetSignal("rst_gen"), i_CE=1,
                                               o_CLKO=ResetSignal("sync"))
        m.submodules.reset = ResetSynchronizer(~pll.locked, domain=rst_domain)
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
