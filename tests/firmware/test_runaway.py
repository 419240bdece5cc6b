"""runaway: a trap storm (mtvec in unmapped memory) fails the test fast, with a report that says why."""

from __future__ import annotations

import pytest

from emu.testing import FirmwareError


def test_trap_storm_is_reported(npuemu_boot, arch):
    machine = npuemu_boot(f"{arch}/runaway.elf")
    with pytest.raises(FirmwareError) as info:
        machine.run_until(exit=0)
    error = info.value
    assert error.reason.startswith("exit with status 0: trap storm")
    assert "instruction access fault" in error.report
    assert "last trap:  exception 1 (instruction access fault) at epc=0x10000" in error.report
    assert "| runaway: mtvec -> 0x10000, illegal instruction" in error.report   # console tail
    assert "mcause=0x1" in error.report                                          # registers
    assert machine.insn_count < 10_000                                           # stopped at once
