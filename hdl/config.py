"""AccelConfig: the one frozen, validated set of parameters every hdl/, gen/ and test module reads.

Why one type: the generator, the Amaranth elaboration, config.json, the C header and the latency
formulas must agree; validating once here gives one error message per bad value everywhere.
"""

from __future__ import annotations

import dataclasses
import numbers

from .lfsr import MAX_STATES, lfsr_width, low_width, state_width

__all__ = ["PARAM_RANGES", "POPCOUNT_STYLES", "SKEW_MIN_DELAY", "AccelConfig", "ConfigError"]

POPCOUNT_STYLES = ("pair", "chain", "tree", "ccu2")  # see hdl.pe.popcount_xnor and hdl/carry.py


# skew_lutram -> the shortest line a RAM can hold (hdl/skew.py): a write back (1), the read
# (0 asynchronous / 1 synchronous) and the two fabric registers after it (2)
SKEW_MIN_DELAY = {0: 4, 1: 3}


class ConfigError(ValueError):
    """A parameter is outside its allowed range; the message names it and the range."""


def _bits(n: int) -> int:
    """Bits needed to hold values 0..n (at least 1)."""
    return max(1, int(n).bit_length())


# name -> (low, high, meaning); high may be a field name resolved against the config.
PARAM_RANGES = {
    "rows": (1, 64, "PE rows: independent outputs (pixels / batch) or slices of one reduction"),
    "cols": (1, 64, "PE columns: output channels per tile"),
    "k": (1, 256, "bits per activation / weight word, XNOR-popcounted per PE per cycle"),
    "max_fanin": ("k", 65536, "largest reduction in bits (summed over a split group) without overflow"),
    "weight_rows": (1, "rows", "distinct weight words per column per beat; PE(r, c) uses weight row r % W"),
    "weight_hop": (1, 64, "PE rows per weight pipeline register down a column (row r waits r // hop)"),
    "act_hop": (1, 64, "PE columns per activation pipeline register along a row (column c waits c // hop)"),
    "n_thresholds": (1, 15, "thresholds per channel (1 = binary output)"),
    "pipeline": (0, 2, ("PE pipeline registers: 1 = popcount registered before the accumulator, "
                       "2 = also halfway down the popcount tree (one cycle each, higher Fmax)")),
    "overlap": (0, 1, ("1: a result register per PE, results drain while the next reduction accumulates; "
                      "0: drain from the accumulators, the next reduction's first beat waits (fewer flip-flops)")),
    "channels": ("cols", 4096, "output channels whose thresholds the core stores (multiple of cols)"),
    "out_fifo": (0, 64, ("0: out.ready stalls the drain and threshold pipeline (one clock enable on their "
                        "flip-flops); 1..64: they never stall, the drain reads a row only while an out_fifo-deep "
                        "output FIFO has room for every beat in flight (credits; 9 + acc_lfsr + act + drain stages keep one beat per cycle)")),
    "drain_hop": (0, 64, ("credit flow only: PE rows per drain register down a column (row r is read 1 + r // hop "
                         "cycles late, an OR chain carries the row down; >= weight_hop); 0: one R:1 row mux per column")),
    "drain_regs": (1, 2, ("registers per drain row block (row r is read 1 + drain_regs x (r // drain_hop) cycles late; "
                         "2: one near each end of a long block's hop, needs drain_hop >= 2 x weight_hop)")),
    "drain_gate": (0, 1, ("drain_hop only: 1: each PE result enters its row block through a register that holds it in "
                          "its read cycle and 0 otherwise (a synchronous reset: no LUT), so the block ORs one input per "
                          "row and bit in LUTs instead of a select and a row on carry chains; one drain register more")),
    "acc_lfsr": (0, 1, ("1: a PE accumulator's bits above the popcount's width are an LFSR stepping on their carry "
                       "(one LUT instead of a carry slot per bit; hdl/lfsr.py), decoded once per column at drain")),
    "skew_mem": (0, 64, ("0: the input skew lines (row r waits r // weight_hop, column c waits c // act_hop) are "
                        "flip-flops; 4..64 (3..64 with skew_lutram): lines of at least this many cycles are RAM "
                        "ring buffers, one per delay (one flip-flop per bit instead of one per cycle)")),
    "skew_lutram": (0, 1, ("skew_mem's RAMs: 0 block RAM (synchronous read), 1 LUT RAM (asynchronous read; ECP5 "
                          "TRELLIS_DPR16X4, for 150 MHz: a DP16KD's output takes 5.83 ns in nextpnr)")),
}


