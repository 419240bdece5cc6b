"""Every debugger command on real firmware ELFs, through CommandShell.execute (what the REPL,
--batch and the GDB stub's `monitor` all call)."""

from __future__ import annotations

import json
import re
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emu.machine import StopReason

from .conftest import Session


def _at_main(session) -> int:
    # ``break main`` stops at main's first instruction (line 9) in -Og code, as GDB does; the
    # tests start from the first statement.
    out = session("break main.c:10")
    addr = int(re.search(r"Breakpoint 1 at (0x[0-9a-f]+): file main.c, line 10\.", out).group(1), 16)
    out = session("run")
    assert "Breakpoint 1, main () at main.c:10\n10\t    printf(" in out
    assert session.reg("pc") == addr
    return addr


# -- run control -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_break_run_continue_to_exit(debug, arch) -> None:
    s = debug("hello", arch)
    _at_main(s)
    assert "Hello from npuemu" not in s.uart.decode()
    out = s("continue")
    assert out.startswith("Continuing.\n") and "[Inferior 1 (firmware) exited normally]" in out
    assert "bye" in s.uart.decode()
    assert "The program is not being run" in s("c")
    _at_main_again = s("run")  # run restarts from the ELF entry with breakpoints kept
    assert "Breakpoint 1, main ()" in _at_main_again


def test_stepi_nexti_over_a_call(debug) -> None:
    s = debug()
    _at_main(s)
    s("si 3")
    pc = s.reg("pc")
    assert s("x/i $pc").startswith("=> ")
    assert "jal" in s("x/i $pc") and "<printf>" in s("x/i $pc")  # the printf call of line 10
    out = s("nexti")
    assert s.reg("pc") == pc + 4 and "Hello from npuemu" in s.uart.decode()
    assert out == "11\t    for (int i = 0; i < 5; i++)\n"  # pc + 4 starts line 11: no address shown
    out = s("stepi")
    assert s.reg("pc") != pc + 4


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_step_next_finish_by_source_line(debug, arch) -> None:
    s = debug("hello", arch)
    _at_main(s)
    assert s("next") == "11\t    for (int i = 0; i < 5; i++)\n"
    s("tbreak main.c:13")
    assert "Temporary breakpoint 2, main () at main.c:13" in s("continue")
    out = s("step")
    assert re.match(r"add \(a=42, b=8\) at mathx.c:\d+\n\d+\t", out)
    bt = s("bt")
    assert re.match(r"#0  add \(a=42, b=8\) at mathx.c:\d+\n#1  0x[0-9a-f]+ in main \(\) at main.c:13\n$", bt)
    out = s("finish")
    assert out.startswith("Run till exit from #0  add (a=42, b=8) at mathx.c:") and out.rstrip().endswith("= 50")
    assert s("next").startswith("14\t")
    assert s("until").startswith("15\t")
    assert "main () at main.c:17" in s("advance 17")


def test_breakpoint_kinds_and_table(debug) -> None:
    s = debug()
    assert "Breakpoint 1 at" in s("b *0x80000000")
    assert "Temporary breakpoint 2 at" in s("tbreak add")
    assert "Breakpoint 3 at" in s("break mathx.c:11")
    s("b main if counter == 99")
    s("disable 1")
    table = s("info breakpoints")
    assert re.search(r"^1\s+breakpoint\s+keep n\s+0x80000000", table, re.M)
    assert re.search(r"^2\s+breakpoint\s+del  y .* in add at mathx.c", table, re.M)
    assert "stop only if counter == 99" in table
    assert "Temporary breakpoint 2, add (a=42, b=8)" in s("c")
    assert "\n2 " not in s("info breakpoints")  # the temporary one is gone
    assert "Breakpoint 3, factorial (n=5)" in s("c")
    s("delete 3")
    s("enable")
    assert "exited normally" in s("c")  # main's condition is false; 1 is behind us
    s("delete")
    assert s("info breakpoints") == "No breakpoints or watchpoints.\n"


def test_run_stops_at_a_breakpoint_on_the_entry_point(debug) -> None:
    s = debug()
    s(f"break *{s.machine.elf.entry:#x}")
    assert "Breakpoint 1, _start () at crt0.S:" in s("run")
    assert s.reg("pc") == s.machine.elf.entry
    assert "Breakpoint 1, _start ()" in s("run")  # again after a restart
    assert "Continuing." in s("continue") and "bye" in s.uart.decode()


