"""Third-party firmware as a user boots it on QEMU: Debian's OpenSBI 1.1 (fw_jump) hands over to
U-Boot 2023.01 in S-mode; Debian's M-mode U-Boot boots as --bios.  A user types at the prompt.

The OpenSBI banner and platform table must equal QEMU 7.2's line for line, except the lines in
HART_DIFFERENCES (the hart is Unicorn 2.1.4's, not QEMU 7.2's: see docs/platform.md)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from emu import Machine
from emu.boot import BootFiles
from emu.machine import StopReason

OPENSBI = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf")
UBOOT_S = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")
UBOOT_M = Path("/usr/lib/u-boot/qemu-riscv64/u-boot.bin")
pytestmark = pytest.mark.skipif(not (OPENSBI.exists() and UBOOT_S.exists() and UBOOT_M.exists()),
                                reason="Debian opensbi / u-boot-qemu not installed (make setup installs them)")

# OpenSBI lines that differ from QEMU's, with the reason (all are properties of the hart).
HART_DIFFERENCES = {
    "Boot HART Priv Version": "Unicorn 2.1.4's hart implements priv spec 1.10 (QEMU 7.2: 1.12)",
    "Boot HART Base ISA": "no H extension in Unicorn 2.1.4 (QEMU 7.2: rv64imafdch)",
    "Boot HART ISA Extensions": "no Sstc in Unicorn 2.1.4 (QEMU 7.2: time,sstc)",
    "Boot HART MHPM Count": "Unicorn 2.1.4 has no mhpmcounters OpenSBI can detect (QEMU 7.2: 16)",
    "Boot HART MIDELEG": "no H extension: no VS-level interrupts 2/6/10 nor SGEI 12 to delegate (QEMU 7.2: 0x1666)",
    "Boot HART MEDELEG": "no H extension: no cause 10 nor guest page faults 20-23 to delegate (QEMU 7.2: 0xf0b509)",
}
BANNER_END = "Boot HART MEDELEG"


class Console:
    """A booted machine and what it printed, typed at like a terminal."""

    def __init__(self, files: BootFiles) -> None:
        self.out = bytearray()
        self.machine = Machine.from_files(files, stdout=self.out.extend, deterministic=True)
        self.cursor = 0

    def expect(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.out[self.cursor:]:
            stop = self.machine.run(max_insns=2_000_000)
            assert stop.reason in (StopReason.INSN_LIMIT, StopReason.EXITED), stop.message
            if stop.reason is StopReason.EXITED or time.monotonic() > deadline:
                pytest.fail(f"no {text!r} in the console:\n{self.out[-3000:].decode(errors='replace')}")
        end = self.out.index(text.encode(), self.cursor) + len(text)
        seen, self.cursor = self.out[self.cursor:end].decode(errors="replace"), end
        return seen

    def command(self, line: str) -> str:
        self.machine.feed_input(line.encode() + b"\n")
        return self.expect("=> ").removesuffix("=> ")


def _stop_autoboot(console: Console) -> None:
    console.expect("Hit any key to stop autoboot")
    console.machine.feed_input(b" ")
    console.expect("=> ")


def test_opensbi_then_smode_uboot_prompt_and_commands() -> None:
    console = Console(BootFiles(bios=str(OPENSBI), kernel=str(UBOOT_S)))
    banner = console.expect("U-Boot 2023.01")
    assert "Domain0 Next Address      : 0x0000000080200000" in banner
    assert "Domain0 Next Mode         : S-mode" in banner
    _stop_autoboot(console)
    version = console.command("version")
    assert "U-Boot 2023.01" in version and "riscv64-linux-gnu-gcc" in version
    fdt_addr = console.command("fdt addr $fdtcontroladdr")
    assert "Working FDT set to" in fdt_addr
    cpus = console.command("fdt print /cpus")
    assert 'riscv,isa = "rv64imafdc_zicsr_zifencei";' in cpus
    assert "timebase-frequency = <0x00989680>;" in cpus and 'mmu-type = "riscv,sv48";' in cpus
    soc = console.command("fdt list /soc")
    for node in ("clint@2000000", "plic@c000000", "serial@10000000", "test@100000", "npu@18000000"):
        assert f"\t{node} {{" in soc
    console.machine.feed_input(b"poweroff\n")
    stop = console.machine.run(timeout=30)
    assert stop.reason is StopReason.EXITED and stop.exit_code == 0


def test_mmode_uboot_as_bios_reaches_the_prompt() -> None:
    console = Console(BootFiles(bios=str(UBOOT_M)))
    banner = console.expect("Hit any key to stop autoboot")
    assert "CPU:   rv64imafdc_zicsr_zifencei" in banner and "DRAM:  128 MiB" in banner
    console.machine.feed_input(b" ")
    console.expect("=> ")
    assert "Working FDT set to" in console.command("fdt addr $fdtcontroladdr")
    assert "npu@18000000 {" in console.command("fdt list /soc")
    console.machine.feed_input(b"reset\n")
    console.expect("U-Boot 2023.01")  # finisher 0x7777: the machine resets and boots again


def _opensbi_lines(text: str) -> list[str]:
    start = text.index("OpenSBI v")
    end = text.index(BANNER_END)
    return text[start : text.index("\n", end)].splitlines()


@pytest.mark.qemu
def test_opensbi_banner_and_platform_table_equal_qemus() -> None:
    proc = subprocess.Popen(["qemu-system-riscv64", "-M", "virt", "-m", "128M", "-nographic", "-bios", str(OPENSBI),
                             "-kernel", str(UBOOT_S)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    qemu = b""
    try:
        deadline = time.monotonic() + 60
        while b"U-Boot" not in qemu and time.monotonic() < deadline:
            chunk = proc.stdout.read1(4096)
            if not chunk:
                break
            qemu += chunk
    finally:
        proc.kill()
        proc.wait()
    console = Console(BootFiles(bios=str(OPENSBI), kernel=str(UBOOT_S)))
    ours = _opensbi_lines(console.expect("U-Boot"))
    theirs = _opensbi_lines(qemu.decode(errors="replace").replace("\r\n", "\n"))
    assert len(ours) == len(theirs)
    differing = {a.split(":")[0].strip() for a, b in zip(ours, theirs, strict=True) if a != b}
    assert differing == set(HART_DIFFERENCES), (ours, theirs)


def test_opensbi_fw_dynamic_reads_the_next_stage_from_a2() -> None:
    """fw_dynamic takes the next stage's address and mode from the fw_dynamic_info QEMU's reset stub
    leaves in a2 (0x1028), not from its build."""
    console = Console(BootFiles(bios=str(OPENSBI.with_name("fw_dynamic.elf")), kernel=str(UBOOT_S)))
    banner = console.expect("U-Boot 2023.01")
    assert "Domain0 Next Address      : 0x0000000080200000" in banner
    assert "Domain0 Next Arg1         : 0x0000000087e00000" in banner  # the FDT, where QEMU puts it
    assert "Domain0 Next Mode         : S-mode" in banner


def test_deterministic_boot_is_byte_identical() -> None:
    from npuemu_cli import run_npuemu

    args = ("run", "--deterministic", "--max-insns", "20000000", "--bios", OPENSBI, "--kernel", UBOOT_S)
    first, second = run_npuemu(*args), run_npuemu(*args)
    assert b"Boot HART MEDELEG" in first.output and first.status == 125
    assert (first.output, first.status) == (second.output, second.status)


SBI_TIMER_PAYLOAD = """
    la t0, s_handler
    csrw stvec, t0
    li a0, 'S'
    call putc
    rdtime t1
    li t2, 100000            /* 10 ms */
    add a0, t1, t2
    li a7, 0x54494D45        /* SBI TIME: set_timer */
    li a6, 0
    ecall
    li t0, 0x20              /* sie.STIE */
    csrs sie, t0
    csrsi sstatus, 2         /* sstatus.SIE */
