"""The accumulator's upper bits as an LFSR that counts the low part's carries (config `acc_lfsr`).

Why: above the popcount's width an accumulator is an incrementer, one carry-chain slot (a LUT4
equivalent) per bit in every PE, although it changes at most once a cycle. An n-bit LFSR with a
clock enable steps through 2**n - 1 states for one feedback LUT: the other bits only shift, a
flip-flop fed straight from its neighbour. The state is not a binary count, so the drain decodes it,
once per column (a table, hdl/array.py) instead of once per PE.

XNOR feedback: the all-zero state is on the cycle (the PE restarts the count with a synchronous
reset to 0) and all-ones is the one state off it. Bits shift up; bit 0 takes the feedback.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (hdl.config imports this module; the gen CLI loads Amaranth only for a valid config)
    from amaranth.hdl import Value

__all__ = ["MAX_STATES", "TAPS", "lfsr_decode", "lfsr_step", "lfsr_value", "lfsr_width", "low_width", "state_width"]

# n -> feedback taps (1-based bit numbers) of a maximal-length n-bit LFSR, at most 4 (one LUT4); up to
# 10 bits, since the drain decodes the state by a table of 2**n - 1 entries per column
TAPS = {2: (2, 1), 3: (3, 2), 4: (4, 3), 5: (5, 3), 6: (6, 5), 7: (7, 6), 8: (8, 6, 5, 4), 9: (9, 5),
        10: (10, 7)}
MAX_STATES = (1 << max(TAPS)) - 1  # the most carry counts an LFSR accumulator holds (hdl.config checks)


def low_width(k: int) -> int:
    """Binary bits below the LFSR for K-bit words: the popcount's width, so at most one carry per beat."""
    return k.bit_length()


def state_width(k: int, n: int) -> int:
    """Bits of an LFSR accumulator's state (binary low part + n LFSR bits), as a PE's acc and res hold it."""
    return low_width(k) + n


def lfsr_width(counts: int) -> int:
    """Fewest LFSR bits whose cycle holds `counts` distinct values (0..counts - 1); at least 2."""
    n = 2
    while (1 << n) - 1 < counts:
        n += 1
    if n not in TAPS:
        raise ValueError(f"an LFSR of {n} bits is not tabled (counts {counts})")
    return n


def _next(state: int, n: int) -> int:
    fb = 1
    for t in TAPS[n]:
        fb ^= state >> (t - 1) & 1
    return (state << 1 | fb) & ((1 << n) - 1)


@functools.cache
def lfsr_decode(n: int) -> dict[int, int]:
    """state -> number of steps from 0 (the count it stands for); checks the cycle is maximal."""
    table, s = {}, 0
    while s not in table:
        table[s] = len(table)
        s = _next(s, n)
    if len(table) != (1 << n) - 1 or s != 0:
        raise AssertionError(f"TAPS[{n}] is not a maximal-length LFSR")
    return table


def lfsr_step(state: Value) -> Value:
    """The next state as an Amaranth expression: shift up, XNOR of the taps into bit 0."""
    from amaranth.hdl import Cat

    n = len(state)
    fb = ~state[TAPS[n][0] - 1]
    for t in TAPS[n][1:]:
        fb = fb ^ state[t - 1]
    return Cat(fb, state[:n - 1])


def lfsr_value(m, name: str, state: Value, k: int, n: int, off_cycle: int = 0) -> Value:
    """The value an LFSR accumulator's state stands for, as a table in module m: the binary low bits
    below the LFSR's step count. `off_cycle`: the step count given for the all-ones state (never reached)."""
    from amaranth.hdl import Cat, Signal

    low = low_width(k)
    steps = Signal(range(max(1 << n, off_cycle + 1)), name=f"{name}_steps")
    with m.Switch(state[low:]):
        for st, i in lfsr_decode(n).items():
            with m.Case(st):
                m.d.comb += steps.eq(i)
        with m.Default():
            m.d.comb += steps.eq(off_cycle)
    return Cat(state[:low], steps)
