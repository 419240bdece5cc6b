"""The project's firmware integration tests run on the npuemu pytest plugin, like any firmware repo's.

Relative ELF paths are ``<arch>/<app>.elf`` under build/firmware (`make firmware` builds them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def npuemu_firmware_dir() -> Path:
    """Override of the plugin's fixture: this repo's firmware build directory."""
    return ROOT / "build" / "firmware"


@pytest.fixture(params=["rv32", "rv64"])
def arch(request: pytest.FixtureRequest) -> str:
    """Every app behaves the same on both targets."""
    return request.param
