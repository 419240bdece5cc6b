"""Bad ELF files end as one clean line and a non-zero exit, never a traceback."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from npuemu_cli import run_npuemu

from emu import ElfError, Machine
from emu.elf_loader import load_elf


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


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 40), cut=st.booleans())
def test_mutated_elves_load_or_fail_cleanly(firmware, tmp_path, seed, flips, cut):
    """Random byte corruption, concentrated on the headers: loading succeeds or raises ElfError only."""
    rng = random.Random(seed)
    data = bytearray(firmware("hello", rng.choice(["rv32", "rv64"])).read_bytes())
    for _ in range(flips):
        pos = rng.randrange(0, 256) if rng.random() < 0.7 else rng.randrange(len(data))
        data[pos] = rng.randrange(256)
    if cut:
        data = data[: rng.randrange(len(data))]
    path = tmp_path / "fuzz.elf"
    path.write_bytes(bytes(data))
    try:
        machine = Machine.from_elf(path)
    except ElfError as e:
        assert "\n" not in str(e)
        return
    machine.run(max_insns=2000)  # whatever it loaded must not crash the emulator either
