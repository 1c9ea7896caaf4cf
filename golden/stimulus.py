"""Stimulus for the XnorCore, shared by the amaranth.sim tests and the cocotb/Verilator tests.

Why plain data: a Case holds parameters, threshold writes and reductions as ints and tuples, and
`Case.beats()` lists the beat payloads in emission order, so any testbench (Python sim, cocotb)
drives the same vectors and checks them with golden/reference.py. `golden.payload`
turns those dicts into the flat stream payload described by config.json.
"""

from __future__ import annotations

import dataclasses
import random

from golden.reference import ref_array

__all__ = ["FRAMINGS", "Case", "Reduction", "ThrWrite", "cases", "make_reduction", "max_beats", "random_case"]

DEFAULTS = {"max_fanin": 1024, "weight_rows": 1, "weight_hop": 4, "act_hop": 1, "n_thresholds": 1, "overlap": 1,
            "pipeline": 1}


@dataclasses.dataclass(frozen=True)
class Reduction:
    """One reduction: act[l][r] and wgt[l][j*C + c] are k-bit words of beat l (l = 0..L-1)."""

    act: tuple
    wgt: tuple
    split: int = 0  # group size 2**split rows
    chan_block: int = 0


@dataclasses.dataclass(frozen=True)
class ThrWrite:
    """One threshold-memory entry: thr[i*C + c] = T_i of column c, pol[c] = 1 for +1, 0 for -1."""

    addr: int
    thr: tuple
    pol: tuple


