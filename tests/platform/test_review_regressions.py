"""Regressions from the code review: each test failed before its fix."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from asm import assemble
from npuemu_cli import run_npuemu

from emu import Machine, StopReason
from emu.clock import VirtualClock
from emu.devices.base import IrqLine
from emu.devices.uart import IIR_FCR, Uart

POLL_RX = """
    li s0, 0x10000000
    li s1, 0                  # expected byte
    li s2, 3000               # how many
loop:
    lbu t0, 5(s0)             # LSR
    andi t0, t0, 1
    beqz t0, loop
    lbu t0, 0(s0)             # RBR: a replayed load would lose a byte
    andi t1, s1, 0xff
    bne t0, t1, fail
    addi s1, s1, 1
    bne s1, s2, loop
    j finish_pass
fail:
    li t0, 0x100000
    li t1, 0x13333
    sw t1, 0(t0)
1:  j 1b
"""


@pytest.mark.parametrize("deterministic", [False, True], ids=["realtime", "deterministic"])
def test_stop_requests_from_another_thread_never_replay_a_device_read(tmp_path, deterministic):
    m = Machine.from_elf(assemble(tmp_path, POLL_RX), deterministic=deterministic)
    m.feed_input(bytes(i & 0xFF for i in range(3000)))
    done = threading.Event()

    def pester() -> None:
        while not done.is_set():
            m.request_stop()
            time.sleep(0.0005)

    thread = threading.Thread(target=pester)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        stop = m.run(max_insns=20_000_000)
        while stop.reason is StopReason.INTERRUPTED and time.monotonic() < deadline:
            stop = m.run(max_insns=20_000_000)
    finally:
        done.set()
        thread.join()
    assert stop.reason is StopReason.EXITED and stop.exit_code == 0


def test_finisher_reset_restarts_with_the_counter_on(tmp_path):
    elf = assemble(tmp_path, """
    li s0, 0x10000000
    li t0, 0x52               # 'R'
    sb t0, 0(s0)
    li t0, 0x100000
    li t1, 0x7777             # reset
    sw t1, 0(t0)
    li t0, 0x58               # 'X': never printed
    sb t0, 0(s0)
1:  j 1b
""")
    result = run_npuemu("run", "--deterministic", "--max-insns", "200", elf)
    out = result.output.decode()
    assert out.startswith("RRRR") and "X" not in out.split("npuemu:")[0]


def test_patched_code_is_forgotten_by_reset(firmware):
    m = Machine.from_elf(firmware("hello", "rv32"))
    main = m.elf.lookup("main").addr
    m.write_mem(main, (0x34402573).to_bytes(4, "little"))  # csrr a0, mip: a hooked CSR read
    m.reset()                                                # the ELF's code is back
    assert m.run(max_insns=5_000_000).exit_code == 0


def test_semihosting_stdin_read_gives_way_to_timeout(tmp_path):
    elf = assemble(tmp_path, """
    .option norvc
    .align 4
    li a0, 7                  # READC: waits for stdin
    li a1, 0
    slli x0, x0, 0x1f
    ebreak
    srai x0, x0, 7
    j finish_pass
""")
    proc = subprocess.Popen([sys.executable, "-m", "emu.cli", "run", "--timeout", "1", str(elf)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    start = time.monotonic()
    try:
        proc.wait(timeout=30)  # stdin stays open and silent all along
    finally:
        proc.kill()
        proc.stdin.close()
    out = proc.stdout.read()
    proc.stdout.close()
    assert proc.returncode == 124, out
    assert time.monotonic() - start < 10


def test_failure_code_with_a_zero_low_byte_is_not_success(tmp_path):
    elf = assemble(tmp_path, """
    li t0, 0x100000
    li t1, 0x01003333         # finisher FAIL with code 256
    sw t1, 0(t0)
