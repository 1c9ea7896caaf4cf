"""The boards and devices xnorgen builds for, and the nextpnr options chosen for each family.

Why a table: the CLI's `choices=`, the sweep grid and the out-of-context flow all read the same entries,
so a board is added in one place. Every device maps to an amaranth-boards platform, which supplies the
pin names (clock, UART) even for out-of-context builds.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import ULX3S_25F_Platform, ULX3S_85F_Platform

__all__ = ["BOARDS", "DEVICE_BOARD", "Board", "board", "board_for_device"]


@dataclass(frozen=True)
class Board:
    name: str
    device: str            # short device name used in reports and the sweep
    family: str            # "ice40" or "ecp5"
    platform: type
    default_mhz: float     # PLL target of the core clock domain
    default_rows: int
    default_cols: int
    default_k: int
    # None: fpga/flow.py picks the router from the synthesized design's fill (ROUTER2_ABOVE there)
    nextpnr_opts: tuple[str, ...] | None = None
    # the measured best build for the board (README), so `make bitstream BOARD=...` builds it:
    # its PE popcount and further hdl.config.AccelConfig fields (each overridable by `--cfg`)
    default_popcount: str = "pair"
    default_cfg: tuple[tuple[str, int], ...] = ()
    # nextpnr seeds a build may try (fpga.flow.FlowOptions.seeds): more where a run is short and the
    # seed alone decides timing
    default_seeds: int = 1

    def make_platform(self):
        return self.platform()


BOARDS: dict[str, Board] = {b.name: b for b in (
    # the largest array that fits the UP5K: 8-bit accumulators, no result registers (an LC is one LUT4
    # and one flip-flop), a register halfway down the popcount (49.1-52.2 MHz over seeds 1-8, README)
    Board("icebreaker", "ice40-up5k", "ice40", ICEBreakerPlatform, 48.0, 8, 8, 8,
          default_cfg=(("max_fanin", 255), ("overlap", 0), ("pipeline", 2)), default_seeds=3),
    # the 32x32 of the ECP5 floorplan (docs/measurements.md, session 23: 161.1 MHz in the benchmark
    # harness, 0.83 op/LUT): carry-chain PEs at K=15 pinned to the fabric with LFSR accumulators (4 binary
    # bits + a 6-bit LFSR: fan-in 1007, the most 63 LFSR states count; 1023 needs a 7th bit, 0.80 op/LUT),
    # hop registers every 2 rows and columns, the credit flow with a systolic drain (two registers between
    # row blocks of 8: 0.03 op/LUT more than blocks of 4), LUT-RAM skew lines
    Board("ulx3s-85f", "ecp5-85f", "ecp5", ULX3S_85F_Platform, 150.0, 32, 32, 15, default_popcount="ccu2",
          default_cfg=(("max_fanin", 1007), ("weight_hop", 2), ("act_hop", 2), ("pipeline", 2), ("out_fifo", 32),
                       ("drain_hop", 8), ("drain_regs", 2), ("acc_lfsr", 1), ("skew_mem", 3), ("skew_lutram", 1))),
    Board("ulx3s-25f", "ecp5-25f", "ecp5", ULX3S_25F_Platform, 150.0, 16, 16, 8),
)}

# Out-of-context builds name a device; its pins come from one board carrying it.
DEVICE_BOARD = {"ice40-up5k": "icebreaker", "ecp5-85f": "ulx3s-85f", "ecp5-25f": "ulx3s-25f"}


def board(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r} (choose from {', '.join(BOARDS)})") from None


def board_for_device(device: str) -> Board:
    try:
        return BOARDS[DEVICE_BOARD[device]]
    except KeyError:
        raise ValueError(f"unknown device {device!r} (choose from {', '.join(DEVICE_BOARD)})") from None
