"""The testbench: clock, reset, stream drivers and monitors, scoreboard, watchdog, bulk runs.

Two ways to drive the same Verilated harness (see :mod:`cocotb_tests.harness`):

- per beat (``h_ext = 1``): one Python coroutine per clock cycle drives every stream and samples
  every handshake. Slow, but it can do anything: idle/backpressure patterns, reset at any moment,
  holding the output stalled. Used by the robustness tests.
- bulk (``h_ext = 0``): jobs are written to hex files, the harness plays them at the chosen
  idle/backpressure pattern and records every output beat; Python waits for one ``h_done`` edge.

Both feed the same in-order :class:`Scoreboard` with expected beats from the golden model. Per beat,
those come from an input monitor: it samples the ``thr`` and ``beat`` handshakes, the model
(:mod:`cocotb_tests.model`) rebuilds the threshold memory and the reductions the core accepted,
and each accepted ``last`` queues that reduction's expected out beats; the jobs' precomputed beats
only cross-check the driver. Bulk runs take the jobs' beats (the harness plays them unobserved).

Handshake timing: inputs are written on the falling edge, then the testbench waits for ReadOnly
and samples valid & ready. Nothing changes between that moment and the next rising edge, so the
sampled handshakes are exactly those the core sees at the edge.

Writes reach the core through the harness's input registers, which sample on every edge of
``h_wr``: every batch of writes ends with :meth:`TB.commit` (same time step, so the core sees the
values as if wired straight through; see :mod:`cocotb_tests.harness` for why).
"""

from __future__ import annotations

import json
import random
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, First, ReadOnly, RisingEdge, Timer

from . import coverage
from .design import Design, Stream
from .harness import BEAT_DEPTH, BEAT_HEX, OUT_DEPTH, OUT_HEX, THR_DEPTH, THR_HEX, read_hex, write_hex
from .model import CoreModel, InputMonitor
from .traffic import PATTERNS, Pattern

PERIOD_NS = 10
STATS_FILE = "stats.jsonl"
WATCHDOG_CYCLES = 2000  # cycles without any handshake while work is pending -> the test fails


class WatchdogError(AssertionError):
    """No handshake for WATCHDOG_CYCLES cycles although work was pending."""


@dataclass
class Job:
    """One unit of stimulus: threshold writes, input beats, and the golden output beats (what bulk
    runs check against; per beat, the cross-check of the input monitor's model).

    Entries are field dicts of the stream payloads (names from config.json). ``meta`` has one dict
    per expected beat (thresholds and polarity of its channels) for functional coverage.
    """

    thr_writes: list[dict]
    beats: list[dict]
    expected: list[dict]
    meta: list[dict] = field(default_factory=list)
    name: str = "job"
    packed: tuple[list[int], list[int]] | None = None  # (thr, beat) payload ints, packed on the host

    def payloads(self, d: Design) -> tuple[list[int], list[int]]:
        """(thr, beat) payloads as integers (config.json offsets); packed once."""
        if self.packed is None:
            self.packed = ([d.thr.pack(**w) for w in self.thr_writes], [d.beat.pack(**b) for b in self.beats])
        return self.packed


