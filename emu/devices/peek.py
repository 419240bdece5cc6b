"""Reading memory behind the guest's back, as a debugger does, without disturbing devices.

RAM reads are plain copies.  A device window is read register by register,
and only registers declared side-effect free (emu/devices/regs.py): reading
the UART's RBR would pop a received byte, a PLIC claim would claim.  Those are
refused with the register's name and the command that shows the device's
state instead; bytes in reserved gaps of a declared map read as zero, as the
devices return them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.errors import BusError

if TYPE_CHECKING:
    from emu.bus import Bus, Mapping

PEEK_LIMIT = 1 << 20  # bytes of device registers one peek may read


def _device_mapping(bus: Bus, addr: int) -> Mapping | None:
    """The device window holding ``addr`` (None for RAM or unmapped addresses)."""
    return next((m for m in bus.mappings if m.device is not None and m.base <= addr < m.end), None)


def peek(bus: Bus, addr: int, length: int) -> bytes:
    if length < 0:
        raise BusError(f"bad length {length}")
    if bus.ram.contains(addr, length):
        return bus.ram.read(addr, length)
    mapping = _device_mapping(bus, addr)
    if mapping is None or addr + length > mapping.end:
        raise BusError(f"cannot access memory at {addr:#x}+{length:#x}: not RAM and not inside one device")
    device, regs = mapping.device, mapping.device.registers
    if regs is None:
        raise BusError(f"cannot read {device.name} registers at {addr:#x}: the device declares no "
                       "register map, so reads may have side effects")
    if length > PEEK_LIMIT:
        raise BusError(f"cannot read {length} bytes of {device.name} registers at once (limit {PEEK_LIMIT})")
    start = addr - mapping.base
    out = bytearray(length)
    for reg in regs.covering(start, start + length):
        if reg.read_effect:
            raise BusError(f"reading {device.name}.{reg.name} at {mapping.base + reg.offset:#x} "
                           f"{reg.read_effect}: not read behind the guest's back (see `{regs.inspect_with}`)")
        value = device.read(reg.offset, reg.width) & ((1 << (8 * reg.width)) - 1)
        data = value.to_bytes(reg.width, "little")
        lo, hi = max(reg.offset, start), min(reg.offset + reg.width, start + length)
        out[lo - start : hi - start] = data[lo - reg.offset : hi - reg.offset]
    return bytes(out)


def register_name(bus: Bus, addr: int) -> str | None:
    """``uart0.LSR``, ``clint.mtimecmp0+4``, ``plic.+0x1234`` for an MMIO address (for traces);
    None for RAM or unmapped addresses."""
    mapping = _device_mapping(bus, addr)
    if mapping is None:
        return None
    regs = mapping.device.registers
    offset = addr - mapping.base
    return f"{mapping.device.name}.{regs.describe(offset) if regs is not None else f'+{offset:#x}'}"
