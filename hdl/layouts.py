"""Stream payload layouts of the core, from one AccelConfig (the port contract of docs/design.md).

Why here: the array, the threshold unit, the core and gen/ (config.json offsets) must share one
definition of every payload; Amaranth flattens a StructLayout LSB-first in field order.
"""

from __future__ import annotations

from amaranth.lib import data

from .config import AccelConfig

__all__ = ["beat_layout", "drain_layout", "layout_fields", "out_layout", "thr_layout"]


def beat_layout(cfg: AccelConfig) -> data.StructLayout:
    """One reduction step for every PE: R activation words, W*C weight words (index j*C + c)."""
    return data.StructLayout({
        "act": data.ArrayLayout(cfg.k, cfg.rows),
        "wgt": data.ArrayLayout(cfg.k, cfg.weight_rows * cfg.cols),
        "first": 1,
        "last": 1,
        "split": cfg.split_width,
        "chan_block": cfg.chan_block_width,
    })


def thr_layout(cfg: AccelConfig) -> data.StructLayout:
    """One threshold-memory write: N thresholds (index i*C + c) and a polarity bit per channel."""
    return data.StructLayout({
        "addr": cfg.chan_block_width,
        "thr": data.ArrayLayout(cfg.thr_width, cfg.n_thresholds * cfg.cols),
        "pol": data.ArrayLayout(1, cfg.cols),
    })


def drain_layout(cfg: AccelConfig) -> data.StructLayout:
    """Array -> threshold unit: the (group-summed) popcounts of one row group."""
    return data.StructLayout({
        "row": cfg.row_width,
        "p": data.ArrayLayout(cfg.acc_width, cfg.cols),
        "last_row": 1,
        "chan_block": cfg.chan_block_width,
    })


def out_layout(cfg: AccelConfig) -> data.StructLayout:
    """Core output: raw P (scores for a classifier's last layer) and thresholded y per channel."""
    return data.StructLayout({
        "row": cfg.row_width,
        "p": data.ArrayLayout(cfg.acc_width, cfg.cols),
        "y": data.ArrayLayout(cfg.y_width, cfg.cols),
        "last_row": 1,
    })


def layout_fields(layout: data.StructLayout) -> list[dict]:
    """Flattened fields of a payload: name, offset, width (and count for arrays), LSB first.

    This is what config.json publishes and what golden.payload.pack_payload consumes.
    """
    fields = []
    for name, field in layout:
        entry = {"name": name, "offset": field.offset, "width": field.width}
        if isinstance(field.shape, data.ArrayLayout):
            entry["count"] = field.shape.length
            entry["elem_width"] = field.width // field.shape.length
        fields.append(entry)
    return sorted(fields, key=lambda f: f["offset"])
