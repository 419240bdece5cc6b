"""npuemu and qemu-system-riscv32/64 -M virt boot the same ELF: same console bytes, same exit status."""

from __future__ import annotations

import pytest
from npuemu_cli import run_npuemu
from support.qemu import run_qemu

ARCHES = ("rv32", "rv64")

# (app, firmware args, stdin).  semihost_files is not here on purpose: QEMU lets the guest open any host
# file, npuemu only below --semihost-root (tests/platform/test_semihosting.py).
CASES = [
    ("hello", (), b""),
    ("traps", (), b""),
    ("delegation", (), b""),
    ("timer", (), b""),
    ("uart_irq", (), b"hello uart\nq"),
    ("semihost", ("alpha", "beta"), b""),
    ("sleep", (), b""),
]


@pytest.mark.qemu
@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize(("app", "args", "stdin"), CASES, ids=[c[0] for c in CASES])
def test_same_console_and_exit_status_as_qemu(firmware, arch, app, args, stdin):
    elf = firmware(app, arch)
    ours = run_npuemu("run", elf, *(("--", *args) if args else ()), stdin=stdin)
    qemu = run_qemu(elf, arch, args=(elf.name, *args), stdin=stdin)  # argv[0] as npuemu passes it
    assert ours.output.decode(errors="replace") == qemu.output.decode(errors="replace")
    assert ours.status == qemu.exit_code
