"""Out-of-context harness: every core input from a serial shift chain, every output into an XOR fold.

Why: a core measured with its ports unconnected is optimised away, and a core with its ports on pins
does not fit (a 32x32 array has thousands of port bits, the UP5K 39 user IOs). The chain costs one FF
per input bit and no LUT; the fold costs about one LUT4 per 3 output bits and is pipelined (one
register level per LUT level) so it never sets Fmax. Nothing reaching the core is constant, and every
output bit reaches the `tx` pin, so synthesis can remove nothing. The core's cells are counted apart
(fpga/flow.py synthesizes it alone as well), so the harness does not inflate the core's figures.
Neither chain nor fold has a reset; where the core registers an input bit without reset (its
activation and weight input registers), Yosys merges that register with the next chain flip-flop
(both hold the previous chain bit), so the placed design has fewer flip-flops than core + harness.
"""


from amaranth import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["OocHarness", "port_bits"]


def port_bits(core: wiring.Component) -> tuple[list[Value], list[Value]]:
    """(input bits, output bits) of a component, flattened in signature order."""
    ins, outs = [], []
    for _path, member, value in core.signature.flatten(core):
        bits = Value.cast(value)
        (ins if member.flow == In else outs).append(bits)
    return ins, outs


class OocHarness(wiring.Component):
    """Drives `core` (a submodule it adds) from pin `rx` and folds all its outputs onto pin `tx`."""

    rx: In(1)     # serial data into the input chain (the board UART rx pin)
    tx: Out(1)    # XOR fold of every output bit (the board UART tx pin)

    def __init__(self, core: wiring.Component):
        self.core = core
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = self.core
        ins, outs = port_bits(self.core)
        in_width = sum(len(v) for v in ins)
        # no reset in the harness: a reset net reaching the chain and the fold spans the device (in
        # context at 16x16 it became the critical path) and would time scaffolding, not the core
        chain = Signal(max(in_width, 1), reset_less=True)
        m.d.sync += chain.eq(Cat(self.rx, chain[:-1]))
        m.d.comb += Cat(*ins).eq(chain[:in_width])

        level = Signal(max(sum(len(v) for v in outs), 1), reset_less=True)
        m.d.sync += level.eq(Cat(*outs))          # register every output at the boundary
        while len(level) > 1:
            nxt = Signal((len(level) + 3) // 4, reset_less=True)
            m.d.sync += [nxt[i].eq(level[4 * i:4 * i + 4].xor()) for i in range(len(nxt))]
            level = nxt
        m.d.comb += self.tx.eq(level)
        return m
