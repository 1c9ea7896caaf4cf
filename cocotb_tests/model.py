"""The golden model of the per-beat testbench, fed by an input monitor (what the core accepted).

Why: expected out beats made on the host when a job starts check that the core answers the job,
not that it answers what it was actually given; a driver that sent something else, or a handshake
counted wrongly, would go unnoticed or be blamed on the core. Here :class:`InputMonitor` samples
the ``thr`` and ``beat`` handshakes on the core's ports (in ReadOnly, as the output monitor does),
:class:`CoreModel` rebuilds the threshold memory and the reductions from them, and every accepted
``last`` beat turns into the expected out beats (golden/reference.py), queued in order for the
scoreboard. The jobs' own precomputed beats stay as a cross-check of the driver (see
:class:`cocotb_tests.tb.Scoreboard`).

What the model follows from the hardware (hdl/array.py, hdl/threshold.py):

- A beat with ``first``, or any beat while no reduction is open (after a reset or a ``last``),
  opens a reduction: the accumulators restart and ``split`` and ``chan_block`` are latched (a
  ``first`` inside a reduction drops its beats so far); later beats add to it; the handshake of
  ``last`` closes it and its row groups drain in order.
- ``thr`` writes land even in a reset cycle, and ``rst`` does not clear the threshold memory; the
  memory powers up as zeros (golden.reference.threshold_table).
- ``rst`` discards the open reduction and every result in flight (the scoreboard is flushed);
  a beat handshake in a reset cycle is lost.
- Thresholds are looked up when the core reads a drained row, after ``last``: the model reads them
  at ``last``, which is exact as long as no entry changes while results are in flight. The
  testbench writes thresholds only before a job's beats and after its outputs came (TB.run);
  a change in flight is reported as a testbench error rather than guessed at.

Imports golden.reference and golden.stimulus only (numpy, no torch): cheap inside the simulator.
"""

from __future__ import annotations

from golden.reference import ref_array, ref_threshold, threshold_table
from golden.stimulus import Reduction, ThrWrite

from .design import Design


class ModelError(AssertionError):
    """The accepted input is not something the model (or the hardware) defines an answer for."""


def expected_beats(params, thr_writes, reductions, drain=None) -> tuple[list[dict], list[dict]]:
    """Golden out beats of ``reductions`` after ``thr_writes``, and one coverage meta per beat
    (thresholds [C][N] and polarity bits [C] of its channel block). ``drain``: the array's beats
    when the caller has them already (golden.reference.drain_beats of its own popcounts)."""
    drain = ref_array(params, reductions) if drain is None else drain
    beats = ref_threshold(params, thr_writes, drain)
    t, pol = threshold_table(params, thr_writes)  # [blocks, N, C], [blocks, C] (+-1)
    meta = [{"thr": t[b["chan_block"]].T.tolist(), "pol": [int(v > 0) for v in pol[b["chan_block"]]]}
            for b in drain]
    return beats, meta


class CoreModel:
    """XnorCore as golden.reference describes it, advanced one accepted handshake at a time."""

    def __init__(self, params):
        self.params = dict(params)
        self.blocks = max(1, int(self.params["channels"]) // int(self.params["cols"]))
        self.table: dict[int, ThrWrite] = {}  # the last write of every entry (writes are whole entries)
        self.open: tuple[list, list, int, int] | None = None  # act, wgt, split, chan_block
        self.reductions = 0  # closed (checked) reductions, for the log

    def write(self, fields: dict) -> bool:
        """A ``thr`` handshake; True when it changed an entry."""
        addr = int(fields["addr"])
        if not 0 <= addr < self.blocks:
            raise ModelError(f"threshold write to entry {addr}: the core has {self.blocks}")
        new = ThrWrite(addr, tuple(int(v) for v in fields["thr"]), tuple(int(v) for v in fields["pol"]))
        old = self.table.get(addr)
        self.table[addr] = new
        return old != new

    def beat(self, fields: dict) -> tuple[list[dict], list[dict]] | None:
        """A ``beat`` handshake; at ``last``, the reduction's expected out beats and their metas."""
        if fields["first"] or self.open is None:  # (no reduction open: this beat opens one)
            self.open = ([], [], int(fields["split"]), int(fields["chan_block"]))
        act, wgt, split, chan_block = self.open
        act.append(tuple(int(v) for v in fields["act"]))
        wgt.append(tuple(int(v) for v in fields["wgt"]))
        if not fields["last"]:
            return None
        self.open = None
        self.reductions += 1
        red = Reduction(tuple(act), tuple(wgt), split, chan_block)
        return expected_beats(self.params, list(self.table.values()), [red])

    def reset(self) -> None:
        """rst: the open reduction is gone; the threshold memory stays."""
        self.open = None


class InputMonitor:
    """Samples the ``thr`` and ``beat`` handshakes and ``rst`` on the core's ports (call in ReadOnly,
    once per cycle) and feeds :class:`CoreModel`.

    ``on_expected(beats, metas)``: a reduction closed; ``on_reset()``: rst is high this cycle;
    ``on_write(changed)``: a threshold entry was written (``changed``: with new contents).
    """

    def __init__(self, dut, d: Design, model: CoreModel, on_expected, on_reset, on_write=None):
        self.model = model
        self.rst = getattr(dut, d.reset)
        self.thr = d.thr
        self.beat_s = d.beat
        self.thr_h = tuple(getattr(dut, n) for n in (d.thr.valid, d.thr.ready, d.thr.payload))
        self.beat_h = tuple(getattr(dut, n) for n in (d.beat.valid, d.beat.ready, d.beat.payload))
        self.on_expected, self.on_reset, self.on_write = on_expected, on_reset, on_write
        self.writes = 0
        self.beats = 0

    @staticmethod
    def _taken(handles) -> int | None:
        valid, ready, payload = handles
        if int(valid.value) and int(ready.value):
            return int(payload.value)
        return None

    def sample(self) -> None:
        word = self._taken(self.thr_h)
        if word is not None:  # lands even in a reset cycle (hdl/threshold.py)
            self.writes += 1
            changed = self.model.write(self.thr.unpack(word))
            if self.on_write:
                self.on_write(changed)
        if int(self.rst.value):
            self.model.reset()
            self.on_reset()
            return
        word = self._taken(self.beat_h)
        if word is not None:
            self.beats += 1
            out = self.model.beat(self.beat_s.unpack(word))
            if out is not None:
                self.on_expected(*out)
