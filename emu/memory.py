"""Guest RAM: one numpy buffer mapped into Unicorn with ``mem_map_ptr``.

Why numpy: devices (the NPU's DMA above all) read and write guest memory as
numpy views of the very bytes the CPU executes from, with no copies and no
per-byte Python.
"""

from __future__ import annotations

import numpy as np

from emu.errors import BusError

DRAM_BASE = 0x8000_0000
DEFAULT_RAM_SIZE = 128 << 20
_SIZE_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(value: int | str) -> int:
    """``134217728``, ``"128M"``, ``"64k"``, ``"1G"``, ``"0.5G"`` -> bytes (RAM sizes as QEMU's ``-m``
    takes them); ValueError with a one-line message otherwise."""
    if isinstance(value, int):
        return value
    text = value.strip().upper().removesuffix("B").removesuffix("I")
    scale = _SIZE_UNITS.get(text[-1:], 1)
    digits = text[:-1] if scale > 1 else text
    try:
        number = float(digits) if "." in digits else int(digits, 0)
        size = int(number * scale)
    except (ValueError, OverflowError):
        raise ValueError(f"bad size {value!r}: use bytes or a K/M/G suffix, e.g. 128M") from None
    if size <= 0:
        raise ValueError(f"bad size {value!r}: must be positive")
    return size


class Ram:
    """The DRAM region at ``base``; every accessor bounds-checks and raises :class:`BusError`."""

    def __init__(self, size: int = DEFAULT_RAM_SIZE, base: int = DRAM_BASE) -> None:
        if size <= 0 or size % 4096:
            raise BusError(f"RAM size must be a positive multiple of 4 KiB, not {size}")
        self.base = base
        self.size = size
        try:
            self.buf = np.zeros(size, dtype=np.uint8)
        except (MemoryError, ValueError):
            raise BusError(f"cannot allocate {size >> 20} MiB of guest RAM on this host") from None

    @property
    def end(self) -> int:
        return self.base + self.size

    def contains(self, addr: int, length: int = 1) -> bool:
        return length >= 0 and self.base <= addr and addr + length <= self.end

    def offset(self, addr: int, length: int = 1) -> int:
        """Offset of ``addr`` in :attr:`buf`, after checking ``[addr, addr+length)`` is RAM."""
        if not self.contains(addr, length):
            raise BusError(f"{addr:#x}+{length:#x} is outside RAM {self.base:#x}..{self.end:#x}")
        return addr - self.base

    def view(self, addr: int, length: int) -> np.ndarray:
        """A writable uint8 view of ``length`` bytes at ``addr`` (no copy)."""
        off = self.offset(addr, length)
        return self.buf[off : off + length]

    def read(self, addr: int, length: int) -> bytes:
        return self.view(addr, length).tobytes()

    def write(self, addr: int, data: bytes) -> None:
        self.view(addr, len(data))[:] = np.frombuffer(data, dtype=np.uint8)

    def read_int(self, addr: int, size: int) -> int:
        return int.from_bytes(self.view(addr, size).tobytes(), "little")

    def write_int(self, addr: int, size: int, value: int) -> None:
        self.write(addr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))
