"""cocotb tests (run inside the simulator)."""
import os
import random
from pathlib import Path

import cocotb

from .design import load_design
from .jobs import frame_job
from .tb import TB


def _design():
    return load_design(os.environ["XNORGEN_DESIGN_DIR"])


@cocotb.test()
@cocotb.parametrize(src=["none", "bern0.5", "bursts"], snk=["none", "bern0.9"])
async def random_frames(dut, src, snk):
    d = _design()
    tb = TB(dut, d, src, snk, seed=1)
    await tb.start()
    rng = random.Random(2)
    for i in range(4):
        await tb.run(frame_job(d, rng, length=rng.randint(1, 4), name=f"f{i}"))
    await tb.cycles(50)
    tb.check()
    dut._log.info("checked %d beats in %d cycles", tb.scoreboard.checked, tb.cycle)


@cocotb.test()
async def bulk(dut):
    d = _design()
    tb = TB(dut, d, seed=3)
    await tb.start(per_beat=False)
    rng = random.Random(4)
    jobs = [frame_job(d, rng, length=rng.randint(1, 4), name=f"f{i}") for i in range(50)]
    cyc = await tb.run_bulk(jobs, Path("."), src="bern0.1", snk="bern0.5")
    tb.check()
    dut._log.info("bulk checked %d beats in %d cycles", tb.scoreboard.checked, cyc)
