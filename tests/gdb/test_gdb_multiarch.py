"""Real ``gdb-multiarch -batch`` sessions against ``npuemu run --gdb 127.0.0.1:0``.

Each session is one short gdb script with a timeout; assertions are on what
gdb prints, as a user would see it.  Firmware: hello (main in main.c, add()
and factorial() in mathx.c, globals global_var = 42 and counter) and spin.
"""

from __future__ import annotations

import re

import pytest
from support.paths import ROOT

pytestmark = pytest.mark.gdb

ARCHES = ("rv32", "rv64")


@pytest.mark.parametrize("arch", ARCHES)
def test_break_continue_registers_csrs_backtrace_kill(gdb_session, firmware, arch):
    r = gdb_session(firmware("hello", arch),
                    "break main", "continue", "info registers", "p/x $mstatus", "p $priv", "bt",
                    "p global_var", "p/x $mtvec", "kill")
    out = r.output
    assert re.search(r"Breakpoint 1 at 0x[0-9a-f]+: file firmware/apps/hello/main\.c, line \d+\.", out), out
    assert re.search(r"Breakpoint 1, main \(\) at firmware/apps/hello/main\.c:\d+", out), out
    assert re.search(r"^ra\s+0x[0-9a-f]+", out, re.M), out
    assert re.search(r"^pc\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <main(\+\d+)?>", out, re.M), out
    assert re.search(r"^\$1 = 0x[0-9a-f]+$", out, re.M), out           # mstatus
    assert re.search(r"^\$2 = 3$", out, re.M), out                      # priv: M-mode
    assert re.search(r"^#0\s+main \(\) at firmware/apps/hello/main\.c:\d+", out, re.M), out
    assert re.search(r"^\$3 = 42$", out, re.M), out
    assert re.search(r"^\$4 = 0x8000[0-9a-f]{4}$", out, re.M), out      # mtvec set by crt0
    assert "[Inferior 1 (Remote target) killed]" in out, out
    assert r.emu_status == 0
    assert "bye" not in r.emu_stdout                                    # killed before the end


def source_line(text: str) -> int:
    """The line number of ``text`` in hello's main.c, so the test survives edits around it."""
    lines = (ROOT / "firmware" / "apps" / "hello" / "main.c").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


@pytest.mark.parametrize("arch", ARCHES)
def test_next_step_finish_by_line(gdb_session, firmware, arch):
    call = source_line("int sum = add(global_var, 8);")
    r = gdb_session(firmware("hello", arch),
                    "break main", "continue", "next", "next", "next", f"tbreak {call}", "continue",
                    "step", "bt", "finish", "next", "kill")
    out = r.output
    assert re.search(r'^\d+\s+printf\("Hello from npuemu', out, re.M), out
    assert re.search(r"^\d+\s+for \(int i = 0; i < 5; i\+\+\)", out, re.M), out
    assert re.search(r"^\d+\s+counter\+\+;", out, re.M), out
    assert re.search(rf"^{call}\s+int sum = add\(global_var, 8\);", out, re.M), out
    assert re.search(r"add \(a=42, b=(b@entry=)?8\) at firmware/apps/hello/mathx\.c:\d+", out), out
    assert re.search(r"^#1\s+0x[0-9a-f]+ in main \(\) at firmware/apps/hello/main\.c:\d+", out, re.M), out
    assert re.search(r"Value returned is \$\d+ = 50", out), out
    assert re.search(r"^\d+\s+int fact = factorial\(5\);", out, re.M), out


@pytest.mark.parametrize("arch", ARCHES)
def test_set_var_watch_and_exit(gdb_session, firmware, arch):
    r = gdb_session(firmware("hello", arch),
                    "break main", "continue", "set var global_var = 100", "p global_var",
                    "watch global_var", "continue", "delete", "continue")
    out = r.output
    assert re.search(r"^\$1 = 100$", out, re.M), out
    assert re.search(r"Hardware watchpoint 2: global_var", out), out
    # add(100, 8) + factorial(5) = 228
    assert re.search(r"Old value = 100\s+New value = 228", out), out
    assert "[Inferior 1 (Remote target) exited normally]" in out, out
    assert "global_var = 228" in r.emu_stdout
    assert r.emu_status == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_stepi_disassembly_and_monitor(gdb_session, firmware, arch):
    r = gdb_session(firmware("hello", arch),
                    "break main", "continue", "x/4i $pc", "p/x $pc", "stepi", "p/x $pc",
                    "monitor npu status", "monitor info registers", "detach")
    out = r.output
    lines = [line for line in out.splitlines() if re.match(r"^(=>)?\s+0x[0-9a-f]+ <main(\+\d+)?>:\s", line)]
    assert len(lines) == 4 and lines[0].startswith("=>"), out
    pcs = re.findall(r"^\$\d+ = (0x[0-9a-f]+)$", out, re.M)
    assert len(pcs) == 2 and int(pcs[1], 16) > int(pcs[0], 16), out
    assert re.search(r"^0x[0-9a-f]+\s+\d+\s+", out, re.M) or "main ()" in out, out
    assert re.search(r"^busy\s+no$", out, re.M), out                 # monitor npu status
    assert re.search(r"^mstatus\s+0x[0-9a-f]+", out, re.M), out        # monitor info registers
    assert "[Inferior 1 (Remote target) detached]" in out, out
    assert r.emu_status == 0


CTRL_C = """
import os, signal, threading
# What a user's Ctrl-C does: SIGINT to gdb, which sends 0x03 to the stub.
threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
"""


@pytest.mark.parametrize("arch", ARCHES)
def test_ctrl_c_interrupts_a_spinning_firmware(gdb_session, firmware, arch):
    r = gdb_session(firmware("spin", arch), "continue", "p spin_count > 0", "bt", "kill", python=CTRL_C)
    out = r.output
    assert "Program received signal SIGINT, Interrupt." in out, out
    assert re.search(r"^\$1 = 1$", out, re.M), out
    assert re.search(r"^#0\s+.*main \(\) at firmware/apps/spin/", out, re.M), out
    assert "[Inferior 1 (Remote target) killed]" in out, out
    assert r.emu_status == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_load_writes_the_image_and_runs_it(gdb_session, firmware, arch):
    """gdb's `load` (X packets, then pc = entry) after the firmware has changed its own data."""
    r = gdb_session(firmware("hello", arch),
                    # a0 is the hart id crt0 checks (harts other than 0 park): reset it as QEMU's reset
                    # vector does, since `load` only writes memory and pc.
                    "break factorial", "continue", "load", "set $a0 = 0", "p global_var", "delete",
                    "continue")
    out = r.output
    assert re.search(r"Start address 0x0*80000000", out), out
    assert re.search(r"^\$1 = 42$", out, re.M), out
    assert "[Inferior 1 (Remote target) exited normally]" in out, out
    assert r.emu_stdout.count("Hello from npuemu") == 2                 # ran twice: load restarted it
    assert r.emu_status == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_timer_interrupts_and_virtual_time_under_gdb(gdb_session, firmware, arch):
    r = gdb_session(firmware("timer", arch),
                    "break timer_handler", "continue", "p/x $mcause", "continue", "p ticks",
                    "delete", "continue")
    out = r.output
    assert re.search(r"Breakpoint 1, timer_handler", out), out
    top = 1 << (32 if arch == "rv32" else 64) - 1
    assert re.search(rf"^\$1 = {top | 7:#x}$", out, re.M), out           # machine timer interrupt
    assert re.search(r"^\$2 = 1$", out, re.M), out
    assert "[Inferior 1 (Remote target) exited normally]" in out, out
    assert r.emu_status == 0
