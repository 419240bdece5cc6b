"""The realtime pacer (one native thread per machine on a timerfd, emu/_icount.c): it ends slices
that would otherwise run forever, also in a fork child, and its thread goes with its machine."""

from __future__ import annotations

import gc
import os
import signal

from emu import Machine, StopReason


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_a_spinning_firmware_is_stopped_by_timeout(firmware):
    machine = Machine.from_elf(firmware("spin", "rv32"))
    stop = machine.run(timeout=0.3)
    assert stop.reason is StopReason.TIMEOUT
    assert machine.pacer.stops >= 1  # the slice was ended by the pacer, not by an event


def test_a_fork_child_gets_its_own_pacer_thread(firmware):
    machine = Machine.from_elf(firmware("spin", "rv32"))
    machine.run(timeout=0.05)
    pid = os.fork()
    if pid == 0:  # the child: the parent's pacer thread did not come along
        signal.alarm(30)  # no pacer would mean a run that never ends: die instead of hanging
        try:
            stop = machine.run(timeout=0.2)
            os._exit(0 if stop.reason is StopReason.TIMEOUT else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_pacer_threads_end_with_their_machines(firmware):
    gc.collect()
    before = _threads()
    for _ in range(5):
        machine = Machine.from_elf(firmware("hello", "rv32"))
        machine.run(timeout=5)
    del machine
    gc.collect()
    assert _threads() == before
