"""Bad ELF files end as one clean line and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest
from npuemu_cli import run_npuemu

from emu import ElfError
from emu.elf_loader import MAX_IMAGE_BYTES, load_elf


def _one_clean_line(result) -> str:
    text = result.output.decode(errors="replace")
    assert result.status == 2, text
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("npuemu: "), text
    return lines[0]


def _patched(src: Path, tmp_path: Path, edit) -> Path:
    data = bytearray(src.read_bytes())
    edit(data)
    out = tmp_path / "bad.elf"
    out.write_bytes(bytes(data))
    return out


def _first_phdr(data: bytearray) -> tuple[int, int, bool]:
    is64 = data[4] == 2
    phoff = struct.unpack_from("<Q" if is64 else "<I", data, 0x20 if is64 else 0x1C)[0]
    phentsize = struct.unpack_from("<H", data, 0x36 if is64 else 0x2A)[0]
    return phoff, phentsize, is64


def _set_load_paddr(data: bytearray, paddr: int) -> None:
    phoff, size, is64 = _first_phdr(data)
    for i in range(8):
        off = phoff + i * size
        if struct.unpack_from("<I", data, off)[0] == 1:  # PT_LOAD
            if is64:
                struct.pack_into("<Q", data, off + 0x18, paddr)
            else:
                struct.pack_into("<I", data, off + 0x0C, paddr)
            return


def test_not_an_elf(tmp_path):
    f = tmp_path / "x.elf"
    f.write_bytes(b"this is not firmware\n")
    assert "not an ELF" in _one_clean_line(run_npuemu("run", f))


def test_missing_file(tmp_path):
    assert "cannot read" in _one_clean_line(run_npuemu("run", tmp_path / "nope.elf"))


def test_host_elf_is_not_riscv():
    assert "not a RISC-V" in _one_clean_line(run_npuemu("run", "/bin/true"))


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_big_endian(firmware, tmp_path, arch):
    bad = _patched(firmware("hello", arch), tmp_path, lambda d: d.__setitem__(5, 2))
    assert "big-endian" in _one_clean_line(run_npuemu("run", bad))


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
@pytest.mark.parametrize("keep", [40, 300])
def test_truncated(firmware, tmp_path, arch, keep):
    bad = tmp_path / "cut.elf"
    bad.write_bytes(firmware("hello", arch).read_bytes()[:keep])
    assert "truncated" in _one_clean_line(run_npuemu("run", bad))
    with pytest.raises(ElfError, match="truncated"):
        load_elf(bad)


def test_segment_outside_ram(firmware, tmp_path):
    bad = _patched(firmware("hello", "rv32"), tmp_path, lambda d: _set_load_paddr(d, 0x4000_0000))
    assert "outside RAM" in _one_clean_line(run_npuemu("run", bad))


def test_segment_on_a_device(firmware, tmp_path):
    bad = _patched(firmware("hello", "rv32"), tmp_path, lambda d: _set_load_paddr(d, 0x1000_0000))
    assert "uart0" in _one_clean_line(run_npuemu("run", bad))


def test_entry_outside_loaded_memory(firmware, tmp_path):
    bad = _patched(firmware("hello", "rv32"), tmp_path, lambda d: struct.pack_into("<I", d, 0x18, 0x8700_0000))
    assert "entry point" in _one_clean_line(run_npuemu("run", bad))


# -- issue 17 E1: only bounded regular files are read, in `run` and `debug` alike --------------------
def _refused_fast(path, *command: str) -> str:
    start = time.monotonic()
    result = run_npuemu(*command, path, timeout=30)
    assert time.monotonic() - start < 20  # no read of gigabytes, no wait on a writer
    return _one_clean_line(result)


@pytest.mark.parametrize("command", [("run",), ("debug", "-ex", "quit")])
def test_e1_dev_zero_is_refused_at_once(command):
    assert "not a regular file" in _refused_fast("/dev/zero", *command)


@pytest.mark.parametrize("command", [("run",), ("debug", "-ex", "quit")])
def test_e1_fifo_without_writer_does_not_block(tmp_path, command):
    fifo = tmp_path / "fw.elf"
    os.mkfifo(fifo)
    assert "not a regular file" in _refused_fast(fifo, *command)


@pytest.mark.parametrize("command", [("run",), ("debug", "-ex", "quit")])
def test_e1_huge_sparse_file_is_refused_by_size(tmp_path, command):
    sparse = tmp_path / "sparse.elf"
    with open(sparse, "wb") as fh:
        fh.truncate(2 << 30)
    assert f"larger than the {MAX_IMAGE_BYTES >> 20} MiB limit" in _refused_fast(sparse, *command)


def test_e1_kernel_and_initrd_files_are_bounded_too(firmware, tmp_path):
    fifo = tmp_path / "initrd"
    os.mkfifo(fifo)
    line = _refused_fast(firmware("hello", "rv64"), "run", "--kernel", "/dev/zero", "--bios")
    assert "--kernel /dev/zero: not a regular file" in line
    line = _refused_fast(fifo, "run", "--bios", "none", "--kernel", str(firmware("hello", "rv64")), "--initrd")
    assert "--initrd" in line and "not a regular file" in line


# -- ELFs QEMU loads whatever their program headers say -----------------------------------------------
PROGRAM = """
.globl _start
_start:
    li t0, 0x10000000
    la t1, msg