class Scoreboard:
    """In-order checker: every output beat must equal the next expected one, and none may be extra.

    Expected beats come from the golden model: per beat, from :class:`cocotb_tests.model.CoreModel`
    fed by the input monitor (:meth:`predicted`); in bulk runs, from the jobs (:meth:`expect`).
    Per beat, the jobs' precomputed beats wait in ``intended`` (:meth:`intend`) and each beat the
    model predicts must equal the next of them: a cross-check that the core was given what the jobs
    hold (a driver bug shows here, as a ``stimulus:`` mismatch, even if the core answers it right).
    """

    def __init__(self, log, on_match=None, keep: bool = False):
        self.log = log
        self.keep = keep  # also keep every received beat (network runs read them back)
        self.received: list[dict] = []
        self.queue: deque = deque()
        self.intended: deque = deque()
        self.checked = 0
        self.predicted_n = 0  # beats the model predicted (per beat)
        self.mismatches: list[str] = []
        self.on_match = on_match  # called with (expected, meta) for coverage

    def expect(self, job: Job) -> None:
        metas = job.meta or [{}] * len(job.expected)
        self.queue.extend((job.name, i, e, m) for i, (e, m) in enumerate(zip(job.expected, metas, strict=True)))

    def intend(self, job: Job) -> None:
        self.intended.extend((job.name, i, e) for i, e in enumerate(job.expected))

    def predicted(self, beats: list[dict], metas: list[dict]) -> None:
        """Beats the model expects from a reduction the core accepted: cross-checked against the
        jobs' intended beats, then queued for the core's outputs."""
        for exp, meta in zip(beats, metas, strict=True):
            self.predicted_n += 1
            if not self.intended:
                name, i = "monitor", self.predicted_n - 1
                self.fail(f"stimulus: the core accepted a reduction no job holds (model beat {_short(exp)})")
            else:
                name, i, want = self.intended.popleft()
                bad = [k for k, v in want.items() if exp.get(k) != v]
                if bad:
                    self.fail(f"stimulus: {name} beat {i}: the accepted input gives fields {bad} = "
                              f"{_short({k: exp.get(k) for k in bad})}, the job expects "
                              f"{_short({k: want[k] for k in bad})} (the driver sent other beats)")
            self.queue.append((name, i, exp, meta))

    def flush(self) -> int:
        """Reset: forget every expected beat (predicted or intended); returns how many."""
        n = len(self.queue) + len(self.intended)
        self.queue.clear()
        self.intended.clear()
        return n

    def got(self, beat: dict) -> None:
        if self.keep:
            self.received.append(beat)
        if not self.queue:
            self.fail(f"unexpected output beat (nothing pending): {_short(beat)}")
            return
        name, i, exp, meta = self.queue.popleft()
        bad = [k for k, v in exp.items() if beat.get(k) != v]
        if bad:
            self.fail(f"{name} beat {i}: fields {bad} differ: expected "
                      f"{_short({k: exp[k] for k in bad})} got {_short({k: beat.get(k) for k in bad})}")
        else:
            self.checked += 1
            if self.on_match:
                self.on_match(exp, meta)

    def fail(self, msg: str) -> None:
        self.mismatches.append(msg)
        if len(self.mismatches) <= 10:
            self.log.error("scoreboard: %s", msg)

    @property
    def pending(self) -> int:
        """Beats still to come: predicted and not received, plus intended and not yet predicted."""
        return len(self.queue) + len(self.intended)

    def assert_clean(self) -> None:
        if self.mismatches:
            raise AssertionError(f"{len(self.mismatches)} mismatches, first: {self.mismatches[0]}")
        if self.queue:
            raise AssertionError(f"{len(self.queue)} expected output beats never came")
        if self.intended:
            raise AssertionError(f"{len(self.intended)} output beats the jobs hold were never predicted: the core "
                                 "did not accept all of their beats")


def _short(d: dict, limit: int = 240) -> str:
    s = repr(d)
    return s if len(s) <= limit else s[:limit] + "..."


class _Source:
    """Drives one input stream: valid goes up on an open cycle and stays up until the beat is taken."""

    def __init__(self, dut, stream: Stream, pattern: Pattern, rng: random.Random):
        self.stream = stream
        self.h_valid = getattr(dut, stream.valid)
        self.h_ready = getattr(dut, stream.ready)
        self.h_payload = getattr(dut, stream.payload)
        self.queue: deque[int] = deque()
        self.set_pattern(pattern, rng)
        self.valid = False
        self.fired = False
        self.taken = 0

    def set_pattern(self, pattern: Pattern, rng: random.Random) -> None:
        self.gate = pattern.gate(rng)

    def drive(self) -> None:
        if self.fired:
            self.valid = False
            self.taken += 1
        is_open = next(self.gate)
        if not self.valid and self.queue and is_open:
            self.valid = True
            self.h_payload.value = self.queue.popleft()
        self.h_valid.value = int(self.valid)

    def sample(self) -> None:
        self.fired = self.valid and bool(int(self.h_ready.value))

    def drop(self) -> None:
        """Reset: forget the queue and the beat on the wires."""
        self.queue.clear()
        self.valid = self.fired = False
        self.h_valid.value = 0

    @property
    def busy(self) -> bool:
        return self.valid or bool(self.queue)


