"""The NPU's counters and status are part of the state a firmware test can check."""

from __future__ import annotations


def test_npu_idle_after_a_cpu_only_app(npuemu_boot, arch):
    machine = npuemu_boot(f"{arch}/hello.elf")
    machine.run_until(exit=0)
    status = machine.npu_status()
    assert status["enabled"] is False and status["busy"] is False and status["error"] == 0
    counters = machine.npu_counters()
    assert counters["cycles"] > 0                      # the NPU clock runs with virtual time
    assert counters["commands"] == counters["macs"] == counters["busy_cycles"] == 0
