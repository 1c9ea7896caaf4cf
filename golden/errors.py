"""The golden package's error classes: one per kind of bad input, so CLIs can print one line.

Why: every user-facing failure (a corrupt program file, a missing data set, an impossible fold)
must surface as ``error: <what is wrong>`` and a non-zero exit, never as a traceback.
"""

from __future__ import annotations


class GoldenError(Exception):
    """Base of all expected golden/ failures; ``str(err)`` is a one-line message."""


class ProgramError(GoldenError):
    """An accelerator-program file or in-memory program is invalid; the message names the bad tensor."""


class DataError(GoldenError):
    """A data set is missing or its files are malformed."""


class FoldError(GoldenError):
    """BatchNorm/sign folding is impossible (non-finite parameters or float32 overflow)."""


class OutputError(GoldenError):
    """A result file cannot be written (directory, permissions, disk full); nothing was left half-written."""