class _Sink:
    """Drives ready of the output stream from a pattern (or holds it low) and monitors beats.

    Also checks the stream rule (as tests/simdrive.py's ``stable_violations``): once valid is up
    with ready low, valid must stay up and the payload unchanged until the handshake; the scoreboard
    alone misses a beat withdrawn and offered again.
    """

    def __init__(self, dut, stream: Stream, pattern: Pattern, rng: random.Random, on_beat):
        self.stream = stream
        self.h_valid = getattr(dut, stream.valid)
        self.h_ready = getattr(dut, stream.ready)
        self.h_payload = getattr(dut, stream.payload)
        self.set_pattern(pattern, rng)
        self.on_beat = on_beat
        self.hold = False  # force backpressure (reset-while-stalled tests)
        self.ready = False
        self.valid_seen = False
        self.fired = 0
        self.held: int | None = None  # payload offered last cycle with ready low
        self.violations: list[str] = []

    def set_pattern(self, pattern: Pattern, rng: random.Random) -> None:
        self.gate = pattern.gate(rng)

    def drive(self) -> None:
        is_open = next(self.gate)
        self.ready = is_open and not self.hold
        self.h_ready.value = int(self.ready)

    def sample(self, in_reset: bool, cycle: int = 0) -> bool:
        self.valid_seen = bool(int(self.h_valid.value))
        payload = int(self.h_payload.value)
        if in_reset:  # a reset may withdraw a stalled beat
            self.held = None
            return False
        if self.held is not None and (not self.valid_seen or payload != self.held):
            what = "valid dropped" if not self.valid_seen else f"payload {payload:#x} replaced {self.held:#x}"
            self.violations.append(f"cycle {cycle}: {what} while out.ready was low")
        self.held = payload if self.valid_seen and not self.ready else None
        if not (self.ready and self.valid_seen):
            return False
        self.fired += 1
        self.on_beat(self.stream.unpack(payload))
        return True


