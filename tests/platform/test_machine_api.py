"""The Machine API the debugger shell, the GDB stub and the plugin share."""

from __future__ import annotations

from emu import Machine, StopReason


def test_breakpoints_are_reference_counted(firmware):
    m = Machine.from_elf(firmware("hello", "rv32"))
    main = m.elf.lookup("main").addr
    m.add_breakpoint(main)   # the shell's
    m.add_breakpoint(main)   # gdb's, same address
    assert m.remove_breakpoint(main)  # one user gone, the other still needs it
    stop = m.run(max_insns=100_000)
    assert stop.reason is StopReason.BREAKPOINT and stop.pc == main
    assert m.remove_breakpoint(main) and not m.remove_breakpoint(main)
    assert m.run(max_insns=1_000_000).reason is StopReason.EXITED


def test_breakpoint_reinserted_after_stepping_over_it_still_hits(firmware):
    """gdb removes breakpoints at a stop, steps over one, re-inserts: translated code must notice."""
    m = Machine.from_elf(firmware("timer", "rv32"), deterministic=True)
    handler = m.elf.lookup("timer_handler").addr
    m.add_breakpoint(handler)
    assert m.run(max_insns=5_000_000).reason is StopReason.BREAKPOINT
    m.remove_breakpoint(handler)
    m.step()
    m.add_breakpoint(handler)
    assert m.run(max_insns=5_000_000).reason is StopReason.BREAKPOINT


def test_output_muted_silences_every_console_path(firmware):
    seen = []
    m = Machine.from_elf(firmware("semihost", "rv32"), stdout=seen.append, stderr=seen.append)
    m.output_muted = True
    assert m.run(max_insns=5_000_000).exit_code == 3
    assert seen == []
    u = Machine.from_elf(firmware("hello", "rv32"), stdout=seen.append)
    u.output_muted = True
    u.run(max_insns=5_000_000)
    assert seen == [] and b"Hello" in u.uart.output  # still recorded, just not printed


def test_state_writes_count_changes_from_outside(firmware):
    m = Machine.from_elf(firmware("hello", "rv32"))
    before = m.state_writes
    m.write_reg("a0", 1)
    m.write_mem(m.elf.lookup("global_var").addr, b"\0\0\0\0")
    m.feed_input(b"x")
    assert m.state_writes == before + 3


def test_fatal_stop_is_not_sticky(firmware):
    """After 'sleeps forever', feeding input and running again works (the plugin relies on it)."""
    m = Machine.from_elf(firmware("uart_irq", "rv32"), deterministic=True)
    assert m.run(max_insns=5_000_000).reason is StopReason.FATAL
    m.feed_input(b"ok q")
    stop = m.run(max_insns=5_000_000)
    assert stop.reason is StopReason.EXITED and stop.exit_code == 0
