"""The address map: RAM and MMIO devices, mapped into Unicorn.

Each device window becomes a Unicorn MMIO region whose callbacks call the
device.  A device bug must never surface as a Python traceback from inside
Unicorn: the callbacks catch it, stop the CPU and let the machine report one
line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from unicorn import UC_PROT_ALL, Uc

from emu.devices.base import MmioDevice
from emu.memory import Ram


@dataclass
class Mapping:
    base: int
    size: int
    device: MmioDevice | None  # None for RAM

    @property
    def name(self) -> str:
        return "dram" if self.device is None else self.device.name

    @property
    def end(self) -> int:
        return self.base + self.size


class Bus:
    """Owns the address map: RAM through a host pointer, devices through MMIO callbacks."""

    def __init__(self, uc: Uc, ram: Ram) -> None:
        self.uc = uc
        self.ram = ram
        self.mappings: list[Mapping] = [Mapping(ram.base, ram.size, None)]
        self.on_error: Callable[[str], None] = lambda message: None
        # (kind "R"/"W", address, width, value, device, offset) of every device access: --trace mmio
        self.observer: Callable[[str, int, int, int, MmioDevice, int], None] | None = None
        self._map_ram(ram.base, ram.size)

    def _map_ram(self, base: int, size: int) -> None:
        if size > 0:
            off = base - self.ram.base
            self.uc.mem_map_ptr(base, size, UC_PROT_ALL, self.ram.buf[off:].ctypes.data)

    def add(self, base: int, device: MmioDevice, size: int | None = None) -> None:
        size = size or device.size
        map_size = (size + 0xFFF) & ~0xFFF  # Unicorn maps whole pages

        def read(uc: Uc, offset: int, width: int, _user: object) -> int:
            if offset >= size:
                return 0
            try:
                value = device.read(offset, width) & ((1 << (8 * width)) - 1)
                if self.observer is not None:
                    self.observer("R", base + offset, width, value, device, offset)
                return value
            except Exception as e:  # noqa: BLE001 - reported as one line by the machine
                self.on_error(f"internal error in {device.name} read at {base + offset:#x}: {e!r}")
                return 0

        def write(uc: Uc, offset: int, width: int, value: int, _user: object) -> None:
            if offset >= size:
                return
            if self.observer is not None:
                self.observer("W", base + offset, width, value, device, offset)
            try:
                device.write(offset, width, value)
            except Exception as e:  # noqa: BLE001
                self.on_error(f"internal error in {device.name} write at {base + offset:#x}: {e!r}")

        self.uc.mmio_map(base, map_size, read, None, write, None)
        self.mappings.append(Mapping(base, size, device))
        self.mappings.sort(key=lambda m: m.base)

    def carve_out_of_ram(self, base: int, device: MmioDevice) -> None:
        """Put a device over one RAM page (HTIF): unmap the page and map the device there."""
        self.uc.mem_unmap(base, device.size)
        self.add(base, device)

    def describe(self) -> list[tuple[int, int, str]]:
        return [(m.base, m.size, m.name) for m in self.mappings]
