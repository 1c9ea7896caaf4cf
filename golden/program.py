"""The accelerator-program file: a versioned .npz whose ``manifest`` member is UTF-8 JSON.

Why a strict format: the program is what travels from training to the integer model, the
cosimulation and (later) the FPGA's memories. A file that loads but holds a NaN, a threshold out of
range or a weight matrix of the wrong width would fail far from its cause, so ``load`` checks
everything and raises one error class, ProgramError, whose message names the bad tensor.

Manifest (version 1)::

    {"format": "xnorgen-program", "version": 1,
     "input": {"kind": "u8" | "bits", "shape": [C, H, W]},
     "classes": 10,
     "layers": [ {"op": "flatten"}
               | {"op": "dense", "name", "in_features", "out_features", "k", "acc", "n_thresholds"}
               | {"op": "conv", "name", "in_channels", "out_channels", "kernel", "stride", "pad",
                  "pad_value", "k", "acc", "n_thresholds"}
               | {"op": "maxpool", "kernel": 2}
               | {"op": "head", "name", "in_features", "out_features", "k", "acc"} ],
     "meta": {...free-form training facts...}}

Tensors per weighted layer ``name``: ``name.weight`` uint64 [out, ceil(k/64)] (conventions.pack_bits
of sign(W) flattened in torch order (in, kh, kw); bits past k are 0), ``name.thresholds`` int64
[out, n_thresholds] and ``name.polarity`` int8 [out] (not for the head), and ``head.scale`` float32 [1].
``acc`` (required on every weighted layer) is "popcount" (P in [0, k], +-1 inputs) or "u8dot" (first
layer on 8-bit pixels: the signed dot product in [-255 k, 255 k]). Thresholds lie in [lo - 1, hi + 1]
of that range (fold.py).
"""

from __future__ import annotations

import io
import json
import os
import reprlib
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

from golden.cli import ArgParser, run_main
from golden.errors import OutputError, ProgramError
from golden.fold import acc_range

FORMAT = "xnorgen-program"
VERSION = 1
MANIFEST = "manifest"
ACC_KINDS = ("popcount", "u8dot")
MAX_DIM = 1 << 20


@dataclass
class Program:
    """A validated program: the manifest dict and its named tensors."""

    manifest: dict
    tensors: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def layers(self) -> list[dict]:
        return self.manifest["layers"]

    def tensor(self, name: str) -> np.ndarray:
        return self.tensors[name]


_REPR = reprlib.Repr()  # Python 3.11: no keyword arguments yet
_REPR.maxlevel, _REPR.maxstring, _REPR.maxlong, _REPR.maxother = 3, 60, 40, 60


def _show(v) -> str:
    """repr of a manifest value, cut short: a huge or deeply nested value must not flood the error line."""
    return _REPR.repr(v)


def _err(where: str, msg: str) -> ProgramError:
    return ProgramError(f"{where}: {msg}")


def _int(layer: dict, key: str, where: str, lo: int = 1, hi: int = MAX_DIM) -> int:
    v = layer.get(key)
    if type(v) is not int or not lo <= v <= hi:
        raise _err(where, f"field {key!r} must be an integer in [{lo}, {hi}], got {_show(v)}")
    return v


def _expect(t: dict[str, np.ndarray], name: str, dtype, shape: tuple[int, ...]) -> np.ndarray:
    if name not in t:
        raise ProgramError(f"tensor {name!r} is missing")
    a = t[name]
    if not isinstance(a, np.ndarray):
        raise ProgramError(f"tensor {name!r} is not an array (got {type(a).__name__})")
    if a.dtype != np.dtype(dtype):
        raise ProgramError(f"tensor {name!r} has dtype {a.dtype}, expected {np.dtype(dtype)}")
    if a.shape != shape:
        raise ProgramError(f"tensor {name!r} has shape {list(a.shape)}, expected {list(shape)}")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise ProgramError(f"tensor {name!r} contains NaN or Inf")
    return a


