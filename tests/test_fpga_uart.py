"""The UART receiver on its own: which bytes it takes, and the cycle each one is valid in (a
restructured receiver must sample where this one does, mid-bit)."""

import pytest
from amaranth.sim import Simulator

from fpga.host import uart_levels
from fpga.uart import UartRx


def rx_bytes(levels: list[int], divisor: int) -> list[tuple[int, int]]:
    """(cycle, byte) for every cycle the receiver's data stream is valid, the line at `levels`."""
    dut = UartRx(divisor)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    seen = []

    async def tb(ctx):
        ctx.set(dut.data.ready, 1)
        for cycle, lvl in enumerate(levels + [1] * 4 * divisor):
            ctx.set(dut.rx, lvl)
            await ctx.tick()
            if ctx.get(dut.data.valid):
                seen.append((cycle, ctx.get(dut.data.payload)))

    sim.add_testbench(tb)
    sim.run()
    return seen


@pytest.mark.parametrize("divisor", [4, 5, 7, 16])
def test_rx_samples_mid_bit(divisor):
    """Each byte is valid for one cycle, 2 cycles (the input synchronizer) plus 1.5 + 8 bit times
    (rounded down) after its start edge: the middle of its stop bit. A byte whose stop bit is low is
    dropped."""
    idle = [1] * 3
    framing = uart_levels(0x5A, divisor)
    framing[-divisor:] = [0] * divisor  # stop bit low
    line, starts = [], []
    for byte in (0x00, 0xFF, 0xA5, 0x3C):
        line += idle
        starts.append(len(line))
        line += uart_levels(byte, divisor)
    line += idle + framing + [1] * 2 * divisor + idle
    starts.append(len(line))
    line += uart_levels(0x81, divisor)
    got = rx_bytes(line, divisor)
    assert got == [(s + 2 + divisor * 3 // 2 + 8 * divisor, b)
                   for s, b in zip(starts, (0x00, 0xFF, 0xA5, 0x3C, 0x81))]