1:  j 1b
    .align 2
s_handler:
    csrr a0, scause
    addi a0, a0, 'A' - 5     /* 'A' for cause 5 (supervisor timer) */
    call putc
    li a0, '\\n'
    call putc
    li a7, 0x53525354        /* SBI SRST: shutdown */
    li a6, 0
    li a0, 0
    li a1, 0
    ecall
2:  j 2b
putc:
    li t0, 0x10000000
3:  lbu t1, 5(t0)
    andi t1, t1, 0x20
    beqz t1, 3b
    sb a0, 0(t0)
    ret
"""


@pytest.mark.qemu
def test_smode_payload_gets_its_sbi_timer_interrupt_and_shuts_down(tmp_path) -> None:
    """A raw S-mode kernel behind OpenSBI: SBI set_timer, the supervisor timer interrupt (OpenSBI's
    M-mode timer handler raises mip.STIP), SBI system reset: same console and status as QEMU."""
    from asm import assemble
    from npuemu_cli import run_npuemu

    elf = assemble(tmp_path, SBI_TIMER_PAYLOAD, "rv64", name="payload")
    kernel = tmp_path / "payload.bin"
    subprocess.run(["riscv64-unknown-elf-objcopy", "-O", "binary", str(elf), str(kernel)], check=True)
    qemu = subprocess.run(["qemu-system-riscv64", "-M", "virt", "-m", "128M", "-nographic", "-bios", str(OPENSBI),
                           "-kernel", str(kernel)], capture_output=True, timeout=60)
    ours = run_npuemu("run", "--deterministic", "--bios", OPENSBI, "--kernel", kernel, merge=False)
    assert qemu.stdout.endswith(b"SA\n") and qemu.returncode == 0
    assert ours.output.endswith(b"SA\n") and ours.status == 0