def _check_weight(t, name: str, out: int, k: int) -> None:
    w = _expect(t, f"{name}.weight", np.uint64, (out, -(-k // 64)))
    rest = k % 64
    if rest and np.any(w[:, -1] >> np.uint64(rest)):
        raise ProgramError(f"tensor '{name}.weight' has bits set past k={k} (tail must be 0)")


def _check_thresholds(t, name: str, out: int, n: int, acc: str, k: int) -> None:
    lo, hi = acc_range(acc, k)
    thr = _expect(t, f"{name}.thresholds", np.int64, (out, n))
    if thr.size and (thr.min() < lo - 1 or thr.max() > hi + 1):
        raise ProgramError(f"tensor '{name}.thresholds' has values in [{thr.min()}, {thr.max()}], "
                           f"outside [{lo - 1}, {hi + 1}] for acc={acc}, k={k}")
    pol = _expect(t, f"{name}.polarity", np.int8, (out,))
    if not np.all((pol == 1) | (pol == -1)):
        raise ProgramError(f"tensor '{name}.polarity' must hold only -1 and +1")


def validate(manifest, tensors: dict[str, np.ndarray]) -> Program:
    """Check a manifest and its tensors completely; return the Program or raise ProgramError."""
    if not isinstance(manifest, dict):
        raise ProgramError("manifest is not a JSON object")
    if manifest.get("format") != FORMAT:
        raise ProgramError(f"manifest format {_show(manifest.get('format'))} is not {FORMAT!r}")
    if manifest.get("version") != VERSION:
        raise ProgramError(f"unknown program version {_show(manifest.get('version'))} (this loader reads {VERSION})")
    inp = manifest.get("input")
    if not isinstance(inp, dict) or inp.get("kind") not in ("u8", "bits"):
        raise ProgramError("manifest 'input' needs kind 'u8' or 'bits'")
    shape = inp.get("shape")
    if (not isinstance(shape, list) or len(shape) != 3
            or not all(type(s) is int and 1 <= s <= 4096 for s in shape)):
        raise ProgramError(f"manifest input shape must be [C, H, W] positive integers, got {_show(shape)}")
    classes = _int(manifest, "classes", "manifest", 1, 65536)
    layers = manifest.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ProgramError("manifest 'layers' must be a non-empty list")
    used = {MANIFEST}
    shape = list(shape)
    first_weighted = True
    names = set()
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise ProgramError(f"layer {i} is not an object")
        op = layer.get("op")
        where = f"layer {i} ({op if isinstance(op, str) else _show(op)})"
        if op in ("dense", "conv", "head"):
            name = layer.get("name")
            if not isinstance(name, str) or not name or name in names or "." in name:
                raise _err(where, f"needs a unique name without '.', got {_show(name)}")
            names.add(name)
            acc = layer.get("acc")  # required: IntModel and the cosimulation read it, never a default
            want_acc = "u8dot" if first_weighted and inp["kind"] == "u8" else "popcount"
            if acc != want_acc:
                raise _err(where, f"field 'acc' must be {want_acc!r} here, got {_show(acc)}")
            first_weighted = False
        if op == "flatten":
            shape = [int(np.prod(shape))]
        elif op == "maxpool":
            if layer.get("kernel") != 2 or len(shape) != 3 or min(shape[1:]) < 2:
                raise _err(where, f"only 2x2 max-pool on a [C, H, W] map >= 2x2 is supported (shape {shape})")
            shape = [shape[0], shape[1] // 2, shape[2] // 2]
        elif op in ("dense", "head"):
            n_in = _int(layer, "in_features", where)
            out = _int(layer, "out_features", where)
            k = _int(layer, "k", where)
            if shape != [n_in] or k != n_in:
                raise _err(where, f"in_features={n_in}, k={k} do not match the incoming shape {shape}")
            _check_weight(tensors, name, out, k)
            used.add(f"{name}.weight")
            if op == "dense":
                n_thr = _int(layer, "n_thresholds", where, 1, 15)
                if n_thr != 1:
                    raise _err(where, "multi-threshold (k-bit) activations are not runnable yet; n_thresholds must be 1")
                _check_thresholds(tensors, name, out, n_thr, acc, k)
                used |= {f"{name}.thresholds", f"{name}.polarity"}
            else:
                if i != len(layers) - 1 or out != classes:
                    raise _err(where, f"the head must be the last layer with out_features = classes ({classes})")
                _expect(tensors, f"{name}.scale", np.float32, (1,))
                scale = tensors[f"{name}.scale"][0]
                if not scale > 0:
                    raise ProgramError(f"tensor '{name}.scale' must be > 0, got {scale}")
                used.add(f"{name}.scale")
            shape = [out]
        elif op == "conv":
            cin = _int(layer, "in_channels", where)
            out = _int(layer, "out_channels", where)
            ker = _int(layer, "kernel", where, 1, 15)
            stride = _int(layer, "stride", where, 1, 15)
            pad = _int(layer, "pad", where, 0, 15)
            pv = layer.get("pad_value")
            if pv not in (-1, 1):
                raise _err(where, f"pad_value must be -1 or +1, got {_show(pv)}")
            if acc == "u8dot" and pad:
                raise _err(where, "a conv on 8-bit inputs cannot be padded")
            k = _int(layer, "k", where)
            if len(shape) != 3 or shape[0] != cin or k != cin * ker * ker:
                raise _err(where, f"in_channels={cin}, k={k} do not match the incoming shape {shape}")
            hp, wp = shape[1] + 2 * pad, shape[2] + 2 * pad
            if hp < ker or wp < ker:
                raise _err(where, f"kernel {ker} larger than the padded map {hp}x{wp}")
            n_thr = _int(layer, "n_thresholds", where, 1, 15)
            if n_thr != 1:
                raise _err(where, "multi-threshold (k-bit) activations are not runnable yet; n_thresholds must be 1")
            _check_weight(tensors, name, out, k)
            _check_thresholds(tensors, name, out, n_thr, acc, k)
            used |= {f"{name}.weight", f"{name}.thresholds", f"{name}.polarity"}
            shape = [out, (hp - ker) // stride + 1, (wp - ker) // stride + 1]
        else:
            raise ProgramError(f"layer {i}: unknown op {_show(op)}")
    if layers[-1].get("op") != "head":
        raise ProgramError("the last layer must be the head")
    extra = sorted(set(tensors) - used)
    if extra:
        raise ProgramError(f"unexpected tensor {extra[0]!r}")
    return Program(manifest, {k: v for k, v in tensors.items() if k != MANIFEST})


def save(program: Program, path: str) -> None:
    """Validate, then write atomically: a temp file in the target directory, fsync, os.replace.

    An OSError while writing (``path`` a directory, no permission, disk full) becomes OutputError,
    so CLIs print one line; the temp file is removed and an existing ``path`` is left untouched."""
    validate(program.manifest, program.tensors)
    blob = json.dumps(program.manifest, sort_keys=True).encode()
    arrays = {MANIFEST: np.frombuffer(blob, dtype=np.uint8), **program.tensors}
    d = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(d, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=d)
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a program is an ordinary shared file
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise OutputError(f"{path}: cannot write program ({err.strerror or err})") from None
        raise


def load(path: str) -> Program:
    """Read and validate a program file; any defect raises ProgramError naming it."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as err:
        raise ProgramError(f"{path}: cannot read ({err.strerror})") from None
    if not raw.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):  # (np.load would guess "pickle")
        raise ProgramError(f"{path}: not a readable program .npz (not a zip archive)")
    tensors = None
    try:
        z = np.load(io.BytesIO(raw), allow_pickle=False)
        if isinstance(z, np.lib.npyio.NpzFile):  # a lone .npy loads as an ndarray, not an archive
            with z:
                tensors = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError, zipfile.LargeZipFile, zlib.error,
            NotImplementedError, RuntimeError) as err:  # the last two: unsupported compression, encryption
        raise ProgramError(f"{path}: not a readable program .npz (truncated or corrupt: {err})") from None
    if tensors is None:
        raise ProgramError(f"{path}: not a readable program .npz (a single .npy array, not an archive)")
    for k, v in tensors.items():
        if not isinstance(v, np.ndarray):  # np.load hands back a member without a .npy header as bytes
            raise ProgramError(f"{path}: member {k!r} is not a .npy array")
    if MANIFEST not in tensors:
        raise ProgramError(f"{path}: no '{MANIFEST}' member")
    m = tensors[MANIFEST]
    if m.dtype != np.uint8 or m.ndim != 1:
        raise ProgramError(f"{path}: tensor '{MANIFEST}' must be 1-D uint8 JSON text")
    try:
        manifest = json.loads(m.tobytes().decode())
    except RecursionError:
        raise ProgramError(f"{path}: manifest is not valid JSON (nested too deeply)") from None
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, and ints past Python's digit limit
        raise ProgramError(f"{path}: manifest is not valid JSON ({getattr(err, 'msg', err)})") from None
    try:
        return validate(manifest, tensors)
    except ProgramError as err:
        raise ProgramError(f"{path}: {err}") from None


def summary(program: Program) -> dict:
    """Short facts about a program, for ``check`` and benchmarks."""
    lay, n_bits = [], 0
    for x in program.layers:
        out = x.get("out_features", x.get("out_channels"))
        lay.append(x["op"] if out is None else f"{x['op']}:{out}")
        n_bits += x.get("k", 0) * (out or 0)
    return {"version": program.manifest["version"], "input": program.manifest["input"],
            "layers": lay, "weight_bits": n_bits, "classes": program.manifest["classes"]}


def main(argv: list[str] | None = None) -> int:
    p = ArgParser(prog="python -m golden.program", description="Inspect xnorgen accelerator programs.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=ArgParser)
    c = sub.add_parser("check", help="validate a program file and print a one-line JSON summary")
    c.add_argument("file")
    a = p.parse_args(argv)
    prog = load(a.file)
    print(json.dumps({"ok": True, "file": a.file, **summary(prog)}))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
