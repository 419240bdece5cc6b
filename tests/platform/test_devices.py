"""Register-level behaviour of the virt devices, as QEMU presents it to firmware."""

from __future__ import annotations

from emu.clock import VirtualClock
from emu.devices.clint import MSIP, MTIME, MTIMECMP, Clint
from emu.devices.plic import CONTEXT, ENABLE, PENDING, Plic
from emu.devices.uart import IER, IIR_FCR, LCR, LSR, RBR_THR, Uart


def test_plic_claims_highest_priority_then_lowest_id_and_keeps_level_semantics():
    plic = Plic()
    for src, prio in ((10, 1), (11, 3), (12, 3)):
        plic.write(4 * src, 4, prio)
    plic.write(ENABLE, 4, (1 << 10) | (1 << 11) | (1 << 12))
    for src in (10, 11, 12):
        plic.set_level(src, True)
    assert plic.read(PENDING, 4) == (1 << 10) | (1 << 11) | (1 << 12)
    assert plic.interrupt_pending(0)
    assert plic.read(CONTEXT + 4, 4) == 11  # priority 3, lower id than 12
    assert plic.read(CONTEXT + 4, 4) == 12
    assert plic.read(CONTEXT + 4, 4) == 10
    assert plic.read(CONTEXT + 4, 4) == 0 and not plic.interrupt_pending(0)
    plic.set_level(11, False)
    plic.write(CONTEXT + 4, 4, 11)  # complete: wire low, stays quiet
    plic.write(CONTEXT + 4, 4, 12)  # complete: wire still high, pending again
    assert plic.read(PENDING, 4) == 1 << 12


def test_plic_threshold_masks_equal_priority():
    plic = Plic()
    plic.write(4 * 10, 4, 2)
    plic.write(ENABLE, 4, 1 << 10)
    plic.set_level(10, True)
    plic.write(CONTEXT, 4, 2)
    assert not plic.interrupt_pending(0)
    plic.write(CONTEXT, 4, 1)
    assert plic.interrupt_pending(0)
    assert not plic.interrupt_pending(1)  # context 1 (S-mode) has nothing enabled


def test_clint_mtip_follows_mtime_and_mtimecmp():
    ticks = [0]
    clock = VirtualClock(deterministic=True, ns_per_insn=100, insn_count=lambda: ticks[0])
    clint = Clint(clock)
    assert not clint.mtip()  # nothing armed at reset, as QEMU
    clint.write(MTIMECMP, 4, 50)
    clint.write(MTIMECMP + 4, 4, 0)
    assert not clint.mtip() and clock.next_deadline() == 50 * 100
    ticks[0] = 50
    assert clint.mtip() and clint.read(MTIME, 4) == 50
    clint.write(MSIP, 4, 1)
    assert clint.read(MSIP, 4) == 1


def test_uart_thre_interrupt_and_rx_fifo():
    clock = VirtualClock(deterministic=True)
    from emu.devices.base import IrqLine

    levels = []
    uart = Uart(IrqLine(levels.append), clock)
    out = []
    uart.sink = out.append
    assert uart.read(LSR, 1) & 0x60 == 0x60  # THRE and TEMT
    uart.write(IER, 1, 0x02)                 # THRE interrupt enabled while THR is empty: fires
    assert levels[-1] is True
    assert uart.read(IIR_FCR, 1) & 0x0F == 0x02
    assert levels[-1] is False               # reading IIR acknowledges THRE
    uart.write(RBR_THR, 1, ord("x"))
    assert out == [b"x"] and levels[-1] is True
    uart.write(IER, 1, 0x01)
    uart.write(IIR_FCR, 1, 0x01)             # FIFO on, trigger level 1
    uart.send(b"ab")
    assert uart.read(LSR, 1) & 1
    assert uart.read(IIR_FCR, 1) & 0x0F == 0x04
    assert bytes([uart.read(RBR_THR, 1), uart.read(RBR_THR, 1)]) == b"ab"
    assert not uart.read(LSR, 1) & 1


def test_uart_divisor_latch():
    uart = Uart(__import__("emu.devices.base", fromlist=["IrqLine"]).IrqLine(lambda level: None),
                VirtualClock())
    uart.write(LCR, 1, 0x80)
    uart.write(RBR_THR, 1, 0x12)
    uart.write(IER, 1, 0x34)
    assert (uart.read(RBR_THR, 1), uart.read(IER, 1)) == (0x12, 0x34)
    uart.write(LCR, 1, 0x03)
    assert uart.output == bytearray()
