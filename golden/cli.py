"""Shared CLI plumbing: argument errors and project errors both end as one ``error: ...`` line.

Why: argparse prints a multi-line usage block and exits 2; users and CI logs want one line that
names the bad argument, and project errors (bad program, missing data) must not print tracebacks.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from golden.errors import GoldenError

EXIT_ERROR = 1
EXIT_USAGE = 2


class ArgParser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a single ``error: ...`` line on stderr, exit code 2."""

    def error(self, message: str):
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def check_out_path(p: ArgParser, path: str | None) -> None:
    """Reject an --out that cannot be written before the long work, not after it."""
    if path is None:
        return
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        p.error(f"--out directory {d!r} does not exist")
    if os.path.isdir(path):
        p.error(f"--out {path!r} is a directory")
    if not os.access(d, os.W_OK | os.X_OK):
        p.error(f"--out directory {d!r} is not writable")


def run_main(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run ``main`` and turn GoldenError into ``error: ...`` on stderr with exit code 1."""
    try:
        return main(argv)
    except GoldenError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
