"""Shared test helpers: where the firmware build puts its ELF files."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE_DIR = ROOT / "build" / "firmware"
ARCHES = ("rv32", "rv64")


def firmware_path(app: str, arch: str = "rv32") -> Path:
    """Path of a built firmware app; fails the test with the command to run when it is missing."""
    path = FIRMWARE_DIR / arch / f"{app}.elf"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make firmware` first", pytrace=False)
    return path


@pytest.fixture
def firmware():
    """``firmware("hello", "rv64")`` -> Path of build/firmware/rv64/hello.elf."""
    return firmware_path
