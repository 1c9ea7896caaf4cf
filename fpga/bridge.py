"""UART host bridge: loads every input stream of a core from framed UART bytes and returns its outputs.

Why generic: it reads the core's signature, so the same bridge serves hdl.core.XnorCore (beat, thr ->
out) and the provisional core, and it keeps the whole array alive on a real board: every input bit is
loadable and every output bit is sent back. Protocol (fpga/host.py encodes and decodes it):

- host -> FPGA: one byte `port` (index among the core's input streams, signature order), then the
  payload, ceil(width / 8) bytes, least significant byte first (Amaranth's flattened StructLayout).
- FPGA -> host: `0x40 | port` once the core has taken that input beat (the host sends the next input
  frame only after this acknowledgement: the UART has no other flow control), and for every beat of
  output stream j: `0x80 | j`, then its payload bytes, least significant first.
"""

from amaranth import Cat, Module, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .uart import UartRx, UartTx

__all__ = ["ACK", "OUT", "UartBridge", "stream_ports"]

ACK = 0x40
OUT = 0x80


def stream_ports(core: wiring.Component) -> tuple[list[tuple[str, object]], list[tuple[str, object]]]:
    """([(name, interface)] of input streams, [(name, interface)] of output streams), signature order.

    Non-stream members would be left unconnected (and their logic optimised away), so they are refused.
    """
    ins, outs = [], []
    for name, member in core.signature.members.items():
        if not (member.is_signature and isinstance(member.signature, stream.Signature)):
            raise TypeError(f"core port {name!r} is not a stream; the UART bridge only drives streams")
        (ins if member.flow == In else outs).append((name, getattr(core, name)))
    return ins, outs


def nbytes(iface) -> int:
    return max(1, -(-len(Value.cast(iface.payload)) // 8))


class UartBridge(wiring.Component):
    rx: In(1, init=1)
    tx: Out(1, init=1)

    def __init__(self, core: wiring.Component, divisor: int):
        self.core = core
        self.divisor = divisor
        self.in_ports, self.out_ports = stream_ports(core)
        if len(self.in_ports) > 0x3F or len(self.out_ports) > 0x3F:
            raise ValueError("too many stream ports for the 6-bit port field")
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = self.core
        m.submodules.urx = urx = UartRx(self.divisor)
        m.submodules.utx = utx = UartTx(self.divisor)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx), urx.data.ready.eq(1)]

        # --- host -> core: header byte, then payload bytes shifted in from the top
        n_in = [nbytes(p) for _, p in self.in_ports]
        nmax = max(n_in, default=1)
        buf = Signal(8 * nmax)
        port = Signal(range(max(len(self.in_ports), 1) + 1))
        count = Signal(range(nmax + 1))
        acks = Signal(max(len(self.in_ports), 1))
        with m.FSM():
            with m.State("HEADER"), m.If(urx.data.valid):
                m.d.sync += [port.eq(urx.data.payload), count.eq(0)]
                with m.If(urx.data.payload < len(self.in_ports)):
                    m.next = "PAYLOAD"
            with m.State("PAYLOAD"), m.If(urx.data.valid):
                m.d.sync += [buf.eq(Cat(buf[8:], urx.data.payload)), count.eq(count + 1)]
                for i, n in enumerate(n_in):
                    with m.If((port == i) & (count == n - 1)):
                        m.next = f"SEND_{i}"
            for i, ((_name, iface), n) in enumerate(zip(self.in_ports, n_in)):
                with m.State(f"SEND_{i}"):
                    m.d.comb += iface.valid.eq(1)
                    with m.If(iface.ready):
                        m.d.sync += acks[i].eq(1)
                        m.next = "HEADER"

        # payloads are wired straight from the buffer (no per-bit mux): only `valid` depends on the state
        for (_name, iface), n in zip(self.in_ports, n_in):
            width = len(Value.cast(iface.payload))
            m.d.comb += Value.cast(iface.payload).eq(buf[8 * (nmax - n):8 * (nmax - n) + width])

        # --- core -> host. An output beat is first captured into `obuf` (the core sees `ready` = buffer
        # empty, a register: no combinational path from the UART side into the core's drain logic),
        # then sent as header + payload bytes. Acknowledgements go first.
        n_out = [nbytes(p) for _, p in self.out_ports]
        obuf = Signal(8 * max(n_out, default=1))
        obuf_full = Signal()
        obuf_port = Signal(range(max(len(self.out_ports), 1)))
        left = Signal(range(max(n_out, default=1) + 1))
        for j, (_name, iface) in enumerate(self.out_ports):
            earlier = [o.valid for _, o in self.out_ports[:j]]
            m.d.comb += iface.ready.eq(~obuf_full & ~Cat(*earlier).any() if earlier else ~obuf_full)
            with m.If(iface.valid & iface.ready):
                m.d.sync += [obuf.eq(Value.cast(iface.payload)), obuf_port.eq(j), obuf_full.eq(1)]
        with m.FSM():
            with m.State("IDLE"):
                for i in range(len(self.in_ports)):
                    with (m.If(acks[i]) if i == 0 else m.Elif(acks[i])):
                        m.d.comb += [utx.data.valid.eq(1), utx.data.payload.eq(ACK | i)]
                        with m.If(utx.data.ready):
                            m.d.sync += acks[i].eq(0)
                with (m.Elif(obuf_full) if self.in_ports else m.If(obuf_full)):
                    m.d.comb += [utx.data.valid.eq(1), utx.data.payload.eq(OUT | obuf_port)]
                    with m.If(utx.data.ready):
                        for j, n in enumerate(n_out):
                            with m.If(obuf_port == j):
                                m.d.sync += left.eq(n)
                        m.next = "BYTES"
            with m.State("BYTES"):
                m.d.comb += [utx.data.valid.eq(1), utx.data.payload.eq(obuf[:8])]
                with m.If(utx.data.ready):
                    m.d.sync += [obuf.eq(obuf >> 8), left.eq(left - 1)]
                    with m.If(left == 1):
                        m.d.sync += obuf_full.eq(0)
                        m.next = "IDLE"
        return m
