"""Issue 17 N1: code rewritten by anything but the CPU runs as rewritten after `fence.i`.

The codewrite firmware runs f() (so Unicorn has translated it), overwrites f with g's bytes
through NPU DMA (DMA_IN + DMA_OUT), then with h's bytes through semihosting (SYS_WRITE to a host
file, SYS_READ back over f); after each it executes fence.i and calls f again. A stale translation
would return the old value (measured before the fix: "then 1")."""

from __future__ import annotations

import pytest
from npuemu_cli import run_npuemu


@pytest.mark.parametrize("mode", ["deterministic", "realtime"])
@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_dma_and_semihosting_writes_over_code_are_executed(firmware, tmp_path, arch, mode) -> None:
    args = ["run", "--semihost-root", tmp_path, firmware("codewrite", arch)]
    if mode == "deterministic":
        args.insert(1, "--deterministic")
    result = run_npuemu(*args)
    text = result.output.decode()
    assert "npu dma: f() = 1, then 2 (error 0)" in text, text
    assert "semihosting read: f() = 3 (status 0)" in text, text
    assert result.status == 0


def test_debugger_writes_over_code_are_executed(firmware) -> None:
    """A debugger (or gdb) write into already-translated code is what runs next."""
    from emu import Machine

    machine = Machine.from_elf(firmware("codewrite", "rv32"), deterministic=True)
    f = machine.elf.lookup("f_code").addr
    g = machine.elf.lookup("g_code").addr
    machine.add_breakpoint(machine.elf.lookup("npu_init").addr)
    assert machine.run(max_insns=10_000_000).reason.name == "BREAKPOINT"  # f() ran: translated
    machine.remove_breakpoint(machine.elf.lookup("npu_init").addr)
    machine.write_mem(f, machine.read_mem(machine.elf.lookup("h_code").addr, 16))
    machine.write_mem(g, machine.read_mem(f, 16))  # the NPU now copies h's code (3) over f again
    out: list[bytes] = []
    machine.stdout_sink = out.append
    stop = machine.run(max_insns=10_000_000)
    assert "then 3" in b"".join(out).decode() and stop.reason.name in ("EXITED", "FATAL")