1:  j 1b
""")
    assert run_npuemu("run", elf).status == 1


def test_uart_snapshot_keeps_a_pending_character_timeout():
    ticks = [0]
    clock = VirtualClock(deterministic=True, ns_per_insn=1000, insn_count=lambda: ticks[0])
    uart = Uart(IrqLine(lambda level: None), clock)
    uart.write(1, 1, 0x01)            # RX data interrupt
    uart.write(IIR_FCR, 1, 0x81)      # FIFO on, trigger level 8
    uart.send(b"a")                   # below the trigger: only the timeout interrupt will come
    ticks[0] = 1_000
    clock.run_due()
    state = uart.get_state()
    assert uart.read(IIR_FCR, 1) & 0x0F == 0x0C
    restored = Uart(IrqLine(lambda level: None), clock)
    restored.set_state(state)
    assert restored.read(IIR_FCR, 1) & 0x0F == 0x0C and restored.irq.level


def test_semihosting_handles_follow_snapshots(tmp_path):
    from emu.devices import semihosting as sh
    from emu.memory import Ram

    (tmp_path / "f.txt").write_bytes(b"0123456789")
    ram = Ram(1 << 16)
    host = sh.Semihosting(ram, 64, VirtualClock(), argv=[], root=tmp_path, stdout=print, stderr=print,
                          read_stdin=lambda n: b"", on_exit=lambda code: None, heap=(0, 0, 0, 0))
    ram.write(0x8000_2000, b"f.txt")
    for i, w in enumerate((0x8000_2000, 0, 5)):
        ram.write_int(0x8000_0100 + 8 * i, 8, w)
    fd = host.call(sh.SYS_OPEN, 0x8000_0100)
    host.handles[fd].file.seek(4)
    state = host.get_state()
    host.reset()
    assert fd not in host.handles and set(host.handles) == {0, 1, 2}
    host.set_state(state)
    assert host.handles[fd].file.read(2) == b"45"


# -- issue 17: the host work of one NPU descriptor is bounded ----------------------------------

def _npu_harness():
    from npu.harness import Harness
    from npu.strategies import SMALL
    return Harness(SMALL, ram_size=1 << 20)


@pytest.mark.parametrize("name, fields", [
    ("LOAD_WEIGHTS", {"dram_addr": 0x8001_0000, "k": 0x8001_0000, "n": 0, "dram_stride": 31}),
    ("LOAD_WEIGHTS", {"dram_addr": 0x8001_0000, "k": 0, "n": 0xFFFF_FFFF, "flags": 0x4}),
    ("WEIGHT_UPDATE", {"m": 0, "k": 0xFFFF_FFFF, "n": 0}),
    ("MVM", {"m": 0, "k": 0, "n": 0xFFFF_FFFF}),
    ("MVM_T", {"m": 0, "k": 0xFFFF_FFFF, "n": 0}),
])
def test_npu_empty_weight_matrix_larger_than_the_tiles_is_tile_range(name, fields):
    """Found by `make fuzz` (single-descriptor campaign): LOAD_WEIGHTS with K = 2^31 and N = 0
    needs no tile, so it passed the check and then counted endurance writes row-group by
    row-group: 2^28 Python iterations inside one MMIO write (minutes; no --timeout, no Ctrl-C).
    K and N are now bounded by the tile array whatever the other is."""
    from emu.npu_device.regs import ERRORS
    h = _npu_harness()
    before = h.npu.tiles.tobytes()
    h.submit(h.desc(name, **fields))
    assert h.error() == ERRORS["TILE_RANGE"][0]
    assert h.npu.tiles.tobytes() == before and not h.npu.internal_errors


def test_npu_dwconv_kernel_is_bounded_and_pool_windows_are_cheap():
    """The largest legal windows: DWCONV holds MAX_DW_TAPS taps (a 255 x 255 kernel over the
    default scratchpad was 4.3e9 MACs, seconds of host time in one command: now BAD_ARG), and a
    255 x 255 POOL over the whole scratchpad is computed separably, equal to the direct
    definition (per-window max and rounded mean)."""
    import numpy as np
    from npu.harness import Harness

    from emu.npu_device import NpuConfig
    from emu.npu_device.postproc import MAX_DW_TAPS
    from emu.npu_device.regs import ERRORS

    h = _npu_harness()
    h.submit(h.desc("DWCONV", h=64, w=64, c=1, kh=33, kw=32, sh=1, sw=1))
    assert MAX_DW_TAPS < 33 * 32 and h.error() == ERRORS["BAD_ARG"][0]
    h = Harness(NpuConfig.load(None), ram_size=1 << 20)
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (40, 40, 2), dtype=np.int8)
    w = rng.integers(-128, 128, (32, 32, 2), dtype=np.int8)
    h.spad_put(0, x.reshape(-1))
    h.spad_put(4096, w.reshape(-1))
    h.submit(h.desc("DWCONV", in_addr=0, w_addr=4096, acc_addr=0, h=40, w=40, c=2, kh=32, kw=32, sh=3, sw=2))
    assert h.error() == 0
    want = np.array([[[int((x[y * 3:y * 3 + 32, xx * 2:xx * 2 + 32, c].astype(np.int64)
                            * w[:, :, c]).sum()) for c in range(2)] for xx in range(5)] for y in range(3)])
    assert h.npu.accumulator[:30].reshape(3, 5, 2).tolist() == want.tolist()

    x = rng.integers(-128, 128, (512, 512), dtype=np.int8)
    h.spad_put(0, x.reshape(-1))
    for op in (0, 1):
        h.submit(h.desc("POOL", in_addr=0, out_addr=0, h=512, w=512, c=1, kh=255, kw=255, sh=64, sw=32, op=op))
        assert h.error() == 0
        got = h.npu.scratchpad[:4 * 9].view(np.int8).reshape(4, 9)
        for oy, ox in ((0, 0), (3, 8), (2, 5)):
            window = x[oy * 64:oy * 64 + 255, ox * 32:ox * 32 + 255].astype(np.int64)
            total = int(window.sum())
            mean = (abs(total) + 255 * 255 // 2) // (255 * 255) * (1 if total >= 0 else -1)
            assert got[oy, ox] == (window.max() if op == 0 else mean)
        h.spad_put(0, x.reshape(-1))  # the output overwrote the input's first bytes


# A ring of 4096 DWCONVs (32x32 kernel, 63x63x64 input: ~0.1 s of host time each), one doorbell.
NPU_RING_FLOOD = """
    li s0, 0x18000000         # NPU registers
    li s1, 0x80100000         # the ring (RAM is zero: every other field 0)
    li s2, 4096
    mv t2, s1
    li t3, 0x0C               # DWCONV
    li t4, 0x003F003F         # h = w = 63
    li t5, 0x20200040         # c = 64, kh = kw = 32
    li t6, 0x0101             # sh = sw = 1
