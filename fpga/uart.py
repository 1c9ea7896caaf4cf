"""8N1 UART receiver and transmitter as byte streams (the board's USB-UART is the host link).

Why hand-written and this small: the bridge needs nothing more than bytes in and out, and a divisor
(clock cycles per bit) fixed at build time. The receiver samples the middle of each bit after a start
bit edge; a byte that arrives while the previous one was not yet taken is dropped (the bridge always
takes bytes at once, and the host protocol has its own acknowledgements).
"""

from amaranth import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UartRx", "UartTx"]


def _check_divisor(divisor: int) -> int:
    """Clock cycles per UART bit; the receiver samples mid-bit, so fewer than 4 cannot work."""
    if divisor < 4:
        raise ValueError(f"UART divisor {divisor} < 4 cycles per bit")
    return divisor


class UartRx(wiring.Component):
    rx: In(1, init=1)
    data: Out(stream.Signature(8))

    def __init__(self, divisor: int):
        self.divisor = _check_divisor(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self.divisor * 3 // 2 + 1))
        # timer == 0 as a flip-flop, set as the timer steps from 1 (every load is >= 3): the compare
        # in front of `valid`'s and the shift register's enables was an 85F board build's critical
        # path (the timer -> 3 LUT levels -> `valid`'s reset, 6.0 ns)
        zero = Signal()
        bit = Signal(range(10))
        shreg = Signal(8)
        with m.If(self.data.ready):
            m.d.sync += self.data.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"), m.If(~rx):
                # first data bit centre: 1.5 bit times after the start edge
                m.d.sync += [timer.eq(self.divisor * 3 // 2 - 1), zero.eq(0), bit.eq(0)]
                m.next = "BITS"
            with m.State("BITS"):
                m.d.sync += [timer.eq(timer - 1), zero.eq(timer == 1)]
                with m.If(zero):
                    m.d.sync += [timer.eq(self.divisor - 1), zero.eq(0)]
                    with m.If(bit == 8):
                        with m.If(rx):           # stop bit must be high, else framing error: drop
                            m.d.sync += [self.data.payload.eq(shreg), self.data.valid.eq(1)]
                        m.next = "WAIT_IDLE"
                    with m.Else():
                        m.d.sync += [shreg.eq(Cat(shreg[1:], rx)), bit.eq(bit + 1)]
            with m.State("WAIT_IDLE"), m.If(rx):
                m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    data: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, divisor: int):
        self.divisor = _check_divisor(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        shreg = Signal(10, init=0x3FF)   # stop, 8 data (LSB first), start; shifted out from bit 0
        left = Signal(range(11))
        # idle == (left == 0) as a flip-flop: `ready` and the load's enable then come from a register,
        # not from a compare behind the sender's FSM (valid -> `left == 0` -> the enables of the shift
        # register was a routed critical path of the 85F board builds, 4 LUTs)
        idle = Signal(init=1)
        m.d.comb += [self.tx.eq(shreg[0]), self.data.ready.eq(idle)]
        with m.If(self.data.valid & idle):
            m.d.sync += [shreg.eq(Cat(0, self.data.payload, 1)), left.eq(10), timer.eq(self.divisor - 1),
                         idle.eq(0)]
        with m.Elif(~idle):
            m.d.sync += timer.eq(timer - 1)
            with m.If(timer == 0):
                m.d.sync += [timer.eq(self.divisor - 1), shreg.eq(Cat(shreg[1:], 1)), left.eq(left - 1),
                             idle.eq(left == 1)]
        return m
