"""sifive_test finisher at 0x0010_0000: how virt firmware ends a QEMU run."""

from __future__ import annotations

from collections.abc import Callable

from emu.devices.base import MmioDevice

FINISHER_FAIL = 0x3333
FINISHER_PASS = 0x5555
FINISHER_RESET = 0x7777


class Finisher(MmioDevice):
    name = "test-finisher"
    size = 0x1000

    def __init__(self, on_exit: Callable[[int], None], on_reset: Callable[[], None]) -> None:
        self.on_exit = on_exit
        self.on_reset = on_reset

    def read(self, offset: int, width: int) -> int:
        return 0

    def write(self, offset: int, width: int, value: int) -> None:
        if offset != 0:
            return
        status, code = value & 0xFFFF, (value >> 16) & 0xFFFF
        if status == FINISHER_PASS:
            self.on_exit(0)
        elif status == FINISHER_FAIL:
            self.on_exit(code)
        elif status == FINISHER_RESET:
            self.on_reset()