class TB:
    """Owns the clock, reset, drivers, monitor, scoreboard and watchdog of one harness instance."""

    def __init__(self, dut, design: Design, src: str = "none", snk: str = "none", seed: int = 1,
                 name: str = "tb", keep: bool = False):
        self.dut = dut
        self.name = name
        self.d = design
        self.log = dut._log
        self.rng = random.Random(seed)
        self.seed = seed
        self.clk = getattr(dut, design.clock)
        self.rst = getattr(dut, design.reset)
        self.h_wr = dut.h_wr
        self.reset_phase = "none"  # the last reset: none | mid_stream | out_stalled (coverage label)
        self.scoreboard = Scoreboard(self.log, self._covered, keep)
        self.src_pattern, self.snk_pattern = PATTERNS[src], PATTERNS[snk]
        self.thr_src = _Source(dut, design.thr, self.src_pattern, self.rng)
        self.beat_src = _Source(dut, design.beat, self.src_pattern, self.rng)
        self.sink = _Sink(dut, design.out, self.snk_pattern, self.rng, self._got)
        self.model = CoreModel(design.raw["parameters"])
        self.monitor = InputMonitor(dut, design, self.model, self._expected, self._reset_seen, self._written)
        self.closed_at: list[int] = []  # cycles of the accepted `last` beats
        self.out_at: list[int] = []  # cycles of the out handshakes
        self.cycle = 0
        self.last_progress = 0
        self.in_reset = False
        self._loop = None
        self.failure: Exception | None = None
        self.bulk_cycles = 0
        self.bulk_sim_seconds = 0.0  # wall time the simulator spent between h_load and h_done
        self.bulk_sim_cpu_seconds = 0.0  # the same in CPU time: not inflated by other load

    def _expected(self, beats: list[dict], metas: list[dict]) -> None:
        self.closed_at.append(self.cycle)
        self.scoreboard.predicted(beats, metas)

    def _got(self, beat: dict) -> None:
        self.out_at.append(self.cycle)
        self.scoreboard.got(beat)

    def _covered(self, expected: dict, meta: dict) -> None:
        coverage.sample_beat(expected, meta, self.snk_pattern.name, self.reset_phase)

    def _reset_seen(self) -> None:
        """The monitor saw rst high: every result in flight is gone (as in the core)."""
        self.scoreboard.flush()

    def _written(self, changed: bool) -> None:
        if changed and (self.scoreboard.queue or self.model.open is not None):
            self.scoreboard.fail(f"testbench: threshold entry rewritten at cycle {self.cycle} while results are in "
                                 "flight (the model cannot tell which contents they read)")

    # -- clock, reset, mode --------------------------------------------------------------------
    def commit(self) -> None:
        """Make this time step's writes visible to the core: flip ``h_wr`` (the harness samples
        every input on each of its edges). The flip is relative to the simulator's value, which
        pending writes do not change, so several calls in one time step still make one edge."""
        self.h_wr.value = 1 - int(self.h_wr.value)

    async def start(self, per_beat: bool = True) -> None:
        """Start the GPI clock (no Python per edge), reset, and the per-beat loop if asked."""
        Clock(self.clk, PERIOD_NS, unit="ns", impl="gpi").start(start_high=False)
        for name in ("h_load", "h_dump", "h_n_beat", "h_n_thr", "h_n_out", "h_mode_src", "h_p_src",
                     "h_mode_snk", "h_p_snk", "h_seed", "h_stall_limit"):
            getattr(self.dut, name).value = 0
        self.dut.h_ext.value = int(per_beat)
        for s in (self.thr_src, self.beat_src):
            s.h_valid.value = 0
            s.h_payload.value = 0
        self.sink.h_ready.value = 0
        self.rst.value = 1
        self.commit()
        await Timer(PERIOD_NS, unit="ns")
        self.commit()  # sample again: reset is held over clock edges whatever happened at time 0
        await Timer(2 * PERIOD_NS, unit="ns")
        await FallingEdge(self.clk)
        self.rst.value = 0
        self.commit()
        if per_beat:
            self._loop = cocotb.start_soon(self._cycle_loop())

    def set_traffic(self, src: str, snk: str) -> None:
        self.src_pattern, self.snk_pattern = PATTERNS[src], PATTERNS[snk]
        for s in (self.thr_src, self.beat_src):
            s.set_pattern(self.src_pattern, self.rng)
        self.sink.set_pattern(self.snk_pattern, self.rng)

    async def reset(self, phase: str, cycles: int = 2) -> int:
        """Synchronous reset for ``cycles`` clocks in the middle of whatever runs.

        Drops queued input and forgets pending expectations (those the model predicted and those the
        jobs hold); returns how many were dropped. The monitor sees rst too and drops the model's
        open reduction.
        ``phase`` labels the outputs checked afterwards for coverage.
        """
        self.reset_phase = phase
        self.in_reset = True
        for s in (self.thr_src, self.beat_src):
            s.drop()
        dropped = self.scoreboard.flush()
        self.rst.value = 1
        self.commit()
        edges = cocotb.start_soon(self._count_rising())  # self-check: rst really spans `cycles` edges
        for _ in range(cycles):
            await FallingEdge(self.clk)
            for s in (self.thr_src, self.beat_src):
                s.drop()
            self.commit()
        self.rst.value = 0
        self.commit()
        held = self._rising
        edges.cancel()
        self.in_reset = False
        self.last_progress = self.cycle
        if held != cycles:
            raise AssertionError(f"reset held rst for {held} rising edges, asked for {cycles}")
        return dropped

    async def _count_rising(self) -> None:
        self._rising = 0
        while True:
            await RisingEdge(self.clk)
            self._rising += 1

    async def _cycle_loop(self) -> None:
        srcs = (self.thr_src, self.beat_src)
        while True:
            await FallingEdge(self.clk)
            self.cycle += 1
            if not self.in_reset:
                for s in srcs:
                    s.drive()
            self.sink.drive()
            self.commit()
            await ReadOnly()
            self.monitor.sample()  # before the sink: beats the model predicts now are queued first
            progress = False
            for s in srcs:
                s.sample()
                progress |= s.fired
            progress |= self.sink.sample(self.in_reset, self.cycle)
            if progress or self.in_reset:
                self.last_progress = self.cycle
            elif self.cycle - self.last_progress > WATCHDOG_CYCLES and self._pending() and not self.sink.hold:
                # stored, not raised here: the test coroutine raises it (in _until / check), so a
                # test can also expect it (see core_tests.watchdog_fires)
                self.failure = WatchdogError(
                    f"no handshake for {WATCHDOG_CYCLES} cycles at cycle {self.cycle}: "
                    f"thr queued {len(self.thr_src.queue)}, beats queued {len(self.beat_src.queue)}, "
                    f"outputs pending {self.scoreboard.pending}, out.valid {self.sink.valid_seen}")
                return

    def _pending(self) -> bool:
        return self.thr_src.busy or self.beat_src.busy or self.scoreboard.pending > 0

    async def cycles(self, n: int) -> None:
        """Wait ``n`` falling edges: edge-based, so a wait started at a falling edge (as every
        one here is) spans exactly ``n`` rising edges; a Timer could resume before that edge."""
        if n > 0:
            await ClockCycles(self.clk, n, FallingEdge)

    # -- per-beat jobs ---------------------------------------------------------------------------
    async def wait_thr_done(self) -> None:
        await self._until(lambda: not self.thr_src.busy)

    async def run(self, job: Job | list[Job], settle: int = 0) -> None:
        """Thresholds first (all written), then beats; returns when every expected output came.

        A list of jobs goes back to back: every threshold write, then every beat (their writes must
        agree where they share an entry). The watchdog in the cycle loop fails the test if the core
        stops making progress. The expected outputs come from the input monitor; the jobs' own beats
        are the cross-check.
        """
        jobs = job if isinstance(job, list) else [job]
        for j in jobs:
            self.scoreboard.intend(j)
            self.thr_src.queue.extend(j.payloads(self.d)[0])
        await self._until(lambda: not self.thr_src.busy)
        for j in jobs:
            self.beat_src.queue.extend(j.payloads(self.d)[1])
        await self._until(lambda: not self.beat_src.busy and self.scoreboard.pending == 0)
        if settle:
            await self.cycles(settle)  # any extra output beat now is a scoreboard error

    async def _until(self, cond) -> None:
        """Wait for ``cond``; a failure in the cycle loop (watchdog, monitor) ends the wait."""
        loop = self._loop
        while not cond():
            await FallingEdge(self.clk)
            if loop.done():
                loop.result()  # re-raises a monitor failure
                raise self.failure or AssertionError("cycle loop ended")
            if len(self.scoreboard.mismatches) > 20:
                break

    def check(self) -> None:
        """Fail on any mismatch or missing beat, and on a dead cycle loop; append the run's
        numbers to stats.jsonl in the run directory (read by ``make sim``)."""
        sb = self.scoreboard
        stats = {"test": self.name,
                 "checked": sb.checked, "mismatches": len(sb.mismatches), "missing": sb.pending,
                 "predicted": sb.predicted_n,
                 "cycles": self.cycle + self.bulk_cycles, "bulk_cycles": self.bulk_cycles,
                 "bulk_sim_seconds": round(self.bulk_sim_seconds, 4), "seed": self.seed,
                 "stream_violations": len(self.sink.violations)}
        with open(STATS_FILE, "a") as f:
            f.write(json.dumps(stats) + "\n")
        if self._loop is not None and self._loop.done():
            self._loop.result()
            if self.failure:
                raise self.failure
        if self.sink.violations:
            raise AssertionError(f"out stream rule broken {len(self.sink.violations)} times (a stalled beat must "
                                 f"stay valid and unchanged until taken), first: {self.sink.violations[0]}")
        sb.assert_clean()

    # -- bulk jobs through the harness -----------------------------------------------------------
    async def run_bulk(self, jobs: list[Job], workdir: Path = Path("."), src: str | None = None,
                       snk: str | None = None, seed: int | None = None, stall_limit: int = 20000,
                       tail: int | None = None) -> int:
        """Play ``jobs`` through the harness memories; compares every output; returns cycles used.

        After ``h_done`` the output stays watched for ``tail`` cycles with ready high (default:
        :meth:`Design.out_window`, the core's own latency figures), counted on the harness's
        ``h_open``, so heavy backpressure stretches the window instead of hiding a late extra beat.
        """
        thr = [w for j in jobs for w in j.payloads(self.d)[0]]
        final: dict = {}
        for j in jobs:
            for w in j.thr_writes:
                if final.setdefault(w["addr"], w) != w:
                    raise ValueError(f"bulk run: threshold entry {w['addr']} written with two contents; the "
                                     "harness writes all thresholds first, so each entry needs one")
        beats = [b for j in jobs for b in j.payloads(self.d)[1]]
        n_out = sum(len(j.expected) for j in jobs)
        if len(thr) > THR_DEPTH or len(beats) > BEAT_DEPTH or n_out > OUT_DEPTH:
            raise ValueError(f"bulk run too big: {len(thr)} thr, {len(beats)} beats, {n_out} outputs "
                             f"(harness holds {THR_DEPTH}, {BEAT_DEPTH}, {OUT_DEPTH})")
        write_hex(workdir / THR_HEX, thr, self.d.thr.width)
        write_hex(workdir / BEAT_HEX, beats, self.d.beat.width)
        sp, kp = PATTERNS[src or self.src_pattern.name], PATTERNS[snk or self.snk_pattern.name]
        dut = self.dut
        await FallingEdge(self.clk)
        dut.h_ext.value = 0
        dut.h_n_thr.value, dut.h_n_beat.value, dut.h_n_out.value = len(thr), len(beats), n_out
        (dut.h_mode_src.value, dut.h_p_src.value), (dut.h_mode_snk.value, dut.h_p_snk.value) = sp.hdl(), kp.hdl()
        dut.h_seed.value = ((self.rng.getrandbits(31) if seed is None else seed) << 1) & 0xFFFFFFFF
        dut.h_stall_limit.value = stall_limit
        dut.h_load.value = 1
        self.commit()
        await FallingEdge(self.clk)
        dut.h_load.value = 0
        self.commit()
        budget = (len(thr) + len(beats) + n_out + 100) * 64 + stall_limit
        t0, c0 = time.perf_counter(), time.process_time()
        timeout = Timer(budget * PERIOD_NS, unit="ns")
        fired = await First(RisingEdge(dut.h_done), timeout)
        sim_s = time.perf_counter() - t0
        self.bulk_sim_cpu_seconds += time.process_time() - c0  # this process runs the simulator too
        cycles = int(dut.h_cycles.value)
        if fired is timeout:
            raise WatchdogError(f"bulk run: h_done not raised within its budget of {budget} cycles "
                                f"({int(dut.h_got.value)} of {n_out} outputs after {cycles} cycles)")
        # extra beats after the last expected one would be counted: wait for `tail` open cycles
        # (each cycle opens at most one, so waiting the remainder never overshoots by much)
        tail = self.d.out_window() if tail is None else tail
        open0 = int(dut.h_open.value)
        waited = 0
        while (left := tail - (int(dut.h_open.value) - open0)) > 0 and waited < budget:
            await self.cycles(left)
            waited += left
        if left > 0:
            raise WatchdogError(f"bulk run: the output opened {tail - left} times in {waited} cycles after done, "
                                f"fewer than the {tail} open cycles the extra-beat window needs")
        await FallingEdge(self.clk)
        got, stuck, unstable = int(dut.h_got.value), int(dut.h_stuck.value), int(dut.h_unstable.value)
        dut.h_dump.value = 1
        self.commit()
        await FallingEdge(self.clk)
        dut.h_dump.value = 0
        self.commit()
        for j in jobs:
            self.scoreboard.expect(j)
        words = read_hex(workdir / OUT_HEX, min(got, OUT_DEPTH)) if got else []
        for w in words:
            self.scoreboard.got(self.d.out.unpack(w))
        self.bulk_cycles += cycles
        self.bulk_sim_seconds += sim_s
        if stuck and got < n_out:
            raise WatchdogError(f"bulk run stalled: {got} of {n_out} outputs after {cycles} cycles")
        if got > n_out:
            raise AssertionError(f"bulk run produced {got} outputs, expected {n_out}")
        if unstable:
            raise AssertionError("bulk run: out stream rule broken (the harness saw a stalled beat withdrawn or "
                                 "changed before its handshake)")
        return cycles
