"""firmware/apps/npu_drvtest: the driver polled and interrupt-driven, ring wrap-around, and bad
descriptors reported as errors (code and descriptor address) instead of hangs."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("deterministic", [True, False], ids=["deterministic", "realtime"])
def test_driver_checks_pass(npuemu_boot, arch: str, deterministic: bool) -> None:
    machine = npuemu_boot(f"{arch}/npu_drvtest.elf", deterministic=deterministic)
    machine.run_until(exit=0, max_insns=5_000_000, timeout=10)
    text = machine.uart.text
    assert "FAIL" not in text
    assert "npu_drvtest: 12/12 checks passed" in text
    for mode in ("polled", "interrupt"):
        assert f"{mode}: error DRAM_RANGE at descriptor 0x" in text
    assert not machine.npu_status()["error"]
