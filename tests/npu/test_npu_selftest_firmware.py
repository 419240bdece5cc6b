"""firmware/apps/npu_selftest on the whole machine: every command through the ring with the completion
interrupt, checked against C on the CPU, and every error class; exits 0 only if all checks pass."""

from __future__ import annotations

import pytest

from emu import Machine, StopReason


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
@pytest.mark.parametrize("deterministic", [True, False], ids=["deterministic", "realtime"])
def test_npu_selftest_passes(firmware, arch: str, deterministic: bool) -> None:
    machine = Machine.from_elf(firmware("npu_selftest", arch), deterministic=deterministic)
    stop = machine.run(max_insns=50_000_000, timeout=60)
    output = bytes(machine.uart.output).decode()
    assert stop.reason is StopReason.EXITED and stop.exit_code == 0, output
    assert "FAIL" not in output
    assert "npu_selftest: 27/27 checks passed" in output
    assert machine.npu.internal_errors == []
    assert any(record.op == "WEIGHT_UPDATE" for record in machine.npu.trace.records)


def test_npu_selftest_adapts_to_another_geometry(firmware, tmp_path) -> None:
    """The same ELF on a smaller NPU: the driver reads the geometry registers."""
    config = tmp_path / "npu.toml"
    config.write_text("[geometry]\ntiles = 8\nrows = 192\ncols = 160\nscratchpad_bytes = 65536\n"
                      "accumulator_bytes = 32768\n[clock]\nnpu_mhz = 250\n")
    machine = Machine.from_elf(firmware("npu_selftest", "rv64"), deterministic=True, npu_config=str(config))
    stop = machine.run(max_insns=50_000_000, timeout=60)
    output = bytes(machine.uart.output).decode()
    assert stop.exit_code == 0 and "tiles 8 x 192x160" in output, output
