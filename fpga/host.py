"""Host side of the UART bridge protocol (fpga/bridge.py): frames to bytes, bytes back to events.

Why separate from the hardware: the same encoder/decoder drives the bridge in simulation (tests) and
a real board through any serial port (`serial.Serial(...).write(encode_input(...))`).
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.lib import data

from golden import payload
from hdl.layouts import layout_fields

from .bridge import ACK, OUT

__all__ = [
    "FrameDecoder",
    "decode_uart",
    "encode_input",
    "pack_payload",
    "uart_levels",
    "unpack_payload",
]


def pack_payload(layout: data.StructLayout, fields: dict) -> int:
    """A StructLayout payload given as {field: int or list of ints (ArrayLayout)} -> flat integer."""
    return payload.pack_payload(layout_fields(layout), fields)


def unpack_payload(layout: data.StructLayout, word: int) -> dict:
    """Flat integer -> {field: int or list of ints}."""
    return payload.unpack_payload(layout_fields(layout), word)


def encode_input(port: int, payload: int, nbytes: int) -> bytes:
    """Host -> FPGA frame: port byte, then the payload least significant byte first."""
    return bytes([port]) + payload.to_bytes(nbytes, "little")


@dataclass
class FrameDecoder:
    """FPGA -> host byte stream -> [("ack", port)] / [("out", port, payload int)] events."""

    out_nbytes: list[int]

    def __post_init__(self):
        self._pending: list[int] = []
        self.events: list[tuple] = []

    def feed(self, data_bytes: bytes) -> list[tuple]:
        new = []
        for b in data_bytes:
            if not self._pending:
                if b & OUT:
                    self._pending = [b]
                    continue
                if b & ACK:
                    new.append(("ack", b & 0x3F))
                    continue
                raise ValueError(f"unexpected byte 0x{b:02x} from the bridge")
            self._pending.append(b)
            j = self._pending[0] & 0x3F
            if len(self._pending) == 1 + self.out_nbytes[j]:
                new.append(("out", j, int.from_bytes(bytes(self._pending[1:]), "little")))
                self._pending = []
        self.events += new
        return new


def uart_levels(byte: int, divisor: int) -> list[int]:
    """Line level per clock cycle for one 8N1 byte (start, 8 data LSB first, stop)."""
    bits = [0] + [(byte >> i) & 1 for i in range(8)] + [1]
    return [b for b in bits for _ in range(divisor)]


def decode_uart(levels: list[int], divisor: int) -> bytes:
    """Per-cycle line levels -> the 8N1 bytes on it (samples each bit in its middle)."""
    out, i = bytearray(), 0
    while i < len(levels):
        if levels[i] == 0:
            centre = i + divisor // 2
            if centre + 9 * divisor >= len(levels):
                break
            bits = [levels[centre + (j + 1) * divisor] for j in range(8)]
            out.append(sum(b << j for j, b in enumerate(bits)))
            i = centre + 9 * divisor      # middle of the stop bit
        else:
            i += 1
    return bytes(out)