def test_start_stops_at_main(debug) -> None:
    s = debug("hello", "rv64")
    out = s("start")
    assert out.startswith("Temporary breakpoint 1 at 0x") and "Temporary breakpoint 1, main () at main.c:9" in out
    assert s("info breakpoints") == "No breakpoints or watchpoints.\n"


def test_condition_command_and_hit_counts(debug) -> None:
    s = debug()
    s("b factorial")
    s("condition 1 $a0 == 2")
    s("run")
    assert s.reg("a0") == 2
    assert "breakpoint already hit 1 time" in s("info b")
    assert "now unconditional" in s("condition 1")


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_watchpoints_show_old_and_new(debug, arch) -> None:
    s = debug("hello", arch)
    assert s("watch counter") == "Hardware watchpoint 1: counter\n"
    out = s("c")
    assert "Hardware watchpoint 1: counter\n\nOld value = 0\nNew value = 1\n" in out
    assert "main () at main.c:" in out
    assert "Old value = 1\nNew value = 2" in s("c")
    s("delete")
    assert s("rwatch global_var") == "Hardware read watchpoint 2: global_var\n"
    assert "Value = 42" in s("c")
    s("delete")
    addr = s.machine.elf.lookup("global_var").addr
    assert "Hardware access (read/write) watchpoint 3" in s(f"awatch {addr:#x} 4")
    assert "Old value = 42\nNew value = 170\nmain () at main.c:16" in s("c")  # global_var = sum + fact


# -- state ------------------------------------------------------------------------------------------
def test_registers_print_set_examine(debug) -> None:
    s = debug()
    _at_main(s)
    regs = s("info registers")
    assert re.search(r"^pc\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <main\+\d+>$", regs, re.M)
    assert re.search(r"^priv\s+0x3\s+machine$", regs, re.M) and "mstatus" in regs and "mcause" in regs
    assert re.findall(r"^(\w+)", s("info registers a0 sp $pc"), re.M) == ["a0", "sp", "pc"]
    assert s("p $pc").startswith("$1 = (void (*)()) 0x") and "<main+" in s("p $pc")
    s("set $a0 = 0x1234")
    assert s("p/x $a0") == "$3 = 0x1234\n" and s("p $a0 + 1") == "$4 = 4661\n"
    assert s("p global_var") == "$5 = 42\n"
    s("set var global_var = -7")
    assert s("p global_var") == "$6 = -7\n" and s("p/x global_var") == "$7 = 0xfffffff9\n"
    s("set {int} &global_var = 5")
    addr = s.machine.elf.lookup("global_var").addr
    assert s(f"x/2xw {addr:#x}") == f"{addr:#x} <global_var>:\t0x00000005\t0x00000000\n"
    assert s("x/dw &global_var") == f"{addr:#x} <global_var>:\t5\n"
    assert s("").startswith(f"{addr + 4:#x}")  # Enter repeats x at the next address
    assert s("x/4xb &global_var").count("0x") == 5
    assert s("x/2tb &global_var").endswith("00000101\t00000000\n")
    assert "'" in s("x/3c $pc")
    assert re.search(r'"Hello from npuemu firmware \(rv%d\)\\n"', s("x/s $a0 - $a0 + " + str(_string_addr(s))))
    assert s(f"info symbol {addr + 2:#x}") == "global_var + 2\n"
    assert s("p $1") .startswith("$8 = ")


def _string_addr(s) -> int:
    """Where the printf format of line 10 lives: a0 right before the call."""
    s("si 3")
    return s.reg("a0")


