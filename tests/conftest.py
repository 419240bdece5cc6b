"""Shared test helpers: where the firmware build puts its ELF files."""

from __future__ import annotations

import pytest
from support.paths import firmware_path


@pytest.fixture
def firmware():
    """``firmware("hello", "rv64")`` -> Path of build/firmware/rv64/hello.elf."""
    return firmware_path
