"""fpga.flow's seed retry, with a stand-in for nextpnr: seeds seed, seed + 1, ... run until one meets
timing; when none does, the fastest run's outputs are the ones kept (and packed)."""

import json

import pytest
from amaranth_boards.icebreaker import ICEBreakerPlatform

from fpga import flow


def _fake_tools(fmax_by_seed, ran):
    def run(stage, cmd, cwd, log, timeout):
        (cwd / log).write_text(f"{stage}\n")
        if stage == "nextpnr":
            seed = int(cmd[cmd.index("--seed") + 1])
            ran.append(seed)
            report = {"fmax": {"clk": {"achieved": fmax_by_seed[seed], "constraint": 48.0}}, "utilization": {}}
            (cwd / "nextpnr_report.json").write_text(json.dumps(report))
            (cwd / "top.asc").write_text(f"placed with seed {seed}")
            (cwd / "top.tim").write_text(f"timing of seed {seed}")
        else:  # icepack: the bitstream of whatever top.asc is in place
            (cwd / "top.bin").write_text((cwd / "top.asc").read_text())
        return 2.0
    return run


@pytest.mark.parametrize("fmax,seed,seeds,ran,kept", [
    ({1: 50.0}, 1, 1, [1], 1),                               # one seed: no retry
    ({1: 44.5, 2: 49.0, 3: 52.0}, 1, 3, [1, 2], 2),         # the first that meets 48 MHz ends it
    ({1: 44.5, 2: 47.9, 3: 46.0}, 1, 3, [1, 2, 3], 2),      # none meets: the fastest is put back
    ({4: 40.0, 5: 39.0}, 4, 2, [4, 5], 4),                  # from --seed on
    ({1: 30.0, 2: 30.0}, 1, 1, [1], 1),                     # one seed, failing: kept as it is
])
def test_seed_retry_keeps_the_right_run(tmp_path, monkeypatch, fmax, seed, seeds, ran, kept):
    calls = []
    monkeypatch.setattr(flow, "_run", _fake_tools(fmax, calls))
    notes = []
    opts = flow.FlowOptions(nextpnr_opts=("--router", "router1"), seed=seed, seeds=seeds)
    times, got = flow._pnr_and_pack(ICEBreakerPlatform(), "ice40", tmp_path, opts, notes)
    assert calls == ran and got == kept
    assert times["pnr"] == 2.0 * len(ran)
    for name in ("top.asc", "top.tim", "top.bin"):  # the kept run's outputs, and its bitstream
        assert str(kept) in (tmp_path / name).read_text(), name
    assert json.loads((tmp_path / "nextpnr_report.json").read_text())["fmax"]["clk"]["achieved"] == fmax[kept]
    assert bool(notes) == (seeds > 1)
    if seeds > 1:
        assert f"seed {kept} kept" in notes[0]
