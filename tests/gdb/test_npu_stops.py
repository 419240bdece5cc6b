"""NPU-aware stops on npu_demo: ``npu break`` / ``npu watch`` in the debugger shell (through the
CLI, as a user types them) and as gdb ``monitor`` commands against ``npuemu run --gdb``.

What a stop names is checked against the machine itself: the descriptor address holds the
named opcode, the doorbell pc holds a store, and a completion stop lands at the command's
modeled end time.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import ROOT

from emu import Machine
from emu.debugger.npu_watch import NpuWatchError, npu_watch
from emu.debugger.timetravel import TimeTravel
from emu.machine import StopReason
from emu.npu_device.regs import OPCODES

pytestmark = pytest.mark.gdb

STOP = re.compile(r"^NPU (?:breakpoint|watchpoint) \d+: .*?(?P<op>[A-Z_]+) #(?P<index>\d+) at (?P<desc>0x[0-9a-f]+) "
                  r"\(.*\).*doorbell rung at pc (?P<pc>0x[0-9a-f]+) <wr\+\d+>$",
                  re.M)


def debug(elf, *commands: str) -> str:
    args = [sys.executable, "-m", "emu.cli", "debug", str(elf)]
    for command in commands:
        args += ["-ex", command]
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert "Traceback" not in r.stderr and "internal error" not in r.stdout, r.stderr + r.stdout
    return r.stdout


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_shell_npu_break_and_watch_on_npu_demo(firmware, arch):
    out = debug(firmware("npu_demo", arch),
                "npu break MVM", "run", "npu clear", "npu watch tile 0", "continue", "npu clear",
                "npu break ARGMAX on complete", "continue", "npu breakpoints", "npu break FOO", "npu watch tile 99",
                "quit")
    stops = list(STOP.finditer(out))  # one line per matching command (a doorbell may run several)
    assert list(dict.fromkeys(s["op"] for s in stops)) == ["MVM", "WEIGHT_UPDATE", "ARGMAX"], out
    assert "submitted; doorbell rung" in stops[0].group(0)
    assert re.search(r"NPU watchpoint 2: tile 0 rows 0:\d+ cols 0:\d+ written by WEIGHT_UPDATE #\d+ .*; "
                     r"tile 0 rows 0:64 cols 0:64;", out), out
    assert re.search(r"NPU breakpoint 3: ARGMAX #\d+ .* completed at \d+ ns", out), out
    assert re.search(r"^3\s+npu break ARGMAX on complete  \(hit 1 time\)$", out, re.M), out
    assert 'Unknown NPU opcode "FOO"' in out and "No tile 99: the NPU has" in out
    # What a stop names is real: the descriptor holds that opcode, the doorbell pc a store.
    first = stops[0]
    out = debug(firmware("npu_demo", arch), "npu break MVM", "run", f"x/1xb {first['desc']}", f"x/i {first['pc']}")
    assert re.search(rf"^{first['desc']}.*:\s+0x{OPCODES['MVM']:02x}$", out, re.M), out
    assert re.search(rf"^\s+{first['pc']} <wr\+\d+>:\s+(c\.)?sw\s", out, re.M), out


def test_complete_stop_lands_at_the_modeled_end(firmware):
    m = Machine.from_elf(firmware("npu_demo"), deterministic=True, ram_size=8 << 20)
    watch = npu_watch(m)
    watch.add_break("dma_in on complete")
    stop = m.run()
    assert stop.reason is StopReason.NPU, stop
    end = int(re.search(r"completed at (\d+) ns", stop.message).group(1))
    assert end <= m.clock.now_ns() < end + m.clock.ns_per_insn
    record = next(r for r in m.npu.trace.records if r.end_ns == end and r.op == "DMA_IN")
    assert f"DMA_IN #{record.index} at {record.addr:#x}" in stop.message
    watch.delete()
    assert m.npu.observers == []  # nothing left on the device once the points are gone
    with pytest.raises(NpuWatchError):
        watch.add_break("MVM on finish")


def test_replays_do_not_stop_and_find_the_same_doorbell(firmware):
    m = Machine.from_elf(firmware("npu_demo"), deterministic=True, ram_size=8 << 20)
    travel = TimeTravel(m)
    travel.replay_hooks.append(npu_watch(m).pause)
    npu_watch(m).add_break("LOAD_WEIGHTS")
    first = travel.forward()
    assert first.reason is StopReason.NPU
    where = (m.insn_count, m.cpu.pc, first.message)
    travel.step_back(3)  # replays over nothing NPU; then forward again over the same doorbell
    again = travel.forward()
    assert (m.insn_count, m.cpu.pc, again.message) == where


def test_gdb_monitor_npu_break_and_watch(gdb_session, firmware):
    r = gdb_session(firmware("npu_demo"), "monitor npu break LOAD_WEIGHTS", "continue", "x/i $pc",
                    "monitor npu clear", "monitor npu watch acc 0:16", "continue", "monitor npu breakpoints",
                    "kill", emu_args=("--deterministic",))
    out = r.output
    assert out.count("Program received signal SIGTRAP, Trace/breakpoint trap.") == 2, out
    assert re.search(r"NPU breakpoint 1: LOAD_WEIGHTS #0 at 0x[0-9a-f]+ \(.*tile=0 k=64 n=64.*\) submitted; "
                     r"doorbell rung at pc 0x[0-9a-f]+ <wr\+\d+>", out), out
    assert re.search(r"NPU watchpoint 2: accumulator 0:16 \(int32 entries\) written by MVM #\d+", out), out
    assert re.search(r"^2\s+npu watch accumulator 0:16 \(int32 entries\)  \(hit \d+ times?\)$", out, re.M), out
    assert "[Inferior 1 (Remote target) killed]" in out
