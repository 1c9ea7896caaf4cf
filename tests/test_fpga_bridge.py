"""The UART bridge, simulated at bit level around a core: every beat loaded over the UART, every result
returned and equal to the golden XNOR-popcount (so the board top really exercises the whole array)."""

import random

import numpy as np
import pytest
from amaranth.hdl import Fragment
from amaranth.lib import data
from amaranth.sim import Simulator

from fpga.bridge import UartBridge, nbytes
from fpga.host import FrameDecoder, decode_uart, encode_input, pack_payload, uart_levels, unpack_payload
from fpga.naive import NaiveCore
from golden.conventions import pack_bits, threshold, unpack_words, xnor_popcount

DIV = 4


def run_bridge(core, frames_per_port, cycles_after=3000, junk=b""):
    """Send each frame (port, payload) after the previous one's ack (the `junk` bytes before each);
    return the decoded events."""
    bridge = UartBridge(core, DIV)
    in_n = [nbytes(p) for _, p in bridge.in_ports]
    out_n = [nbytes(p) for _, p in bridge.out_ports]
    sim = Simulator(bridge)
    sim.add_clock(1e-6)
    tx_levels = []

    def events():
        return FrameDecoder(out_n).feed(decode_uart(tx_levels, DIV))

    async def host(ctx):
        for sent, (port, payload) in enumerate(frames_per_port, start=1):
            for byte in bytes(junk) + encode_input(port, payload, in_n[port]):
                for lvl in uart_levels(byte, DIV):
                    ctx.set(bridge.rx, lvl)
                    await ctx.tick()
                    tx_levels.append(ctx.get(bridge.tx))
            ctx.set(bridge.rx, 1)
            for i in range(20000):          # the next frame only after this one's acknowledgement
                await ctx.tick()
                tx_levels.append(ctx.get(bridge.tx))
                if i % 16 == 0 and sum(e[0] == "ack" for e in events()) >= sent:
                    break
            else:
                raise AssertionError(f"no ack for frame {sent} (port {port})")
        for _ in range(cycles_after):
            await ctx.tick()
            tx_levels.append(ctx.get(bridge.tx))

    sim.add_testbench(host)
    sim.run()
    return events(), bridge


@pytest.mark.parametrize("rows,cols,k,junk", [(1, 1, 3, b""), (2, 3, 5, b""), (2, 3, 5, b"\x01\x3f")])
def test_bridge_carries_whole_array(rows, cols, k, junk):
    """junk: header bytes naming no input port, which the bridge drops (one taken as a header would
    swallow the frame's bytes as its payload)."""
    rng = random.Random(rows * 100 + cols * 10 + k)
    core = NaiveCore(rows, cols, k, max_fanin=64)
    layout = core.beat.payload.shape()
    nbeats = 3
    acts = [[rng.getrandbits(k) for _ in range(rows)] for _ in range(nbeats)]
    wgts = [[rng.getrandbits(k) for _ in range(cols)] for _ in range(nbeats)]
    frames = [(0, pack_payload(layout, {"act": acts[b], "wgt": wgts[b], "first": b == 0,
                                        "last": b == nbeats - 1})) for b in range(nbeats)]
    events, _ = run_bridge(core, frames, junk=junk)
    assert [e for e in events if e[0] == "ack"] == [("ack", 0)] * nbeats
    outs = [unpack_payload(core.out.payload.shape(), e[2]) for e in events if e[0] == "out"]
    assert [o["row"] for o in outs] == list(range(rows))
    for o in outs:
        r = o["row"]
        a = np.concatenate([unpack_words([acts[b][r]], k, k) for b in range(nbeats)])
        for c in range(cols):
            w = np.concatenate([unpack_words([wgts[b][c]], k, k) for b in range(nbeats)])
            expect = int(xnor_popcount(pack_bits(a), pack_bits(w), k * nbeats))
            assert o["p"][c] == expect, (r, c)
    assert outs[-1]["last_row"] == 1


def test_bridge_refuses_a_baud_rate_its_waves_cannot_follow():
    core = NaiveCore(8, 16, 16, max_fanin=64)
    longest = max(nbytes(core.beat), nbytes(core.out))  # 49 bytes: a wave takes 51 cycles, a byte 10 * divisor
    with pytest.raises(ValueError, match=rf"^UART divisor 5 too fast for a {longest}-byte payload: a byte must take "
                                         rf"more than {longest + 2} clock cycles$"):
        UartBridge(core, 5)
    Fragment.get(UartBridge(core, 6), None)  # (elaborated: the core is used)


def test_payload_pack_roundtrip():
    layout = data.StructLayout({"a": data.ArrayLayout(3, 4), "b": 5, "c": 1})
    fields = {"a": [1, 7, 0, 5], "b": 17, "c": 1}
    assert unpack_payload(layout, pack_payload(layout, fields)) == fields


@pytest.mark.parametrize("out_fifo", [0, 3])
def test_bridge_with_xnorcore_thresholds(out_fifo):
    """The board top's real payload: thresholds written and beats loaded over the UART, results back,
    for the stall flow and the credit flow (an output FIFO whose payload comes straight from its RAM)."""
    pytest.importorskip("hdl.core")
    from hdl.config import AccelConfig
    from hdl.core import XnorCore

    rows, cols, k, nbeats = 2, 2, 5, 3
    core = XnorCore(AccelConfig(rows=rows, cols=cols, k=k, max_fanin=64, out_fifo=out_fifo))
    rng = random.Random(7)
    thr_l, beat_l, out_l = (core.thr.payload.shape(), core.beat.payload.shape(), core.out.payload.shape())
    ts, pols = [rng.randrange(0, k * nbeats + 1) for _ in range(cols)], [1, 0]
    frames = [(1, pack_payload(thr_l, {"addr": 0, "thr": ts, "pol": pols}))]
    acts = [[rng.getrandbits(k) for _ in range(rows)] for _ in range(nbeats)]
    wgts = [[rng.getrandbits(k) for _ in range(cols)] for _ in range(nbeats)]
    frames += [(0, pack_payload(beat_l, {"act": acts[b], "wgt": wgts[b], "first": b == 0, "last": b == nbeats - 1,
                                         "split": 0, "chan_block": 0})) for b in range(nbeats)]
    events, _ = run_bridge(core, frames)
    assert [e for e in events if e[0] == "ack"] == [("ack", 1)] + [("ack", 0)] * nbeats
    outs = [unpack_payload(out_l, e[2]) for e in events if e[0] == "out"]
    assert sorted(o["row"] for o in outs) == list(range(rows))
    for o in outs:
        a = np.concatenate([unpack_words([acts[b][o["row"]]], k, k) for b in range(nbeats)])
        for c in range(cols):
            w = np.concatenate([unpack_words([wgts[b][c]], k, k) for b in range(nbeats)])
            p = int(xnor_popcount(pack_bits(a), pack_bits(w), k * nbeats))
            assert o["p"][c] == p, (o["row"], c)
            assert o["y"][c] == int(threshold(p, ts[c], 1 if pols[c] else -1)), (o["row"], c)
