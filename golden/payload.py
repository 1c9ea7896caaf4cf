"""Stream payloads as integers, from the field list `gen` publishes in config.json.

Why one module without torch: amaranth.sim tests, the cocotb testbenches (where importing torch
costs ~20 s per simulator start) and the UART host all pack beats; they must agree bit for bit.
A field is ``{name, offset, width}`` plus ``count`` (and ``elem_width``) for an array, LSB first,
as `hdl.layouts.layout_fields` flattens a StructLayout.
"""

from __future__ import annotations

__all__ = ["pack_field", "pack_payload", "unpack_field", "unpack_payload"]


def _shape(f: dict) -> tuple[int, int | None]:
    """(element width, element count or None for a scalar field)."""
    if "count" in f:
        return f["width"] // f["count"], f["count"]
    return f["width"], None


def pack_field(f: dict, value) -> int:
    """One field's value (int, or a sequence for an array) -> its bits placed at its offset.

    A value that does not fit its width is an error, never silently wrapped.
    """
    ew, count = _shape(f)
    elems = [int(value)] if count is None else [int(v) for v in value]
    if count is not None and len(elems) != count:
        raise ValueError(f"field {f['name']}: {len(elems)} elements, expected {count}")
    word = 0
    for i, e in enumerate(elems):
        if not 0 <= e < (1 << ew):
            where = f["name"] if count is None else f"{f['name']}[{i}]"
            raise ValueError(f"field {where} = {e} does not fit {ew} bits")
        word |= e << (i * ew)
    return word << f["offset"]


def unpack_field(f: dict, word: int):
    """A field's value from a whole payload: an int, or a list for an array."""
    ew, count = _shape(f)
    bits = (int(word) >> f["offset"]) & ((1 << f["width"]) - 1)
    if count is None:
        return bits
    return [(bits >> (i * ew)) & ((1 << ew) - 1) for i in range(count)]


def pack_payload(fields, values: dict) -> int:
    """A beat {field: value} -> the payload integer; missing fields are 0, unknown names an error."""
    by_name = {f["name"]: f for f in fields}
    unknown = set(values) - set(by_name)
    if unknown:
        raise KeyError(f"no payload field {min(unknown)!r} (fields: {sorted(by_name)})")
    return sum(pack_field(by_name[name], v) for name, v in values.items())


def unpack_payload(fields, word: int) -> dict:
    """Inverse of pack_payload: every field of the payload."""
    return {f["name"]: unpack_field(f, word) for f in fields}
