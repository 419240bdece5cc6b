"""The native MMIO fast paths (emu/_mmiofast.c): UART LSR/THR and CLINT mtime without a Python call.

Each test compares what the guest and every consumer see with the fast paths against the Python
path (an MMIO observer turns the fast paths off, line-buffering off keeps THR writes in Python),
and checks the fast path was really taken, so a fast path that silently falls back, or one that
serves an access it should not, fails here.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from asm import assemble

from emu import Machine, StopReason

UART = 0x1000_0000

# Prints "<i>:" then 70 'x'-ish bytes and a newline per line, polling LSR.THRE before each byte.
LINES = """
    li s0, 0x10000000
    li s1, {lines}
    li s2, 0
1:  li s3, 70
    addi t1, s2, 48
    call putc
    li t1, ':'
    call putc
2:  andi t1, s3, 15
    addi t1, t1, 97
    call putc
    addi s3, s3, -1
    bnez s3, 2b
    li t1, 10
    call putc
    addi s2, s2, 1
    bne s2, s1, 1b
    j finish_pass
putc:
    lbu t0, 5(s0)
    andi t0, t0, 0x20
    beqz t0, putc
    sb t1, 0(s0)
    ret
"""


def _machine(elf, **options) -> tuple[Machine, list[bytes]]:
    chunks: list[bytes] = []
    machine = Machine.from_elf(elf, stdout=chunks.append, **options)
    return machine, chunks


def _trace(machine: Machine) -> list[tuple[str, int, int, int]]:
    seen: list[tuple[str, int, int, int]] = []
    machine.bus.observer = lambda kind, addr, width, value, device, offset: seen.append((kind, addr, width, value))
    return seen


def test_fast_console_output_is_byte_exact_and_deterministic(tmp_path):
    elf = assemble(tmp_path, LINES.format(lines=8), "rv32", "lines")
    runs = []
    for buffered in (True, True, False):
        machine, chunks = _machine(elf, deterministic=True, buffer_console=buffered)
        stop = machine.run(max_insns=1_000_000)
        assert stop.reason is StopReason.EXITED and stop.exit_code == 0
        runs.append((b"".join(chunks), machine.uart.output, machine.insn_count, machine.clock.mtime(),
                     machine.uart._native.transmitted, len(chunks)))
    fast, again, slow = runs
    assert fast[:4] == again[:4] == slow[:4]  # same bytes, same instruction count, same time
    assert fast[0] == b"".join(bytes([48 + i]) + b":" + bytes(97 + (k & 15) for k in range(70, 0, -1)) + b"\n"
                               for i in range(8))
    assert fast[4] == len(fast[0]) and slow[4] == 0  # every byte went through the native buffer (or none)
    assert fast[5] == 8 and slow[5] == len(slow[0])   # one write per line, against one per byte


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_polled_and_interrupt_driven_output_interleave_as_before(firmware, arch):
    """uart_irq prints with polled THR writes (fast) and echoes through THRE interrupts (Python)."""
    results = []
    for buffered in (True, False):
        machine, chunks = _machine(firmware("uart_irq", arch), deterministic=True, buffer_console=buffered)
        machine.feed_input(b"hello uart\nq")
        stop = machine.run(max_insns=20_000_000)
        assert stop.reason is StopReason.EXITED and stop.exit_code == 0, stop.message
        results.append((b"".join(chunks), machine.insn_count, machine.clock.mtime(), machine.uart._native.transmitted))
    fast, slow = results
    assert fast[:3] == slow[:3]
    assert b"uart_irq: type characters, 'q' to quit\nhello uart\n\nuart_irq: received 12" in fast[0]
    assert b"rx and tx interrupts seen: yes" in fast[0]
    assert 0 < fast[3] < len(fast[0])  # the polled printf went native, the interrupt-driven echo did not


def test_prompt_reaches_the_console_before_the_firmware_waits_for_input(tmp_path):
    """RX after TX: the prompt (no newline) is flushed at slice end while the firmware polls LSR.DR
    natively; the answer typed on seeing it is read, then echoed after the prompt."""
    elf = assemble(tmp_path, """
    li s0, 0x10000000
    la s1, prompt
1:  lbu t1, 0(s1)
    beqz t1, 2f
    sb t1, 0(s0)
    addi s1, s1, 1
    j 1b
