"""The realtime pacer (one native thread per machine on a timerfd, emu/_icount.c): it ends slices
that would otherwise run forever, also in a fork child, and its thread goes with its machine."""

from __future__ import annotations

import gc
import os
import signal

import emu.machine as machine_module
from emu import Machine, StopReason
from emu.cli import main as cli_main


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


# -- a pacer stop never makes a code hook run twice (Unicorn patch 0010) -------------------------
# 20 us slices: the pacer's thread stops the engine thousands of times during a short run, at any
# moment, also while a code hook runs.  Before patch 0010 such a stop left the translated block
# before the hooked instruction, whose hooks ran again on resume: `--trace insn` logged it twice
# and the counter counted it twice.


def test_pacer_stops_do_not_count_an_instruction_twice(firmware, monkeypatch):
    deterministic = Machine.from_elf(firmware("coremark_like", "rv32"), deterministic=True)
    deterministic.enable_counting()
    assert deterministic.run(timeout=60).exit_code == 0
    monkeypatch.setattr(machine_module, "REALTIME_SLICE_US", 20)
    paced = Machine.from_elf(firmware("coremark_like", "rv32"))
    paced.enable_counting()
    assert paced.run(timeout=60).exit_code == 0
    assert paced.pacer.stops > 100, "the pacer hardly stopped the run"
    assert paced.insn_count == deterministic.insn_count


def test_pacer_stops_do_not_trace_an_instruction_twice(firmware, monkeypatch, tmp_path, capfd):
    """`--trace insn` alone (one code hook, called straight from the translated code) and with
    `--stats` (the counter's hook too: both go through Unicorn's hook helper) under 20 us slices
    log exactly what `--deterministic` logs, and count the same number of instructions."""
    elf = str(firmware("hello", "rv64"))

    def trace(*options: str) -> tuple[list[str], str]:
        log = tmp_path / "insn.log"
        assert cli_main(["run", *options, "--trace", "insn", "--trace-file", str(log), elf]) == 0
        out, err = capfd.readouterr()
        assert "Hello from npuemu" in out
        return log.read_text().splitlines(), err

    expected, expected_stats = trace("--deterministic", "--stats")
    assert len(expected) > 5000 and expected[-1].endswith("c.sw a0, 0(a5)")  # the exit store
    monkeypatch.setattr(machine_module, "REALTIME_SLICE_US", 20)
    paced, stats = trace("--stats")
    assert paced == expected
    assert _insns(stats) == _insns(expected_stats) == len(expected)
    paced, _ = trace()
    # Without the counter the exit store ends the slice through the pacer's thread, at the next
    # block or hooked instruction: the `wfi` after the store may be logged too, once.
    assert paced[:len(expected)] == expected
    extra = paced[len(expected):]
    assert len(extra) <= 1 and all(line.endswith("wfi") for line in extra)


def _insns(stats: str) -> int:
    return int(next(line for line in stats.splitlines() if "instructions" in line).split()[-1])
