"""Idle (source) and backpressure (sink) patterns, for the Python testbench and the HDL harness alike.

A pattern answers, once per clock cycle, "is this side open?": a closed source leaves valid low
(an idle cycle), a closed sink holds ready low (backpressure). The same names drive the harness's
xorshift gates, so per-beat and bulk runs sweep the same matrix.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .harness import MODE_BERNOULLI, MODE_BURST, MODE_NONE, PROB_ONE

BURST_FLIP = 1 / 64  # bursts: open/closed runs of 64 cycles on average (geometric)


@dataclass(frozen=True)
class Pattern:
    """``kind`` none | bernoulli | burst; ``p`` = probability that a cycle is closed (bernoulli)."""

    name: str
    kind: str
    p: float = 0.0

    def gate(self, rng: random.Random):
        """An endless iterator of booleans: True when the side is open this cycle."""
        if self.kind == "none":
            while True:
                yield True
        elif self.kind == "bernoulli":
            while True:
                yield rng.random() >= self.p
        else:
            state = True
            while True:
                if rng.random() < BURST_FLIP:
                    state = not state
                yield state

    def hdl(self) -> tuple[int, int]:
        """(h_mode, h_p) for the harness gates."""
        if self.kind == "none":
            return MODE_NONE, 0
        if self.kind == "bernoulli":
            return MODE_BERNOULLI, round(self.p * PROB_ONE)
        return MODE_BURST, 0


PATTERNS = {
    p.name: p for p in (
        Pattern("none", "none"),
        Pattern("bern10", "bernoulli", 0.1),
        Pattern("bern50", "bernoulli", 0.5),
        Pattern("bern90", "bernoulli", 0.9),
        Pattern("bursts", "burst"),
    )
}
STALL_NAMES = tuple(PATTERNS)
