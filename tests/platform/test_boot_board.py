"""The board table is the one memory map: the machine is wired from it and platform.h is generated
from it (a stale checked-in header fails here)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from emu import Machine, board


def test_platform_header_is_up_to_date() -> None:
    result = subprocess.run([sys.executable, "-m", "emu.board", "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_check_detects_a_stale_header(tmp_path) -> None:
    stale = tmp_path / "platform.h"
    stale.write_text(board.render_header().replace("0x10000000UL", "0x10000100UL"))
    assert board.main(["--check", "--output", str(stale)]) == 1
    assert board.main(["--output", str(stale)]) == 0
    assert board.main(["--check", "--output", str(stale)]) == 0


def test_machine_maps_every_device_row_at_its_address(firmware) -> None:
    m = Machine.from_elf(firmware("hello", "rv32"))
    mapped = {name: base for base, _size, name in m.bus.describe()}
    for row in board.BOARD:
        if row.make is not None:
            assert mapped[m.devices_by_name[row.name].name] == row.base, row.name
    # the UART's interrupt line is the PLIC source the table names
    m.devices_by_name["uart0"].irq.set(True)
    assert m.plic.pending[board.region("uart0").irq]


def test_rows_do_not_overlap() -> None:
    rows = sorted(board.BOARD, key=lambda r: r.base)
    for a, b in zip(rows, rows[1:], strict=False):
        assert a.base + a.size <= b.base, (a.name, b.name)


@pytest.mark.skipif(shutil.which("riscv64-unknown-elf-gcc") is None, reason="no RISC-V gcc")
def test_header_compiles_with_the_sdk(tmp_path) -> None:
    src = tmp_path / "t.c"
    src.write_text('#include "sdk.h"\nunsigned long f(void) { return UART0_BASE + NPU_IRQ + MROM_BASE; }\n')
    result = subprocess.run(["riscv64-unknown-elf-gcc", "-ffreestanding", "-march=rv32imac", "-mabi=ilp32",
                             "-Wall", "-Werror", f"-I{board.HEADER_PATH.parent}", "-c", str(src), "-o",
                             str(tmp_path / "t.o")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
