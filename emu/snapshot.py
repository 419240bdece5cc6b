"""In-memory snapshots of the whole machine: CPU, RAM, time and every device.

Used by the debugger (snapshot/restore, reverse-stepi), the pytest plugin
(boot once, restore per test) and `run` (restart from the boot state).

Costs follow what changed, not the machine's size: RAM is a
:class:`~emu.memory.RamImage` (pages written since the previous image are
copied, the others shared), devices save their declared fields keyed by
device name (emu/devices/base.py), so a snapshot from a machine with another
device list fails by name instead of restoring the wrong device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from emu.devices.base import Stateful
from emu.errors import EmuError
from emu.memory import RamImage

if TYPE_CHECKING:
    from emu.machine import Machine


class SnapshotMismatch(EmuError):
    """A snapshot that does not fit this machine (another device list)."""


@dataclass
class Snapshot:
    context: object
    ram: RamImage | None  # None: the caller restores RAM itself (boot state)
    insn_count: int
    clock: dict
    devices: dict[str, object]   # device name -> its declared state
    exited: bool
    exit_code: int | None
    last_trap: object


def _stateful(machine: Machine) -> list[Stateful]:
    """Every part with declared state: the MMIO devices and semihosting (open handles, errno)."""
    return [*machine.devices, *([machine.semihost] if machine.semihost is not None else [])]


def take_snapshot(machine: Machine, include_ram: bool = True) -> Snapshot:
    """Raises :class:`~emu.memory.SnapshotBudgetError` when live snapshots would hold too much."""
    uc = machine.uc
    return Snapshot(
        context=uc.context_save(),
        ram=machine.ram.checkpoint() if include_ram else None,
        insn_count=machine.counter.count,
        clock=machine.clock.get_state(),
        devices={d.name: d.get_state() for d in _stateful(machine)},
        exited=machine.exited,
        exit_code=machine.exit_code,
        last_trap=machine.cpu.last_trap,
    )


def restore_snapshot(machine: Machine, snap: Snapshot) -> None:
    parts = _stateful(machine)
    if sorted(snap.devices) != sorted(d.name for d in parts):
        raise SnapshotMismatch(f"snapshot devices {sorted(snap.devices)} do not match this machine's "
                               f"{sorted(d.name for d in parts)}")
    uc = machine.uc
    uc.context_restore(snap.context)
    if snap.ram is not None:
        machine.ram.restore(snap.ram)
    uc.ctl_flush_tb()
    machine.counter.count = snap.insn_count
    machine.clock.set_state(snap.clock)
    for device in parts:
        device.set_state(snap.devices[device.name])
    machine._fatal = None
    machine.exited = snap.exited
    machine.exit_code = snap.exit_code
    machine.cpu.last_trap = snap.last_trap
