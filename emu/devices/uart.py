"""ns16550a UART as QEMU's ``hw/char/serial.c`` presents it to firmware.

Transmission is instantaneous (THR is always empty again by the next access),
so LSR.THRE/TEMT read as 1 and an enabled THRE interrupt re-arms after every
write, as in QEMU.  Received bytes wait in ``pending`` until the 16-byte FIFO
(or the 1-byte holding register with FIFOs off) has room.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from emu.clock import VirtualClock
from emu.devices.base import IrqLine, MmioDevice

RBR_THR, IER, IIR_FCR, LCR, MCR, LSR, MSR, SCR = range(8)
IER_RDI, IER_THRI, IER_RLSI, IER_MSI = 1, 2, 4, 8
IIR_NO_INT, IIR_MSI, IIR_THRI, IIR_RDI, IIR_RLSI, IIR_CTI = 0x01, 0x00, 0x02, 0x04, 0x06, 0x0C
LSR_DR, LSR_OE, LSR_THRE, LSR_TEMT = 0x01, 0x02, 0x20, 0x40
LCR_DLAB = 0x80
FCR_FE, FCR_RFR = 0x01, 0x02
FIFO_DEPTH = 16
TRIGGER_LEVELS = (1, 4, 8, 14)
CHAR_TIME_NS = 86_806  # one 10-bit character at 115200 baud; the FIFO timeout is 4 of them


class Uart(MmioDevice):
    name = "uart0"
    size = 0x100

    def __init__(self, irq: IrqLine, clock: VirtualClock) -> None:
        self.irq = irq
        self.clock = clock
        self.sink: Callable[[bytes], None] = lambda data: None
        self.output = bytearray()
        self.reset()

    def reset(self) -> None:
        self.ier = self.lcr = self.mcr = self.scr = self.fcr = 0
        self.lsr = LSR_THRE | LSR_TEMT
        self.msr = 0xB0  # DCD | DSR | CTS, as QEMU
        self.dll, self.dlm = 0x0C, 0
        self.thr_ipending = False
        self.timeout_ipending = False
        self.rx: deque[int] = deque()
        self.pending: deque[int] = deque()
        self._timeout_event = None
        self.irq.lower()

    # -- host side ---------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Bytes typed at the console (or fed by a test) arrive on the RX line."""
        self.pending.extend(data)
        self._fill_fifo()

    @property
    def rx_waiting(self) -> int:
        return len(self.rx) + len(self.pending)

    def _fill_fifo(self) -> None:
        capacity = FIFO_DEPTH if self.fcr & FCR_FE else 1
        moved = False
        while self.pending and len(self.rx) < capacity:
            self.rx.append(self.pending.popleft())
            moved = True
        if moved:
            self.lsr |= LSR_DR
            self._arm_timeout()
            self._update()

    def _arm_timeout(self) -> None:
        self.clock.cancel(self._timeout_event)
        self.timeout_ipending = False
        if self.fcr & FCR_FE and self.rx:
            self._timeout_event = self.clock.schedule_in(4 * CHAR_TIME_NS, self._char_timeout, "uart-rx-timeout")

    def _char_timeout(self) -> None:
        self._timeout_event = None
        if self.rx:
            self.timeout_ipending = True
            self._update()

    # -- registers ---------------------------------------------------------------
    def read(self, offset: int, width: int) -> int:
        reg = offset & 7
        if reg == RBR_THR:
            if self.lcr & LCR_DLAB:
                return self.dll
            value = self.rx.popleft() if self.rx else 0
            if not self.rx:
                self.lsr &= ~LSR_DR
            self.timeout_ipending = False
            self._fill_fifo()
            self._arm_timeout()
            self._update()
            return value
        if reg == IER:
            return self.dlm if self.lcr & LCR_DLAB else self.ier
        if reg == IIR_FCR:
            iir = self._iir()
            if iir == IIR_THRI:
                self.thr_ipending = False
                self._update()
            return iir | (0xC0 if self.fcr & FCR_FE else 0)
        if reg == LCR:
            return self.lcr
        if reg == MCR:
            return self.mcr
        if reg == LSR:
            value = self.lsr
            self.lsr &= ~LSR_OE
            return value
        if reg == MSR:
            return self.msr
        return self.scr

    def write(self, offset: int, width: int, value: int) -> None:
        reg, value = offset & 7, value & 0xFF
        if reg == RBR_THR:
            if self.lcr & LCR_DLAB:
                self.dll = value
                return
            self.output.append(value)
            self.sink(bytes((value,)))
            self.thr_ipending = True  # transmitted at once; THR empty again
            self._update()
        elif reg == IER:
            if self.lcr & LCR_DLAB:
                self.dlm = value
                return
            changed_thri = (self.ier ^ value) & IER_THRI
            self.ier = value & 0x0F
            if changed_thri and self.ier & IER_THRI:
                self.thr_ipending = True
            self._update()
        elif reg == IIR_FCR:
            if (self.fcr ^ value) & FCR_FE or value & FCR_RFR:
                self.rx.clear()
                self.lsr &= ~LSR_DR
            self.fcr = value & 0xC9
            self._fill_fifo()
            self._update()
        elif reg == LCR:
            self.lcr = value
        elif reg == MCR:
            self.mcr = value & 0x1F
        elif reg == SCR:
            self.scr = value

    def _iir(self) -> int:
        if self.ier & IER_RLSI and self.lsr & LSR_OE:
            return IIR_RLSI
        if self.ier & IER_RDI and self.timeout_ipending:
            return IIR_CTI
        if self.ier & IER_RDI and self.lsr & LSR_DR:
            level = TRIGGER_LEVELS[self.fcr >> 6] if self.fcr & FCR_FE else 1
            if len(self.rx) >= level:
                return IIR_RDI
        if self.ier & IER_THRI and self.thr_ipending:
            return IIR_THRI
        return IIR_NO_INT

    def _update(self) -> None:
        self.irq.set(self._iir() != IIR_NO_INT)

    # -- snapshots ---------------------------------------------------------------
    def get_state(self) -> dict:
        return {
            "regs": (self.ier, self.lcr, self.mcr, self.scr, self.fcr, self.lsr, self.msr, self.dll, self.dlm),
            "thr_ipending": self.thr_ipending,
            "timeout_ipending": self.timeout_ipending,
            "timeout_at": self._timeout_event.when_ns if self._timeout_event is not None else None,
            "rx": bytes(self.rx),
            "pending": bytes(self.pending),
            "output": bytes(self.output),
        }

    def set_state(self, state: dict) -> None:
        (self.ier, self.lcr, self.mcr, self.scr, self.fcr, self.lsr, self.msr, self.dll, self.dlm) = state["regs"]
        self.thr_ipending = state["thr_ipending"]
        self.rx = deque(state["rx"])
        self.pending = deque(state["pending"])
        self.output = bytearray(state["output"])
        self.timeout_ipending = state["timeout_ipending"]
        self._timeout_event = None
        if state["timeout_at"] is not None:
            self._timeout_event = self.clock.schedule(state["timeout_at"], self._char_timeout, "uart-rx-timeout")
        self._update()
