"""Time travel in gdb-multiarch: reverse-stepi, reverse-continue, reverse-finish, reverse-next/step
against ``npuemu run --deterministic --gdb`` (the stub's ``bs`` / ``bc`` packets), rv32 and rv64.

Firmware: hello (main.c calls add() and the recursive factorial(); ``counter`` is incremented 5
times in a loop).  Assertions are on what gdb prints, as a user sees it.
"""

from __future__ import annotations

import re

import pytest
from stub_session import start_stub

from emu import Machine

pytestmark = pytest.mark.gdb

ARCHES = ("rv32", "rv64")
DETERMINISTIC = ("--deterministic",)


def _values(out: str) -> list[str]:
    return re.findall(r"^\$\d+ = (.*)$", out, re.M)


def _pcs(out: str) -> list[int]:
    return [int(x, 16) for x in re.findall(r"^pc\s+(0x[0-9a-f]+)", out, re.M)]


@pytest.mark.parametrize("arch", ARCHES)
def test_reverse_continue_to_breakpoint_and_reverse_stepi(gdb_session, firmware, arch):
    r = gdb_session(firmware("hello", arch),
                    "break factorial", "continue", "continue", "continue", "p n",
                    "reverse-continue", "p n", "reverse-continue", "p n", "info registers pc",
                    "stepi", "stepi", "info registers pc", "reverse-stepi", "reverse-stepi", "info registers pc",
                    "continue", "p n", "kill", emu_args=DETERMINISTIC)
    out = r.output
    # forward to n=3, back to the last hit before it (n=4), then n=5; forward again reaches n=4 again
    assert _values(out) == ["3", "4", "5", "4"], out
    # 3 forward, 2 reverse-continue, 1 reverse-stepi landing on it (gdb names the breakpoint), 1 forward
    assert len(re.findall(r"^Breakpoint 1, factorial \(n=(n@entry=)?\d\)", out, re.M)) == 7, out
    at_bp, after_two, back = _pcs(out)
    assert back == at_bp and after_two != at_bp, out
    assert "[Inferior 1 (Remote target) killed]" in out, out
    assert r.emu_status == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_reverse_continue_to_watchpoint_trigger(gdb_session, firmware, arch):
    r = gdb_session(firmware("hello", arch),
                    "break main", "continue", "watch counter", "continue", "continue", "continue",
                    "reverse-continue", "p counter", "reverse-continue", "p counter", "continue", "p counter",
                    "delete", "continue", emu_args=DETERMINISTIC)
    out = r.output
    # Going back over a store shows it undone: the value before the write, at the storing instruction.
    assert re.search(r"Old value = 3\nNew value = 2\n", out), out
    assert re.search(r"Old value = 2\nNew value = 1\n", out), out
    assert _values(out) == ["2", "1", "2"], out
    # Run to the end: what was printed before going back is not printed again.
    assert "[Inferior 1 (Remote target) exited normally]" in out, out
    assert r.emu_stdout.count("Hello from npuemu") == 1 and r.emu_stdout.count("bye") == 1, r.emu_stdout
    assert r.emu_status == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_reverse_finish_reverse_next_reverse_step(gdb_session, firmware, arch):
    r = gdb_session(firmware("hello", arch),
                    "break mathx.c:7", "continue", "reverse-finish", "bt 1",
                    "delete", "break main.c:15", "continue", "reverse-next", "reverse-next", "bt 1",
                    "continue", "reverse-step", "bt 2", "kill", emu_args=DETERMINISTIC)
    out = r.output
    # reverse-finish: back to the call of add() in main (the call instruction, mid-line)
    assert re.search(r"^#0\s+0x[0-9a-f]+ in main \(\) at firmware/apps/hello/main\.c:13$", out, re.M), out
    # from line 15 back over the call of factorial (line 14) to the call of add (line 13)
    assert re.search(r"^14\s+int fact = factorial\(5\);\n13\s+int sum = add\(global_var, 8\);\n"
                     r"#0\s+main \(\) at firmware/apps/hello/main\.c:13", out, re.M), out
    # from line 15 again, reverse-step goes back into the function that just returned
    assert re.search(r"^#0\s+(0x[0-9a-f]+ in )?factorial \(n=(n@entry=)?5\) at firmware/apps/hello/mathx\.c:\d+\n"
                     r"#1\s+0x[0-9a-f]+ in main \(\) at firmware/apps/hello/main\.c:14", out, re.M), out


def test_history_starts_at_the_entry_point(gdb_session, firmware):
    r = gdb_session(firmware("hello", "rv32"), "reverse-stepi", "info registers pc", "stepi",
                    "reverse-continue", "info registers pc", "kill", emu_args=DETERMINISTIC)
    assert r.output.count("No more reverse-execution history.") == 2, r.output
    assert _pcs(r.output) == [0x80000000, 0x80000000], r.output


def test_realtime_stub_does_not_offer_reverse_execution(gdb_session, firmware):
    r = gdb_session(firmware("hello", "rv32"), "stepi", "reverse-stepi", "kill")
    assert "Target remote does not support this command." in r.output, r.output


def test_history_restarts_after_a_monitor_command_moves_the_machine(firmware):
    """`monitor start` (or restore, set, continue) moves the machine behind the history's back."""
    machine = Machine.from_elf(firmware("hello"), deterministic=True)
    run = start_stub(machine)
    client = run.client
    client.start_no_ack()
    factorial = machine.elf.lookup("factorial").addr
    assert client.cmd(b"Z0,%x,2" % factorial) == b"OK"
    assert client.cmd(b"c").startswith(b"T05swbreak")
    assert client.cmd(b"bs") == b"T05thread:1;"            # history: one step back is fine
    before = machine.insn_count
    assert client.cmd(b"qRcmd," + b"start".hex().encode()) == b"OK"  # restart, run to main
    assert machine.insn_count < before
    assert client.cmd(b"bs") == b"T05replaylog:begin;thread:1;"
    assert client.cmd(b"c").startswith(b"T05swbreak")   # and forward works from the new start
    client.sock.close()
    run.wait()
