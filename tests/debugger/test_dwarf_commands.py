"""The DWARF-aware shell on dbgtest, command by command: typed expressions (C widths and
signedness for rv32 and rv64), the FreeRTOS-style pointer chase above 0x80000000, frames,
display, typed finish, watch-if, reverse execution, the pager.  The line-by-line comparison with
gdb-multiarch is test_dwarf_vs_gdb.py; these pin behaviour the comparison session does not reach."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emu.debugger.errors import DebuggerError
from emu.debugger.pager import PROMPT, Pager

ARCHES = ("rv32", "rv64")
ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "firmware" / "apps" / "dbgtest" / "main.c"



def line_of(marker: str) -> int:
    return next(i for i, t in enumerate(SOURCE.read_text().splitlines(), 1) if f"/* {marker} */" in t)


def at_check(debug, arch="rv32", app="dbgtest"):
    s = debug(app, arch)
    s(f"break main.c:{line_of('BREAK_CHECK')}")
    assert "Breakpoint 1, check (p=0x" in s("run")
    return s


def test_freertos_style_pointer_chase_above_0x80000000(debug) -> None:
    s = at_check(debug, "rv32")
    assert s("p pxCurrentTCB->pcTaskName") == '$1 = "main\\000\\000\\000\\000\\000\\000\\000"\n'
    out = s("p *pxCurrentTCB")
    assert re.fullmatch(r'\$2 = \{pxTopOfStack = 0x8[0-9a-f]{7} <idle_stack\+4>, uxPriority = 2, '
                        r'pcTaskName = "main(\\000){7}", pxNext = 0x8[0-9a-f]{7} <idle_tcb>\}\n', out), out
    assert re.fullmatch(r"\$3 = \(TCB_t \* volatile\) 0x8[0-9a-f]{7} <main_tcb>\n", s("p pxCurrentTCB"))
    assert s("p pxCurrentTCB->pxNext->pcTaskName") == '$4 = "IDLE\\000\\000\\000\\000\\000\\000\\000"\n'
    assert s("p pxCurrentTCB->pxNext->pxNext") == "$5 = (struct tskTaskControlBlock *) 0x0\n"
    assert s("p (unsigned long)pxCurrentTCB > 0x80000000") == "$6 = 1\n"   # no sign extension
    assert s("p *pxCurrentTCB->pxTopOfStack") == "$7 = 2\n"


@pytest.mark.parametrize("arch", ARCHES)
def test_c_arithmetic_widths_and_signedness(debug, arch) -> None:
    s = at_check(debug, arch)
    word = 4 if arch == "rv32" else 8
    cases = {
        "0xffffffff + 1": "0", "2147483647 + 1": "-2147483648", "-1 < 0u": "0", "10 / -3": "-3",
        "7 % -3": "1", "-7 >> 1": "-4", "sizeof(long)": str(word), "sizeof(shape_t)": "52" if word == 4 else "56",
        "(char)65": "65 'A'", "(unsigned char)300": "44 ','", "/x (short)-1": "0xffff",
        "/x -1": "0xffffffff", "5000000000": "5000000000", "1.5 + 1": "2.5", "'a'": "97 'a'",
        "limits[3] - limits[0]": "101", "&nodes[2] - &nodes[0]": "2", "sizeof nodes": str(3 * 2 * word),
        "nodes[1].next == &nodes[2]": "1", "RED": "RED", "BLUE + 1": "7", "(enum color)5": "GREEN",
        "big": "-5000000000", "ratio * 2": "1",
    }
    for expr, want in cases.items():
        text = f"p{expr}" if expr.startswith("/") else f"p {expr}"
        out = s(text)
        assert out.split(" = ", 1)[-1] == want + "\n", (arch, expr, out)


@pytest.mark.parametrize("arch", ARCHES)
def test_casts_at_set_var_and_convenience(debug, arch) -> None:
    s = at_check(debug, arch)
    addr = int(s("p/x &nodes[1]").split(" = ")[1], 16)
    assert s(f"p *(struct node *){addr:#x}").endswith(" = {val = 20, next = " + s("p/a nodes[1].next")
                                                     .split(" = ")[1].rstrip() + "}\n")
    assert s(f"p {{int}}{addr:#x}").endswith(" = 20\n")
    assert s("p limits[1]@3").endswith(" = {0, 7, 100}\n")
    assert s("p/x limits").endswith(" = {0xffffffff, 0x0, 0x7, 0x64}\n")
    s("set var nodes[0].val = 99")
    assert s("p p->val").endswith(" = 99\n")
    s("set var s.f.mode = 2")
    assert s("p s.f").endswith(" = {ready = 1, mode = 2, level = -3, rest = 703710}\n")
    s("set var s.f.level = -8")
    assert s("p s.f.level").endswith(" = -8\n") and s("p s.f.mode").endswith(" = 2\n")
    s("set $n = 5")
    assert s("p $n * 2").endswith(" = 10\n")
    assert s("p $unset").endswith(" = void\n")
    s("x/2xw &nodes")
    assert s("p/x $_").endswith(f" = {int(s('p/x &nodes').split(' = ')[1], 16) + 4:#x}\n")  # the last unit
    for bad, message in [("p s.nosuch", "There is no member named nosuch."), ("p *k", "Attempt to take contents"),
                         ("p k->x", "The -> operator"), ("p (struct nosuch *)0", 'No symbol "struct nosuch"')]:
        out = s(bad)
        assert message in out and out.count("\n") == 1, (bad, out)


def test_types_frames_and_locals(debug) -> None:
    s = at_check(debug, "rv32")
    assert s("whatis s") == "type = shape_t\n"
    assert s("ptype struct flags") == ("type = struct flags {\n    unsigned int ready : 1;\n"
                                       "    unsigned int mode : 3;\n    int level : 4;\n"
                                       "    unsigned int rest : 24;\n}\n")
    assert s("ptype enum color") == "type = enum color {RED, GREEN = 5, BLUE}\n"
    assert s("whatis &s.cvp") == "type = const volatile int **\n"
    assert s("ptype fact") == "type = int (int)\n"
    assert s("p fact").startswith("$1 = {int (int)} 0x")
    assert "i = " not in s("info locals") and "total = " in s("info locals")
    assert s("info args").startswith("p = 0x")
    assert s("frame 1").startswith("#1  0x") and "main () at main.c:" in s("frame")
    assert "r = " in s("info locals")
    assert s("up") == "Initial frame selected; you cannot go up.\n"
    assert s("down").startswith("#0  check (p=")
    assert s("down") == "Bottom (innermost) frame selected; you cannot go down.\n"
    out = s("info frame")
    assert out.startswith("Stack level 0, frame at 0x") and "saved pc = 0x" in out and "ra at 0x" in out


def test_display_after_each_stop_and_typed_finish(debug) -> None:
    s = debug("dbgtest", "rv32")
    s("break make_point")
    s("break paint")
    s("run")
    assert s("display/x x") == "1: /x x = 0x3\n"
    out = s("finish")
    assert "Value returned is $1 = {x = 3, y = -3, tag = 0 '\\000'}" in out
    assert "1: /x x = <error:" in out or "1: /x x" not in out or "No symbol" in out
    s("undisplay 1")
    s("continue")
    out = s("finish")  # paint is void: no value
    assert out.startswith("Run till exit from #0  paint (s=0x") and "Value returned" not in out
    assert s("info display") == "There are no auto-display expressions now.\n"


@pytest.mark.parametrize("arch", ARCHES)
def test_reverse_continue_finish_next(debug, arch) -> None:
    s = debug("dbgtest", arch)
    s("break fact")
    s("run")
    s("continue")
    assert "fact (n=3)" in s("bt")
    out = s("reverse-continue")
    assert "Breakpoint 1, fact (n=4)" in out, out
    out = s("reverse-finish")
    assert out.startswith("Run back to call of #0  fact (n=4)") and "in main () at main.c:" in out, out
    out = s("reverse-next")  # from the call instruction: the start of main's line
    assert "\t" in out and "internal error" not in out
    s("delete")
    s("break check")
    s("run")
    s("watch global_shape.color if global_shape.color == 6")
    out = s("continue")
    assert "Hardware watchpoint 3: global_shape.color" in out and "Old value = RED\nNew value = BLUE" in out, out
    s("delete 3")
    assert "Breakpoint 2, check (p=" in s("reverse-continue")


def test_watch_condition_false_does_not_stop(debug) -> None:
    s = debug("dbgtest", "rv32")
    s("break check")
    s("run")
    s("watch global_shape.color if global_shape.color == 99")
    assert "exited normally" in s("continue")


def test_optimised_build_locals(debug) -> None:
    s = debug("dbgtest_o2", "rv32")
    s("break check")
    out = s("run")
    assert "check (p=0x" in out and "k=3" in out
    assert "arr = <optimized out>" in s("info locals")
    assert s("p arr[3]").endswith(" = <optimized out>\n")


def test_info_registers_does_not_name_absolute_symbols(debug) -> None:
    s = debug("semihost", "rv32")
    s("set $ra = 0")
    assert s("info registers ra").split() == ["ra", "0x0", "0x0"]
    assert s("info symbol $pc").strip() in ("_start", "_start + 0") or "No symbol" not in s("info symbol $pc")


def test_listsize_and_pager() -> None:
    written: list[str] = []
    asked: list[str] = []
    answers = iter(["", "c"])
    pager = Pager(written.append, lambda q: (asked.append(q), next(answers))[1], height=lambda: 4)
    pager("".join(f"{i}\n" for i in range(12)))
    assert asked == [PROMPT, PROMPT] and len(written) == 12
    pager.new_command()
    quitter = Pager(written.append, lambda q: "q", height=lambda: 3)
    with pytest.raises(DebuggerError, match="Quit"):
        quitter("a\nb\nc\nd\n")
    off = Pager(written.append, lambda q: pytest.fail("asked"), height=lambda: 3)
    off.enabled = False
    off("x\n" * 10)


def test_set_listsize(debug) -> None:
    s = debug("dbgtest", "rv32")
    s("set listsize 3")
    assert len(s("list main").splitlines()) == 3
    assert "Invalid list size" in s("set listsize ²")