2:  lbu t0, 5(s0)
    andi t0, t0, 1
    beqz t0, 2b
    lbu t1, 0(s0)
    sb t1, 0(s0)
    li t1, 10
    sb t1, 0(s0)
    j finish_pass
prompt: .asciz "name? "
.align 2
""", "rv32", "prompt")
    out = bytearray()
    machine: Machine

    def console(data: bytes) -> None:
        out.extend(data)
        if out.endswith(b"name? "):
            machine.feed_input(b"Z")

    machine = Machine.from_elf(elf, stdout=console, buffer_console=True)
    stop = machine.run(timeout=30)
    assert stop.exit_code == 0, stop.message
    assert bytes(out) == b"name? Z\n"


def test_divisor_latch_writes_are_not_output(tmp_path):
    elf = assemble(tmp_path, """
    li s0, 0x10000000
    li t0, 0x80
    sb t0, 3(s0)      # LCR.DLAB
    li t0, 0x21
    sb t0, 0(s0)      # DLL, not THR
    li t0, 0x03
    sb t0, 1(s0)      # DLM, not IER
    sb t0, 3(s0)      # 8N1, DLAB off
    li t0, 'o'
    sb t0, 0(s0)
    li t0, 'k'
    sb t0, 0(s0)
    li t0, 10
    sb t0, 0(s0)
    j finish_pass
""", "rv32", "dlab")
    machine, chunks = _machine(elf, buffer_console=True)
    assert machine.run(timeout=30).exit_code == 0
    assert b"".join(chunks) == b"ok\n"
    assert (machine.uart.dll, machine.uart.dlm, machine.uart._native.transmitted) == (0x21, 3, 3)


def test_thre_interrupt_is_raised_by_the_write_that_causes_it(tmp_path):
    """With IER.THRI set, THR writes stay in Python: the interrupt line rises at the write itself."""
    elf = assemble(tmp_path, """
    li s0, 0x10000000
    li t0, 2
    sb t0, 1(s0)      # IER.THRI
    lbu t1, 2(s0)     # IIR: THRE pending; reading it clears it
    li t0, 'A'
    sb t0, 0(s0)
after_thr:
    nop
    j finish_pass
""", "rv32", "thri")
    machine, chunks = _machine(elf, deterministic=True, buffer_console=True)
    machine.add_breakpoint(machine.elf.lookup("after_thr").addr)
    stop = machine.run(max_insns=1000)
    assert stop.reason is StopReason.BREAKPOINT
    assert machine.uart.irq.level and machine.uart.thr_ipending
    assert machine.uart._native.transmitted == 0 and b"".join(chunks) == b"A"


def test_a_traced_run_sees_every_access_and_the_same_output(tmp_path):
    elf = assemble(tmp_path, LINES.format(lines=3), "rv32", "lines")
    machine, chunks = _machine(elf, deterministic=True, buffer_console=True)
    seen = _trace(machine)
    assert machine.run(max_insns=1_000_000).exit_code == 0
    out = b"".join(chunks)
    thr = [value for kind, addr, _w, value in seen if kind == "W" and addr == UART]
    lsr = [value for kind, addr, _w, value in seen if kind == "R" and addr == UART + 5]
    assert bytes(thr) == out and len(out) == 3 * 73
    assert len(lsr) == len(out) and all(v & 0x60 == 0x60 for v in lsr)
    assert machine.uart._native.transmitted == 0
    machine.bus.observer = None  # tracing off: the fast paths are back
    assert machine.uart._native.lsr_fast == machine.clint._native.mtime_fast == 1


def test_trace_mmio_cli_names_every_console_access(tmp_path):
    elf = assemble(tmp_path, LINES.format(lines=2), "rv32", "lines")
    proc = subprocess.run([sys.executable, "-m", "emu.cli", "run", "--trace", "mmio", str(elf)],
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    trace = proc.stderr.decode() + proc.stdout.decode()
    assert trace.count("uart0.THR") == 2 * 73 and trace.count("uart0.LSR") == 2 * 73


def test_snapshot_in_the_middle_of_buffered_output(tmp_path):
    elf = assemble(tmp_path, LINES.format(lines=4), "rv32", "lines")
    reference, ref_chunks = _machine(elf, deterministic=True)
    assert reference.run(max_insns=1_000_000).exit_code == 0
    full = b"".join(ref_chunks)

    machine, chunks = _machine(elf, deterministic=True, buffer_console=True)
    stop = machine.run(max_insns=1500)  # stops mid-line: bytes wait in the native buffer
    assert stop.reason is StopReason.INSN_LIMIT
    snap = machine.snapshot()
    before = machine.uart.output
    assert 0 < len(before) < len(full) and not before.endswith(b"\n") and full.startswith(before)
    assert b"".join(chunks) == before  # the run's end flushed them to the console too
    assert machine.run(max_insns=1_000_000).exit_code == 0
    assert b"".join(chunks) == full
    machine.restore(snap)
    chunks.clear()
    assert machine.run(max_insns=1_000_000).exit_code == 0
    assert b"".join(chunks) == full[len(before):]


MTIME_READS = """
    li s0, 0x0200bff8
    lw a0, 0(s0)
    lw a1, 4(s0)
    lhu a2, 2(s0)
    lbu a3, 1(s0)
    lbu a4, 7(s0)
