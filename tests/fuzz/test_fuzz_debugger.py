"""Fuzzing the debugger's command line: random but plausible commands (real command words,
expressions built from dbgtest's variables, types and operators, hostile characters) against a
shell stopped inside dbgtest's ``check``.  Whatever the input, the shell answers with output or
one error line; never a traceback, an "internal error" or a hang.

Bounded by the harness (tests/fuzz/fuzzing.py): 100 command lines and 20 mutated DWARF images in
``make test``; ``make fuzz FUZZ_SECONDS=N`` runs each campaign for N seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from debugger.conftest import Session
from fuzzing import FUZZ, Campaign, no_hang
from hypothesis import given, settings
from hypothesis import strategies as st

# Commands that write host files or leave the session are not fuzzed here (their own tests cover them).
COMMANDS = ["p", "p/x", "p/d", "p/c", "p/t", "p/a", "output", "x", "x/4xw", "x/2i", "x/s", "set var", "ptype",
            "whatis", "display", "undisplay", "info locals", "info args", "info frame", "info symbol",
            "info line", "info registers", "info source", "info functions", "info variables", "bt", "frame",
            "up", "down", "break", "tbreak", "condition 1", "delete", "disable", "enable", "watch", "list",
            "disassemble", "finish", "stepi", "nexti", "step", "next", "until", "advance", "echo", "help",
            "info display", "reverse-stepi", "info breakpoints"]
NAMES = ["s", "p", "k", "arr", "nodes", "global_shape", "pxCurrentTCB", "limits", "big", "ratio", "main",
         "check", "fact", "idle_tcb", "total", "i", "nosuch", "$sp", "$pc", "$a0", "$_", "$_exitcode", "$1",
         "$", "$foo", "main.c:119", "*0x80000000", "0x80000000"]
TYPES = ["int", "char", "unsigned long", "struct node *", "shape_t", "TCB_t *", "struct flags", "enum color",
         "long long", "void *", "double", "struct nosuch"]
OPS = ["+", "-", "*", "/", "%", "<<", ">>", "==", "!=", "<", ">=", "&&", "||", "&", "|", "^", "@", "=", ".",
       "->", ",", "?", ":"]
POSTFIX = ["", ".origin", ".x", "->next", "->val", "[3]", "[-1]", "[99999999]", "->pcTaskName", ".f.level",
           "[0]@2", ".name"]


@st.composite
def expressions(draw, depth: int = 0) -> str:
    atom = draw(st.one_of(
        st.sampled_from(NAMES).map(lambda n: n + draw(st.sampled_from(POSTFIX))),
        st.integers(-2**70, 2**70).map(str),
        st.sampled_from(["0x", "0x80000000", "'a'", "'\\n'", "1.5", "1e400", "²", "١", "0b101", "010",
                         "\"str\"", "''", "{int}", "sizeof(int)", "sizeof s"]),
        st.text(max_size=6),
    ))
    if depth < 3 and draw(st.booleans()):
        left = draw(expressions(depth + 1))
        form = draw(st.integers(0, 5))
        if form == 0:
            return f"{atom} {draw(st.sampled_from(OPS))} {left}"
        if form == 1:
            return f"({draw(st.sampled_from(TYPES))}) {left}"
        if form == 2:
            return f"{{{draw(st.sampled_from(TYPES))}}} {left}"
        if form == 3:
            return f"{draw(st.sampled_from(['-', '!', '~', '*', '&']))}{left}"
        if form == 4:
            return f"({left})"
        return f"{left}{draw(st.sampled_from(POSTFIX))}"
    return atom


command_lines = st.one_of(
    st.builds(lambda c, e: f"{c} {e}", st.sampled_from(COMMANDS), expressions()),
    st.builds(lambda c, t: f"{c} {t}", st.sampled_from(COMMANDS), st.text(max_size=20)),
    st.text(max_size=30),
)


@pytest.fixture(scope="module")
def shell_in_check():
    elf = Path(__file__).resolve().parents[2] / "build" / "firmware" / "rv32" / "dbgtest.elf"
    if not elf.exists():
        pytest.fail(f"{elf} is missing: run `make firmware` first", pytrace=False)
    s = Session(elf)
    s("break check")
    s("run")
    yield s
    s.machine.close()


def test_fuzz_debugger_any_command_line_gives_output_or_one_error(shell_in_check, campaign: Campaign) -> None:
    s = shell_in_check

    @settings(FUZZ, max_examples=FUZZ.max_examples * 5 // 2)
    @given(line=command_lines)
    def fuzzer(line: str) -> None:
        campaign.tried()
        if s.machine.exit_code is not None or s.reg("pc") < 0x80000000:
            s("run")
        with no_hang(10):
            out = s(line)
        assert "internal error" not in out and "Traceback" not in out, (line, out)

    campaign.run(fuzzer)


def _debug_sections(raw: bytes) -> list[tuple[int, int]]:
    import io

    from elftools.elf.elffile import ELFFile

    elf = ELFFile(io.BytesIO(raw))
    return [(s["sh_offset"], s["sh_size"]) for s in elf.iter_sections()
            if s.name in (".debug_info", ".debug_frame", ".debug_loclists", ".debug_abbrev", ".debug_rnglists",
                          ".debug_line")]


def test_fuzz_debugger_mutated_dwarf_never_breaks_the_shell(shell_in_check, campaign: Campaign) -> None:
    """Hostile debug information (flipped bytes in the DWARF sections): frames, variables and
    types degrade to ``??``, ``<optimized out>`` or one error line, never an internal error."""
    from emu.dwarf.info import DebugInfo

    s = shell_in_check
    shell = s.shell

    @settings(FUZZ, max_examples=FUZZ.max_examples // 2)
    @given(data=st.data())
    def fuzzer(data) -> None:
        campaign.tried()
        if s.machine.exit_code is not None or s.reg("pc") < 0x80000000:
            s("run")
        raw = bytearray(shell.elf.raw)
        sections = _debug_sections(bytes(raw))
        for _ in range(data.draw(st.integers(1, 16))):
            offset, size = data.draw(st.sampled_from(sections))
            raw[offset + data.draw(st.integers(0, size - 1))] = data.draw(st.integers(0, 255))
        saved = shell._debug_info
        shell._debug_info = DebugInfo(bytes(raw), shell.xlen)
        try:
            for line in ("bt", "info locals", "info args", "p s", "p/x s", "ptype s", "info frame", "p *p",
                         "p p->next->val", "whatis arr", "info functions ^c", "up", "info locals", "down"):
                with no_hang(10):
                    out = s(line)
                assert "internal error" not in out and "Traceback" not in out, (line, out)
        finally:
            shell._debug_info = saved

    campaign.run(fuzzer)
