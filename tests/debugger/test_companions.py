"""A machine the debugger touched is freed with its RAM once nothing uses it.

The time-travel engine, the NPU watch and the fault injector each reference their machine; kept
in weak-keyed tables they kept every machine alive for ever (a value referencing its key), until
a test worker ran out of tracked RAM regions ("too many tracked RAM regions").
"""

from __future__ import annotations

import gc
import weakref

from support.paths import firmware_path

from emu import Machine
from emu.debugger.cmd_faults import injector
from emu.debugger.npu_watch import npu_watch
from emu.debugger.timetravel import time_travel


class _Shell:
    def __init__(self, machine: Machine) -> None:
        self.machine = machine


def test_machines_with_debugger_companions_are_freed():
    refs = []
    for _ in range(3):
        machine = Machine.from_elf(firmware_path("hello"), deterministic=True)
        engine = time_travel(machine)
        assert time_travel(machine) is engine and npu_watch(machine) is npu_watch(machine)
        assert injector(_Shell(machine)) is injector(_Shell(machine))
        refs.append(weakref.ref(machine))
        del machine, engine
    gc.collect()
    assert [ref() for ref in refs] == [None, None, None]