def test_disassemble_list_backtrace(debug) -> None:
    s = debug()
    pc = _at_main(s)
    out = s("disassemble")
    assert out.startswith("Dump of assembler code for function main:\n")
    assert out.endswith("End of assembler dump.\n")
    assert f"=> {pc:#x} <+" in out and "<printf>" in out
    assert "Dump of assembler code from 0x80000000 to 0x80000008:" in s("disassemble 0x80000000,+8")
    assert s("x/3i $pc").splitlines()[0].startswith(f"=> {pc:#x} <main+")
    listing = s("list main")
    assert listing.startswith("5\t") and "8\tint main(void)" in listing and len(listing.splitlines()) == 10
    assert s("list").startswith("15\t")  # goes on where it stopped
    assert "Line number 21 out of range" in s("")  # Enter repeats list: past the end
    assert s("list mathx.c:5").startswith("1\t") and "4\tint add(int a, int b)" in s("list mathx.c:5")
    assert s("list 10").startswith("5\t")
    assert s("bt") == "#0  main () at main.c:10\n"
    assert 'Line 9 of "main.c" starts at address 0x' in s("info line main")  # the function's line, as GDB


# -- platform -----------------------------------------------------------------------------------------
def test_devices_uart_time_trap(debug) -> None:
    s = debug("timer")
    devices = s("info devices")
    assert re.search(r"^0x10000000\s+0x10000100\s+0x100\s+uart0$", devices, re.M)
    assert "clint" in devices and "plic" in devices and "npu" in devices and "dram" in devices
    assert s("info trap").startswith("No trap taken yet.")
    s("b timer_handler")
    s("c")
    time = s("info time")
    assert "deterministic" in time and "mtimecmp" in time and "MTIP" in time
    trap = s("info trap")
    assert "interrupt 7 (machine timer interrupt)" in trap and "mcause     0x" in trap
    bt = s("bt")
    assert bt.startswith("#0  timer_handler (frame=0x") and "at main.c:" in bt and "trap_dispatch" in bt


def test_uart_input_typed_after_the_firmware_started_waiting(debug) -> None:
    s = debug("uart_irq")
    assert "sleeps in wfi" in s("continue")  # waiting for input that nobody has typed yet
    s("uart send q")
    assert "exited normally" in s("continue")


def test_uart_send_reaches_the_firmware(debug) -> None:
    s = debug("uart_irq")
    assert s("uart send ab\\x63q") == "Sent 4 byte(s) to uart0.\n"
    assert "exited normally" in s("continue")
    info = s("info uart")
    assert "uart0 (ns16550a) at 0x10000000" in info and "abc" in s.uart.decode()
    assert "received 4 characters" in s.uart.decode()


# -- NPU ----------------------------------------------------------------------------------------------
def test_npu_inspection(debug, tmp_path) -> None:
    s = debug()
    status = s("npu status")
    assert re.search(r"^enabled\s+no$", status, re.M) and "ring_base" in status
    assert s("npu queue") == "The NPU command queue is empty.\n"
    assert s("npu tiles").startswith(f"{s.machine.npu.tiles.shape[0]} tiles of")
    s.machine.npu.tiles[1, 0, :3] = [1, -2, 3]  # test setup: weights as a LOAD_WEIGHTS would leave them
    out = s("npu dump 1 0:2,0:4")
    assert out.splitlines()[2].split() == ["0:", "1", "-2", "3", "0"]
    assert "acc [0:8]" in s("npu dump acc 0:8") and "scratchpad [0:16]" in s("npu dump scratchpad 0:16")
    assert re.search(r"^commands\s+0$", s("npu counters"), re.M)
    path = tmp_path / "trace.json"
    assert "NPU trace written" in s(f"npu trace {path}")
    json.loads(path.read_text())
    assert "No tile 999" in s("npu dump 999")
    assert "outside" in s("npu dump acc 5:1")


