"""Fixtures of the example firmware project: the app on both targets, booted once per worker."""

from __future__ import annotations

import pytest


def at_prompt(machine) -> None:
    """Warm-boot set-up: boot, then run until the command prompt."""
    machine.uart.expect("> ")


@pytest.fixture(params=["rv32", "rv64"])
def thermostat(request: pytest.FixtureRequest, npuemu_warm_boot):
    """The firmware waiting at its first prompt, restored from a snapshot for every test."""
    return npuemu_warm_boot(f"{request.param}/thermostat.elf", setup=at_prompt, ram="16M")
