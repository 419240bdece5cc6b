# npuemu: the two commands are `make run` and `make test`; everything else is set up on the way.
#
#   make setup      RISC-V toolchain, picolibc, QEMU, gdb-multiarch, tmux (apt) + .venv
#   make firmware   all firmware apps for rv32 and rv64 into build/firmware/<arch>/<app>.elf
#   make run        boot the demo app ($(DEMO) on $(DEMO_ARCH)) in npuemu
#   make test       the whole test suite (pytest -n auto); PYTEST_ARGS='-k traps' to narrow it
#   make bench      benchmarks (python -m bench)
#   make lint       ruff check
#   make clean      remove build/ (make distclean also removes .venv)

SHELL        := /bin/bash
PYTHON       ?= python3
VENV         := .venv
VENV_BIN     := $(VENV)/bin
VENV_STAMP   := $(VENV)/.npuemu-installed
BUILD_DIR    := build
FIRMWARE_DIR := $(BUILD_DIR)/firmware

# The app `make run` boots: the flagship NPU demo (inference, then on-device learning).
DEMO         ?= npu_demo
DEMO_ARCH    ?= rv32
RUN_ARGS     ?= --deterministic  # reproducible demo numbers (NPU idle energy follows virtual time)
PYTEST_ARGS  ?=

.PHONY: all setup toolchain venv firmware run test bench lint clean distclean
.DEFAULT_GOAL := all

all: firmware

setup: toolchain venv

toolchain:
	@$(PYTHON) toolchain/ensure_toolchain.py --quiet

venv: $(VENV_STAMP)

UNICORN_PATCHES := $(wildcard toolchain/unicorn/patches/*.patch)

# Re-installed only when pyproject.toml, the C extensions or the Unicorn patches change (or the venv is gone).
# Unicorn is npuemu's patched build (toolchain/unicorn/README.md), compiled once per machine and
# cached as a wheel; pip keeps it since its version 2.1.4+npuemu.<key> satisfies unicorn==2.1.4.
$(VENV_STAMP): pyproject.toml $(wildcard emu/*.c) toolchain/unicorn/build.py $(UNICORN_PATCHES) | toolchain
	@test -x $(VENV_BIN)/python || { echo "npuemu: creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "npuemu: installing npuemu and its test tools into $(VENV) with pip (a minute or two the first time)"
	@$(VENV_BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	$(VENV_BIN)/python toolchain/unicorn/build.py --python $(VENV_BIN)/python
	@touch $@

firmware: setup
	@echo "npuemu: building the firmware apps into $(FIRMWARE_DIR) (rv32 and rv64)"
	@$(MAKE) --no-print-directory -s -f firmware/Makefile BUILD_DIR=$(FIRMWARE_DIR)

run: firmware
	$(VENV_BIN)/npuemu run $(RUN_ARGS) $(FIRMWARE_DIR)/$(DEMO_ARCH)/$(DEMO).elf

test: firmware
	$(VENV_BIN)/python -m compileall -q emu bench >/dev/null  # bytecode even under PYTHONDONTWRITEBYTECODE: every npuemu child starts faster
	$(VENV_BIN)/pytest -n auto $(PYTEST_ARGS)

bench: firmware
	$(VENV_BIN)/python -m compileall -q emu bench >/dev/null
	$(VENV_BIN)/python -m bench

lint: venv
	$(VENV_BIN)/ruff check .

clean:
	rm -rf $(BUILD_DIR)

distclean: clean
	rm -rf $(VENV)

# Long fuzz campaigns (tests/fuzz, docs/fuzzing.md): FUZZ_SECONDS per campaign, inputs tried reported.
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz: firmware
	@rm -f $(BUILD_DIR)/fuzz-report.txt
	NPUEMU_FUZZ=fuzz-long NPUEMU_FUZZ_SECONDS=$(FUZZ_SECONDS) $(VENV_BIN)/pytest -n 0 -s -q -p no:cacheprovider tests/fuzz
	@cat $(BUILD_DIR)/fuzz-report.txt
