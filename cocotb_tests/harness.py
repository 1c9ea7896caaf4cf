"""A thin Verilog harness around the generated core, so bulk cosimulation never wakes Python per cycle.

Why: a cocotb coroutine per beat costs tens of microseconds; a 32x32 array needs >= 50k cycles/s.
The harness is a superset of the core: it has every core port under the same name (``h_ext = 1``
passes them straight through, for the per-beat Python testbench) plus players that stream the
``thr`` and ``beat`` memories into the core and a recorder that stores every accepted ``out`` beat
(``h_ext = 0``). Memories are filled and dumped in bulk with ``$readmemh`` / ``$writememh`` in the
simulator's working directory. Idle cycles on the inputs and backpressure on the output come from
per-stream xorshift generators: none, Bernoulli(p) per cycle, or long bursts (a two-state Markov
chain that flips with probability 1/64 per cycle). Nothing here is specific to one configuration:
names and widths come from ``config.json`` through :mod:`cocotb_tests.design`.

Why every input is sampled on an edge of ``h_wr``: Verilator evaluates all combinational logic
reachable from a top-level input (or a public writable signal) again in its input-combinational
('ico') region at every ``eval()``, i.e. twice per clock cycle. The core's next-state logic reads
``rst`` (Amaranth's synchronous reset), so with the ports wired straight into the core that was all
of it: three evaluations of the whole array per cycle instead of one. Here the core only sees
registers: the testbench toggles ``h_wr`` after every batch of writes (:meth:`TB.commit`), in the
same time step, so the core sees every write before the next clock edge, exactly as before.
Only the harness's ports are public (:func:`public_vlt`), so no internal signal counts as an input.
"""

from __future__ import annotations

import re
from pathlib import Path

from .design import Design

HARNESS_TOP = "xnorgen_harness"
BEAT_HEX, THR_HEX, OUT_HEX = "h_beat.hex", "h_thr.hex", "h_out.hex"
# Memory depths: one load holds this many beats / threshold writes / output beats.
BEAT_DEPTH, THR_DEPTH, OUT_DEPTH = 4096, 1024, 16384
# Traffic modes of the gates (h_mode_*): every cycle open, Bernoulli stall, long bursts.
MODE_NONE, MODE_BERNOULLI, MODE_BURST = 0, 1, 2
PROB_ONE = 1 << 16  # h_p_* are stall probabilities in units of 2**-16


def _ports(d: Design) -> list[tuple[str, str, int]]:
    """(name, 'in'|'out', width) of every core port, from config.json's port list or its streams."""
    listed = d.raw.get("ports")
    if listed:
        items = listed.items() if isinstance(listed, dict) else [(p["name"], p) for p in listed]
        ports = []
        for name, p in items:
            direction = p.get("dir", p.get("direction"))
            ports.append((p.get("name", name), "in" if direction.startswith("in") else "out", int(p["width"])))
        if d.clock not in [n for n, _, _ in ports]:
            raise ValueError(f"config.json ports lack the clock {d.clock!r}")
        return ports
    ports = [(d.clock, "in", 1), (d.reset, "in", 1)]
    for s in d.streams.values():
        inward = s.direction == "in"
        ports += [(s.valid, "in" if inward else "out", 1), (s.ready, "out" if inward else "in", 1),
                  (s.payload, "in" if inward else "out", s.width)]
    return ports


def _decl(direction: str, width: int, name: str) -> str:
    kind = "input wire" if direction == "in" else "output wire"
    return f"    {kind} {'' if width == 1 else f'[{width - 1}:0] '}{name}"


_GATE_SALT = {"src": 0x9E3779B9, "snk": 0x85EBCA6B}  # distinct generator streams for the same seed


def _gate(tag: str, clk: str) -> str:
    """A per-cycle 'open' signal: mode 0 always, 1 Bernoulli stall with prob h_p/2**16, 2 bursts."""
    return f"""
    reg [31:0] {tag}_x;
    reg {tag}_burst;
    wire [31:0] {tag}_x1 = {tag}_x ^ ({tag}_x << 13);
    wire [31:0] {tag}_x2 = {tag}_x1 ^ ({tag}_x1 >> 17);
    wire [31:0] {tag}_xn = {tag}_x2 ^ ({tag}_x2 << 5);
    always @(posedge {clk}) begin
        if (h_load) begin
            {tag}_x <= h_seed ^ 32'h{_GATE_SALT[tag]:08x};
            {tag}_burst <= 1'b1;
        end else begin
            {tag}_x <= {tag}_xn;
            if ({tag}_x[31:26] == 6'd0) {tag}_burst <= ~{tag}_burst;
        end
    end
    wire {tag}_open = (h_mode_{tag} == 2'd0) ? 1'b1 :
                      (h_mode_{tag} == 2'd1) ? ({{1'b0, {tag}_x[15:0]}} >= {{1'b0, h_p_{tag}}}) : {tag}_burst;
"""


