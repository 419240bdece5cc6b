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
from support.paths import ROOT

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
                "npu watch tile 0 0:4,0:4", "run", "npu clear", "npu break MVM", "continue", "npu clear",
                "npu break dma_in on complete", "continue", "npu breakpoints", "npu break FOO", "npu watch tile 99",
                "quit")
    stops = list(STOP.finditer(out))  # one line per matching command (a doorbell may run several)
    assert list(dict.fromkeys(s["op"] for s in stops)) == ["LOAD_WEIGHTS", "MVM", "DMA_IN"], out
    assert re.search(r"NPU watchpoint 1: tile 0 rows 0:4 cols 0:4 written by LOAD_WEIGHTS #0 .*; "
                     r"tile 0 rows 0:\d+ cols 0:\d+; doorbell rung", out), out
    assert re.search(r"NPU breakpoint 2: MVM #\d+ .* submitted; doorbell rung", out), out
    assert re.search(r"NPU breakpoint 3: DMA_IN #\d+ .* completed at \d+ ns", out), out
    assert re.search(r"^3\s+npu break DMA_IN on complete  \(hit 1 time\)$", out, re.M), out
    assert 'Unknown NPU opcode "FOO"' in out and "No tile 99: the NPU has" in out


def test_a_stop_names_the_real_descriptor_and_doorbell_store(firmware):
    m = Machine.from_elf(firmware("npu_demo"), deterministic=True, ram_size=8 << 20)
    npu_watch(m).add_break("MVM")
    stop = m.run()
    assert stop.reason is StopReason.NPU
    for line in stop.message.splitlines():
        match = STOP.match(line)
        assert match and match["op"] == "MVM", line
        assert m.read_mem(int(match["desc"], 16), 1)[0] == OPCODES["MVM"]
    pc = int(match["pc"], 16)
    low = int.from_bytes(m.read_mem(pc, 2), "little")
    assert low & 3 != 3 and low >> 13 == 0b110 or low & 0x707F in (0x2023, 0x3023)  # c.sw / c.swsp, sw / sd
    assert m.cpu.pc == pc + (2 if low & 3 != 3 else 4)  # stopped right after the doorbell store


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


def test_npu_watch_dram_sees_what_cpu_watchpoints_cannot(firmware):
    """ARGMAX writes its result to DRAM by DMA: a CPU watchpoint never fires, an NPU one does."""
    m = Machine.from_elf(firmware("npu_demo"), deterministic=True, ram_size=8 << 20)
    out = m.elf.lookup("argmax_out").addr
    npu_watch(m).add_watch(f"dram {out:#x}:{out + 4:#x}")
    stop = m.run()
    assert stop.reason is StopReason.NPU, stop
    assert re.search(rf"NPU watchpoint 1: dram {out:#x}\.\.{out + 4:#x} written by ARGMAX #\d+", stop.message)
    with pytest.raises(NpuWatchError, match="below it"):
        npu_watch(m).add_watch("dram 0x1000:0x2000")
