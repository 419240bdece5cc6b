"""ns16550a UART as QEMU's ``hw/char/serial.c`` presents it to firmware.

Transmission is instantaneous (THR is always empty again by the next access),
so LSR.THRE/TEMT read as 1 and an enabled THRE interrupt re-arms after every
write, as in QEMU.  Received bytes wait in ``pending`` until the 16-byte FIFO
(or the 1-byte holding register with FIFOs off) has room.

Output history is bounded (issue 17 R2): :attr:`Uart.output` is the last
:data:`OUTPUT_HISTORY` bytes, for the debugger's ``info uart`` and quick checks;
the whole stream goes, byte for byte as it is written, to :attr:`Uart.sink` and
to every recorder added with :meth:`Uart.add_recorder` (the test plugin keeps
its own log that way).  The history is a record, not device state: snapshots do
not carry it.

Fast path (issue 11): LSR reads and THR writes are served natively
(emu/_mmiofast.c) from :class:`UartNative`, which holds the LSR itself.  A THR
write is buffered there only when it has no effect but the byte (DLAB=0, no
THRE interrupt enabled, no loopback, no MMIO trace) and the console is
line-buffered (:attr:`Uart.line_buffered`, as ``npuemu run``); the buffer is
flushed through :meth:`Uart.flush_tx` at a newline, when full, by the machine
at slice end, and before any Python access to the device (register, state,
history), so every consumer sees the same bytes in the same order as before.
"""

from __future__ import annotations

import ctypes
from collections import deque
from collections.abc import Callable

from emu import _mmiofast
from emu.bus import NativeHeader, NativeMmio
from emu.clock import VirtualClock
from emu.devices.base import IrqLine, MmioDevice
from emu.devices.regs import uart_registers

RBR_THR, IER, IIR_FCR, LCR, MCR, LSR, MSR, SCR = range(8)
IER_RDI, IER_THRI, IER_RLSI, IER_MSI = 1, 2, 4, 8
IIR_NO_INT, IIR_MSI, IIR_THRI, IIR_RDI, IIR_RLSI, IIR_CTI = 0x01, 0x00, 0x02, 0x04, 0x06, 0x0C
LSR_DR, LSR_OE, LSR_THRE, LSR_TEMT = 0x01, 0x02, 0x20, 0x40
LCR_DLAB = 0x80
FCR_FE, FCR_RFR = 0x01, 0x02
FIFO_DEPTH = 16
TRIGGER_LEVELS = (1, 4, 8, 14)
CHAR_TIME_NS = 86_806  # one 10-bit character at 115200 baud; the FIFO timeout is 4 of them
OUTPUT_HISTORY = 64 << 10  # bytes of console output kept in memory (the rest is streamed only)
MCR_LOOP = 0x10
NATIVE_BUFFER = _mmiofast.uart_buffer_size()


class UartNative(ctypes.Structure):
    """Shared with ``struct uart_fast`` in emu/_mmiofast.c (same order)."""

    _fields_ = [
        ("fb", NativeHeader),
        ("lsr", ctypes.c_uint32),
        ("lsr_fast", ctypes.c_uint32),
        ("tx_fast", ctypes.c_uint32),
        ("len", ctypes.c_uint32),
        ("flush", ctypes.c_void_p),
        ("transmitted", ctypes.c_uint64),
        ("buf", ctypes.c_uint8 * NATIVE_BUFFER),
    ]


