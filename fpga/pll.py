"""PLL settings (computed like icepll / ecppll) and the PLL block that makes the core clock.

Why compute here: the build takes the target frequency from the command line, so the divider search has
to run in Python; the achieved (not the requested) frequency becomes the nextpnr clock constraint.
"""


from dataclasses import dataclass

from amaranth import Module, Signal
from amaranth.hdl import Instance
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

__all__ = ["Pll", "PllSettings", "ecp5_pll", "ice40_pll"]


@dataclass(frozen=True)
class PllSettings:
    family: str
    fin_mhz: float
    fout_mhz: float      # achieved output frequency
    fvco_mhz: float
    params: dict         # divider values, named as in the primitive


def ice40_pll(fin_mhz: float, fout_mhz: float) -> PllSettings:
    """SB_PLL40 dividers, SIMPLE feedback (iCE40 sysCLOCK guide limits, as icepll uses)."""
    if not 10 <= fin_mhz <= 133:
        raise ValueError(f"iCE40 PLL input {fin_mhz} MHz outside 10..133 MHz")
    if not 16 <= fout_mhz <= 275:
        raise ValueError(f"iCE40 PLL output {fout_mhz} MHz outside 16..275 MHz")
    best = None
    for divr in range(16):
        fpfd = fin_mhz / (divr + 1)
        if not 10 <= fpfd <= 133:
            continue
        for divf in range(128):
            fvco = fpfd * (divf + 1)
            if not 533 <= fvco <= 1066:
                continue
            for divq in range(1, 7):
                fout = fvco / (1 << divq)
                key = (abs(fout - fout_mhz), divr)
                if best is None or key < best[0]:
                    best = (key, divr, divf, divq, fpfd, fvco, fout)
    if best is None:
        raise ValueError(f"no iCE40 PLL setting for {fin_mhz} -> {fout_mhz} MHz")
    _, divr, divf, divq, fpfd, fvco, fout = best
    filter_range = next(i for i, lim in enumerate((17, 26, 44, 66, 101, 1e9), start=1) if fpfd < lim)
    return PllSettings("ice40", fin_mhz, fout, fvco,
                       {"DIVR": divr, "DIVF": divf, "DIVQ": divq, "FILTER_RANGE": filter_range})


def ecp5_pll(fin_mhz: float, fout_mhz: float) -> PllSettings:
    """EHXPLLL dividers with CLKOP feedback (ECP5 sysCLOCK limits, as ecppll uses)."""
    if not 8 <= fin_mhz <= 400:
        raise ValueError(f"ECP5 PLL input {fin_mhz} MHz outside 8..400 MHz")
    if not 3.125 <= fout_mhz <= 400:
        raise ValueError(f"ECP5 PLL output {fout_mhz} MHz outside 3.125..400 MHz")
    best = None
    for clki_div in range(1, 129):
        fpfd = fin_mhz / clki_div
        if not 3.125 <= fpfd <= 400:
            continue
        for clkfb_div in range(1, 81):
            fout = fpfd * clkfb_div
            if fout > 400:
                break
            for clkop_div in range(1, 129):
                fvco = fout * clkop_div
                if fvco > 800:
                    break
                if fvco < 400:
                    continue
                key = (abs(fout - fout_mhz), abs(fvco - 600))
                if best is None or key < best[0]:
                    best = (key, clki_div, clkfb_div, clkop_div, fvco, fout)
    if best is None:
        raise ValueError(f"no ECP5 PLL setting for {fin_mhz} -> {fout_mhz} MHz")
    _, clki_div, clkfb_div, clkop_div, fvco, fout = best
    return PllSettings("ecp5", fin_mhz, fout, fvco,
                       {"CLKI_DIV": clki_div, "CLKFB_DIV": clkfb_div, "CLKOP_DIV": clkop_div,
                        "CLKOP_CPHASE": clkop_div - 1})


class Pll(wiring.Component):
    """Board clock pin -> PLL -> `clk` (settings.fout_mhz) and `locked`.

    `clk_pin` is the board clock: on iCE40 the raw pad (request(..., dir="-")), because SB_PLL40_PAD
    must sit on the pad itself; on ECP5 the buffered input signal.
    """

    clk: Out(1)
    locked: Out(1)

    def __init__(self, settings: PllSettings, clk_pin):
        self.settings = settings
        self.clk_pin = clk_pin
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        s = self.settings
        p = s.params
        if s.family == "ice40":
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE", p_PLLOUT_SELECT="GENCLK",
                p_DIVR=p["DIVR"], p_DIVF=p["DIVF"], p_DIVQ=p["DIVQ"], p_FILTER_RANGE=p["FILTER_RANGE"],
                i_PACKAGEPIN=self.clk_pin, i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=self.clk, o_LOCK=self.locked)
        else:
            fb = Signal()
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=f"{s.fin_mhz:g}", a_FREQUENCY_PIN_CLKOP=f"{s.fout_mhz:.6g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED",
                p_CLKI_DIV=p["CLKI_DIV"], p_CLKOP_DIV=p["CLKOP_DIV"], p_CLKOP_CPHASE=p["CLKOP_CPHASE"],
                p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=p["CLKFB_DIV"],
                i_RST=0, i_STDBY=0, i_CLKI=self.clk_pin, i_CLKFB=fb, i_PHASESEL0=0, i_PHASESEL1=0,
                i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0,
                o_CLKOP=fb, o_LOCK=self.locked)
            m.d.comb += self.clk.eq(fb)
        return m
