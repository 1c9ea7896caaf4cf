"""Turn an AccelConfig into the generated artefacts: Verilog, config.json and a C header (as text).

Why three Amaranth conversions: Amaranth emits one Verilog module per Elaboratable instance, so the
PE and the PE row are converted once each and the core instantiates them (R rows x C PEs); a
32x32 core is then a few seconds of generation and a small, Verilator-friendly file.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor

from amaranth.back import verilog
from amaranth.hdl import Value
from amaranth.lib import wiring

from hdl.array import XnorRow, pe_module_name, row_module_name
from hdl.config import PARAM_RANGES, AccelConfig
from hdl.core import XnorCore, core_signature
from hdl.kept import KEPT_REG_VERILOG
from hdl.layouts import layout_fields
from hdl.pe import XnorPE

__all__ = ["FORMAT_VERSION", "TOP", "c_header", "config_dict", "config_json", "verilog_text"]

TOP = "xnorgen_core"
FORMAT_VERSION = 1

STREAM_MEANING = {
    "beat": "in: one reduction step for every PE (act per row, wgt per weight row x column, first/last, "
            "split = log2 rows per group, chan_block = threshold-memory entry)",
    "thr": "in: write one threshold-memory entry (N thresholds and a polarity bit per column)",
    "out": "out: one row group's popcounts p and thresholded y per column, rows in order",
}
FIELD_MEANING = {
    ("beat", "act"): "activation word of row r (k bits, LSB-first packing, pad bit 0)",
    ("beat", "wgt"): "weight word j*cols + c: weight row j (PE row r uses j = r % weight_rows), column c; pad bit 1",
    ("beat", "first"): ("open a reduction with this beat: accumulators restart, split and chan_block are latched. "
                          "A beat after a reset or a `last` opens one without it; inside a reduction it restarts it"),
    ("beat", "last"): ("last beat of a reduction: results drain (it waits while the previous one drains; with "
                         "overlap 0 every beat does)"),
    ("beat", "split"): "rows per drained group = 2**split (last group truncated at rows); sums partial P",
    ("beat", "chan_block"): "threshold-memory entry used for this reduction's outputs",
    ("thr", "addr"): "threshold-memory entry (channel block) to write",
    ("thr", "thr"): "threshold i of column c at index i*cols + c, in [0, max_fanin + 1]",
    ("thr", "pol"): "polarity of column c: 1 -> y counts P >= T_i, 0 -> y counts P <= T_i",
    ("out", "row"): "first PE row of the group",
    ("out", "p"): "P of column c: popcount(XNOR) summed over the group's rows",
    ("out", "y"): "y of column c: number of thresholds passed (binary output when n_thresholds = 1)",
    ("out", "last_row"): "1 on the last group of a reduction",
}


def _convert(which: str, cfg: AccelConfig, style: str) -> str:
    cells = "ecp5" if style == "ccu2" else "generic"  # ccu2: carry chains as CCU2C instances
    if which == "pe":
        pe = XnorPE(cfg.k, cfg.acc_width, style, expose_acc=False, overlap=bool(cfg.overlap),
                    pipeline=cfg.pipeline, cells=cells, lfsr=cfg.lfsr_width)
        return verilog.convert(pe, name=pe_module_name(cfg, style), emit_src=False)
    if which == "row":
        row = XnorRow(cfg, style, "instance", cells)
        return verilog.convert(row, name=row_module_name(cfg, style), emit_src=False)
    return verilog.convert(XnorCore(cfg, style, "instance", cells), name=TOP, emit_src=False)


SIM_CELLS = "xnorgen_sim_cells.v"
SIM_CELLS_TEXT = """\
// Behavioural model of the Lattice ECP5 CCU2C carry cell, for simulators only: synthesis uses the
// real primitive. From its documented function (tests/test_hdl_carry.py proves it equal to the
// model Yosys ships): S = P ^ CIN, COUT = P ? CIN : INIT[{B,A}], P = INIT[{D,C,B,A}].
// (The vendor's module name, so not this file's: the one lint rule this file turns off.)
// verilator lint_off DECLFILENAME
module CCU2C #(
  parameter [15:0] INIT0 = 16'h0000,
  parameter [15:0] INIT1 = 16'h0000,
  parameter [23:0] INJECT1_0 = "YES",
  parameter [23:0] INJECT1_1 = "YES"
) (
  input  CIN, A0, B0, C0, D0, A1, B1, C1, D1,
  output S0, S1, COUT
);
  wire p0 = INIT0[{D0, C0, B0, A0}];
  wire p1 = INIT1[{D1, C1, B1, A1}];
  wire g0 = (INJECT1_0 == "YES") ? 1'b0 : INIT0[{2'b00, B0, A0}];
  wire g1 = (INJECT1_1 == "YES") ? 1'b0 : INIT1[{2'b00, B1, A1}];
  wire ci0 = (INJECT1_0 == "YES") ? 1'b0 : CIN;
  wire co0 = p0 ? CIN : g0;
  wire ci1 = (INJECT1_1 == "YES") ? 1'b0 : co0;
  assign S0 = p0 ^ ci0;
  assign S1 = p1 ^ ci1;
  assign COUT = p1 ? co0 : g1;