def test_npu_queue_and_buffers_after_real_commands(debug) -> None:
    """Queue two commands the way firmware does (descriptors in DRAM, MMIO stores to the ring
    registers), then watch them in the shell as the firmware runs on."""
    from emu.npu_device import regs

    s = debug()
    m, npu = s.machine, s.machine.npu
    layouts = {layout.name: layout for layout in regs.LAYOUTS}
    ring, weights, act = 0x80100000, 0x80101000, 0x80102000
    m.write_mem(weights, bytes([1, 0xFE, 3, 4, 5, 0xFA]))  # W = [[1, -2, 3], [4, 5, -6]]
    m.write_mem(act, bytes(range(16)))
    m.write_mem(ring, layouts["LOAD_WEIGHTS"].pack(dram_addr=weights, tile=2, k=2, n=3, dram_stride=3, tag=7))
    m.write_mem(ring + 64, layouts["DMA_IN"].pack(dram_addr=act, rows=1, row_bytes=16, dram_stride=16,
                                                  sram_stride=16))
    for name, value in (("RING_BASE_LO", ring), ("RING_SIZE", 4), ("CTRL", 1), ("RING_TAIL", 2), ("DOORBELL", 1)):
        npu.write(regs.REG[name], 4, value)  # the guest's stores, as test setup
    queue = s("npu queue")
    assert "LOAD_WEIGHTS" in queue and "DMA_IN" in queue and f"{ring:#x}" in queue
    s("stepi 5000")  # virtual time passes: the commands complete
    queue = s("npu queue")
    assert len(re.findall(r"\bdone\b", queue)) == 2, queue
    assert re.search(r"^enabled\s+yes$", s("npu status"), re.M)
    tile = s("npu dump 2 0:2,0:4").splitlines()
    assert tile[2].split() == ["0:", "1", "-2", "3", "0"] and tile[3].split() == ["1:", "4", "5", "-6", "0"]
    assert "tile 2   int8" in s("npu tiles") and "min -6 max 5" in s("npu tiles")
    spad = s("npu dump scratchpad 0:16").splitlines()
    assert spad[2].split()[1:] == [str(i) for i in range(16)]
    assert re.search(r"^commands\s+2$", s("npu counters"), re.M)


# -- time travel -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_snapshots_and_reverse_stepi(debug, arch) -> None:
    s = debug("hello", arch)
    _at_main(s)
    assert s("snapshot before").startswith('Snapshot "before" saved at 0x')
    s("set var counter = 0")  # a manual change: reverse execution starts here
    pc0 = s.reg("pc")
    s("si")
    pc1 = s.reg("pc")
    s("si")
    s("si")
    s("reverse-stepi")
    s("rsi")
    assert s.reg("pc") == pc1
    s("rsi")
    assert s.reg("pc") == pc0
    assert "No more reverse-execution history" in s("rsi")
    s("c")
    assert "bye" in s.uart.decode()
    s("restore before")
    assert s.reg("pc") == pc0 and not s.machine.exited
    assert re.search(r"^before\s+\d+\s+0x[0-9a-f]+ <main\+\d+>$", s("info snapshots"), re.M)
    assert 'No snapshot named "nope"' in s("restore nope")


# -- robustness, scripts, Ctrl-C --------------------------------------------------------------------------
BAD = ["frobnicate", "b", "b nosuch", "b nosuch.c:3", "b main if", "x/4q $sp", "x/4x 0", "p 1 +", "p $nope",
       "p nosuch", "set $pc", "delete 99", "enable x", "info nosuch", "npu dump", "npu dump tile", "list nosuch",
       "si -1", "si x", "restore", "until nosuch", "disassemble *0", "source /nonexistent", "help nosuch",
       "watch 0", "p 1/0", "x/s 0x7fffffff", "uart send \\q", "quit x", "finish", "}{", "info line 99999"]


@pytest.mark.parametrize("line", BAD)
def test_bad_input_is_one_line_and_harmless(debug, line) -> None:
    s = debug()
    pc = s.reg("pc")
    out = s(line)
    if line == "b":
        assert out.startswith("Breakpoint 1 at")  # GDB: a breakpoint at the pc
        return
    assert out.count("\n") == 1 and "internal error" not in out and "Traceback" not in out, out
    assert s.reg("pc") == pc and not s.machine.exited


def test_source_and_comments(debug, tmp_path) -> None:
    s = debug()
    script = tmp_path / "cmds.gdb"
    script.write_text("# a comment\nbreak add\nrun\n\necho at add\\n\np $a0\n")
    out = s(f"source {script}")
    assert "Breakpoint 1, add (a=42, b=8)" in out and "at add\n" in out and "$1 = 42" in out
    script.write_text("p 1\nnosuch\np 2\n")
    out = s(f"source {script}")
    assert "$2 = 1" in out and "Undefined command" in out and "$3" not in out


def test_help_for_every_command(debug) -> None:
    s = debug()
    listing = s("help")
    for command in s.shell.registry:
        assert command.summary in listing
        text = s(f"help {command.name}")
        assert text.startswith(command.usage.strip().splitlines()[0])
    assert "Aliases: s" in s("help step")
    assert "info registers" in s("help info registers")


