"""Run a shipped program (golden/programs/default.npz) layer by layer on the cosimulated core.

Host-side tiling: rows of the array = samples, columns = output neurons, one reduction per
(row tile, column tile) of ceil(k / K) beats. Binary layers use the core's threshold unit
(thresholds loaded through the thr stream, one entry per column tile); the 8-bit first layer runs
one pass per bit plane and the host combines the raw P as the integer model does
(sum_b 2^b (P_b + popcount(w) - k)); the head uses the raw P scores. Each layer's input is the
previous layer's output *as the core produced it*, and every output beat is also checked by the
in-order scoreboard against the golden popcounts. Mismatches are counted against
golden/intmodel.py's per-layer outputs; accuracy against the labels.
"""

from __future__ import annotations

import numpy as np

from golden.conventions import PAD_ACT_BIT, PAD_WGT_BIT, pack_bits, threshold, unpack_bits
from golden.errors import ProgramError
from golden.intmodel import combine_planes, popcount_matmul
from golden.program import Program
from golden.reference import drain_beats
from golden.stimulus import Reduction, ThrWrite

from .design import Design
from .jobs import params, to_job
from .tb import Job


def _words(bits: np.ndarray, k: int, pad: int) -> np.ndarray:
    """[M, n] {0,1} -> [M, ceil(n/k)] k-bit words (LSB first, tail padded with ``pad``)."""
    m, n = bits.shape
    nw = -(-n // k)
    full = np.full((m, nw * k), pad, dtype=np.uint8)
    full[:, :n] = bits
    weights = (1 << np.arange(k, dtype=object))
    return (full.reshape(m, nw, k).astype(object) * weights).sum(axis=-1)


def core_threshold(t: np.ndarray, pol: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """Map folded (T, polarity +-1) into the core's range T in [0, F + 1] with the same function
    on every P in [0, F]: T < 0 with -1 (never) becomes (F + 1, +1); T < 0 with +1 is T = 0."""
    t = np.asarray(t, dtype=np.int64).copy()
    pol = np.asarray(pol, dtype=np.int64).copy()
    never = (t < 0) & (pol < 0)
    t[never], pol[never] = f + 1, 1
    return np.clip(t, 0, f + 1), pol


class LayerRun:
    """The jobs of one layer pass and how to put its out beats back into a [M, out] matrix."""

    def __init__(self, d: Design, a_bits: np.ndarray, w_bits: np.ndarray, thr=None, pol=None, name: str = "L"):
        R, C, K = d.rows, d.cols, d.k
        self.m, self.n_out = a_bits.shape[0], w_bits.shape[0]
        k = a_bits.shape[1]
        if -(-k // K) * K > d.max_fanin:
            raise ValueError(f"{name}: fan-in {k} needs max_fanin >= {-(-k // K) * K} (core has {d.max_fanin})")
        self.tiles_r, self.tiles_c = -(-self.m // R), -(-self.n_out // C)
        a = np.zeros((self.tiles_r * R, k), dtype=np.uint8)
        a[:self.m] = a_bits
        w = np.zeros((self.tiles_c * C, k), dtype=np.uint8)
        w[:self.n_out] = w_bits
        aw, ww = _words(a, K, PAD_ACT_BIT), _words(w, K, PAD_WGT_BIT)
        p = popcount_matmul(pack_bits(a), pack_bits(w), k)  # golden P of every (row, neuron)
        t = np.full(self.tiles_c * C, d.max_fanin + 1, dtype=np.int64)  # padded neurons: constant 0
        sg = np.ones(self.tiles_c * C, dtype=np.int64)
        if thr is not None:
            t[:self.n_out], sg[:self.n_out] = core_threshold(thr, pol, d.max_fanin)
        self.jobs: list[Job] = []
        self.order: list[tuple[int, int]] = []  # (row tile, column tile) of every job, in order
        nw = aw.shape[1]
        acts = [tuple(tuple(aw[ti * R:(ti + 1) * R, j].tolist()) for j in range(nw)) for ti in range(self.tiles_r)]
        wgts = [tuple(tuple(ww[u * C:(u + 1) * C, j].tolist()) for j in range(nw)) for u in range(self.tiles_c)]
        par = params(d)
        for u in range(self.tiles_c):
            cs = slice(u * C, (u + 1) * C)
            write = ThrWrite(0, tuple(t[cs].tolist()), tuple(int(v > 0) for v in sg[cs]))
            for ti in range(self.tiles_r):
                # the golden framing (split 0: one beat per row) of the vectorized popcounts; y from
                # the golden threshold unit with the tile's entry (written by the tile's first job)
                drain = drain_beats(par, p[ti * R:(ti + 1) * R, cs])
                self.jobs.append(to_job(d, [write] if ti == 0 else [], [Reduction(acts[ti], wgts[u], 0, 0)],
                                        f"{name}/c{u}/r{ti}", drain=drain, memory=[write]))
                self.order.append((ti, u))

    def assemble(self, d: Design, beats: list[dict], field: str) -> np.ndarray:
        """Out beats (in job order, R per job) -> [m, n_out] of ``field`` ("p" or "y")."""
        R, C = d.rows, d.cols
        if len(beats) != len(self.jobs) * R:
            raise ValueError(f"got {len(beats)} out beats, expected {len(self.jobs) * R}")
        out = np.zeros((self.tiles_r * R, self.tiles_c * C), dtype=np.int64)
        for j, (ti, u) in enumerate(self.order):
            for r in range(R):
                out[ti * R + r, u * C:(u + 1) * C] = beats[j * R + r][field]
        return out[:self.m, :self.n_out]


def weight_bits(program: Program, layer: dict) -> np.ndarray:
    return unpack_bits(program.tensor(f"{layer['name']}.weight"), layer["k"])


class NetworkInput:
    """A program and its test samples, loaded and checked before any core is built or simulated."""

    def __init__(self, program_path: str, dataset: str = "digits", limit: int | None = None):
        """Raises golden.errors.ProgramError (unreadable or unsupported program) or DataError."""
        from golden import data
        from golden.program import load

        self.path, self.dataset = program_path, dataset
        self.program = load(program_path)
        check_program(self.program, program_path)
        split = data.load(dataset, "test")
        self.x, self.labels = split.x[:limit], split.y[:limit]


def check_program(program: Program, path: str, d: Design | None = None) -> None:
    """ProgramError unless every layer runs on the core the way run_program drives it (and, with a
    design, fits its max_fanin)."""
    kind = program.manifest["input"]["kind"]
    if kind != "u8":
        raise ProgramError(f"{path}: input {kind!r}: only programs on u8 input are supported by the "
                           "network cosimulation")
    for i, layer in enumerate(program.layers):
        op = layer["op"]
        if op == "flatten":
            continue
        if op not in ("dense", "head") or layer.get("n_thresholds", 1) != 1:
            raise ProgramError(f"{path}: layer {i} ({op}) is not supported by the network cosimulation "
                               "(only flatten, dense with 1 threshold, head)")
        need = -(-layer["k"] // d.k) * d.k if d is not None else 0  # (as LayerRun tiles it)
        if d is not None and need > d.max_fanin:
            raise ProgramError(f"{path}: layer {i} ({layer['name']}): fan-in {layer['k']} needs a core with "
                               f"max_fanin >= {need} (this one has {d.max_fanin}; see --gen-args)")


def run_program(build, inp: NetworkInput, run_root, log=print, seed: int = 1) -> dict:
    """Every layer of the program on the core (one simulator run per layer); returns the numbers.
    ``seed``: the harness's idle/backpressure gates (as ``make sim --seed``)."""
    import json
    import pickle

    from golden.intmodel import IntModel

    from .build import run_cocotb
    from .plan import network_plan, save_plan
    from .tb import STATS_FILE

    d = build.design
    program, x, labels = inp.program, inp.x, inp.labels
    check_program(program, inp.path, d)
    trace: list = []
    ref = IntModel(program).forward(x, trace)
    a = x
    n = len(x)
    stats = {"samples": n, "layers": [], "checked": 0, "scoreboard_mismatches": 0, "cycles": 0}
    for i, layer in enumerate(program.layers):
        op = layer["op"]
        if op == "flatten":
            a = a.reshape(n, -1)
            continue
        w = weight_bits(program, layer)
        k = layer["k"]
        if layer["acc"] == "u8dot":
            runs = [LayerRun(d, ((a >> b) & 1).astype(np.uint8), w, name=f"{layer['name']}/b{b}") for b in range(8)]
            bulk = True
        elif op == "dense":
            runs = [LayerRun(d, a, w, program.tensor(f"{layer['name']}.thresholds")[:, 0],
                             program.tensor(f"{layer['name']}.polarity"), name=layer["name"])]
            bulk = False  # one threshold entry per column tile: thresholds change between tiles
        else:
            runs = [LayerRun(d, a, w, name=layer["name"])]
            bulk = True
        run_dir = run_root / f"layer{i}_{layer['name']}"
        run_dir.mkdir(parents=True, exist_ok=True)
        jobs = [j for r in runs for j in r.jobs]
        save_plan(network_plan(jobs, bulk), run_dir, d)
        res = run_cocotb(build, "cocotb_tests.core_tests", r"core_tests\.network_layer", run_dir, seed=seed)
        beats = pickle.loads((run_dir / "net_out.pkl").read_bytes())
        st = [json.loads(line) for line in (run_dir / STATS_FILE).read_text().splitlines()]
        per = len(beats) // len(runs) if len(beats) == sum(len(r.jobs) for r in runs) * d.rows else None
        if per is None:
            raise RuntimeError(f"layer {layer['name']}: {len(beats)} out beats, expected "
                               f"{sum(len(r.jobs) for r in runs) * d.rows} ({res['failed']})")
        if layer["acc"] == "u8dot":
            planes = [r.assemble(d, beats[b * per:(b + 1) * per], "p") for b, r in enumerate(runs)]
            acc = combine_planes(planes, w.sum(axis=1, dtype=np.int64), k)  # as the integer model does
            a = threshold(acc, program.tensor(f"{layer['name']}.thresholds")[:, 0],
                          program.tensor(f"{layer['name']}.polarity"))
        elif op == "dense":
            a = runs[0].assemble(d, beats, "y").astype(np.uint8)
        else:
            a = 2 * runs[0].assemble(d, beats, "p") - k  # head: dot = 2P - k from the raw scores
        ref_out = trace[i]
        diff = int(np.count_nonzero(np.asarray(a) != np.asarray(ref_out).reshape(np.asarray(a).shape)))
        cyc = sum(s["cycles"] for s in st)
        sb = sum(s["mismatches"] + s["missing"] for s in st)
        stats["layers"].append({"name": layer["name"], "mode": "bulk" if bulk else "per-beat", "jobs": len(jobs),
                                "cycles": cyc, "mismatches_vs_intmodel": diff, "scoreboard_mismatches": sb,
                                "failed_tests": res["failed"] + res["skipped"]})
        stats["checked"] += sum(s["checked"] for s in st)
        stats["scoreboard_mismatches"] += sb
        stats["cycles"] += cyc
        log(f"  layer {layer['name']:<5} {'bulk' if bulk else 'per-beat':<8} {len(jobs):>6} tiles "
            f"{cyc:>8} cycles  {diff} mismatches vs integer model")
    pred = np.argmax(a, axis=1)
    stats["mismatches_vs_intmodel"] = sum(layer["mismatches_vs_intmodel"] for layer in stats["layers"])
    stats["prediction_mismatches"] = int(np.count_nonzero(pred != ref.pred))
    stats["accuracy"] = round(float(np.mean(pred == labels)), 4)
    stats["intmodel_accuracy"] = round(float(np.mean(ref.pred == labels)), 4)
    return stats
