"""cocotb throughput tests for bench/bench_cosim.py: bulk harness vs. Python-per-beat driving.

Both check every output beat against the golden model (a benchmark that does not check is not
measuring the regression). Numbers go to speed.json in the run directory.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb

from .design import load_design
from .plan import load_plan, speed_key
from .tb import TB


@cocotb.test()
async def bulk_speed(dut) -> None:
    d = load_design(os.environ["XNORGEN_DESIGN_DIR"])
    plan = load_plan()
    tb = TB(dut, d, seed=1, name="bulk_speed")
    await tb.start(per_beat=False)
    t0, c0 = time.perf_counter(), time.process_time()
    chunks = sorted(k for k in plan if k.startswith("speed/") and k != speed_key("per_beat"))
    for key in chunks:
        await tb.run_bulk(plan[key], Path("."), src="none", snk="none")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    tb.check()
    out = {"cycles": tb.bulk_cycles, "sim_seconds": tb.bulk_sim_seconds, "sim_cpu_seconds": tb.bulk_sim_cpu_seconds,
           "wall_seconds": wall, "cpu_seconds": cpu, "beats_checked": tb.scoreboard.checked}
    _save("bulk", out)
    dut._log.info("bulk: %s", out)


@cocotb.test()
async def per_beat_speed(dut) -> None:
    d = load_design(os.environ["XNORGEN_DESIGN_DIR"])
    tb = TB(dut, d, seed=1, name="per_beat_speed")
    await tb.start()
    t0, c0, n0 = time.perf_counter(), time.process_time(), tb.cycle
    for job in load_plan()[speed_key("per_beat")]:
        await tb.run(job)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    tb.check()
    out = {"cycles": tb.cycle - n0, "wall_seconds": wall, "cpu_seconds": cpu, "beats_checked": tb.scoreboard.checked}
    _save("per_beat", out)
    dut._log.info("per beat: %s", out)


def _save(name: str, numbers: dict) -> None:
    path = Path("speed.json")
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = numbers
    path.write_text(json.dumps(data))
