"""cocotb tests of the generated core (run inside the simulator by cocotb_tests/test_cosim.py).

The design under test is ``$XNORGEN_DESIGN_DIR`` (a ``gen`` output directory); every size and name
comes from its config.json; the jobs (stimulus + golden outputs) come from the host-made plan.
"""

from __future__ import annotations

import itertools
import os
import pickle
import random
from pathlib import Path

import cocotb

from . import coverage
from .design import load_design
from .plan import (
    KINDS,
    NET_BEAT,
    NET_BULK,
    RESET_POINTS,
    SHARED_KEY,
    TIMING_B2B_KEY,
    TIMING_KEY,
    TRAFFIC,
    bulk_key,
    coverage_keys,
    directed_key,
    load_plan,
    reset_keys,
    traffic_key,
)
from .tb import TB, WATCHDOG_CYCLES, WatchdogError
from .traffic import STALL_NAMES

SEED = int(os.environ.get("XNORGEN_SEED", "1"))  # traffic and harness seeds; run_cocotb(seed=...) sets it
SETTLE = 40  # cycles with the output open after a run or a reset: any beat then is an error
_PLAN = None


def _design():
    return load_design(os.environ["XNORGEN_DESIGN_DIR"])


def _jobs(key: str):
    """The host-made jobs for ``key`` (see cocotb_tests/plan.py)."""
    global _PLAN
    if _PLAN is None:
        _PLAN = load_plan()
    return _PLAN[key]


@cocotb.test()
@cocotb.parametrize((("src", "snk"), TRAFFIC))
async def random_traffic(dut, src: str, snk: str) -> None:
    """Random frames of every kind, random split and channel block, under one traffic pattern."""
    d = _design()
    tb = TB(dut, d, src, snk, seed=SEED, name=f"random_traffic/{src}/{snk}")
    await tb.start()
    for job in _jobs(traffic_key(src, snk)):
        await tb.run(job)
    await tb.cycles(SETTLE)
    tb.check()
    dut._log.info("%s/%s: %d output beats checked in %d cycles", src, snk, tb.scoreboard.checked, tb.cycle)


@cocotb.test()
@cocotb.parametrize(kind=list(KINDS))
async def directed(dut, kind: str) -> None:
    """Directed extremes at every legal split: full fan-in all-match / all-mismatch, ties,
    negative polarity, constant channels, multi-threshold; input idle and output stalls on."""
    d = _design()
    tb = TB(dut, d, "bern10", "bern50", seed=SEED, name=f"directed/{kind}")
    await tb.start()
    for job in _jobs(directed_key(kind)):
        await tb.run(job)
    await tb.cycles(SETTLE)
    tb.check()
    assert tb.scoreboard.checked > 0


@cocotb.test()
async def directed_timing(dut) -> None:
    """Every out beat valid at the cycle config.json's latency.out_beats[split] gives, counted from
    its `last` handshake (no input idle, out.ready high), one frame at a time and back to back: the
    Verilog keeps the published table."""
    d = _design()
    table = d.raw["latency"]["out_beats"]
    tb = TB(dut, d, "none", "none", seed=SEED, name="directed_timing")
    await tb.start()

    async def check(jobs: list, how: str) -> None:
        """Run ``jobs`` back to back; each reduction's beats counted from its own `last`."""
        tb.closed_at.clear()
        tb.out_at.clear()
        await tb.run(jobs)
        assert len(tb.closed_at) == len(jobs), f"{how}: {len(tb.closed_at)} reductions closed, {len(jobs)} sent"
        outs = iter(tb.out_at)
        for job, closed in zip(jobs, tb.closed_at, strict=True):
            want = table[job.beats[0]["split"]]
            got = [next(outs) - closed for _ in want]
            assert got == want, f"{job.name} ({how}): out beats {got} cycles after `last`, config.json says {want}"
        assert next(outs, None) is None, f"{how}: more out beats than config.json's table lists"

    for job in _jobs(TIMING_KEY):
        await check([job], "alone")
    # back to back: exact where no beat waits for credits (out_fifo 0 or at least the round trip;
    # with fewer the table is a lower bound)
    if not 0 < d.raw["parameters"]["out_fifo"] < d.raw["latency"]["credit_round_trip"]:
        await check(_jobs(TIMING_B2B_KEY), "back to back")
    await tb.cycles(SETTLE)
    tb.check()