1:  lbu t2, 0(t1)
    beqz t2, 2f
    sb t2, 0(t0)
    addi t1, t1, 1
    j 1b
2:  li t0, 0x100000
    li t1, (7 << 16) | 0x3333
    sw t1, 0(t0)
3:  j 3b
.data
msg: .asciz "loaded like QEMU\\n"
"""
FLAGS_ZERO_LD = """
PHDRS { all PT_LOAD FLAGS(0); }
SECTIONS { . = 0x80000000; .text : { *(.text) } :all .data : { *(.data) } :all }
"""


def _build(tmp_path, arch: str, *link: str) -> Path:
    src = tmp_path / "p.S"
    src.write_text(PROGRAM)
    out = tmp_path / f"p-{arch}.elf"
    march, mabi = ("rv32imac", "ilp32") if arch == "rv32" else ("rv64imac", "lp64")
    subprocess.run(["riscv64-unknown-elf-gcc", f"-march={march}", f"-mabi={mabi}", "-mcmodel=medany", "-nostdlib",
                    *link, str(src), "-o", str(out)], check=True, capture_output=True)
    return out


def _segments(elf: Path) -> list[tuple[int, int]]:
    image = load_elf(elf)
    return [(s.paddr, s.flags) for s in image.segments]


needs_gcc = pytest.mark.skipif(shutil.which("riscv64-unknown-elf-gcc") is None, reason="no RISC-V gcc")


@needs_gcc
@pytest.mark.qemu
@pytest.mark.parametrize("arch", ["rv32", "rv64"])
@pytest.mark.parametrize("kind", ["ttext", "flags0"])
def test_elf_that_qemu_runs_runs_here(tmp_path, arch, kind):
    if kind == "ttext":
        elf = _build(tmp_path, arch, "-Ttext=0x80000000")
        assert _segments(elf)[0][0] == 0x7FFFF000  # the ELF headers sit below RAM in the first segment
    else:
        ld = tmp_path / "f.ld"
        ld.write_text(FLAGS_ZERO_LD)
        elf = _build(tmp_path, arch, "-T", str(ld))
        assert {flags for _, flags in _segments(elf)} == {0}
    qemu = subprocess.run([f"qemu-system-riscv{arch[2:]}", "-M", "virt", "-nographic", "-bios", "none", "-kernel",
                           str(elf)], capture_output=True, timeout=30)
    ours = run_npuemu("run", "--deterministic", elf, merge=False)
    assert qemu.stdout == ours.output == b"loaded like QEMU\n"
    assert qemu.returncode == ours.status == 7


def test_entry_check_needs_a_loaded_segment_not_an_executable_one(firmware, tmp_path):
    def clear_flags(data: bytearray) -> None:
        phoff, size, is64 = _first_phdr(data)
        for i in range(8):
            off = phoff + i * size
            if struct.unpack_from("<I", data, off)[0] == 1:
                struct.pack_into("<I", data, off + (4 if is64 else 0x18), 0)
    elf = _patched(firmware("hello", "rv32"), tmp_path, clear_flags)
    result = run_npuemu("run", elf)
    assert result.status == 0 and b"Hello from npuemu" in result.output