#if __riscv_xlen == 64
    ld a5, 0(s0)
#else
    lw a5, 0(s0)
#endif
    lw a6, 0(s0)
    j finish_pass
"""


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_mtime_reads_equal_the_machine_clock(tmp_path, arch):
    """Deterministic: every width and offset of mtime, read natively, equals VirtualClock.mtime() at
    that instruction, and the traced (Python) path reads the same values."""
    elf = assemble(tmp_path, MTIME_READS, arch, "mtime")
    regs = ("a0", "a1", "a2", "a3", "a4", "a5", "a6")
    results = []
    for traced in (False, True):
        machine = Machine.from_elf(elf, deterministic=True, ns_per_insn=1234)
        machine.clock.skip_to(0x1_2345_6789_0 * 100)  # high word and every byte non-zero
        if traced:
            _trace(machine)
        machine.step(2)  # li (2 insns on rv32: lui+addi; rv64 too for this constant)
        values = []
        for reg in regs:
            machine.step(1)
            mtime = machine.clock.mtime()
            values.append(machine.read_reg(reg))
            if reg == "a0":
                assert values[-1] == mtime & 0xFFFF_FFFF if arch == "rv32" else \
                    values[-1] == ((mtime & 0xFFFF_FFFF) ^ 0x8000_0000) - 0x8000_0000 & (1 << 64) - 1
            if reg == "a5" and arch == "rv64":
                assert values[-1] == mtime
        assert machine.clint._native.mtime_fast == int(not traced)
        results.append(values)
    assert results[0] == results[1]
    mtime_hi = results[0][1] & 0xFFFF_FFFF
    assert mtime_hi == 0x12 and results[0][4] == 0


def test_mtime_in_realtime_mode_follows_the_host_clock(tmp_path):
    elf = assemble(tmp_path, """
    li s0, 0x0200bff8
    lw a0, 0(s0)
    li t0, 200000
1:  addi t0, t0, -1
    bnez t0, 1b
    lw a1, 0(s0)
    j finish_pass
""", "rv32", "mtime_rt")
    machine = Machine.from_elf(elf)
    start = machine.clock.mtime()
    assert machine.run(timeout=30).exit_code == 0
    end = machine.clock.mtime()  # paused at the end of the run: the clock stands still
    first, second = machine.read_reg("a0"), machine.read_reg("a1")
    assert start <= first < second <= end
    assert machine.clock.mtime() == end


def test_semihosting_output_stays_after_the_uart_bytes_written_before_it(tmp_path):
    elf = assemble(tmp_path, """
    li s0, 0x10000000
    li t0, 'a'
    sb t0, 0(s0)
    li t0, 'b'
    sb t0, 0(s0)      # no newline: both wait in the native buffer
    li a0, 4          # SYS_WRITE0
    la a1, text
.option push
.option norvc
.align 4
    slli x0, x0, 0x1f
    ebreak
    srai x0, x0, 7
.option pop
    j finish_pass
text: .asciz "cd\\n"
.align 2
""", "rv32", "semihost_order")
    machine, chunks = _machine(elf, buffer_console=True)
    assert machine.run(timeout=30).exit_code == 0
    assert b"".join(chunks) == b"abcd\n" and machine.uart._native.transmitted == 2