async def _interrupt(tb: TB, d, rng: random.Random, jobs, phase: str, where: str) -> None:
    """Start ``jobs`` and reset in their middle: while thresholds load, beats stream, results drain,
    or while an output beat waits on a stalled output. The jobs share their thresholds (all are
    written first), so outputs that leave before the reset are still checked.

    The handshake counters run over the whole test, so the reset point counts from their values
    here; and the reset must really cut the jobs (fails otherwise), else the coverage bins labelled
    with ``phase`` would count a reset that interrupted nothing."""
    if phase == "out_stalled":
        tb.sink.hold = True
    thr0, beats0, fired0 = tb.thr_src.taken, tb.beat_src.taken, tb.sink.fired
    # thresholds are written before any beat that uses them (as TB.run does)
    tb.thr_src.queue.extend(w for j in jobs for w in j.payloads(d)[0])
    if where != "thr":
        await tb.wait_thr_done()
        for j in jobs:
            tb.scoreboard.intend(j)
            tb.beat_src.queue.extend(j.payloads(d)[1])
    total = sum(len(j.beats) for j in jobs)
    for _ in range(100000):
        await tb.cycles(1)
        if tb.failure:
            raise tb.failure
        beats, fired = tb.beat_src.taken - beats0, tb.sink.fired - fired0
        if phase == "out_stalled":
            if tb.sink.valid_seen and beats > 0:
                await tb.cycles(rng.randint(1, 8))  # the beat sits on a stalled output
                break
        elif (where == "beats" and beats >= max(1, total // 2) or where == "drain" and fired > 0
              or where == "thr" and tb.thr_src.taken > thr0):
            break
    else:
        raise AssertionError(f"never reached the reset point ({phase}/{where})")
    cut = _cut(tb, phase, where, total, tb.beat_src.taken - beats0)
    dropped = await tb.reset(phase)
    if cut or not dropped and where != "thr":
        raise AssertionError(f"reset {phase}/{where} cut nothing: {cut or 'no output beat was pending'}")
    tb.sink.hold = False
    tb.log.info("reset %s/%s: dropped %d pending output beats", phase, where, dropped)
    await tb.cycles(SETTLE)  # nothing stale or partial may come out now
    tb.check()


def _cut(tb: TB, phase: str, where: str, total: int, beats: int) -> str:
    """Why a reset now would not interrupt what ``phase``/``where`` claims ('' when it would)."""
    if where == "thr":
        return "" if tb.thr_src.busy else "every threshold was already written"
    if not 0 < beats < total and not (beats == total and where in ("drain", "stall")):
        return f"{beats} of {total} beats taken"
    if phase == "out_stalled" and not tb.sink.valid_seen:
        return "no beat waits on the stalled output"
    return ""


async def _reset_then_exact(dut, idle: str, name: str, seed: str, where: str, phase: str) -> None:
    """Run up to the reset point, reset in `phase`, then the remaining jobs must check exactly."""
    d = _design()
    tb = TB(dut, d, idle, "bern50", seed=SEED, name=name)
    await tb.start()
    cut, after = reset_keys(where)
    await _interrupt(tb, d, random.Random(seed), _jobs(cut), phase, where)
    for job in _jobs(after):
        await tb.run(job)
    await tb.cycles(SETTLE)
    tb.check()
    assert tb.scoreboard.checked > 0


@cocotb.test()
@cocotb.parametrize(where=list(RESET_POINTS))
async def reset_mid_stream(dut, where: str) -> None:
    """Reset while thresholds load / beats stream / results drain; then the next run is exact."""
    await _reset_then_exact(dut, "bern50", f"reset_mid_stream/{where}", f"{SEED}/rst/{where}",
                            where, "mid_stream")


@cocotb.test()
async def reset_while_stalled(dut) -> None:
    """Hold ready low until an output beat waits, reset, then: nothing comes out, next run exact."""
    await _reset_then_exact(dut, "none", "reset_while_stalled", f"{SEED}/stall", "stall", "out_stalled")


@cocotb.test()
async def watchdog_fires(dut) -> None:
    """Self-test of the watchdog: with ready stuck low, the run must fail within its cycle budget."""
    d = _design()
    tb = TB(dut, d, seed=SEED, name="watchdog_fires")
    await tb.start()
    tb.sink.gate = itertools.repeat(False)  # the output never accepts: no progress once it fills
    start = tb.cycle
    try:
        for job in _jobs(reset_keys("stall")[1]):
            await tb.run(job)
    except WatchdogError as e:
        dut._log.info("watchdog fired as it should: %s", e)
    else:
        raise AssertionError("the core made progress with ready stuck low, or the watchdog never fired")
    assert tb.cycle - start <= WATCHDOG_CYCLES + 200 + sum(len(j.beats) for j in _jobs(reset_keys("stall")[1]))


@cocotb.test()
async def coverage_closure(dut) -> None:
    """Every stall pattern x every reset phase, with frames aimed at below/tie/above for both
    polarities; fails if any planned cross bin stays empty."""
    d = _design()
    tb = TB(dut, d, seed=SEED, name="coverage_closure")
    await tb.start()
    rng = random.Random(f"{SEED}/cov")
    for stall in STALL_NAMES:
        tb.set_traffic(stall, stall)
        for phase in coverage.RESET_PHASES:
            cut, run = coverage_keys(stall, phase)
            if phase == "none":
                tb.reset_phase = "none"  # the previous run ended normally
            else:
                await _interrupt(tb, d, rng, _jobs(cut), phase, "beats" if phase == "mid_stream" else "stall")
            for job in _jobs(run):
                await tb.run(job)
    await tb.cycles(SETTLE)
    tb.check()
    missing = coverage.report(dut._log, Path("."))
    assert not missing, f"{len(missing)} of {coverage.PLANNED} planned bins not hit: {missing[:8]}"


@cocotb.test()
@cocotb.parametrize(pattern=list(STALL_NAMES))
async def bulk(dut, pattern: str) -> None:
    """Many frames through the HDL harness (idle and backpressure from HDL generators)."""
    d = _design()
    tb = TB(dut, d, pattern, pattern, seed=SEED, name=f"bulk/{pattern}")
    await tb.start(per_beat=False)
    cycles = await tb.run_bulk(_jobs(bulk_key(pattern)), Path("."))
    tb.check()
    dut._log.info("bulk %s: %d output beats in %d cycles", pattern, tb.scoreboard.checked, cycles)


@cocotb.test()
@cocotb.parametrize((("src", "snk"), TRAFFIC[1:5]))
async def shared_cases(dut, src: str, snk: str) -> None:
    """The golden.stimulus cases the amaranth.sim tests run, for this configuration, per beat."""
    d = _design()
    jobs = _jobs(SHARED_KEY)
    assert jobs, "no golden.stimulus case has this configuration's parameters"
    tb = TB(dut, d, src, snk, seed=SEED, name=f"shared_cases/{src}/{snk}")
    await tb.start()
    for job in jobs:
        await tb.run(job)
    await tb.cycles(SETTLE)
    tb.check()
    dut._log.info("%d shared cases, %d output beats checked", len(jobs), tb.scoreboard.checked)


@cocotb.test()
async def network_layer(dut) -> None:
    """One layer of a program on the core (cocotb_tests/network.py): bulk chunks or per-beat jobs;
    every received beat goes to net_out.pkl for the host, and the scoreboard checks them all."""
    d = _design()
    plan = load_plan()
    bulk = sorted((k for k in plan if k.startswith(NET_BULK)), key=lambda k: int(k.rsplit("/", 1)[1]))
    tb = TB(dut, d, seed=SEED, name="network_layer", keep=True)
    await tb.start(per_beat=not bulk)
    try:
        if bulk:
            for key in bulk:
                await tb.run_bulk(plan[key], Path("."))
        else:
            for job in plan[NET_BEAT]:
                await tb.run(job)
    finally:
        Path("net_out.pkl").write_bytes(pickle.dumps(tb.scoreboard.received))
    tb.check()


@cocotb.test()
async def coverage_summary(dut) -> None:
    """Last test of every run: write the coverage bins hit by the tests before it."""
    coverage.report(dut._log, Path("."))
