"""Registers as data (names for traces, side-effect-free debugger reads) and interrupts as wires."""

from __future__ import annotations

from pathlib import Path

import pytest

from emu import Machine
from emu.cpu import MIP_MEIP, MIP_MSIP, MIP_MTIP
from emu.devices.clint import MTIMECMP
from emu.devices.regs import clint_registers, plic_registers, uart_registers
from emu.errors import BusError
from emu.npu_device import regs as npu

HELLO = Path(__file__).resolve().parents[2] / "build" / "firmware" / "rv32" / "hello.elf"
CLINT, PLIC, UART, NPU = 0x0200_0000, 0x0C00_0000, 0x1000_0000, npu.MMIO_BASE


@pytest.fixture
def m() -> Machine:
    return Machine.from_elf(HELLO, deterministic=True)


def test_register_maps_name_every_access():
    assert uart_registers().describe(5) == "LSR"
    assert clint_registers().describe(0x4004) == "mtimecmp0+4"
    assert clint_registers().describe(0x100) == "+0x100"
    plic = plic_registers(96, 2)
    assert plic.describe(0x20_1004) == "claim1" and plic.describe(0x2084) == "enable1.1"


def test_mmio_addresses_have_register_names(m):
    from emu.devices.peek import register_name

    assert register_name(m.bus, UART + 5) == "uart0.LSR"
    assert register_name(m.bus, NPU + npu.REG["RING_TAIL"]) == "npu.RING_TAIL"
    assert register_name(m.bus, PLIC + 0x20_0004) == "plic.claim0"
    assert register_name(m.bus, 0x0010_0000) == "test-finisher.+0x0"
    assert register_name(m.bus, 0x8000_0000) is None


def test_peek_reads_npu_id_and_geometry_like_x_4xw(m):
    """Issue 13: `x/4xw 0x18000000` shows the NPU's ID, version and geometry."""
    words = [int.from_bytes(m.peek(NPU + 4 * i, 4), "little") for i in range(4)]
    assert words[0] == npu.ID_MAGIC and words[1] == npu.VERSION
    assert m.peek(NPU, 16) == b"".join(w.to_bytes(4, "little") for w in words)
    assert (words[2], words[3]) == (m.npu.config.tiles, m.npu.config.rows)


def test_peek_reads_clint_and_safe_uart_registers(m):
    m.clint.write(MTIMECMP, 8, 0x1234_5678_9ABC)
    assert int.from_bytes(m.peek(CLINT + MTIMECMP, 8), "little") == 0x1234_5678_9ABC
    assert m.peek(CLINT + MTIMECMP + 2, 2) == (0x5678).to_bytes(2, "little")  # a slice of a register
    m.uart.write(7, 1, 0x42)
    assert m.peek(UART + 7, 1) == b"\x42" and m.peek(UART + 6, 1) == b"\xb0"
    assert m.peek(0x8000_0000, 4) == m.read_mem(0x8000_0000, 4)


@pytest.mark.parametrize(("addr", "length", "register", "command"), [
    (UART, 1, "uart0.RBR/THR/DLL", "info uart"),
    (UART + 4, 4, "uart0.LSR", "info uart"),
    (PLIC + 0x20_0004, 4, "plic.claim0", "info time"),
    (NPU + npu.REG["STATUS"], 4, "npu.STATUS", "npu status"),
])
def test_peek_refuses_reads_with_side_effects(m, addr, length, register, command):
    m.uart.send(b"x")
    with pytest.raises(BusError, match=rf"reading {register} .*`{command}`"):
        m.peek(addr, length)
    assert m.uart.rx_waiting == 1  # nothing was consumed


def test_peek_outside_ram_and_devices_is_a_bus_error(m):
    with pytest.raises(BusError, match="not RAM and not inside one device"):
        m.peek(0x0001_0000, 4)
    with pytest.raises(BusError, match="declares no register map"):
        m.peek(0x0010_0000, 4)  # the finisher: a write-only trigger


def test_interrupt_outputs_are_lines_into_the_hart(m):
    """CLINT msip/mtip and the PLIC's context outputs drive mip; the machine never polls them."""
    assert m.read_reg("mip") & (MIP_MSIP | MIP_MTIP | MIP_MEIP) == 0
    m.clint.write(0, 4, 1)
    assert m.clint.msip_line.level and m.read_reg("mip") & MIP_MSIP
    m.clint.write(0, 4, 0)
    assert not m.read_reg("mip") & MIP_MSIP
    now = m.clock.mtime()
    m.clint.write(MTIMECMP, 8, now + 100)
    assert not m.read_reg("mip") & MIP_MTIP
    m.clock.skip_to((now + 100) * 100)
    m.clock.run_due()  # the mtimecmp event raises the line at its time
    assert m.clint.mtip_line.level and m.read_reg("mip") & MIP_MTIP
    m.plic.write(4 * 10, 4, 1)
    m.plic.write(0x2000, 4, 1 << 10)
    m.uart.write(1, 1, 0x02)  # THR-empty interrupt -> PLIC source 10 -> context 0 -> MEIP
    assert m.plic.context_lines[0].level and m.read_reg("mip") & MIP_MEIP
    assert m.plic.read(0x20_0004, 4) == 10  # claimed: the line drops
    assert not m.read_reg("mip") & MIP_MEIP
