"""Registers synthesis must not merge: one flip-flop per copy even where copies hold equal values.

Why: Yosys' opt_merge fuses flip-flops with the same D, which undoes deliberate copies, e.g. the
control hop registers of one anti-diagonal (every PE on it sees the same valid/first/last in the
same cycle; fused, one flip-flop fed PEs 65 tiles apart, the routed 16x16 critical path) or the
output FIFO's per-slice write enables. `keep` on the always block of a small Verilog module reaches
the flip-flop cell, and opt_merge leaves kept cells alone (Amaranth attributes reach wires only), so
generated netlists (`mode` "instance") instantiate KEPT_REG; simulation ("inline") uses plain ones.
"""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Instance, Module, ResetSignal, Signal, Value

from .skew import delay

__all__ = ["KEPT_REG", "KEPT_REG_RST", "KEPT_REG_VERILOG", "kept_reg"]

KEPT_REG = "xnorgen_hop_reg"
KEPT_REG_RST = "xnorgen_kept_reg_rst"
KEPT_REG_VERILOG = f"""\
// Registers synthesis keeps (no opt_merge of equal copies: hdl/kept.py); the first has no reset.
module {KEPT_REG} #(parameter integer WIDTH = 1) (
  input  wire clk,
  input  wire [WIDTH-1:0] d,
  output reg  [WIDTH-1:0] q = {{WIDTH{{1'b0}}}}
);
  (* keep *)
  always @(posedge clk)
    q <= d;
endmodule

module {KEPT_REG_RST} #(parameter integer WIDTH = 1) (
  input  wire clk,
  input  wire rst,
  input  wire [WIDTH-1:0] d,
  output reg  [WIDTH-1:0] q = {{WIDTH{{1'b0}}}}
);
  (* keep *)
  always @(posedge clk)
    q <= rst ? {{WIDTH{{1'b0}}}} : d;
endmodule
"""


def kept_reg(m: Module, sig: Value, name: str, pe_mode: str, reset: bool = False) -> Value:
    """sig registered once as its own flip-flop (KEPT_REG, or KEPT_REG_RST with `reset`, in generated
    Verilog); reset (synchronous, to 0) only where a stale value would do harm, e.g. a write enable.

    Why the control hops have no reset: a reset net reaching every hop spans the whole array; in context (board harness,
    16x16) it was the critical path, 6.3 ns of routing from the reset synchronizer. Only the head of
    the control pipeline (`in_ctl`) resets; whatever the hops held before reset travels ahead of the
    zeros and beats that follow it, so it can only write accumulators and result registers that a
    later reduction's first beat reloads and a later `last` overwrites before the drain reads them (the drain is
    started by the array's own, reset, countdown). Power-up values are the init values (0).
    """
    if pe_mode == "inline":
        return delay(m, sig, 1, name, reset_less=not reset)
    q = Signal(len(sig), name=f"{name}_d1", reset_less=True)
    ports = {"i_rst": ResetSignal()} if reset else {}
    m.submodules[name] = Instance(KEPT_REG_RST if reset else KEPT_REG, p_WIDTH=len(sig), i_clk=ClockSignal(),
                                  i_d=sig, o_q=q, **ports)
    return q