fill:
    sw t3, 0(t2)
    sw t4, 20(t2)
    sw t5, 24(t2)
    sw t6, 28(t2)
    addi t2, t2, 64
    addi s2, s2, -1
    bnez s2, fill
    sw s1, 0x60(s0)           # RING_BASE_LO
    li t0, 4096
    sw t0, 0x68(s0)           # RING_SIZE
    li t1, 1
    sw t1, 0x40(s0)           # CTRL.ENABLE
    sw t0, 0x70(s0)           # RING_TAIL
    li t2, 0x10000000         # UART: "D" and a newline (flushes the console) just before the doorbell
    li t3, 0x44
    sb t3, 0(t2)
    li t3, 10
    sb t3, 0(t2)
    sw t1, 0x74(s0)           # DOORBELL: ~7 minutes of host time in one MMIO write before the fix
wait:
    lw t1, 0x6C(s0)           # RING_HEAD
    bne t1, t0, wait
    j finish_pass
"""


@pytest.mark.parametrize("mode", [[], ["--deterministic"]], ids=["realtime", "deterministic"])
def test_a_long_npu_ring_gives_way_to_timeout(tmp_path, mode):
    """Issue 17: every descriptor of a ring ran inside the doorbell's MMIO write, so --timeout
    (and Ctrl-C, gdb) waited for the whole ring.  The ring now runs in batches that look at the
    machine's stop request in between."""
    elf = assemble(tmp_path, NPU_RING_FLOOD)
    start = time.monotonic()
    result = run_npuemu("run", *mode, "--timeout", "1", elf, timeout=60)
    assert result.status == 124, result.output
    assert b"stopped by --timeout" in result.output
    assert time.monotonic() - start < 20


def _one_line_error(result, text: str) -> None:
    lines = result.output.decode(errors="replace").strip().splitlines()
    assert result.status == 2 and len(lines) == 1 and text in lines[0], result.output


def test_npu_config_and_trace_report_take_regular_files_only(tmp_path, firmware):
    """A FIFO or /dev/zero given to --npu-config or `npuemu report` blocked forever (or read
    /dev/zero until memory ran out); a config that is not UTF-8 and a tile array of 256 TiB
    ended in tracebacks.  Each is now one line and exit status 2."""
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    hello = firmware("hello", "rv32")
    for path in (fifo, "/dev/zero"):
        _one_line_error(run_npuemu("run", "--npu-config", path, hello, timeout=30), "not a regular file")
        _one_line_error(run_npuemu("report", path, timeout=30), "not a regular file")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[geometry]\n")
    _one_line_error(run_npuemu("run", "--npu-config", binary, hello), "not UTF-8 text")
    huge = tmp_path / "huge.toml"
    huge.write_text("[geometry]\ntiles = 65535\nrows = 65536\ncols = 65536\n")
    _one_line_error(run_npuemu("run", "--npu-config", huge, hello), "limited to 2 GiB")


def test_an_option_of_another_command_is_named_as_such(firmware):
    """`npuemu run --realtime` said "unrecognized arguments: --realtime; did you mean --realtime?"."""
    result = run_npuemu("run", "--realtime", firmware("hello", "rv32"))
    _one_line_error(result, "--realtime is an option of npuemu debug")


def test_a_long_npu_ring_gives_way_to_ctrl_c(tmp_path):
    """The same flood: Ctrl-C (SIGINT) ends the run with status 130 between two batches of the ring."""
    import select
    import signal

    elf = assemble(tmp_path, NPU_RING_FLOOD)
    proc = subprocess.Popen([sys.executable, "-m", "emu.cli", "run", str(elf)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert select.select([proc.stdout], [], [], 60)[0], "no output within 60 s"
        assert proc.stdout.readline() == b"D\n"  # the doorbell is next
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        proc.wait(timeout=60)
    finally:
        proc.kill()
    out = proc.stdout.read()
    proc.stdout.close()
    assert proc.returncode == 130 and b"interrupted" in out, out
    assert time.monotonic() - sent < 10