@dataclasses.dataclass(frozen=True)
class Case:
    """A named test vector set for one configuration, plus the handshake knobs of its testbench.

    idle: probability that the source leaves a cycle idle before a beat; backpressure: probability
    that the sink holds out.ready low in a cycle. Threshold writes go before the first beat.
    framing: how `beats()` marks where reductions begin (FRAMINGS); the outputs are the same.
    """

    name: str
    params: tuple  # sorted (name, value) pairs, hashable; see .config
    thr_writes: tuple
    reductions: tuple
    idle: float = 0.0
    backpressure: float = 0.0
    seed: int = 0
    framing: str = "first"

    def __post_init__(self):
        if self.framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {', '.join(FRAMINGS)}, not {self.framing!r}")

    @property
    def config(self) -> dict:
        return dict(self.params)

    def beats(self) -> list[dict]:
        """Beat payloads of the `beat` stream, in emission order (a reduction's own beats, and with
        framing "mixed" the aborted beats before some of them)."""
        p = self.config
        rng = random.Random(self.seed * 2 + 1)  # (only "mixed" draws from it)
        out = []
        for j, red in enumerate(self.reductions):
            opens = self.framing == "first"
            if self.framing == "mixed":
                opens = bool(rng.getrandbits(1))
                # a restart: beats of a reduction that a `first` then drops (always before the second
                # reduction, so every case of two or more has one)
                if j == 1 or rng.random() < 0.3:
                    aborted = make_reduction(rng, p, rng.randint(1, min(3, max_beats(p))),
                                             split=rng.choice(self.reductions).split,
                                             chan_block=rng.randrange(max(1, p["channels"] // p["cols"])))
                    out += _reduction_beats(aborted, opens=bool(rng.getrandbits(1)), closes=False)
                    opens = True
            out += _reduction_beats(red, opens=opens)
        return out

    def thr_beats(self) -> list[dict]:
        """Payloads of the `thr` stream, in emission order."""
        return [{"addr": w.addr, "thr": list(w.thr), "pol": list(w.pol)} for w in self.thr_writes]


# How a beat stream marks where reductions begin (docs/design.md: a beat opens a reduction if it
# carries `first` or none is open, and a `first` inside one restarts it):
# "first": every reduction's first beat carries `first`; "last": none does (framing by `last` alone);
# "mixed": a random half do, and the second reduction and 30 % of the others come after 1-3 beats
# that open one (with or without `first`) and never reach a `last`, so the reduction's own `first`
# must restart it.
FRAMINGS = ("first", "last", "mixed")


def _reduction_beats(red: Reduction, opens: bool, closes: bool = True) -> list[dict]:
    """Beat payloads of one reduction: `first` on its first beat if it opens with it, `last` on its
    last if it closes (an aborted one does not)."""
    n = len(red.act)
    return [{"act": list(red.act[i]), "wgt": list(red.wgt[i]), "first": int(opens and i == 0),
             "last": int(closes and i == n - 1), "split": red.split, "chan_block": red.chan_block}
            for i in range(n)]


# -- case construction --------------------------------------------------------------------------

def _params(rows, cols, k, **kw) -> dict:
    p = dict(DEFAULTS, rows=rows, cols=cols, k=k, **kw)
    p.setdefault("channels", cols)
    return p


def _word(rng: random.Random, k: int) -> int:
    return rng.getrandbits(k)


def make_reduction(rng, p, beats, *, split=0, chan_block=0, mode="random") -> Reduction:
    """mode: random | match (every XNOR bit 1: P = beats*k) | mismatch (P = 0)."""
    R, C, K, W = p["rows"], p["cols"], p["k"], p["weight_rows"]
    act, wgt = [], []
    for _ in range(beats):
        if mode == "random":
            act.append(tuple(_word(rng, K) for _ in range(R)))
            wgt.append(tuple(_word(rng, K) for _ in range(W * C)))
        else:
            # one shared word per beat; weights equal it (match) or its complement (mismatch)
            x = _word(rng, K)
            act.append(tuple(x for _ in range(R)))
            wx = x if mode == "match" else x ^ ((1 << K) - 1)
            wgt.append(tuple(wx for _ in range(W * C)))
    return Reduction(tuple(act), tuple(wgt), split, chan_block)


def max_beats(p, split=0) -> int:
    """Longest reduction (in beats) whose group sum stays within max_fanin."""
    group = min(1 << split, p["rows"])
    return max(1, p["max_fanin"] // (p["k"] * group))


def _random_thr(rng, p, lo_hi) -> ThrWrite:
    N, C = p["n_thresholds"], p["cols"]
    lo, hi = lo_hi
    thr = []
    for _ in range(N):
        thr.extend(rng.randint(lo, hi) for _ in range(C))
    # multi-threshold: sort each channel's thresholds (qonnx order) per polarity is not required by
    # the hardware; keep them unsorted half of the time to check y is a count, not a position.
    return ThrWrite(0, tuple(thr), tuple(rng.getrandbits(1) for _ in range(C)))


def _freeze(p: dict) -> tuple:
    return tuple(sorted(p.items()))


def random_case(name, p, *, n_red=3, beats=None, seed=0, idle=0.3, backpressure=0.3, split=0,
                framing="first") -> Case:
    """Random reductions, random thresholds around the expected P, every channel block written."""
    rng = random.Random(seed)
    maxb = max_beats(p, split)
    reds = []
    for i in range(n_red):
        b = beats if beats is not None else rng.randint(1, min(maxb, 6))
        reds.append(make_reduction(rng, p, min(b, maxb), split=split, chan_block=i % (p["channels"] // p["cols"])))
    mean = (sum(len(r.act) for r in reds) // len(reds)) * p["k"] * min(1 << split, p["rows"]) // 2
    spread = max(2, mean // 2)
    writes = []
    for blk in range(p["channels"] // p["cols"]):
        t = _random_thr(rng, p, (max(0, mean - spread), mean + spread))
        writes.append(dataclasses.replace(t, addr=blk))
    return Case(name, _freeze(p), tuple(writes), tuple(reds), idle, backpressure, seed, framing)


def _ties_case(name, p, seed, polarity) -> Case:
    """Thresholds set to P of row 0 (ties), P - 1 and P + 1, so both sides of >= / <= are hit."""
    rng = random.Random(seed)
    red = make_reduction(rng, p, min(4, max_beats(p)))
    drain = ref_array(p, [red])
    C, N = p["cols"], p["n_thresholds"]
    p0 = drain[0]["p"]
    thr = []
    for i in range(N):
        thr.extend(max(0, p0[c] + ((c + i) % 3) - 1) for c in range(C))
    pol = tuple(polarity for _ in range(C))
    return Case(name, _freeze(p), (ThrWrite(0, tuple(thr), pol),), (red, red), 0.2, 0.2, seed)


def _extreme_case(name, p, mode, seed) -> Case:
    """Full fan-in all-match (P = max_fanin) or all-mismatch (P = 0): accumulator extremes."""
    rng = random.Random(seed)
    beats = p["max_fanin"] // p["k"]
    red = make_reduction(rng, p, beats, mode=mode)
    C = p["cols"]
    full = beats * p["k"]
    thr = (full,) * C if mode == "match" else (0,) * C
    return Case(name, _freeze(p), (ThrWrite(0, thr, (1,) * C if mode == "match" else (0,) * C),),
                (red,), 0.1, 0.1, seed)


def _constant_case(name, p, seed) -> Case:
    """Constant channels: T = 0 with +1 is always 1, T = F + 1 with +1 always 0 (and -1 mirrors)."""
    rng = random.Random(seed)
    F, C = p["max_fanin"], p["cols"]
    thr = tuple((0, F + 1, F + 1, 0)[c % 4] for c in range(C))
    pol = tuple((1, 1, 0, 0)[c % 4] for c in range(C))
    reds = tuple(make_reduction(rng, p, rng.randint(1, min(3, max_beats(p)))) for _ in range(2))
    return Case(name, _freeze(p), (ThrWrite(0, thr, pol),), reds, 0.3, 0.3, seed)


def cases() -> list[Case]:
    """The shared case list: R, C in {1, 2, 3, 8}, K in {1, 7, 32, 64}, directed extremes; a few frame
    their reductions by `last` alone or restart them (framing)."""
    out = [
        random_case("r1c1k1", _params(1, 1, 1, max_fanin=16), n_red=4, seed=1),
        random_case("r2c3k7", _params(2, 3, 7, max_fanin=100, weight_hop=1), n_red=4, seed=2, framing="last"),
        random_case("r3c2k32_w3", _params(3, 2, 32, max_fanin=200, weight_rows=3, weight_hop=2), seed=3),
        random_case("r8c8k64_hop1", _params(8, 8, 64, max_fanin=512, weight_hop=1), n_red=2, beats=2, seed=4,
                    idle=0.2, backpressure=0.5),
        random_case("r1c8k7_blocks", _params(1, 8, 7, max_fanin=60, channels=24), n_red=5, seed=5),
        random_case("r8c2k7_split3_fc", _params(8, 2, 7, max_fanin=448, weight_rows=8), n_red=2, seed=6,
                    split=3),
        random_case("r8c3k1_split1", _params(8, 3, 1, max_fanin=40, weight_rows=2, weight_hop=3), n_red=2,
                    seed=7, split=1),
        random_case("r3c1k32_split1_trunc", _params(3, 1, 32, max_fanin=256, weight_rows=3), n_red=2,
                    seed=8, split=1),
        random_case("r2c2k7_multi3", _params(2, 2, 7, max_fanin=70, n_thresholds=3), n_red=3, seed=9),
        random_case("r2c3k7_bp90", _params(2, 3, 7, max_fanin=70), n_red=3, seed=10, idle=0.0,
                    backpressure=0.9),
        random_case("r3c3k7_burst", _params(3, 3, 7, max_fanin=70), n_red=6, beats=1, seed=11, idle=0.0,
                    backpressure=0.0),
        # one-beat reductions into changing channel blocks: each block is latched from its own beat
        random_case("r3c3k7_burst_blocks", _params(3, 3, 7, max_fanin=70, channels=9), n_red=6, beats=1, seed=36,
                    idle=0.0, backpressure=0.0),
        random_case("r3c3k7_burst_nooverlap", _params(3, 3, 7, max_fanin=70, overlap=0), n_red=6, beats=1,
                    seed=19, idle=0.0, backpressure=0.3, framing="last"),
        random_case("r8c2k7_nooverlap", _params(8, 2, 7, max_fanin=70, overlap=0), n_red=3, seed=20, framing="mixed"),
        random_case("r3c2k7_nopipe", _params(3, 2, 7, max_fanin=70, pipeline=0), n_red=3, seed=21),
        # the shortest fill (2 cycles: 1x1, pipeline 0): the countdown is skipped
        random_case("r1c1k7_nopipe_burst", _params(1, 1, 7, max_fanin=70, pipeline=0), n_red=5, beats=1, seed=35,
                    idle=0.0, backpressure=0.3),
        random_case("r2c3k32_pipe2", _params(2, 3, 32, max_fanin=256, pipeline=2), n_red=3, seed=22),
        random_case("r3c8k7_ahop3", _params(3, 8, 7, max_fanin=70, act_hop=3), n_red=3, seed=23,
                    backpressure=0.5),
        random_case("r8c5k7_ahop2_split2", _params(8, 5, 7, max_fanin=280, weight_rows=8, act_hop=2,
                                                   weight_hop=2), n_red=2, seed=24, split=2),
        random_case("r2c3k7_fifo3_bp70", _params(2, 3, 7, max_fanin=70, out_fifo=3), n_red=4, seed=25,
                    idle=0.0, backpressure=0.7),
        # a power-of-2 FIFO ring (no spare slot) under long backpressure: one credit too many overwrites a beat
        random_case("r3c2k7_fifo4_bp95", _params(3, 2, 7, max_fanin=70, out_fifo=4), n_red=5, beats=1, seed=54,
                    idle=0.0, backpressure=0.95),
        random_case("r8c5k7_fifo8_split1_ahop2", _params(8, 5, 7, max_fanin=140, weight_rows=2, act_hop=2,
                                                         out_fifo=8), n_red=3,
                    seed=26, split=1, idle=0.1, backpressure=0.5, framing="mixed"),
        random_case("r8c2k7_fifo5_burst", _params(8, 2, 7, max_fanin=70, out_fifo=5, overlap=0), n_red=5,
                    beats=1, seed=27, idle=0.0, backpressure=0.3, framing="mixed"),
        # drain_hop: the row-systolic drain (a truncated last row block, hop 1, overlap 0, split groups
        # across row blocks, fewer credits than the round trip)
        random_case("r8c5k7_fifo8_drain2_split1", _params(8, 5, 7, max_fanin=140, weight_rows=2, act_hop=2,
                                                          weight_hop=2, out_fifo=8, drain_hop=2), n_red=3,
                    seed=28, split=1, idle=0.1, backpressure=0.5),
        random_case("r7c3k7_fifo16_drain3_nooverlap", _params(7, 3, 7, max_fanin=70, weight_hop=2, overlap=0,
                                                              out_fifo=16, drain_hop=3), n_red=5,
                    beats=1, seed=29, idle=0.0, backpressure=0.3),
        random_case("r9c3k7_fifo12_drain4x2_split2", _params(9, 3, 7, max_fanin=70, weight_hop=2, out_fifo=12,
                                                            drain_hop=4, drain_regs=2), n_red=3,
                    seed=37, split=2, idle=0.1, backpressure=0.5),
        random_case("r3c2k32_fifo4_drain1_split2", _params(3, 2, 32, max_fanin=256, weight_rows=3, weight_hop=1,
                                                           out_fifo=4, drain_hop=1), n_red=2, seed=30,
                    split=2, backpressure=0.6),
        # drain_gate: gated result registers ORed in LUTs (a truncated last block, hop 1 and 3, overlap 0
        # with one-beat reductions back to back, LFSR accumulators)
        random_case("r9c3k7_fifo12_drain4x2_gate_lfsr_split2",
                    _params(9, 3, 7, max_fanin=70, weight_hop=2, out_fifo=12, drain_hop=4, drain_regs=2,
                            drain_gate=1, acc_lfsr=1), n_red=3, seed=45, split=2, idle=0.1, backpressure=0.5,
                    framing="mixed"),
        random_case("r7c3k7_fifo16_drain3_gate_nooverlap", _params(7, 3, 7, max_fanin=70, weight_hop=2, overlap=0,
                                                                   out_fifo=16, drain_hop=3, drain_gate=1),
                    n_red=5, beats=1, seed=46, idle=0.0, backpressure=0.3),
        random_case("r3c2k32_fifo4_drain1_gate_split2", _params(3, 2, 32, max_fanin=256, weight_rows=3, weight_hop=1,
                                                                out_fifo=4, drain_hop=1, drain_gate=1), n_red=2,
                    seed=47, split=2, backpressure=0.6),
        # more than one CreditFifo slice (8 columns each, hdl/core.py), y two bits wide
        random_case("r2c11k3_fifo6_thr3_slices", _params(2, 11, 3, max_fanin=30, out_fifo=6, n_thresholds=3),
                    n_red=4, seed=36, idle=0.1, backpressure=0.6),
        # skew_mem: the long skew lines in RAM ring buffers. Block RAM: rows 4..7 and column 4;
        # LUT RAM: delays 3..7, and with two weight words per column, the credit flow and pipeline 2,
        # delays 4..7
        random_case("r8c5k7_skewmem4", _params(8, 5, 7, max_fanin=70, weight_hop=1, skew_mem=4), n_red=4, seed=31,
                    backpressure=0.5),
        random_case("r8c5k7_skewlut3", _params(8, 5, 7, max_fanin=70, weight_hop=1, skew_mem=3, skew_lutram=1),
                    n_red=4, seed=34, backpressure=0.5),
        random_case("r8c8k32_w2_fifo12_skewlut4", _params(8, 8, 32, max_fanin=256, weight_rows=2, weight_hop=1,
                                                          pipeline=2, out_fifo=12, skew_mem=4, skew_lutram=1),
                    n_red=3, seed=32, split=1, idle=0.1),
        # the cocotb ccu2 configuration's own case (3x8_k32_ccu2)
        random_case("r3c8k32_ahop3_pipe2", _params(3, 8, 32, max_fanin=300, act_hop=3, pipeline=2), n_red=3, seed=33),
        # acc_lfsr: LFSR accumulators (hdl/lfsr.py) in both flows, every pipeline depth, back-to-back
        # restarts, and a fan-in that uses every LFSR state (119 = 15 * 8 - 1 at K=7: 15 states, 4 bits)
        random_case("r1c1k1_lfsr", _params(1, 1, 1, max_fanin=16, acc_lfsr=1), n_red=4, seed=38),
        random_case("r9c3k7_fifo12_drain4x2_lfsr_split2", _params(9, 3, 7, max_fanin=70, weight_hop=2, out_fifo=12,
                                                                 drain_hop=4, drain_regs=2, acc_lfsr=1),
                    n_red=3, seed=39, split=2, idle=0.1, backpressure=0.5, framing="last"),
        random_case("r3c3k7_burst_nooverlap_lfsr", _params(3, 3, 7, max_fanin=70, overlap=0, acc_lfsr=1), n_red=6,
                    beats=1, seed=40, idle=0.0, backpressure=0.3, framing="last"),
        random_case("r3c2k7_nopipe_lfsr_burst", _params(3, 2, 7, max_fanin=70, pipeline=0, acc_lfsr=1), n_red=5,
                    beats=1, seed=41, idle=0.0, backpressure=0.3),
        random_case("r2c3k32_pipe2_lfsr", _params(2, 3, 32, max_fanin=256, pipeline=2, acc_lfsr=1), n_red=3,
                    seed=42),
        _extreme_case("r1c3k7_all_match_lfsr_full", _params(1, 3, 7, max_fanin=119, acc_lfsr=1), "match", 43),
        _extreme_case("r1c3k7_all_mismatch_lfsr_full", _params(1, 3, 7, max_fanin=119, acc_lfsr=1), "mismatch", 44),
        # carry counts of exactly 2**n (fan-in 7 at K=1, 63 at K=7: 4 and 8 counts): the LFSR's last state is
        # used (the ccu2 PE counts mismatches, so all-mismatch is its full count)
        _extreme_case("r1c1k1_all_match_lfsr_pow2", _params(1, 1, 1, max_fanin=7, acc_lfsr=1), "match", 48),
        _extreme_case("r1c1k1_all_mismatch_lfsr_pow2", _params(1, 1, 1, max_fanin=7, acc_lfsr=1), "mismatch", 49),
        _extreme_case("r1c2k7_all_match_lfsr_pow2", _params(1, 2, 7, max_fanin=63, acc_lfsr=1), "match", 50),
        _extreme_case("r1c2k7_all_mismatch_lfsr_pow2", _params(1, 2, 7, max_fanin=63, acc_lfsr=1), "mismatch", 51),
        # one row asked to sum groups of 2 (split past the rows): each group is that row alone
        random_case("r1c2k7_split1_one_row", _params(1, 2, 7, max_fanin=70), n_red=3, seed=52, split=1),
        random_case("r1c2k7_fifo4_split1_one_row", _params(1, 2, 7, max_fanin=70, out_fifo=4), n_red=3, seed=53,
                    split=1),
        _ties_case("r2c3k7_ties_pos", _params(2, 3, 7, max_fanin=70), 12, 1),
        _ties_case("r3c2k32_ties_neg", _params(3, 2, 32, max_fanin=256), 13, 0),
        _ties_case("r2c2k7_ties_multi", _params(2, 2, 7, max_fanin=70, n_thresholds=3), 14, 1),
        _extreme_case("r2c2k64_all_match", _params(2, 2, 64, max_fanin=512), "match", 15),
        _extreme_case("r2c2k64_all_mismatch", _params(2, 2, 64, max_fanin=512), "mismatch", 16),
        _extreme_case("r1c3k7_all_match_odd", _params(1, 3, 7, max_fanin=63), "match", 17),
        _constant_case("r2c4k7_constant", _params(2, 4, 7, max_fanin=70), 18),
    ]
    return out
