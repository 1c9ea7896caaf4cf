"""The UART receiver and transmitter on their own, cycle for cycle (a restructured receiver must
sample where this one did, mid-bit, and the transmitter keep its line levels and pace)."""

import pytest
from amaranth.sim import Simulator

from fpga.host import uart_levels
from fpga.uart import UartRx, UartTx


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


@pytest.mark.parametrize("divisor", [4, 5, 7, 16])
def test_tx_levels(divisor):
    """Each byte leaves as exactly `uart_levels` (start, 8 data bits LSB first, stop; `divisor` cycles
    each) from the cycle after it is taken; the next byte is taken one cycle after the stop bit."""
    dut = UartTx(divisor)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sent = (0x00, 0xFF, 0xA5, 0x3C)
    per_byte = 10 * divisor + 1
    line, taken = [], []

    async def tb(ctx):
        for cycle in range(len(sent) * per_byte + 8):
            n = len(taken)
            ctx.set(dut.data.valid, n < len(sent))
            ctx.set(dut.data.payload, sent[n] if n < len(sent) else 0)
            if ctx.get(dut.data.valid) and ctx.get(dut.data.ready):
                taken.append(cycle)
            await ctx.tick()
            line.append(ctx.get(dut.tx))

    sim.add_testbench(tb)
    sim.run()
    assert taken == [i * per_byte for i in range(len(sent))]
    assert line == [lvl for b in sent for lvl in uart_levels(b, divisor) + [1]] + [1] * 8
