"""Where the firmware build puts its ELF files: imported by test modules as ``support.paths``.

(Not ``from conftest import ...``: tests/, tests/gdb/ and tests/fuzz/ each have a conftest.py, and
which one ``conftest`` names depends on the order pytest imported them.)"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = ROOT / "build" / "firmware"
ARCHES = ("rv32", "rv64")


def firmware_path(app: str, arch: str = "rv32") -> Path:
    """Path of a built firmware app; fails the test with the command to run when it is missing."""
    path = FIRMWARE_DIR / arch / f"{app}.elf"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make firmware` first", pytrace=False)
    return path