def test_interrupt_stops_a_running_firmware(debug) -> None:
    s = debug("spin")
    timer = threading.Timer(0.5, s.shell.interrupt)
    timer.start()
    out = s("continue")
    timer.join()
    assert "Program received signal SIGINT, Interrupt." in out
    assert "main () at main.c" in out or "in main ()" in out
    count = s("p spin_count")
    assert int(count.split("= ")[1]) > 0
    s.shell.interrupted.clear()
    stop = s.machine.step(1)
    assert stop.reason is StopReason.STEPPED  # the machine is intact and steps on


WORDS = ["b", "break", "tbreak", "c", "si", "ni", "s", "n", "finish", "until", "advance", "d", "disable", "enable",
         "watch", "rwatch", "awatch", "info", "registers", "breakpoints", "p", "p/x", "set", "x", "x/4xw", "x/2i",
         "x/s", "list", "bt", "disassemble", "snapshot", "restore", "rsi", "npu", "dump", "uart", "send", "help",
         "main", "add", "counter", "global_var", "*", "&", "$pc", "$sp", "$a0", "=", "{int}", "if", "0", "1", "-1",
         "0x80000000", "0xffffffff", "main.c:12", "mathx.c:99", "(", ")", "+", "/", ",", "acc", "scratchpad", ":"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join), min_size=1, max_size=6))
def test_random_command_lines_never_break_the_shell(firmware, lines) -> None:
    s = Session(firmware("hello"), ram_size=8 << 20)  # small RAM: snapshots copy all of it
    try:
        for line in lines:
            out = s(line)
            assert "internal error" not in out, (line, out)
        assert s("p 1 + 1").endswith("= 2\n")  # the shell still works
    finally:
        s.machine.close()


def test_less_common_forms(debug) -> None:
    s = debug()
    _at_main(s)
    assert s("echo a\\tb\\n") == "a\tb\n"
    regs = s("info all-registers")
    assert re.search(r"^satp\s", regs, re.M) and re.search(r"^mhartid\s", regs, re.M)
    s("p 7")
    assert s("p") == "$2 = 7\n"  # the last value again
    assert s("p/c 65") == "$3 = 65 'A'\n" and s("p/o 8") == "$4 = 010\n"
    assert re.match(r"0x[0-9a-f]+:\t0x[0-9a-f]+ <_start\+\d+>\n", s("x/a $s0 - " + str(s.machine.xlen // 8)))  # saved ra
    assert "npu dump TILE" in s("help npu") and "npu dump" in s("help npu dump")
    assert re.match(r"main \(\) at main.c:13\n13\t", s("until 13"))
    assert s("info line") .startswith('Line 13 of "main.c"')
    assert "Undefined info command" in s("info frobs") and "Ambiguous command" in s("info s")


def test_reverse_stepi_replays_from_the_nearest_checkpoint(debug, monkeypatch) -> None:
    from emu.debugger import timetravel

    monkeypatch.setattr(timetravel, "FAR_INSNS", 100)
    s = debug()
    _at_main(s)  # ~600 instructions: a checkpoint was taken at the stop
    assert len(s.shell.timeline.travel.checkpoints) == 2
    trail = []
    for _ in range(30):
        trail.append((s.machine.insn_count, s.reg("pc"), s.reg("sp")))
        s("si")
    for back in (1, 7, 22):
        s(f"rsi {back}")
        count, pc, sp = trail[-back]
        assert (s.machine.insn_count, s.reg("pc"), s.reg("sp")) == (count, pc, sp)
        trail = trail[:-back]


def test_going_forward_again_prints_nothing_twice(debug) -> None:
    """After a step back, re-executed output was printed the first time (the engine's frontier),
    whether the shell goes forward by next, stepi or continue."""
    s = debug()
    _at_main(s)
    s("next")  # line 10: the printf
    assert s.uart.decode().count("Hello from npuemu") == 1
    s("reverse-next")
    s("stepi 3000")  # over the whole printf again, one instruction at a time
    assert s.uart.decode().count("Hello from npuemu") == 1
    s("reverse-next")
    s("next")
    s("continue")
    assert s.uart.decode().count("Hello from npuemu") == 1 and "bye" in s.uart.decode()
