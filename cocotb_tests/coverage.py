"""Functional coverage (cocotb-coverage): threshold relation x polarity x stall pattern x reset phase.

Sampled once per output channel and threshold of every output beat the scoreboard matched, so a
bin only counts when the core produced the right answer in that situation. ``report`` writes every
bin with its hit count (JSON and the cocotb-coverage XML) and returns the bins never hit.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from cocotb_coverage.coverage import CoverCross, CoverPoint, coverage_db

from .traffic import STALL_NAMES

RELATIONS = ("below", "tie", "above")
POLARITIES = ("pos", "neg")
RESET_PHASES = ("none", "mid_stream", "out_stalled")
CROSS = "xnorgen.core.cross"
PLANNED = len(RELATIONS) * len(POLARITIES) * len(STALL_NAMES) * len(RESET_PHASES)


@CoverPoint("xnorgen.core.relation", xf=lambda rel, pol, stall, reset: rel, bins=list(RELATIONS))
@CoverPoint("xnorgen.core.polarity", xf=lambda rel, pol, stall, reset: pol, bins=list(POLARITIES))
@CoverPoint("xnorgen.core.stall", xf=lambda rel, pol, stall, reset: stall, bins=list(STALL_NAMES))
@CoverPoint("xnorgen.core.reset", xf=lambda rel, pol, stall, reset: reset, bins=list(RESET_PHASES))
@CoverCross(CROSS, items=["xnorgen.core.relation", "xnorgen.core.polarity", "xnorgen.core.stall",
                          "xnorgen.core.reset"])
def _sample(rel: str, pol: str, stall: str, reset: str) -> None:
    """Decorated sampling point (the decorators do the counting)."""


def sample_beat(expected: dict, meta: dict, stall: str, reset: str) -> None:
    """Sample a matched output beat once per (relation, polarity) its channels and thresholds show
    (a bin counts beats; sampling every channel would make wide arrays pay per channel)."""
    thr, pol = meta.get("thr"), meta.get("pol")
    if thr is None or pol is None:
        return
    seen = set()
    for c, p in enumerate(expected["p"]):
        for t in thr[c]:
            seen.add(("below" if p < t else "tie" if p == t else "above", "pos" if pol[c] else "neg"))
    for rel, sign in seen:
        _sample(rel, sign, stall, reset)


def bins() -> dict[str, int]:
    """Hit count of every planned cross bin ('relation/polarity/stall/reset')."""
    hits = coverage_db[CROSS].detailed_coverage if CROSS in coverage_db else {}
    out = {}
    for key in itertools.product(RELATIONS, POLARITIES, STALL_NAMES, RESET_PHASES):
        out["/".join(key)] = int(hits.get(key, 0))
    return out


def report(log, out_dir: Path) -> list[str]:
    """Log and write every bin with its hits; return the planned bins that were never hit."""
    b = bins()
    hit = sorted(k for k, v in b.items() if v)
    missing = sorted(k for k, v in b.items() if not v)
    (out_dir / "coverage.json").write_text(json.dumps({"planned": PLANNED, "hit": len(hit), "bins": b}, indent=1))
    if coverage_db:
        coverage_db.export_to_xml(str(out_dir / "coverage.xml"))
    log.info("functional coverage: %d of %d cross bins hit", len(hit), PLANNED)
    for k in hit:
        log.info("  bin %-40s %6d", k, b[k])
    if missing:
        log.info("  not hit: %s", ", ".join(missing))
    return missing