class Uart(MmioDevice):
    name = "uart0"
    size = 0x100
    registers = uart_registers()
    state_fields = ("ier", "lcr", "mcr", "scr", "fcr", "lsr", "msr", "dll", "dlm", "thr_ipending",
                    "timeout_ipending", "rx", "pending")
    state_events = {"_timeout_event": "_char_timeout"}

    def __init__(self, irq: IrqLine, clock: VirtualClock) -> None:
        self.irq = irq
        self.clock = clock
        self.sink: Callable[[bytes], None] = lambda data: None
        self._recorders: list[Callable[[bytes], None]] = []
        self._history = bytearray()
        self._sent = 0
        self._native = UartNative()
        self._traced = False
        self._line_buffered = False
        self.native = NativeMmio(self._native, "uart_read", "uart_write", self._set_traced,
                                 {"flush": self.flush_tx})
        self.ier = self.lcr = self.mcr = self.scr = self.fcr = 0
        self.lsr = LSR_THRE | LSR_TEMT
        self.msr = 0xB0  # DCD | DSR | CTS, as QEMU
        self.dll, self.dlm = 0x0C, 0
        self.thr_ipending = False
        self.timeout_ipending = False
        self.rx: deque[int] = deque()
        self.pending: deque[int] = deque()
        self._timeout_event = None
        self.capture_power_on()

    # -- native fast path -------------------------------------------------------
    @property
    def lsr(self) -> int:
        return self._native.lsr

    @lsr.setter
    def lsr(self, value: int) -> None:
        self._native.lsr = value

    @property
    def line_buffered(self) -> bool:
        """Output may wait for a newline (``npuemu run``); off, every byte is delivered as written
        (tests' ``expect`` and the debugger stop right after the byte that matched)."""
        return self._line_buffered

    @line_buffered.setter
    def line_buffered(self, value: bool) -> None:
        self.flush_tx()
        self._line_buffered = value
        self._update_fast()

    def _set_traced(self, traced: bool) -> None:
        self.flush_tx()
        self._traced = traced
        self._update_fast()

    def _update_fast(self) -> None:
        """Which accesses the native callbacks may serve, after any change of the conditions."""
        native = self._native
        native.lsr_fast = int(not self._traced)
        native.tx_fast = int(self._line_buffered and not self._traced and not self.lcr & LCR_DLAB
                             and not self.ier & IER_THRI and not self.mcr & MCR_LOOP)

    def flush_tx(self) -> None:
        """Hand the natively buffered bytes to the output path, as if written one by one now."""
        native = self._native
        if native.len:
            data = ctypes.string_at(ctypes.addressof(native) + UartNative.buf.offset, native.len)
            native.len = 0
            self.thr_ipending = True  # what each of those writes did (THRE interrupt disabled)
            self._transmit_bytes(data)
            self._update()

    # -- output history ----------------------------------------------------------
    @property
    def output(self) -> bytes:
        """The last :data:`OUTPUT_HISTORY` bytes written (all of it for short runs)."""
        self.flush_tx()
        return bytes(self._history[-OUTPUT_HISTORY:])

    @property
    def output_total(self) -> int:
        """Bytes ever transmitted (the history keeps the last :data:`OUTPUT_HISTORY`)."""
        return self._sent + self._native.len

    def add_recorder(self, recorder: Callable[[bytes], None]) -> None:
        """Stream every transmitted byte to ``recorder`` too (a full log, a file)."""
        self._recorders.append(recorder)

    def remove_recorder(self, recorder: Callable[[bytes], None]) -> None:
        self._recorders.remove(recorder)

    def clear_output(self) -> None:
        self.flush_tx()
        self._history.clear()

    def _transmit_bytes(self, data: bytes) -> None:
        self._history += data
        self._sent += len(data)
        if len(self._history) >= 2 * OUTPUT_HISTORY:  # trim in halves: amortized O(1) per byte
            del self._history[:-OUTPUT_HISTORY]
        self.sink(data)
        for recorder in self._recorders:
            recorder(data)

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
        if self._native.len:
            self.flush_tx()
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
        if self._native.len:
            self.flush_tx()
        reg, value = offset & 7, value & 0xFF
        if reg == RBR_THR:
            if self.lcr & LCR_DLAB:
                self.dll = value
                return
            self._transmit_bytes(bytes((value,)))
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
            self._update_fast()
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
            self._update_fast()
        elif reg == MCR:
            self.mcr = value & 0x1F
            self._update_fast()
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

    def get_state(self) -> dict:
        self.flush_tx()  # the bytes written before the snapshot belong before it
        return super().get_state()

    def set_state(self, state: dict) -> None:
        self.flush_tx()
        super().set_state(state)

    def post_load(self) -> None:
        self._update_fast()
        self._update()
