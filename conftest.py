"""pytest hooks for the whole suite (tests/ and cocotb_tests/)."""

from fpga.flow import warm_tools


def pytest_configure(config):
    """Warm the YoWASP tools once in the controlling process, before xdist's workers start: on a fresh
    machine their first calls would compile and write the same cache files side by side (fpga.flow.warm_tools)."""
    if not hasattr(config, "workerinput"):
        warm_tools(extra=("yowasp-icepll", "yowasp-ecppll"))
