"""HTIF ``tohost``/``fromhost`` as Spike and riscv-tests use them.

The page holding the two symbols is mapped as MMIO over the same RAM bytes, so
a write to ``tohost`` is seen the moment it happens (a console putchar that
spins until the host clears ``tohost`` would otherwise wait for the end of a CPU
slice).  Other data in that page is served from RAM unchanged.

When code shares that page it cannot be MMIO (Unicorn cannot execute from
MMIO): :meth:`Htif.watch_stores` then puts a write hook on exactly the 8 bytes
of ``tohost``; the hook asks the machine to end the CPU slice right after the
store, and the command is processed between slices, at once instead of at the
end of a 20 ms slice.
"""

from __future__ import annotations

from collections.abc import Callable

from unicorn import UC_HOOK_MEM_WRITE, Uc

from emu.devices.base import MmioDevice
from emu.errors import BusError
from emu.memory import Ram

SYS_WRITE = 64
SYS_EXIT = 93


class Htif(MmioDevice):
    name = "htif"
    size = 0x1000

    def __init__(self, ram: Ram, page: int, tohost: int, fromhost: int | None, xlen: int,
                 on_exit: Callable[[int], None], console: Callable[[bytes], None]) -> None:
        self.ram = ram
        self.page = page
        self.tohost = tohost
        self.fromhost = fromhost
        self.xlen = xlen
        self.on_exit = on_exit
        self.console = console

    def watch_stores(self, uc: Uc, end_slice: Callable[[int], None]) -> None:
        """Call ``end_slice(address)`` on the guest store that completes ``tohost`` (the page stays
        plain RAM): a 64-bit store, or RV32's second word."""
        def on_store(_uc: Uc, _access: int, addr: int, size: int, _value: int, _user: object) -> None:
            if addr == self.tohost + 4 or (addr == self.tohost and size == 8):
                end_slice(addr)

        uc.hook_add(UC_HOOK_MEM_WRITE, on_store, begin=self.tohost, end=self.tohost + 7)

    def read(self, offset: int, width: int) -> int:
        return self.ram.read_int(self.page + offset, width)

    def write(self, offset: int, width: int, value: int) -> None:
        addr = self.page + offset
        self.ram.write_int(addr, width, value)
        # RV32 writes tohost as two words, low first; act when the whole value is there.
        if addr == self.tohost + 4 or (addr == self.tohost and width == 8):
            self.poll()

    def poll(self) -> None:
        """Process a pending tohost command (also called between CPU slices)."""
        value = self.ram.read_int(self.tohost, 8)
        if value == 0:
            return
        self.ram.write_int(self.tohost, 8, 0)
        device, cmd, payload = value >> 56, (value >> 48) & 0xFF, value & ((1 << 48) - 1)
        if device == 0 and cmd == 0:
            if payload & 1:
                self.on_exit(payload >> 1)
            else:
                self._syscall(payload)
        elif device == 1 and cmd == 1:
            self.console(bytes((payload & 0xFF,)))
            self._reply((1 << 56) | (1 << 48))

    def _syscall(self, addr: int) -> None:
        try:
            which, a0, a1, a2 = (self.ram.read_int(addr + 8 * i, 8) for i in range(4))
            if which == SYS_WRITE and a0 in (1, 2):
                self.console(self.ram.read(a1, a2))
                result = a2
            elif which == SYS_EXIT:
                self.on_exit(a0)
                result = 0
            else:
                result = (-38) & ((1 << 64) - 1)  # -ENOSYS
            self.ram.write_int(addr, 8, result)
        except BusError:
            pass
        self._reply(1)

    def _reply(self, value: int) -> None:
        if self.fromhost is not None:
            self.ram.write_int(self.fromhost, 8, value)
