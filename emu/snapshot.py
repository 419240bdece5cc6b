"""In-memory snapshots of the whole machine: CPU, RAM, time and every device.

Used by the debugger (snapshot/restore, reverse-stepi), the pytest plugin
(boot once, restore per test) and `run` (restart from the boot state).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from emu.machine import Machine


@dataclass
class Snapshot:
    context: object
    ram: np.ndarray | None  # None: the caller restores RAM itself (boot state)
    insn_count: int
    clock: dict
    devices: list
    exited: bool
    exit_code: int | None
    last_trap: object
    semihost: object         # open handles, errno


def take_snapshot(machine: Machine, include_ram: bool = True) -> Snapshot:
    uc = machine.uc
    return Snapshot(
        context=uc.context_save(),
        ram=machine.ram.buf.copy() if include_ram else None,
        insn_count=machine.counter.count,
        clock=machine.clock.get_state(),
        devices=[d.get_state() for d in machine.devices],
        exited=machine.exited,
        exit_code=machine.exit_code,
        last_trap=machine.cpu.last_trap,
        semihost=machine.semihost.get_state() if machine.semihost is not None else None,
    )


def restore_snapshot(machine: Machine, snap: Snapshot) -> None:
    uc = machine.uc
    uc.context_restore(snap.context)
    if snap.ram is not None:
        machine.ram.buf[:] = snap.ram
    uc.ctl_flush_tb()
    machine.counter.count = snap.insn_count
    machine.clock.set_state(snap.clock)
    for device, state in zip(machine.devices, snap.devices, strict=True):
        device.set_state(state)
    machine._fatal = None
    machine.exited = snap.exited
    machine.exit_code = snap.exit_code
    machine.cpu.last_trap = snap.last_trap
    if machine.semihost is not None and snap.semihost is not None:
        machine.semihost.set_state(snap.semihost)