endmodule
// verilator lint_on DECLFILENAME
"""


def sim_sources(style: str) -> list[str]:
    """Files beside the core that simulators (not synthesis) read: primitive models."""
    return [SIM_CELLS] if style == "ccu2" else []


def verilog_text(cfg: AccelConfig, style: str = "pair", jobs: int = 2, parts=("pe", "row", "core")) -> str:
    """Verilog of the core and its PE / row modules; deterministic for one (cfg, style).

    parts=("pe", "row") gives only the modules an `XnorCore(pe_mode="instance")` instantiates (the
    FPGA flow elaborates the core itself and adds these beside it)."""
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            texts = list(ex.map(_convert, parts, [cfg] * len(parts), [style] * len(parts)))
    else:
        texts = [_convert(p, cfg, style) for p in parts]
    head = f"// xnorgen core {json.dumps(cfg.params(), sort_keys=True)} popcount={style}\n"
    return head + "\n".join([*texts, KEPT_REG_VERILOG])


def _ports(core: wiring.PureInterface) -> list[dict]:
    ports = [{"name": "clk", "direction": "input", "width": 1, "meaning": "clock (rising edge)"},
             {"name": "rst", "direction": "input", "width": 1, "meaning": "synchronous reset, active high"}]
    for path, member, value in core.signature.flatten(core):
        stream, sig = path[0], path[-1]
        meaning = {"valid": f"{stream} stream valid", "ready": f"{stream} stream ready",
                   "payload": f"{stream} stream payload (fields in streams.{stream}.fields)"}[sig]
        ports.append({"name": "__".join(str(p) for p in path),
                      "direction": "input" if member.flow == wiring.In else "output",
                      "width": len(Value.cast(value)), "meaning": meaning})
    return ports


def config_dict(cfg: AccelConfig, style: str = "pair") -> dict:
    core = core_signature(cfg).create()  # (an interface, not a core: nothing left unelaborated)
    streams = {}
    for name in ("beat", "thr", "out"):
        port = getattr(core, name)
        fields = layout_fields(port.payload.shape())
        for f in fields:
            f["meaning"] = FIELD_MEANING[(name, f["name"])]
        streams[name] = {
            "direction": "in" if name != "out" else "out", "valid": f"{name}__valid",
            "ready": f"{name}__ready", "payload": f"{name}__payload",
            "width": port.payload.shape().size, "meaning": STREAM_MEANING[name], "fields": fields,
        }
    return {
        "format_version": FORMAT_VERSION,
        "top": TOP,
        "verilog": f"{TOP}.v",
        "sim_sources": sim_sources(style),
        "popcount_style": style,
        "parameters": cfg.params(),
        "parameter_ranges": {k: {"min": lo, "max": hi, "meaning": m} for k, (lo, hi, m) in PARAM_RANGES.items()},
        "derived": {
            "acc_width": cfg.acc_width, "res_width": cfg.res_width, "lfsr_width": cfg.lfsr_width,
            "thr_width": cfg.thr_width, "y_width": cfg.y_width,
            "split_width": cfg.split_width, "chan_block_width": cfg.chan_block_width,
            "row_width": cfg.row_width, "blocks": cfg.blocks, "weight_stages": cfg.weight_stages,
            "act_stages": cfg.act_stages, "drain_stages": cfg.drain_stages,
            "binary_ops_per_cycle": 2 * cfg.rows * cfg.cols * cfg.k,
        },
        "latency": {
            "fill": cfg.fill_latency(),
            "out": cfg.out_latency(),
            "out_beats": [list(cfg.out_beat_latencies(s)) for s in range(1 << cfg.split_width)],
            "drain_cycles": cfg.drain_cycles(),
            "reduction_period": cfg.reduction_period(),
            "credit_round_trip": cfg.credit_round_trip(),
            "meaning": {
                "fill": "cycles from the `last` handshake until every PE holds its result",
                "out": "cycles from the `last` handshake to the first out beat valid at split 0 (out.ready high)",
                "out_beats": ("out_beats[s][g]: cycles from the `last` handshake to out beat g valid at split s "
                              "(out.ready high; beats 2**s cycles apart). Exact when out_fifo is 0 or >= "
                              "credit_round_trip; with fewer credits the beats spread further, and the table is "
                              "exact once the previous reduction's credits are back, a lower bound before"),
                "drain_cycles": "cycles the drain reads rows (one row per cycle, one out beat per group of 2**split)",
                "reduction_period": ("a `last` beat (overlap 1) or any beat (overlap 0) is not accepted sooner than this "
                                     "after the previous `last`"),
                "credit_round_trip": ("out_fifo > 0: cycles an out beat holds its FIFO credit; out_fifo >= this "
                                      "keeps one out beat per cycle"),
            },
        },
        "ports": _ports(core),
        "streams": streams,
    }


def config_json(cfg: AccelConfig, style: str = "pair") -> str:
    return json.dumps(config_dict(cfg, style), indent=2, sort_keys=False) + "\n"


def _c_name(*parts) -> str:
    return "_".join(str(p).upper() for p in parts)


def c_header(cfg: AccelConfig, style: str = "pair") -> str:
    """config.json's facts as C macros; every name is checked unique (a derived `thr_width` and the
    `thr` stream's width once both became XNORGEN_THR_WIDTH, and C keeps the last silently)."""
    d = config_dict(cfg, style)
    guard = "XNORGEN_CORE_H"
    lines = [f"/* Generated by xnorgen for {TOP}; same facts as config.json. */", f"#ifndef {guard}",
             f"#define {guard}", ""]
    names: set[str] = set()

    def define(name: str, value, comment: str = "") -> None:
        if name in names:
            raise ValueError(f"C header: {name} defined twice")
        names.add(name)
        lines.append(f"#define {name} {value}" + (f"  /* {comment} */" if comment else ""))

    define("XNORGEN_FORMAT_VERSION", FORMAT_VERSION)
    define("XNORGEN_TOP", json.dumps(d["top"]))
    define("XNORGEN_POPCOUNT_STYLE", json.dumps(d["popcount_style"]))
    define("XNORGEN_SIM_SOURCES", json.dumps(" ".join(d["sim_sources"])), "Verilog models a simulator needs too")
    lines.append("")
    for k, v in d["parameters"].items():
        define(_c_name("XNORGEN", k), v)
    for k, v in d["derived"].items():
        define(_c_name("XNORGEN", k), v)
    for k, v in d["latency"].items():
        if k == "out_beats":  # one initializer list per split value
            for split, lats in enumerate(v):
                define(_c_name("XNORGEN_LATENCY", k, "split", split), "{" + ", ".join(map(str, lats)) + "}")
        elif k != "meaning":
            define(_c_name("XNORGEN_LATENCY", k), v)
    lines.append("")
    for p in d["ports"]:
        define(_c_name("XNORGEN_PORT", p["name"], "width"), p["width"], f"{p['direction']}: {p['meaning']}")
    for s, sd in d["streams"].items():
        lines += ["", f"/* stream {s}: {sd['meaning']} */"]
        define(_c_name("XNORGEN", s, "payload_width"), sd["width"])
        for f in sd["fields"]:
            base = _c_name("XNORGEN", s, f["name"])
            define(f"{base}_OFFSET", f["offset"])
            define(f"{base}_WIDTH", f["width"])
            if "count" in f:
                define(f"{base}_COUNT", f["count"])
                define(f"{base}_ELEM_WIDTH", f["elem_width"])
    lines += ["", f"#endif /* {guard} */", ""]
    return "\n".join(lines)
