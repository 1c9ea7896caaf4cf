"""UART host bridge: loads every input stream of a core from framed UART bytes and returns its outputs.

Why generic: it reads the core's signature, so the same bridge serves hdl.core.XnorCore (beat, thr ->
out) and the naive baseline core (fpga/naive.py), and it keeps the whole array alive on a real board: every input bit is
loadable and every output bit is sent back. Protocol (fpga/host.py encodes and decodes it):

- host -> FPGA: one byte `port` (index among the core's input streams, signature order), then the
  payload, ceil(width / 8) bytes, least significant byte first (Amaranth's flattened StructLayout).
  A header byte naming no input port is dropped (the next byte is read as a header again).
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
        longest = max(nbytes(p) for _, p in self.in_ports + self.out_ports)
        if 10 * divisor <= longest + 2:  # a byte's shift wave must end before the next byte (_wave)
            self._MustUse__silence = True  # (refused, not unused: no UnusedElaboratable warning)
            raise ValueError(f"UART divisor {divisor} too fast for a {longest}-byte payload: a byte must take "
                             f"more than {longest + 2} clock cycles")
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = self.core
        m.submodules.urx = urx = UartRx(self.divisor)
        m.submodules.utx = utx = UartTx(self.divisor)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx), urx.data.ready.eq(1)]

        # --- host -> core: header byte, then payload bytes shifted in from the top, by a wave
        n_in = [nbytes(p) for _, p in self.in_ports]
        nmax = max(n_in, default=1)
        buf = [Signal(8, name=f"buf{i}") for i in range(nmax)]
        byte_in = Signal(8)
        shift = _wave(m, "shift", nmax)  # shift[i]: byte i takes byte i + 1 (the top: byte_in)
        for i in range(nmax):
            with m.If(shift[i]):
                m.d.sync += buf[i].eq(buf[i + 1] if i + 1 < nmax else byte_in)
        # The frame's port as one flag per input stream, and the payload bytes still to come as a down
        # counter, both set once from the header byte: past the header the FSM's next state depends on
        # a counter reaching 0 (a compare of the port register and of an up-counting byte count with
        # the port's length, in front of its next-state logic and routed across a 95 %-full UP5K, was
        # the iCEBreaker 8x8's critical path, 16.4 ns of routing into the state's clock enable)
        sel = Signal(max(len(self.in_ports), 1))
        more = Signal(range(max(nmax, 2)))
        acks = Signal(max(len(self.in_ports), 1))
        valid = Signal(len(sel))  # a flip-flop per stream, high while its beat is offered
        for i, (_name, iface) in enumerate(self.in_ports):
            m.d.comb += iface.valid.eq(valid[i])
        hdr = urx.data.payload
        with m.FSM():
            with m.State("HEADER"), m.If(urx.data.valid):
                m.d.sync += sel.eq(Cat(*(hdr == i for i in range(len(self.in_ports)))))
                for i, n in enumerate(n_in):
                    with m.If(hdr == i):
                        m.d.sync += more.eq(n - 1)
                m.next = "PORT"
            # the header checked a cycle later, from `sel` (a compare of the received byte with the
            # port count in front of the state's enable, on a carry chain, set the 85F's 32x32 board
            # clock at 165-166 MHz: 6.0 ns); the next byte is 10 x divisor cycles away
            with m.State("PORT"):
                m.next = "HEADER"
                with m.If(sel.any()):
                    m.next = "PAYLOAD"
            with m.State("PAYLOAD"), m.If(urx.data.valid):
                m.d.comb += shift.start.eq(1)
                m.d.sync += [byte_in.eq(urx.data.payload), more.eq(more - 1)]
                with m.If(more == 0):
                    m.next = "WAVE"
            with m.State("WAVE"), m.If(shift.done):  # the last byte is in place
                m.d.sync += valid.eq(sel)
                m.next = "SEND"
            with m.State("SEND"), m.If((valid & Cat(*(iface.ready for _, iface in self.in_ports))).any()):
                m.d.sync += [valid.eq(0), acks.eq(acks | sel)]
                m.next = "HEADER"

        # payloads are wired straight from the buffer (no per-bit mux): only `valid` depends on the state
        flat = Cat(*buf)
        for (_name, iface), n in zip(self.in_ports, n_in):
            width = len(Value.cast(iface.payload))
            m.d.comb += Value.cast(iface.payload).eq(flat[8 * (nmax - n):8 * (nmax - n) + width])

        # --- core -> host. An output beat is first loaded into `obuf` by a wave while the core holds it
        # (payload stable while valid and not ready), then taken (`ready` one cycle, a flip-flop: no
        # combinational path from the UART side into the core's drain logic) and sent as
        # header + payload bytes, each byte sent followed by a shift wave. Acknowledgements go first.
        n_out = [nbytes(p) for _, p in self.out_ports]
        omax = max(n_out, default=1)
        obuf = [Signal(8, name=f"obuf{j}") for j in range(omax)]
        load = _wave(m, "load", omax)     # load[j]: byte j of the chosen port's payload into obuf[j]
        oshift = _wave(m, "oshift", omax)  # oshift[j]: obuf[j] takes obuf[j + 1]
        obuf_port = Signal(range(max(len(self.out_ports), 1)))
        # each output payload passes one register (no enable) before `obuf`: the first byte loads a
        # cycle after the wave starts, when the register holds the payload of the cycle `valid` was
        # seen, and it stays put until `ready`. Loaded straight from the core, the output FIFO's read
        # pointer -> its LUT RAM -> across the chip -> `obuf` was an 85F board build's critical
        # path (5.2 ns of routing, 157.9 MHz)
        held = []
        for q, (_name, iface) in enumerate(self.out_ports):
            held.append(Signal(len(Value.cast(iface.payload)), name=f"out{q}_held"))
            m.d.sync += held[q].eq(iface.payload)
        for j in range(omax):
            with m.If(load[j]):
                for q, bits in enumerate(held):
                    if 8 * j < len(bits):
                        with m.If(obuf_port == q):
                            m.d.sync += obuf[j].eq(bits[8 * j:8 * j + 8])
            with m.Elif(oshift[j]):
                m.d.sync += obuf[j].eq(obuf[j + 1] if j + 1 < omax else 0)
        left = Signal(range(omax + 1))
        # `ready` per output port is a flip-flop (a decoded FSM state was the 32x32 board build's
        # critical path: the bridge's state -> the core's credit counter under the array, 7.8 ns)
        take = Signal(max(len(self.out_ports), 1))
        for q, (_name, iface) in enumerate(self.out_ports):
            m.d.comb += iface.ready.eq(take[q])
        with m.FSM():
            with m.State("IDLE"):
                for i in range(len(self.in_ports)):
                    with (m.If(acks[i]) if i == 0 else m.Elif(acks[i])):
                        m.d.comb += [utx.data.valid.eq(1), utx.data.payload.eq(ACK | i)]
                        with m.If(utx.data.ready):
                            m.d.sync += acks[i].eq(0)
                for q, (_name, iface) in enumerate(self.out_ports):
                    with (m.Elif(iface.valid) if (self.in_ports or q) else m.If(iface.valid)):
                        m.d.comb += load.start.eq(1)
                        m.d.sync += [obuf_port.eq(q), left.eq(n_out[q])]
                        m.next = "LOAD"
            with m.State("LOAD"), m.If(load.done):
                for q in range(len(self.out_ports)):
                    m.d.sync += take[q].eq(obuf_port == q)
                m.next = "TAKE"
            with m.State("TAKE"):  # the chosen port's `ready` is high in this cycle only
                m.d.sync += take.eq(0)
                m.next = "HEAD"
            with m.State("HEAD"):
                m.d.comb += [utx.data.valid.eq(1), utx.data.payload.eq(OUT | obuf_port)]
                with m.If(utx.data.ready):
                    m.next = "BYTES"
            with m.State("BYTES"):
                m.d.comb += [utx.data.valid.eq(1), utx.data.payload.eq(obuf[0])]
                with m.If(utx.data.ready):
                    m.d.comb += oshift.start.eq(1)
                    m.d.sync += left.eq(left - 1)
                    with m.If(left == 1):
                        m.next = "IDLE"
        return m


class _Wave:
    """A one-hot strobe that walks up a chain of byte registers, one per cycle (see `_wave`)."""

    def __init__(self, start, strobes, done):
        self.start, self._strobes, self.done = start, strobes, done

    def __getitem__(self, i):
        return self._strobes[i]


def _wave(m: Module, name: str, n: int) -> _Wave:
    """Strobe i is `start` delayed by i + 1 cycles; `done` is high in the cycle after strobe n - 1.

    Why: a beat buffer is as wide as the array's input (~120 bytes at 32x32), spread over the whole
    chip; one shift enable reaching all of it was the critical path of the 32x32 board build (10.4 ns:
    the UART FSM -> 5.4 ns of routing -> ~1,000 clock enables). Walking the enable byte by byte, each
    byte register reads its upper neighbour the cycle before that one changes, so the buffer shifts as
    a whole and every enable is a flip-flop next to the 8 it drives. A wave takes n + 1 cycles; the
    UART delivers a byte every 10 * divisor cycles, which UartBridge checks is longer.
    """
    start = Signal(name=f"{name}_start")
    strobes = Signal(n + 1, name=f"{name}_strobe")
    m.d.sync += strobes.eq(Cat(start, strobes[:-1]))
    return _Wave(start, [strobes[i] for i in range(n)], strobes[n])