# The harness's own ports besides the core's: (name, direction, width).
H_PORTS = (
    ("h_wr", "in", 1), ("h_ext", "in", 1), ("h_load", "in", 1), ("h_dump", "in", 1),
    ("h_n_beat", "in", 32), ("h_n_thr", "in", 32), ("h_n_out", "in", 32),
    ("h_mode_src", "in", 2), ("h_p_src", "in", 17), ("h_mode_snk", "in", 2), ("h_p_snk", "in", 17),
    ("h_seed", "in", 32), ("h_stall_limit", "in", 32),
    ("h_done", "out", 1), ("h_stuck", "out", 1), ("h_got", "out", 32), ("h_cycles", "out", 32),
    ("h_unstable", "out", 1), ("h_open", "out", 32),
)
# outputs the harness drives from registers. h_unstable: sticky, the core broke the stream rule on
# out (a beat offered with ready low was withdrawn or changed before its handshake; the same check
# as tests/simdrive.py and the per-beat monitor). h_open: cycles the out gate was open (ready high).
H_REGS = ("h_stuck", "h_got", "h_cycles", "h_unstable", "h_open")
STROBE = "h_wr"  # every input but the clock is sampled on each edge of this one


def all_ports(d: Design) -> list[tuple[str, str, int]]:
    """Every port of the harness: the core's, then the harness's own."""
    return _ports(d) + list(H_PORTS)


