"""The cocotb build cache key covers what the simulator binary is made from."""

import importlib.metadata

from cocotb_tests import build


def test_build_key_changes_with_the_tools(monkeypatch):
    """A build made by another Verilator or cocotb (linked into the binary) must not be reused."""
    base = build.build_key("--rows 2")
    assert build.build_key("--rows 2") == base and build.build_key("--rows 3") != base
    real = importlib.metadata.version
    for pkg in ("verilator", "cocotb"):
        monkeypatch.setattr(importlib.metadata, "version", lambda name, pkg=pkg: "0.0" if name == pkg else real(name))
        assert build.build_key("--rows 2") != base, pkg
    monkeypatch.setattr(importlib.metadata, "version", real)
    assert build.build_key("--rows 2") == base
