"""What a testbench knows about a generated core: read from its ``config.json`` and nothing else.

Why: the testbenches must follow whatever ``gen`` emits (port names, field order, widths), so every
size, name and bit offset comes from here; packing a beat is arithmetic on those offsets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from golden.payload import pack_field, unpack_field


class DesignError(Exception):
    """config.json lacks something the testbench needs."""


@dataclass(frozen=True)
class Field:
    """One payload field: ``count`` elements of ``elem_width`` bits from ``offset`` (LSB first)."""

    name: str
    offset: int
    width: int
    elem_width: int
    count: int
    array: bool = False  # an ArrayLayout field: (un)packs as a list even with one element

    @property
    def spec(self) -> dict:
        """The field as golden.payload takes it (the config.json form)."""
        spec = {"name": self.name, "offset": self.offset, "width": self.width}
        if self.array:
            spec.update(count=self.count, elem_width=self.elem_width)
        return spec

    def pack(self, value) -> int:
        """A scalar (int) or a sequence of ``count`` elements -> the field's bits, placed at ``offset``."""
        return pack_field(self.spec, value)

    def unpack(self, payload: int):
        """The field's value from a whole payload: an int, or a list when it is an array."""
        return unpack_field(self.spec, payload)


@dataclass(frozen=True)
class Stream:
    """A valid/ready stream port of the core and the layout of its payload."""

    name: str
    direction: str
    valid: str
    ready: str
    payload: str
    width: int
    fields: dict[str, Field]

    def pack(self, **values) -> int:
        """Field values -> payload integer; missing fields are 0, unknown names are an error."""
        word = 0
        for name, value in values.items():
            if name not in self.fields:
                raise KeyError(f"stream {self.name} has no field {name!r} (has {sorted(self.fields)})")
            word |= self.fields[name].pack(value)
        return word

    def unpack(self, payload: int) -> dict:
        return {name: f.unpack(int(payload)) for name, f in self.fields.items()}


@dataclass(frozen=True)
class Design:
    """A generated core: its directory, top module, clock/reset and streams, and all parameters."""

    dir: Path
    top: str
    clock: str
    reset: str
    params: dict
    streams: dict[str, Stream]
    sources: tuple[Path, ...]
    raw: dict

    def __getattr__(self, name):
        # Parameters read like attributes (d.rows, d.acc_width) without copying them into fields.
        params = self.__dict__.get("params", {})
        if name in params:
            return params[name]
        raise AttributeError(name)

    @property
    def beat(self) -> Stream:
        return self.streams["beat"]

    @property
    def thr(self) -> Stream:
        return self.streams["thr"]

    @property
    def out(self) -> Stream:
        return self.streams["out"]

    def out_window(self) -> int:
        """Cycles with out.ready high in which a beat still in the core surely comes out: twice
        config.json's out latency plus its drain cycles (the margin covers a late extra beat)."""
        lat = self.raw.get("latency", {})
        try:
            return 2 * (int(lat["out"]) + int(lat["drain_cycles"])) + 16
        except KeyError as e:
            raise DesignError(f"{self.dir / 'config.json'}: latency lacks {e}") from None


def _field(name: str, spec: dict) -> Field:
    width = int(spec["width"])
    elem = int(spec.get("elem_width", width))
    count = int(spec.get("count", width // elem if elem else 1))
    if elem * count != width:
        raise DesignError(f"field {name}: elem_width {elem} x count {count} != width {width}")
    return Field(name, int(spec["offset"]), width, elem, count, "elem_width" in spec or "count" in spec)


def _port_by_meaning(raw: dict, key: str, word: str, default: str) -> str:
    """Clock / reset port: an explicit key, else the port whose meaning names it."""
    if key in raw:
        return raw[key]
    return next((p["name"] for p in raw.get("ports", []) if word in p.get("meaning", "").lower()), default)


def load_design(out_dir: str | Path) -> Design:
    """Parse ``out_dir/config.json`` written by ``python -m gen``."""
    out_dir = Path(out_dir)
    try:
        raw = json.loads((out_dir / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise DesignError(f"{out_dir / 'config.json'}: {e}") from None
    try:
        streams = {}
        for name, s in raw["streams"].items():
            items = s["fields"].items() if isinstance(s["fields"], dict) else [(f["name"], f) for f in s["fields"]]
            fields = {fname: _field(fname, f) for fname, f in items}
            direction = s.get("direction", s.get("dir"))
            streams[name] = Stream(name, direction, s["valid"], s["ready"], s["payload"], int(s["width"]), fields)
        params = dict(raw.get("parameters", raw.get("params", {})))
        params.update(raw.get("derived", {}))
        if "verilog" in raw:
            sources = (out_dir / raw["verilog"], *(out_dir / f for f in raw.get("sim_sources", [])))
        else:
            sources = tuple(sorted(out_dir.glob("*.v"))) + tuple(sorted(out_dir.glob("*.sv")))
        clock = _port_by_meaning(raw, "clock", "clock", "clk")
        reset = _port_by_meaning(raw, "reset", "reset", "rst")
        return Design(out_dir, raw["top"], clock, reset, params, streams, sources, raw)
    except KeyError as e:
        raise DesignError(f"{out_dir / 'config.json'}: missing key {e}") from None
