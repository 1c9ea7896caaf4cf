"""Post-synthesis fix-up of a Yosys JSON netlist for nextpnr-ecp5: open the ends of carry chains.

Why: nextpnr-ecp5 adds a feed-in CCU2C in front of a chain whose first CIN is on any net (a constant
too) and a pass-out CCU2C behind a chain whose last COUT is on any net (a dangling one too). Yosys
ties an unconnected CIN to 0 and gives an unconnected COUT a net of its own, so every chain gained
two CCU2C: measured on the 8x8 K=31 ccu2 core (pipeline 2: two chains per PE), 5,035 TRELLIS_COMB
after packing instead of 4,377. hdl.carry starts every chain with a slot whose P is 0, so its CIN
is don't-care (`OPEN_CIN_ATTR` on that CCU2C says so); a COUT nothing reads is always removable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hdl.carry import OPEN_CIN_ATTR

from .report import write_atomic

__all__ = ["open_chain_ends"]


def open_chain_ends(path: str | os.PathLike) -> tuple[int, int]:
    """Rewrite the netlist in place (atomically); returns (CINs opened, COUTs opened).

    A CIN is opened only on a CCU2C marked with OPEN_CIN_ATTR and tied to a constant (Yosys' own
    adders rely on their constant carry-in); a COUT is opened when no cell input or module output
    reads its net.
    """
    path = Path(path)
    design = json.loads(path.read_text())
    n_cin = n_cout = 0
    for mod in design["modules"].values():
        read: set[int] = set()
        for cell in mod.get("cells", {}).values():
            dirs = cell.get("port_directions", {})
            for port, bits in cell["connections"].items():
                if dirs.get(port) != "output":
                    read.update(b for b in bits if isinstance(b, int))
        for port in mod.get("ports", {}).values():
            if port["direction"] != "input":
                read.update(b for b in port["bits"] if isinstance(b, int))
        for cell in mod.get("cells", {}).values():
            if cell["type"] != "CCU2C":
                continue
            conn = cell["connections"]
            if OPEN_CIN_ATTR in cell.get("attributes", {}) and conn.get("CIN") in (["0"], ["1"], ["x"]):
                n_cin += conn["CIN"] != ["x"]
                conn["CIN"] = ["x"]
            cout = conn.get("COUT")
            if cout and isinstance(cout[0], int) and cout[0] not in read:
                conn["COUT"] = ["x"]
                n_cout += 1
    write_atomic(path, json.dumps(design))
    return n_cin, n_cout
