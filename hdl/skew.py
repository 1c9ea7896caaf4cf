"""Skew delay lines: flip-flops, or RAM ring buffers for the long ones (config.skew_mem).

Why: at 32x32 with hops of 2 the input skew (row r waits r // weight_hop cycles, column c waits
c // act_hop) is ~12-33k flip-flops of K-bit words, more than the ECP5-85F has to spare. A line of
n >= skew_mem cycles becomes a slice of one memory per delay n and group (activation lines, weight
lines), written every cycle at a free-running pointer and registered twice in fabric after its read:
- LUT RAM (skew_lutram = 1; ECP5 TRELLIS_DPR16X4): asynchronous read n - 2 writes back. For ECP5 at
  150 MHz: nextpnr times a DP16KD's output at 5.83 ns clock-to-out whatever its REGMODE.
- block RAM (skew_lutram = 0; iCE40, which has no LUT RAM): synchronous read n - 3 writes back.
Why two registers: the memory sits where its write side (the core's input register) pulls it, and
the line's last register where the PEs it feeds pull it; one register between the two had to span
both (floorplanned 32x32, K=15: a row's read register 9-17 tiles from its PEs, 3-4 ns of routing).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib.memory import Memory

from .config import SKEW_MIN_DELAY

__all__ = ["SkewLines", "delay"]


def delay(m: Module, sig: Value, n: int, name: str, reset_less: bool = True) -> Value:
    """sig registered n times (no enable: the grid never stalls).

    Data registers are reset-less (their valid bit, which does reset, tags them).
    """
    for i in range(n):
        reg = Signal(len(sig), name=f"{name}_d{i + 1}", reset_less=reset_less)
        m.d.sync += reg.eq(sig)
        sig = reg
    return sig


class SkewLines:
    """Collects the free-running, reset-less delay lines of one module; `emit` builds the memories.

    min_mem = 0 keeps every line in flip-flops (and the netlist exactly as without this class).
    """

    def __init__(self, m: Module, min_mem: int, lut: bool = False):
        if min_mem and min_mem < SKEW_MIN_DELAY[lut]:
            raise ValueError(f"min_mem must be 0 or >= {SKEW_MIN_DELAY[lut]}, not {min_mem!r}")
        self.m, self.min_mem, self.lut = m, min_mem, lut
        # (group, delay) -> [(input, output register)]
        self._lines: dict[tuple[str, int], list[tuple[Value, Signal]]] = {}

    def delay(self, sig: Value, n: int, name: str, group: str = "") -> Value:
        """sig n cycles late (a reset-less line, its contents are tagged by a valid bit elsewhere).

        Lines of one delay share a memory only within a group: the array keeps activation lines (the
        west edge) and weight lines (the north edge) apart, or one memory would feed both edges (on
        a floorplanned 32x32 its read registers sat mid-chip, 6.8 ns from a corner PE)."""
        if not self.min_mem or n < self.min_mem:
            return delay(self.m, sig, n, name)
        out = Signal(len(sig), name=f"{name}_d{n}", reset_less=True)
        self._lines.setdefault((group, n), []).append((sig, out))
        return out

    def emit(self) -> None:
        m = self.m
        for (group, n), lines in sorted(self._lines.items()):
            back = n - SKEW_MIN_DELAY[self.lut] + 1  # writes between the read and the one written: 1..depth-1
            depth = 1 << back.bit_length()
            width = sum(len(o) for _, o in lines)
            # no_rw_check: the read never meets the write's address, so Yosys need not emulate a
            # collision on a synchronous read (it would add a register and a mux per bit)
            attrs = {"ram_style": "distributed"} if self.lut else {"ram_style": "block", "no_rw_check": 1}
            mem = Memory(shape=width, depth=depth, init=[], attrs=attrs)
            m.submodules[f"skew_mem{group}{n}"] = mem
            wr = mem.write_port()
            rd = mem.read_port(domain="comb" if self.lut else "sync")
            wptr = Signal(range(depth), name=f"skew_mem{group}{n}_wptr", reset_less=True)
            rptr = Signal(range(depth), name=f"skew_mem{group}{n}_rptr", init=-back % depth, reset_less=True)
            m.d.sync += [wptr.eq(wptr + 1), rptr.eq(rptr + 1)]  # (they wrap at depth, a power of 2)
            # The write enable is 1 in every cycle, but not the constant 1: tied to 1, an ECP5 LUT RAM's
            # WRE is one more sink of nextpnr's VCC net (one LUT driving ~850 pins across the chip), and
            # in a 32x32 board build 600 of router1's last 1,000 arcs (190 s) were VCC -> the skew
            # memories' WRE, fought over with their tiles' other set/reset nets. `wptr != rptr` is 1 as
            # well (the read runs `back` writes behind, 1..depth-1, so the pointers never meet), which
            # synthesis cannot fold; registered (1 from power-up on), so the net of its own that each
            # memory gets starts at a flip-flop, like the write address, and no LUT sits in front of the
            # memory's WRE pins, which spread along an edge of the array.
            we = Signal(name=f"skew_mem{group}{n}_we", init=1, reset_less=True)
            m.d.sync += we.eq(wptr != rptr)
            m.d.comb += [wr.en.eq(we), wr.addr.eq(wptr), wr.data.eq(Cat(*(s for s, _ in lines))),
                         rd.addr.eq(rptr)]
            lo = 0
            for _, out in lines:
                near_mem = Signal(len(out), name=f"{out.name}_rd", reset_less=True)
                m.d.sync += [near_mem.eq(rd.data[lo:lo + len(out)]), out.eq(near_mem)]
                lo += len(out)
