"""The checked-in C header is generated from regs.py and must not be stale."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from emu.npu_device import header, regs


def test_header_is_up_to_date() -> None:
    result = subprocess.run([sys.executable, "-m", "emu.npu_device.header", "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_check_detects_stale(tmp_path) -> None:
    stale = tmp_path / "npu_regs.h"
    stale.write_text(header.render().replace("NPU_OP_FENCE", "NPU_OP_FENSE"))
    assert header.main(["--check", "--output", str(stale)]) == 1
    assert header.main(["--output", str(stale)]) == 0
    assert header.main(["--check", "--output", str(stale)]) == 0


def test_header_mentions_every_field() -> None:
    text = header.render()
    for layout in regs.LAYOUTS:
        for field in layout.fields:
            assert f"offsetof(npu_{layout.name.lower()}_t, {field.name}) == {field.offset}" in text


@pytest.mark.skipif(shutil.which("riscv64-unknown-elf-gcc") is None, reason="no RISC-V gcc")
@pytest.mark.parametrize("arch", [("rv32imac", "ilp32"), ("rv64imac", "lp64")])
def test_header_compiles_with_static_asserts(tmp_path, arch) -> None:
    src = tmp_path / "t.c"
    sdk = header.DEFAULT_PATH.parent / "sdk.h"
    prelude = '#include "sdk.h"\n' if sdk.exists() else ""  # no clash with the SDK's names
    src.write_text(prelude + '#include "npu_regs.h"\nint f(npu_desc_t *d) { return d->mvm.n; }\n')
    result = subprocess.run(["riscv64-unknown-elf-gcc", "-ffreestanding", f"-march={arch[0]}", f"-mabi={arch[1]}",
                             "-Wall", "-Werror", f"-I{header.DEFAULT_PATH.parent}", "-c", str(src), "-o",
                             str(tmp_path / "t.o")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_docs_cover_the_interface() -> None:
    """docs/npu.md names every register, opcode, descriptor field and error."""
    text = (header.DEFAULT_PATH.parents[2] / "docs" / "npu.md").read_text()
    for reg in regs.REGISTERS:
        assert f"| 0x{reg.offset:03X} | {reg.name} |" in text
    for layout in regs.LAYOUTS:
        assert f"**{layout.name}** (0x{layout.opcode:02X})" in text
        for field in layout.fields:
            assert f"| {field.offset} | {field.name} |" in text or field.offset < 4
    for name, (code, _) in regs.ERRORS.items():
        assert name == "NONE" or f"| {code} | {name} |" in text