@dataclasses.dataclass(frozen=True)
class AccelConfig:
    """Parameters of one generated XnorCore (see docs/design.md for the meaning of each)."""

    rows: int = 8
    cols: int = 8
    k: int = 16
    max_fanin: int = 1024
    weight_rows: int = 1
    weight_hop: int = 4
    act_hop: int = 1
    n_thresholds: int = 1
    pipeline: int = 1
    overlap: int = 1
    channels: int | None = None  # None -> cols
    out_fifo: int = 0
    drain_hop: int = 0
    drain_regs: int = 1
    drain_gate: int = 0
    acc_lfsr: int = 0
    skew_mem: int = 0
    skew_lutram: int = 0

    def __post_init__(self):
        if self.channels is None:
            object.__setattr__(self, "channels", self.cols if _is_int(self.cols) else None)
        for name, (lo, hi, _) in PARAM_RANGES.items():
            value = getattr(self, name)
            lo_v = getattr(self, lo) if isinstance(lo, str) else lo
            hi_v = getattr(self, hi) if isinstance(hi, str) else hi
            if not _is_int(value) or not lo_v <= value <= hi_v:
                lo_s = f"{lo} ({lo_v})" if isinstance(lo, str) else str(lo)
                hi_s = f"{hi} ({hi_v})" if isinstance(hi, str) else str(hi)
                raise ConfigError(f"{name} must be an integer in {lo_s}..{hi_s}, not {value!r}")
            object.__setattr__(self, name, int(value))
        if self.rows % self.weight_rows:
            raise ConfigError(f"weight_rows must divide rows ({self.rows}), not {self.weight_rows!r}")
        shortest = SKEW_MIN_DELAY[self.skew_lutram]
        if 0 < self.skew_mem < shortest:
            raise ConfigError(f"skew_mem must be 0 or an integer in {shortest}..64, not {self.skew_mem!r}")
        if self.skew_lutram and not self.skew_mem:
            raise ConfigError(f"skew_lutram must be 0 when skew_mem is 0 (no RAM lines), not {self.skew_lutram!r}")
        if self.drain_hop and not self.out_fifo:
            raise ConfigError(f"drain_hop must be 0 when out_fifo is 0 (the stall flow), not {self.drain_hop!r}")
        # a row read 1 + drain_regs x (r // drain_hop) cycles late is safe only while PE row r captures
        # the next reduction later: it does so r // weight_hop + 3 or more cycles after the last row's
        # read lets that reduction's `last` in, so drain_hop >= drain_regs x weight_hop is enough
        if self.drain_regs > 1 and not self.drain_hop:
            raise ConfigError(f"drain_regs must be 1 when drain_hop is 0 (no row blocks), not {self.drain_regs!r}")
        if self.drain_gate and not self.drain_hop:
            raise ConfigError(f"drain_gate must be 0 when drain_hop is 0 (no row blocks), not {self.drain_gate!r}")
        if self.drain_hop and self.drain_regs * self.weight_hop > 64:
            raise ConfigError(f"drain_hop must be 0 when drain_regs x weight_hop ({self.drain_regs * self.weight_hop}) "
                              f"> 64, not {self.drain_hop!r}")
        if 0 < self.drain_hop < self.drain_regs * self.weight_hop:
            low = (f"weight_hop ({self.weight_hop})" if self.drain_regs == 1 else
                   f"drain_regs x weight_hop ({self.drain_regs * self.weight_hop})")
            raise ConfigError(f"drain_hop must be 0 or an integer in {low}..64, not {self.drain_hop!r}")
        # (the drain decodes the LFSR by a table of 2**n - 1 entries per column: up to 10 bits)
        top = (MAX_STATES << low_width(self.k)) - 1
        if self.acc_lfsr and self.max_fanin > top:
            raise ConfigError(f"acc_lfsr must be 0 when max_fanin > {top} (more than {MAX_STATES} LFSR states "
                              f"at k={self.k}), not {self.acc_lfsr!r}")
        if self.channels % self.cols:
            raise ConfigError(f"channels must be a multiple of cols ({self.cols}), not {self.channels!r}")

    # -- derived widths -------------------------------------------------------------------------
    @property
    def acc_width(self) -> int:
        """P lies in [0, max_fanin]."""
        return _bits(self.max_fanin)

    @property
    def low_width(self) -> int:
        """acc_lfsr: binary bits of a PE accumulator (the popcount's width: one carry per beat at most)."""
        return low_width(self.k)

    @property
    def lfsr_width(self) -> int:
        """acc_lfsr: LFSR bits of a PE accumulator, enough states for every carry count (0 without)."""
        return lfsr_width((self.max_fanin >> self.low_width) + 1) if self.acc_lfsr else 0

    @property
    def res_width(self) -> int:
        """Bits of a PE's result as it drains: P (acc_width), or with acc_lfsr the binary bits and the LFSR state."""
        return state_width(self.k, self.lfsr_width) if self.acc_lfsr else self.acc_width

    @property
    def thr_width(self) -> int:
        """Thresholds are clamped into [0, max_fanin + 1] (0 / F+1 encode constant channels)."""
        return _bits(self.max_fanin + 1)

    @property
    def y_width(self) -> int:
        """y counts thresholds passed: 0..n_thresholds."""
        return _bits(self.n_thresholds)

    @property
    def log2_rows(self) -> int:
        """ceil(log2(rows)): the largest useful split field value."""
        return (self.rows - 1).bit_length()

    @property
    def split_width(self) -> int:
        return _bits(self.log2_rows)

    @property
    def blocks(self) -> int:
        """Threshold-memory entries (one entry = cols channels)."""
        return self.channels // self.cols

    @property
    def chan_block_width(self) -> int:
        return _bits(self.blocks - 1)

    @property
    def row_width(self) -> int:
        return _bits(self.rows - 1)

    @property
    def weight_stages(self) -> int:
        """Pipeline registers a weight word passes down a column (row r sees r // weight_hop)."""
        return (self.rows - 1) // self.weight_hop

    @property
    def act_stages(self) -> int:
        """Pipeline registers an activation word passes along a row (column c sees c // act_hop)."""
        return (self.cols - 1) // self.act_hop

    @property
    def drain_stages(self) -> int:
        """Registers a drained row passes down its column's OR chain (row r is read
        1 + drain_regs x (r // drain_hop) cycles late: the row select passes a register before the array),
        and with drain_gate the gated register every row enters by."""
        return 1 + self.drain_regs * ((self.rows - 1) // self.drain_hop) + self.drain_gate if self.drain_hop else 0

    def params(self) -> dict:
        """Plain-int parameters (what golden/reference.py and config.json use)."""
        return dataclasses.asdict(self)

    # -- latency (cycles, measured by tests/test_hdl_core.py against these formulas) --------------
    def fill_latency(self) -> int:
        """Cycles from the handshake of a `last` beat until every PE has captured its result.

        One input register, the row skew (r // weight_hop) and the column hops (c // act_hop): the
        last PE is reached after 1 + weight_stages + act_stages cycles and captures at the end of it
        (one cycle later per PE pipeline register, and `res_lag`).
        """
        return 1 + self.weight_stages + self.act_stages + 1 + self.pipeline + self.res_lag

    @property
    def res_lag(self) -> int:
        """1 where a PE's result register takes the LFSR state one cycle after the `last` beat's update."""
        return self.acc_lfsr * self.overlap

    def out_latency(self) -> int:
        """Cycles from the `last` handshake to the first out beat being valid (out.ready held high)
        at split 0: fill, then the drain (`_drain_latency`). Every beat: `out_beat_latencies`.
        """
        return self.fill_latency() + self._drain_latency(bool(self.out_fifo))

    def out_beat_latencies(self, split: int) -> tuple[int, ...]:
        """Cycles from the `last` handshake to each out beat being valid, group by group, for a
        reduction with this `split` field (out.ready held high). Exact for every reduction when
        out_fifo is 0 or >= credit_round_trip(); with fewer credits, for one whose predecessor's
        credits are all back (else its rows also wait for those).

        The drain reads one row per cycle from fill_latency() after the handshake, and a group of
        2**split rows (the last one truncated at R) leaves the drain latency (out_latency() -
        fill_latency()) after the read of its last row. Counting reads from the first (c = 0): with
        out_fifo credits (N of them, back credit_round_trip() = T cycles after the read of a group's
        last row) no row is read while N beats hold one, so group j's last row is read at
        c_j = max(c_{j-1} + 1, c_{j-N} + T) + rows_j - 1 (c_{-1} = -1; no c_{j-N} term for j < N;
        none at all without out_fifo or with out_fifo >= T) and its beat is valid at
        out_latency() + c_j: at split 0 and enough credits the beats leave on consecutive cycles, at
        split s 2**s cycles apart, and the last at out_latency() + R - 1.
        """
        if not (_is_int(split) and 0 <= split < 1 << self.split_width):
            raise ValueError(f"split must be an integer in 0..{(1 << self.split_width) - 1}, not {split!r}")
        n, t = self.out_fifo, self.credit_round_trip()
        reads: list[int] = []
        for lo in range(0, self.rows, 1 << split):
            size = min(lo + (1 << split), self.rows) - lo
            start = reads[-1] + 1 if reads else 0
            if 0 < n < t and len(reads) >= n:
                start = max(start, reads[-n] + t)
            reads.append(start + size - 1)
        return tuple(self.out_latency() + c for c in reads)

    def _drain_latency(self, credit: bool) -> int:
        """Registers from a row read to its out beat: row read, [the LFSR decode,] group sum (the array's drain beat),
        threshold-memory read, compare, count (the out beat); in the credit flow act_stages more (the
        systolic drain: column group g reads its row g cycles late, the others wait for the last
        group), drain_stages more (the row blocks' OR chain down each column) and 2 for the FIFO
        (write, output register)."""
        return 5 + self.acc_lfsr + (self.act_stages + self.drain_stages + 2 if credit else 0)

    def credit_round_trip(self) -> int:
        """Cycles a drain beat holds its credit (out_fifo): from its row read to the out handshake
        and two to return the credit (the pop registered, then the counter); out_fifo >= this keeps
        one beat per cycle."""
        return self._drain_latency(True) + 2

    def drain_cycles(self) -> int:
        """The drain reads one PE row per cycle; a group of 2**split rows gives one out beat."""
        return self.rows

    def reduction_period(self) -> int:
        """Cycles a reduction holds the result bank: a `last` (overlap=1) or any (overlap=0) beat
        is accepted no sooner than this after the previous `last` handshake."""
        return self.fill_latency() + self.drain_cycles()


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