def harness_verilog(d: Design) -> str:
    """The harness module text for design ``d``."""
    ports = all_ports(d)
    beat, thr, out = d.beat, d.thr, d.out
    clk, rst = d.clock, d.reset
    decls = [_decl(di, w, n).replace("output wire", "output reg") if n in H_REGS else _decl(di, w, n)
             for n, di, w in ports]
    sampled = [(n, w) for n, di, w in ports if di == "in" and n not in (clk, STROBE)]
    # q(name): the sampled copy of an input port, what all logic below reads
    regs = "".join(f"    reg {'' if w == 1 else f'[{w - 1}:0] '}{n}__q;\n" for n, w in sampled)
    samples = "".join(f"        {n}__q <= {n};\n" for n, _ in sampled)
    q = {n: f"{n}__q" for n, _ in sampled}
    # core-side nets: inputs muxed between the (sampled) pass-through port and the players
    conn = []
    for n, di, _w in _ports(d):
        if di == "out" or n == clk:
            conn.append(f"        .{n}({n})")
        elif n == thr.valid:
            conn.append(f"        .{n}(h_ext__q ? {q[n]} : t_valid)")
        elif n == thr.payload:
            conn.append(f"        .{n}(h_ext__q ? {q[n]} : t_mem[t_i[{_aw(THR_DEPTH)}:0]])")
        elif n == beat.valid:
            conn.append(f"        .{n}(h_ext__q ? {q[n]} : b_valid)")
        elif n == beat.payload:
            conn.append(f"        .{n}(h_ext__q ? {q[n]} : b_mem[b_i[{_aw(BEAT_DEPTH)}:0]])")
        elif n == out.ready:
            conn.append(f"        .{n}(h_ext__q ? {q[n]} : snk_open)")
        else:
            conn.append(f"        .{n}({q[n]})")
    rst = q[rst]
    body = f"""    reg [{thr.width - 1}:0] t_mem [0:{THR_DEPTH - 1}];
    reg [{beat.width - 1}:0] b_mem [0:{BEAT_DEPTH - 1}];
    reg [{out.width - 1}:0] o_mem [0:{OUT_DEPTH - 1}];
    reg [31:0] t_i, b_i, idle;
    reg t_valid, b_valid, running, o_held;
    reg [{out.width - 1}:0] o_held_payload;
    wire t_take = t_valid & {thr.ready};
    wire b_take = b_valid & {beat.ready};
    wire o_take = {out.valid} & snk_open;
{_gate("src", clk)}{_gate("snk", clk)}
    {d.top} u_core (
{("," + chr(10)).join(conn)}
    );
    assign h_done = running & ((h_got >= h_n_out) & (b_i >= h_n_beat) | h_stuck);
    always @(posedge {clk}) begin
        if (h_load) begin
            $readmemh("{THR_HEX}", t_mem);
            $readmemh("{BEAT_HEX}", b_mem);
        end
        if (h_dump) $writememh("{OUT_HEX}", o_mem);
    end
    always @(posedge {clk}) begin
        if ({rst} | h_load | h_ext) begin
            t_i <= 0; b_i <= 0; t_valid <= 0; b_valid <= 0; h_got <= 0; h_cycles <= 0; idle <= 0;
            h_stuck <= 0; running <= h_load & ~h_ext; o_held <= 0; h_unstable <= 0; h_open <= 0;
        end else if (running) begin
            h_cycles <= h_cycles + 1;
            h_open <= h_open + snk_open;
            // the stream rule on out: a beat offered while not ready stays, unchanged, until taken
            if (o_held & (~{out.valid} | ({out.payload} != o_held_payload))) h_unstable <= 1'b1;
            o_held <= {out.valid} & ~snk_open;
            o_held_payload <= {out.payload};
            // a stream source: valid stays up with a stable payload until taken
            if (!t_valid | t_take) begin
                t_i <= t_i + t_take;
                t_valid <= (t_i + t_take < h_n_thr) & src_open;
            end
            if (!b_valid | b_take) begin
                b_i <= b_i + b_take;
                b_valid <= (t_i >= h_n_thr) & (b_i + b_take < h_n_beat) & src_open;
            end
            if (o_take) begin
                if (h_got < {OUT_DEPTH}) o_mem[h_got[{_aw(OUT_DEPTH)}:0]] <= {out.payload};
                h_got <= h_got + 1;
            end
            idle <= (t_take | b_take | o_take) ? 0 : idle + 1;
            if (idle >= h_stall_limit) h_stuck <= 1'b1;
        end
    end
"""
    # the harness's own controls, read through their sampled copies too
    body = re.sub(r"\b(h_[a-z_]+)\b", lambda m: q.get(m.group(1), m.group(1)), body)
    return f"""// Generated by cocotb_tests/harness.py for {d.top}: bulk stimulus player and output recorder.
/* verilator lint_off DECLFILENAME */
/* verilator lint_off UNUSEDSIGNAL */
/* verilator lint_off WIDTHEXPAND */
/* verilator lint_off WIDTHTRUNC */
module {HARNESS_TOP} (
{(","  + chr(10)).join(decls)}
);
    // Inputs as the core and the players see them: sampled on each edge of {STROBE} (see the docstring).
{regs}    always @(posedge {STROBE} or negedge {STROBE}) begin
{samples}    end
{body}endmodule
"""


def _aw(depth: int) -> int:
    """Top index bit of an address into a memory of ``depth`` (a power of two) entries."""
    return (depth - 1).bit_length() - 1


def public_vlt(d: Design) -> str:
    """Verilator control file: only the harness's ports are visible to cocotb (no --public-flat-rw),
    inputs writable, outputs read-only (a writable signal counts as an input to Verilator's scheduler)."""
    lines = ["`verilator_config"]
    for n, di, _w in all_ports(d):
        lines.append(f'public_flat_{"rw" if di == "in" else "rd"} -module "{HARNESS_TOP}" -var "{n}"')
    return "\n".join(lines) + "\n"


def write_hex(path: Path, words: list[int], width: int) -> None:
    """One hex word per line, as $readmemh reads them."""
    digits = max(1, -(-width // 4))
    path.write_text("".join(f"{w:0{digits}x}\n" for w in words) or "0\n")


def read_hex(path: Path, count: int) -> list[int]:
    """The first ``count`` words of a $writememh dump (skipping // comments and @ addresses)."""
    words = []
    for line in path.read_text().splitlines():
        line = line.split("//", 1)[0].strip()
        if not line or line.startswith("@"):
            continue
        words.extend(int(tok, 16) for tok in line.split())
        if len(words) >= count:
            break
    return words[:count]
