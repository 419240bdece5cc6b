"""The address map: RAM and MMIO devices, mapped into Unicorn.

Each device window becomes a Unicorn MMIO region whose callbacks call the
device.  A device bug must never surface as a Python traceback from inside
Unicorn: the callbacks catch it, stop the CPU and let the machine report one
line.

A device may also offer native callbacks for its hot registers (:class:`NativeMmio`,
emu/_mmiofast.c: the UART's LSR/THR, the CLINT's mtime): the window is then mapped
with Unicorn's C ``uc_mmio_map`` straight to them, and every access they do not serve
falls back to the same Python path as any other device.  Tracing (``--trace mmio``)
turns the native paths off, so the observer sees every access.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass, field

from unicorn import UC_PROT_ALL, Uc
from unicorn.unicorn_py3 import unicorn as _ucpy

from emu import _mmiofast
from emu.devices.base import MmioDevice
from emu.memory import Ram

MmioRead = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint, ctypes.c_void_p)
MmioWrite = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint, ctypes.c_uint64,
                             ctypes.c_void_p)
HostCall = ctypes.CFUNCTYPE(None)


class NativeHeader(ctypes.Structure):
    """The first field of every native device structure (``struct fallback`` in emu/_mmiofast.c):
    where the C callbacks send the accesses they do not serve."""

    _fields_ = [("read", ctypes.c_void_p), ("write", ctypes.c_void_p), ("size", ctypes.c_uint64)]


@dataclass
class NativeMmio:
    """A device's native fast path: its shared ``state`` (a ctypes Structure whose first field
    ``fb`` is a :class:`NativeHeader`), the names of its C callbacks in emu/_mmiofast.c (None: that
    direction is all Python), ``set_traced`` to turn the fast paths off while an observer
    watches, and ``host_calls``: fields of ``state`` that the C code calls back into Python (the
    UART's flush), by field name."""

    state: ctypes.Structure
    read: str | None
    write: str | None
    set_traced: Callable[[bool], None]
    host_calls: dict[str, Callable[[], None]] = field(default_factory=dict)


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
        self._observer: Callable[[str, int, int, int, MmioDevice, int], None] | None = None
        self._native_refs: list[object] = []  # ctypes callbacks and structures Unicorn points at
        self._map_ram(ram.base, ram.size)

    @property
    def observer(self) -> Callable[[str, int, int, int, MmioDevice, int], None] | None:
        return self._observer

    @observer.setter
    def observer(self, observer: Callable[[str, int, int, int, MmioDevice, int], None] | None) -> None:
        """Watching every access turns the native fast paths off (they would bypass the observer)."""
        self._observer = observer
        for mapping in self.mappings:
            native = getattr(mapping.device, "native", None)
            if native is not None:
                native.set_traced(observer is not None)

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
                if self._observer is not None:
                    self._observer("R", base + offset, width, value, device, offset)
                return value
            except Exception as e:  # noqa: BLE001 - reported as one line by the machine
                self.on_error(f"internal error in {device.name} read at {base + offset:#x}: {e!r}")
                return 0

        def write(uc: Uc, offset: int, width: int, value: int, _user: object) -> None:
            if offset >= size:
                return
            if self._observer is not None:
                self._observer("W", base + offset, width, value, device, offset)
            try:
                device.write(offset, width, value)
            except Exception as e:  # noqa: BLE001
                self.on_error(f"internal error in {device.name} write at {base + offset:#x}: {e!r}")

        native: NativeMmio | None = getattr(device, "native", None)
        if native is None:
            self.uc.mmio_map(base, map_size, read, None, write, None)
        else:
            self._map_native(base, map_size, size, device, native, read, write)
        self.mappings.append(Mapping(base, size, device))
        self.mappings.sort(key=lambda m: m.base)

    def _map_native(self, base: int, map_size: int, size: int, device: MmioDevice, native: NativeMmio,
                    read: Callable, write: Callable) -> None:
        """Map ``device`` with its C callbacks; the Python ``read``/``write`` serve the rest."""
        py_read, py_write = MmioRead(read), MmioWrite(write)  # they ignore the engine and user pointers
        state = native.state
        state.fb.read = ctypes.cast(py_read, ctypes.c_void_p)
        state.fb.write = ctypes.cast(py_write, ctypes.c_void_p)
        state.fb.size = size
        refs: list[object] = [py_read, py_write, state]
        for name, call in native.host_calls.items():
            def guarded(call: Callable[[], None] = call) -> None:
                try:
                    call()
                except Exception as e:  # noqa: BLE001 - reported as one line by the machine
                    self.on_error(f"internal error in {device.name} at {base:#x}: {e!r}")

            callback = HostCall(guarded)
            setattr(state, name, ctypes.cast(callback, ctypes.c_void_p))
            refs.append(callback)
        c_read = ctypes.c_void_p(_mmiofast.address(native.read)) if native.read else py_read
        c_write = ctypes.c_void_p(_mmiofast.address(native.write)) if native.write else py_write
        user = ctypes.c_void_p(ctypes.addressof(state))
        err = _ucpy.uclib.uc_mmio_map(self.uc._uch, base, map_size, c_read, user, c_write, user)
        if err != 0:
            raise RuntimeError(f"uc_mmio_map for {device.name} at {base:#x} failed ({err})")
        self._native_refs.append(refs)
        native.set_traced(self._observer is not None)

    def carve_out_of_ram(self, base: int, device: MmioDevice) -> None:
        """Put a device over one RAM page (HTIF): unmap the page and map the device there."""
        self.uc.mem_unmap(base, device.size)
        self.add(base, device)

    def describe(self) -> list[tuple[int, int, str]]:
        return [(m.base, m.size, m.name) for m in self.mappings]
