"""The time-travel engine behind the stub's bs/bc and the shell's reverse-* commands
(emu/debugger/timetravel.py), in process.

The judge is the forward run itself: every state reached going backwards (registers, RAM, the
NPU's memories and counters, virtual time) must equal the state the forward run had at the
same instruction count, on npu_demo, whose NPU commands and interrupts are part of the state.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading

import pytest

from emu import Machine
from emu.debugger.timetravel import NEAR_SPAN, Cancelled, NoHistory, TimeTravel
from emu.machine import StopReason

RAM = 8 << 20


def fingerprint(m: Machine) -> tuple:
    npu = m.npu
    digest = hashlib.sha256()
    for array in (m.ram.buf, npu.scratchpad, npu.accumulator, npu.tiles):
        digest.update(array.tobytes())
    regs = tuple(m.cpu.x(i) for i in range(32))
    return (m.insn_count, m.cpu.pc, regs, m.clock.now_ns(), digest.hexdigest(), npu.head, npu.fetched,
            tuple(sorted(npu.counters().items())))


@pytest.fixture
def demo(firmware):
    def make(arch: str = "rv32") -> Machine:
        return Machine.from_elf(firmware("npu_demo", arch), deterministic=True, ram_size=RAM)
    return make


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_reverse_continue_revisits_every_breakpoint_hit_exactly(demo, arch):
    m = demo(arch)
    travel = TimeTravel(m, interval=150_000, budget=1 << 20)  # small: checkpoints get dropped
    target = m.elf.lookup("wait_for").addr
    m.add_breakpoint(target)
    forward = []
    for _ in range(6):
        stop = travel.forward()
        assert stop.reason is StopReason.BREAKPOINT and stop.pc == target
        forward.append(fingerprint(m))
    assert len({f[0] for f in forward}) == 6
    kept = travel.checkpoints[0].count
    back = []
    while True:
        hit = travel.reverse_continue()
        if hit.kind == "begin":
            break
        assert hit.kind == "breakpoint" and hit.pc == target
        back.append(fingerprint(m))
    # Every hit after the oldest checkpoint still kept is found, newest first, in the exact state.
    assert back == [f for f in reversed(forward[:-1]) if f[0] >= kept]
    assert m.insn_count == kept
    # ... and the same future follows: forward again reaches the same hits.
    again = []
    while len(again) < len([f for f in forward if f[0] > kept]):
        assert travel.forward().reason is StopReason.BREAKPOINT
        again.append(fingerprint(m))
    assert again == [f for f in forward if f[0] > kept]


def test_step_back_equals_forward_state_and_memory_is_bounded(demo):
    m = demo()
    budget = 2 << 20
    travel = TimeTravel(m, interval=40_000, budget=budget)
    states = {}
    m.add_breakpoint(m.elf.lookup("wait_for").addr)
    for _ in range(3):
        travel.forward()
        states[m.insn_count] = fingerprint(m)
        for _ in range(3):
            travel.forward(step=True)
            states[m.insn_count] = fingerprint(m)
    assert len(travel.checkpoints) >= 2
    # Checkpoints hold RAM images sharing unchanged pages: within budget, or down to the two newest.
    assert m.ram.live_image_bytes() <= budget or len(travel.checkpoints) == 2
    now = m.insn_count
    reachable = [c for c in sorted(states, reverse=True)[1:] if c >= travel.begin]
    assert len(reachable) >= 4
    for count in reachable:
        travel.step_back(m.insn_count - count)
        assert fingerprint(m) == states[count]
    with pytest.raises(NoHistory):
        travel.step_back(m.insn_count - travel.begin + 1)
    assert now > m.insn_count


def test_step_back_far_from_a_checkpoint_leaves_a_near_one(demo):
    m = demo()
    travel = TimeTravel(m, interval=10**12)  # one checkpoint: at the start
    m.add_breakpoint(m.elf.lookup("wait_for").addr)
    travel.forward()
    states = [fingerprint(m)]
    for _ in range(2):
        travel.forward(step=True)
        states.append(fingerprint(m))
    travel.step_back(1)
    assert fingerprint(m) == states[1]
    assert [p.count for p in travel._near] == [states[1][0] - NEAR_SPAN // 2]
    travel.step_back(1)  # replays NEAR_SPAN // 2 - 1 instructions, not millions
    assert fingerprint(m) == states[0]


def test_reverse_watchpoint_stops_before_the_store(firmware):
    m = Machine.from_elf(firmware("hello"), deterministic=True, ram_size=RAM)
    travel = TimeTravel(m)
    counter = m.elf.lookup("counter").addr
    m.add_watchpoint(counter, 4, "w")
    stops = []
    for _ in range(3):
        stop = travel.forward()
        assert stop.reason is StopReason.WATCHPOINT
        stops.append((m.insn_count, m.ram.read_int(counter, 4)))
    hit = travel.reverse_continue()
    assert hit.kind == "watchpoint" and hit.watch is not None and hit.watch.addr == counter
    assert m.insn_count == stops[-1][0] - 1 and m.cpu.pc == hit.watch.pc
    assert m.ram.read_int(counter, 4) == stops[-1][1] - 1  # the store has not happened yet


def test_history_restarts_after_an_outside_change(firmware):
    m = Machine.from_elf(firmware("hello"), deterministic=True, ram_size=RAM)
    travel = TimeTravel(m)
    m.add_breakpoint(m.elf.lookup("factorial").addr)
    travel.forward()
    m.write_reg("a0", 7)  # gdb's `set var`: the past no longer leads here
    with pytest.raises(NoHistory):
        travel.step_back(1)
    assert travel.checkpoints[0].count == m.insn_count


def test_realtime_machine_has_no_history(firmware):
    m = Machine.from_elf(firmware("hello"), ram_size=RAM)
    travel = TimeTravel(m)
    with pytest.raises(NoHistory, match="deterministic"):
        travel.step_back(1)


def test_breakpoint_stop_counts_exactly_the_instructions_run(firmware):
    """A breakpoint stop used to count the instruction it kept from running (and a CSR
    instruction under a breakpoint ran before the stop): virtual time then depended on breakpoints."""
    plain = Machine.from_elf(firmware("hello"), deterministic=True, ram_size=RAM)
    m = Machine.from_elf(firmware("hello"), deterministic=True, ram_size=RAM)
    csr_site = 0x80000008  # crt0: csrw mie, zero
    m.add_breakpoint(csr_site)
    assert m.run().reason is StopReason.BREAKPOINT and m.cpu.pc == csr_site
    while plain.cpu.pc != csr_site:
        plain.step()
    assert m.insn_count == plain.insn_count == 2
    factorial = m.elf.lookup("factorial").addr
    m.add_breakpoint(factorial)
    assert m.run().reason is StopReason.BREAKPOINT
    while plain.cpu.pc != factorial:
        plain.step()
    assert fingerprint(m) == fingerprint(plain)


def test_cancelled_reverse_continue_returns_to_where_it_began(demo):
    m = demo()
    travel = TimeTravel(m, interval=2_000_000)
    m.add_breakpoint(m.elf.lookup("exit").addr)
    assert travel.forward().reason is StopReason.BREAKPOINT
    m.remove_breakpoint(m.elf.lookup("exit").addr)
    before = fingerprint(m)
    timer = threading.Timer(0.3, travel.cancel.set)  # gdb's Ctrl-C, from the reader thread
    timer.start()
    with pytest.raises(Cancelled):
        travel.reverse_continue()  # nothing to find: would replay the whole run
    timer.join()
    assert fingerprint(m) == before


def test_one_engine_per_machine_for_shell_and_stub(firmware):
    """The shell's reverse commands and the GDB stub's bs/bc drive the same history."""
    from emu.debugger.commands import CommandShell
    from emu.debugger.timetravel import time_travel

    m = Machine.from_elf(firmware("hello"), deterministic=True, ram_size=RAM)
    shell = CommandShell(m, lambda _text: None)
    assert shell.timeline.travel is time_travel(m)
    shell.execute("stepi 50")
    time_travel(m).step_back(20)  # as the stub's bs would
    assert m.insn_count == 30
    shell.execute("reverse-stepi 10")
    assert m.insn_count == 20


def test_checkpoints_cost_what_changed_not_the_ram_size(firmware):
    """With --ram 1G the engine's checkpoints are RAM images of the pages in use: the process
    stays far below one RAM copy (the old engine kept a full reference copy of RAM: 1.25 GB
    peak here, now ~70 MB)."""
    script = (
        "import sys\nfrom emu import Machine\nfrom emu.debugger.timetravel import TimeTravel\n"
        "m = Machine.from_elf(sys.argv[1], deterministic=True, ram_size=1 << 30)\n"
        "travel = TimeTravel(m, interval=200)\nm.add_breakpoint(m.elf.lookup('factorial').addr)\n"
        "travel.forward(); travel.forward(step=True); travel.step_back(2); travel.reverse_continue()\n"
        "assert len(travel.checkpoints) >= 2, travel.checkpoints\n"
        "print([line for line in open('/proc/self/status') if line.startswith('VmHWM:')][0])")
    out = subprocess.run([sys.executable, "-c", script, str(firmware("hello"))], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert int(out.split("VmHWM:")[1].split()[0]) < 256 << 10, out


def test_shell_ctrl_c_abandons_reverse_continue(demo):
    """The shell's Ctrl-C reaches the engine's search: back where it began, one SIGINT line."""
    from emu.debugger.commands import CommandShell

    m = demo()
    out: list[str] = []
    shell = CommandShell(m, out.append)
    shell.execute("break exit")
    shell.execute("continue")
    shell.execute("delete")
    before = fingerprint(m)
    out.clear()
    timer = threading.Timer(0.3, shell.interrupt)  # what the REPL's SIGINT handler calls
    timer.start()
    shell.execute("reverse-continue")  # nothing to find: would replay the whole run
    timer.join()
    assert "Program received signal SIGINT, Interrupt." in "".join(out), out
    assert fingerprint(m) == before
