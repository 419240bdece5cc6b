"""Every firmware app on qemu-system-riscv32/64 -M virt: expected console lines and exit status.

These pin down what the reference platform does with our firmware; tests/platform compares npuemu
against the same runs.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from support.qemu import QemuResult, qemu_binary, run_qemu

pytestmark = pytest.mark.qemu

ROOT = Path(__file__).resolve().parents[1]
ARCHES = ("rv32", "rv64")                 # as in tests/conftest.py (not imported: several conftest
FIRMWARE_DIR = ROOT / "build" / "firmware"  # modules share that name under pytest)

XLEN = {"rv32": 32, "rv64": 64}


def lines(result: QemuResult) -> list[str]:
    return result.text.splitlines()


@pytest.mark.parametrize("arch", ARCHES)
def test_hello(firmware, arch):
    result = run_qemu(firmware("hello", arch), arch)
    assert lines(result) == [
        f"Hello from npuemu firmware (rv{XLEN[arch]})",
        "add(42, 8) = 50, factorial(5) = 120",
        "global_var = 170, counter = 5",
        "bye",
    ]
    assert result.exit_code == 0
    assert result.stderr == b""


@pytest.mark.parametrize("arch", ARCHES)
def test_traps(firmware, arch):
    result = run_qemu(firmware("traps", arch), arch)
    out = lines(result)
    interrupt = "0x80000003" if arch == "rv32" else "0x8000000000000003"
    expected = [
        f"traps: rv{XLEN[arch]}",
        "ecall from M: cause=11 (ecall from M-mode) mepc=ecall_m_insn+0 mtval=0x0 MPP=3 MPIE=0",
        "ebreak: cause=3 (breakpoint) mepc=ebreak_insn+0 mtval=0x0 MPP=3 MPIE=0",
        "illegal csr 0x7ff: cause=2 (illegal instruction) mepc=illegal_csr_insn+0 mtval=0x7ff022f3 MPP=3 MPIE=0",
        "illegal .word 0xffffffff: cause=2 (illegal instruction) mepc=illegal_word_insn+0 mtval=0xffffffff"
        " MPP=3 MPIE=0",
        "load 0x10000: cause=5 (load access fault) mepc=load_insn+0 mtval=0x10000 MPP=3 MPIE=0",
        "store 0x10000: cause=7 (store access fault) mepc=store_insn+0 mtval=0x10000 MPP=3 MPIE=0",
        "jump to 0x10000: cause=1 (instruction access fault) mepc=0x10000 mtval=0x10000 MPP=3 MPIE=0",
        "ecall from U: cause=8 (ecall from U-mode) mepc=ecall_u_insn+0 mtval=0x0 MPP=0 MPIE=1",
        "user syscall result: 0x600d",
        f"msip: taken=1 cause={interrupt} vector=3 MPP=3 MPIE=1",
        "traps: 8 traps, 0 failures",
    ]
    for line in expected:
        assert line in out
    assert not [line for line in out if "FAIL" in line]
    assert sum(1 for line in out if line.endswith(" ok")) == 12
    assert result.exit_code == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_timer(firmware, arch):
    result = run_qemu(firmware("timer", arch), arch)
    assert lines(result) == [
        "timer: 5 interrupts every 100000 ticks",
        *(f"tick {n}: on time" for n in range(1, 6)),
        "slept 1 s: ok",
        "timer: 5 interrupts",
    ]
    assert result.exit_code == 0
    assert result.elapsed >= 1.0  # QEMU's mtime follows the host clock without -icount


@pytest.mark.parametrize("arch", ARCHES)
def test_uart_irq_echoes_until_q(firmware, arch):
    result = run_qemu(firmware("uart_irq", arch), arch, stdin=b"hello, world\nabc qignored")
    assert lines(result) == [
        "uart_irq: type characters, 'q' to quit",
        "hello, world",
        "abc ",
        "uart_irq: received 18 characters (including 'q'), echoed 17, dropped 0",
        "uart_irq: rx and tx interrupts seen: yes",
    ]
    assert result.exit_code == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_uart_irq_long_input(firmware, arch):
    letters = b"abcdefghijklmnoprstuvwxyz"  # no 'q'
    data = bytes(letters[i % len(letters)] for i in range(200))
    result = run_qemu(firmware("uart_irq", arch), arch, stdin=data + b"q")
    assert lines(result)[1] == data.decode()
    assert "uart_irq: received 201 characters (including 'q'), echoed 200, dropped 0" in lines(result)
    assert result.exit_code == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_semihost_default_exit_code(firmware, arch):
    elf = firmware("semihost", arch)
    result = run_qemu(elf, arch, args=(elf.name,))  # the command line npuemu gives: the ELF's name
    assert lines(result) == [
        f"semihost: hello from picolibc (rv{XLEN[arch]})",
        "argc = 2",
        'argv[0] = "program-name"',  # picolibc's crt0 names argv[0]; the command line follows
        'argv[1] = "semihost.elf"',
        "semihost: this line goes to stderr",
        "semihost: exiting with 3",
    ]
    assert result.exit_code == 3
    assert result.stdout == b""  # QEMU writes the semihosting console to stderr
    assert b"this line goes to stderr" in result.stderr


@pytest.mark.parametrize("arch", ARCHES)
def test_semihost_argv_and_exit_code(firmware, arch):
    elf = firmware("semihost", arch)
    result = run_qemu(elf, arch, args=(elf.name, "alpha", "exit=42"))
    out = lines(result)
    assert "argc = 4" in out
    assert 'argv[1] = "semihost.elf"' in out
    assert 'argv[2] = "alpha"' in out
    assert 'argv[3] = "exit=42"' in out
    assert "semihost: exiting with 42" in out
    assert result.exit_code == 42


@pytest.mark.parametrize("arch", ARCHES)
def test_compute_checksum(firmware, arch):
    result = run_qemu(firmware("compute", arch), arch, timeout=60)
    assert lines(result) == [
        f"compute: rv{XLEN[arch]}, 300 rounds",
        "crc32 = 0xf7db1bfe",
        "matmul = 0xe56a7a98",
        "checksum = 0x12b16166",
    ]
    assert result.exit_code == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_sleep_one_virtual_second(firmware, arch):
    result = run_qemu(firmware("sleep", arch), arch)
    assert lines(result) == ["slept >= 1 s"]
    assert result.exit_code == 0
    assert result.elapsed >= 1.0


def _processes_running(path: Path) -> list[int]:
    """PIDs whose command line mentions ``path`` (read from /proc)."""
    pids = []
    needle = str(path).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize(("app", "banner"), [("spin", "spin: looping forever"),
                                             ("runaway", "runaway: mtvec -> 0x10000, illegal instruction")])
def test_never_exits_and_is_killed_on_timeout(firmware, tmp_path, arch, app, banner):
    elf = tmp_path / f"{app}-{arch}.elf"  # a private copy: its path identifies our QEMU process
    shutil.copy(firmware(app, arch), elf)
    result = run_qemu(elf, arch, timeout=1.5)
    assert result.timed_out
    assert result.exit_code is None
    assert lines(result) == [banner]
    assert _processes_running(elf) == []


def test_every_app_is_built_for_both_arches():
    apps = sorted(p.name for p in (ROOT / "firmware" / "apps").iterdir()
                  if p.is_dir() and any(p.glob("*.[cS]")))
    assert {"hello", "traps", "timer", "uart_irq", "semihost", "spin", "compute", "sleep", "runaway",
            "sdk_selftest"} <= set(apps)
    missing = [f"{arch}/{app}.elf" for arch in ARCHES for app in apps
               if not (FIRMWARE_DIR / arch / f"{app}.elf").is_file()]
    assert not missing, f"not built (run `make firmware`): {missing}"


def test_run_qemu_reports_missing_elf(tmp_path):
    from support.qemu import QemuError

    with pytest.raises(QemuError, match="make firmware"):
        run_qemu(tmp_path / "nope.elf", "rv32")
    with pytest.raises(ValueError):
        run_qemu(tmp_path / "nope.elf", "arm")


@pytest.mark.parametrize("arch", ARCHES)
def test_sdk_selftest(firmware, arch):
    result = run_qemu(firmware("sdk_selftest", arch), arch)
    out = lines(result)
    assert out[0] == f"sdk_selftest: rv{XLEN[arch]}"
    assert out[-1] == "sdk_selftest: 0 failures"
    assert not [line for line in out if "FAIL" in line]
    assert sum(1 for line in out if line.endswith(" ok")) == 38
    assert result.exit_code == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.gdb
@pytest.mark.parametrize("arch", ARCHES)
def test_firmware_is_debuggable_by_line_with_gdb_on_qemu(firmware, arch):
    """The SDK's debug info lets gdb break, step into another file, next over calls and bt."""
    gdb = shutil.which("gdb-multiarch")
    if gdb is None:
        pytest.fail("gdb-multiarch not found: run `make setup`", pytrace=False)
    elf = firmware("hello", arch)
    port = _free_port()
    qemu = subprocess.Popen(
        [qemu_binary(arch), "-M", "virt", "-bios", "none", "-kernel", str(elf), "-display", "none",
         "-serial", "null", "-monitor", "none", "-S", "-gdb", f"tcp:127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        commands = ["set confirm off", f"target remote 127.0.0.1:{port}", "break main", "continue", "next",
                    "next", "break main.c:13", "continue", "step", "bt", "finish", "next", "next", "print global_var", "print counter"]
        proc = subprocess.run([gdb, "-q", "-nx", "-batch", *(x for c in commands for x in ("-ex", c)), str(elf)],
                              capture_output=True, text=True, timeout=60, check=False)
    finally:
        os.killpg(qemu.pid, signal.SIGKILL)
        qemu.wait(timeout=10)
        qemu.stderr.close()
    out = proc.stdout
    assert re.search(r"Breakpoint 1, main \(\) at \S*main\.c:9", out), out
    assert re.search(r"^10\s+printf\(", out, re.M), out                          # next from main's first line
    assert re.search(r"^11\s+for \(int i", out, re.M), out
    assert re.search(r"Breakpoint 2, main \(\) at \S*main\.c:13", out), out
    assert re.search(r"^add \(a=42, b=\S*8\) at \S*mathx\.c:7", out, re.M), out
    assert re.search(r"^#1 +0x[0-9a-f]+ in main \(\) at \S*main\.c:13", out, re.M), out
    assert "Value returned is $1 = 50" in out, out                               # finish out of add()
    assert re.search(r"^14\s+int fact = factorial\(5\);", out, re.M), out
    assert re.search(r"^15\s+global_var = sum \+ fact;", out, re.M), out     # next over factorial()
    assert "$2 = 42" in out and "$3 = 5" in out, out
