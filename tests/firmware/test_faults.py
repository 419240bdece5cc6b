"""Fault injection seen by real firmware, and reproducible from a seed."""

from __future__ import annotations

import pytest

from emu.errors import ConfigError


def test_ram_bit_flip_on_a_symbol_is_seen_by_the_firmware(npuemu_boot, arch):
    machine = npuemu_boot(f"{arch}/hello.elf")
    machine.faults.flip_ram("global_var", bit=0, on="main")     # 42 -> 43 before main reads it
    machine.uart.expect(r"add\(42, 8\) = 51, factorial")
    machine.run_until(exit=0)
    assert [entry.kind for entry in machine.faults.log] == ["flip-ram"]
    assert "global_var bit 0" in machine.faults.log[0].detail


def test_register_bit_flip_at_a_function_entry(npuemu_boot):
    machine = npuemu_boot("rv64/hello.elf")
    machine.faults.flip_reg("a1", bit=1, on="add")              # add(42, 8) receives b = 10
    machine.uart.expect(r"add\(42, 8\) = 52,")


def test_injected_npu_error_is_seen_by_the_driver(npuemu_boot, arch):
    machine = npuemu_boot(f"{arch}/npu_drvtest.elf")
    machine.faults.npu_error("SRAM_RANGE", on="npu_run")        # the first command the driver submits
    machine.uart.expect(r"FAIL polled: DMA round trip")
    # The driver reads the injected code and the descriptor like a real error (which then stays
    # latched until the driver's recovery, so the next polled checks fail too).
    machine.uart.expect(r"polled: error SRAM_RANGE at descriptor 0x[0-9a-f]+ after 0 completed")
    machine.uart.expect(r"PASS interrupt: DMA round trip")
    machine.run_until(exit=1)
    assert machine.faults.log[0].detail == "SRAM_RANGE (4) on the next 1 command(s)"


def test_delayed_timer_interrupt_arrives_late(npuemu_boot):
    def first_tick_ns(delay: float | None) -> int:
        machine = npuemu_boot("rv32/timer.elf")
        if delay is not None:
            machine.faults.delay_irq("timer", delay, on="main")
        machine.run_until(symbol="timer_handler")
        return machine.clock.now_ns()

    on_time, late = first_tick_ns(None), first_tick_ns(0.025)
    assert on_time < 11_000_000 and late >= 25_000_000    # a 10 ms tick held back for 25 ms


def test_uart_input_faults_drop_and_corrupt_bytes(npuemu_boot):
    machine = npuemu_boot("rv64/uart_irq.elf", fault_seed=3)
    machine.uart.expect("'q' to quit")
    machine.faults.uart_input(drop=0.25, corrupt=0.25)
    machine.machine.run(max_insns=1000)  # an immediate trigger fires at the next slice boundary
    machine.uart.send("abcdefghijklmnopqrstuvwxyz")
    kinds = [entry.kind for entry in machine.faults.log]
    assert kinds[0] == "uart-input" and "uart-drop" in kinds and "uart-corrupt" in kinds


def _faulty_run(boot, seed: int) -> tuple[bytes, list[str], int]:
    machine = boot("rv32/uart_irq.elf", fault_seed=seed)
    machine.uart.expect("'q' to quit")
    machine.faults.flip_ram("tx_buf", at=machine.clock.now_ns() / 1e9 + 0.0001)  # random bit of the ring
    machine.faults.uart_input(drop=0.3, corrupt=0.3)
    machine.machine.run(max_insns=20_000)
    machine.uart.send("the quick brown fox jumps over the lazy dog\n")
    machine.machine.run(max_insns=200_000)
    return machine.uart.output, [str(entry) for entry in machine.faults.log], machine.insn_count


def test_same_seed_same_run(npuemu_boot):
    first, again, other = _faulty_run(npuemu_boot, 7), _faulty_run(npuemu_boot, 7), _faulty_run(npuemu_boot, 8)
    assert first == again                   # console, every injection with its time, instruction count
    assert first[1] != other[1]


def test_bad_fault_requests_are_one_line_errors(npuemu_boot):
    faults = npuemu_boot("rv32/hello.elf").faults
    with pytest.raises(ConfigError, match="no symbol 'nosuch'"):
        faults.flip_ram("nosuch")
    with pytest.raises(ConfigError, match=r"unknown NPU error code 'wrong' \(one of OPCODE=1"):
        faults.npu_error("wrong")
    with pytest.raises(ConfigError, match="unknown interrupt 'tick'"):
        faults.delay_irq("tick", 0.1)
    with pytest.raises(ConfigError, match="not both"):
        faults.flip_reg("a0", at=1.0, on="main")


def test_shell_commands_inject_and_list_faults(firmware):
    from emu import Machine
    from emu.debugger.commands import CommandShell

    console = bytearray()
    machine = Machine.from_elf(firmware("hello", "rv32"), deterministic=True, count_insns=True,
                               stdout=console.extend)
    out: list[str] = []
    shell = CommandShell(machine, out.append)
    try:
        for line in ("fault seed 5", "fault flip-ram global_var bit 0 on main", "fault flip-reg a1 bit 1 on add",
                     "fault npu-error DRAM_RANGE at 0.5", "fault cancel 3", "info faults"):
            assert shell.execute(line), out[-1]
        listing = out[-1] if out[-1].startswith("armed") else "".join(out[-2:])
        assert "armed 1: flip-ram on main (hit 1)" in "".join(out) and "armed 3" not in listing
        shell.execute("continue")
        assert "add(42, 8) = 53," in console.decode()   # 43 + 10: both faults reached the firmware
        out.clear()
        shell.execute("info faults")
        applied = "".join(out)
        assert "flip-ram global_var bit 0" in applied and "flip-reg a1 bit 1 (0x8 -> 0xa)" in applied
        out.clear()
        shell.execute("fault flip-ram nosuch")
        shell.execute("fault flp-ram x")
        shell.execute("fualt")
        assert out == ["no symbol 'nosuch'\n",
                       'Undefined fault command: "flp-ram".  Did you mean "flip-ram"?  Try "help fault".\n',
                       'Undefined command: "fualt".  Did you mean "fault"?  Try "help".\n']
    finally:
        machine.close()
