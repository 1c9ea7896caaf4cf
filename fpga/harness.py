"""Out-of-context harness: every core input from a serial XOR chain, every output into an XOR fold.

Why: a core measured with its ports unconnected is optimised away, and a core with its ports on pins
does not fit (a 32x32 array has thousands of port bits, the UP5K 39 user IOs). The chain costs one FF
and one XOR2 (packed with it) per input bit; the fold costs about one LUT4 per 3 output bits and is
pipelined (one register level per LUT level) so it never sets Fmax. Nothing reaching the core is constant, and every
output bit reaches the `tx` pin, so synthesis can remove nothing. The core's cells are counted apart
(fpga/flow.py synthesizes it alone as well), so the harness does not inflate the core's figures.
Neither chain nor fold has a reset. Each chain stage XORs its predecessor into itself rather than
copying it, so no core register can merge into the chain (`harness_flops` counts what must remain).
"""


from amaranth import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["OocHarness", "harness_flops", "port_bits"]


def port_bits(core: wiring.Component) -> tuple[list[Value], list[Value]]:
    """(input bits, output bits) of a component, flattened in signature order."""
    ins, outs = [], []
    for _path, member, value in core.signature.flatten(core):
        bits = Value.cast(value)
        (ins if member.flow == In else outs).append(bits)
    return ins, outs


def _fold_widths(n_out: int) -> list[int]:
    """Register widths of the XOR fold: every output bit, then a quarter per level down to 1."""
    widths = [max(n_out, 1)]
    while widths[-1] > 1:
        widths.append((widths[-1] + 3) // 4)
    return widths


def harness_flops(core: wiring.Component) -> int:
    """Flip-flops the harness adds around `core`: a placed design with fewer has merged some away."""
    ins, outs = port_bits(core)
    return max(sum(len(v) for v in ins), 1) + sum(_fold_widths(sum(len(v) for v in outs)))


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
        # each stage XORs in its predecessor instead of copying it: in a plain shift chain a core
        # register of input bit i (D = chain[i]) equals chain[i + 1] and Yosys merges the two, and so
        # on down every delay line of the core (its weight hops collapse into the chain, one
        # flip-flop feeding a whole column: the routed 32x32 critical path); no flip-flop here has a
        # copy of another's value for its D, and the chain still reaches every state from rx
        m.d.sync += chain.eq(chain ^ Cat(self.rx, chain[:-1]))
        m.d.comb += Cat(*ins).eq(chain[:in_width])

        widths = _fold_widths(sum(len(v) for v in outs))
        level = Signal(widths[0], reset_less=True)
        m.d.sync += level.eq(Cat(*outs))          # register every output at the boundary
        for width in widths[1:]:
            nxt = Signal(width, reset_less=True)
            m.d.sync += [nxt[i].eq(level[4 * i:4 * i + 4].xor()) for i in range(width)]
            level = nxt
        m.d.comb += self.tx.eq(level)
        return m
