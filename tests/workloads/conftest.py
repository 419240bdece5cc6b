"""Workload tests: the NPU demos on the whole machine, against the model tools' bit-exact reference.

They use the npuemu pytest plugin (``npuemu_warm_boot``: each demo runs once per worker and
architecture, then every test restores the finished machine) in deterministic mode, on
build/firmware (``make firmware`` builds the apps and generates the model headers).
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "toolchain"))  # the model tools (not an installed package)

from npu_model import cnn, mlp  # noqa: E402 - needs the path above

MODEL_CACHE = ROOT / "build" / "npu_model" / "digits_mlp.npz"
CNN_CACHE = ROOT / "build" / "npu_model" / "digits_cnn.npz"
DEMO_MAX_INSNS = 60_000_000  # the demo needs ~20 M on rv32, ~26 M on rv64


@pytest.fixture(scope="session")
def npuemu_firmware_dir() -> Path:
    """Override of the plugin's fixture: this repo's firmware build directory."""
    return ROOT / "build" / "firmware"


@pytest.fixture(scope="session")
def digits_model() -> tuple[mlp.Digits, mlp.QuantMLP]:
    """The dataset and the quantized model the firmware was built from (the build's cache)."""
    return mlp.build(MODEL_CACHE)


@pytest.fixture(scope="session")
def cnn_model() -> tuple[mlp.Digits, cnn.QuantCNN]:
    """The dataset and the quantized CNN npu_cnn was built from."""
    return cnn.build(CNN_CACHE)


@dataclass(frozen=True)
class DemoResult:
    """``struct demo_result`` of firmware/apps/npu_demo/main.c."""

    npu_correct: int
    cpu_correct: int
    cpu_npu_agree: int
    shifted_correct_before: int
    shifted_correct_after: int
    status: int
    macs: int
    dma_in: int
    dma_out: int
    weight_bytes: int
    commands: int
    busy_cycles: int
    energy_pj: int
    cpu_insns: int
    driver_insns: int
    original_correct_after: int

    @classmethod
    def parse(cls, raw: bytes) -> DemoResult:
        return cls(*struct.unpack_from("<6I9QI", raw))


def run_to_exit(machine) -> None:
    """Warm-boot set-up: the whole demo, which must exit 0."""
    machine.run_until(exit=0, max_insns=DEMO_MAX_INSNS, timeout=60)


def run_polled_to_exit(machine) -> None:
    """The demo with the driver waiting by polling instead of wfi + interrupt."""
    machine.run_until(symbol="main")
    machine.write_symbol("npu_wait_irq", 0)
    run_to_exit(machine)


@pytest.fixture(params=["rv32", "rv64"])
def demo(request: pytest.FixtureRequest, npuemu_warm_boot):
    """npu_demo after it finished, interrupt-driven, on each architecture."""
    return npuemu_warm_boot(f"{request.param}/npu_demo.elf", setup=run_to_exit)


@pytest.fixture(params=["rv32", "rv64"])
def arch(request: pytest.FixtureRequest) -> str:
    """Driver checks run on both targets."""
    return request.param
