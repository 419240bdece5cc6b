"""Issue 17, debugger rows D1, D3, D4, D5: each reproducer, driven the way it was found, ends in
output or one error line -- never a hang, a traceback or an "internal error"."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

ROOT = Path(__file__).resolve().parents[2]


def _clean(out: str) -> None:
    assert "internal error" not in out and "Traceback" not in out, out


def _with_main_size(src: Path, dst: Path, size: int) -> Path:
    """A copy of ``src`` whose ``main`` symbol claims ``size`` bytes (a corrupt or hostile st_size)."""
    raw = bytearray(src.read_bytes())
    with src.open("rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        index = next(i for i, s in enumerate(symtab.iter_symbols()) if s.name == "main")
        entry = symtab["sh_offset"] + index * symtab["sh_entsize"]
        field, width = (8, 4) if elf.elfclass == 32 else (16, 8)
    raw[entry + field:entry + field + width] = size.to_bytes(width, "little")
    dst.write_bytes(bytes(raw))
    return dst


@pytest.mark.parametrize("size", [0x7FFFFFFF, 16 << 20])
def test_d1_disassemble_a_function_with_a_huge_size_is_capped(firmware, tmp_path, size) -> None:
    from debugger.conftest import Session
    from emu.debugger.cmd_code import MAX_DISASSEMBLE

    elf = _with_main_size(firmware("hello", "rv32"), tmp_path / "huge.elf", size)
    s = Session(elf)
    try:
        result: list[str] = []
        started = time.process_time()
        thread = threading.Thread(target=lambda: result.append(s("disassemble main")), daemon=True)
        thread.start()
        thread.join(60)
        assert not thread.is_alive(), "disassemble main hung on a huge st_size"
        out = result[0]
        _clean(out)
        assert out.startswith(f"(function main claims {size} bytes: showing the first {MAX_DISASSEMBLE};")
        assert out.rstrip().endswith("End of assembler dump.")
        assert out.count("\n") <= MAX_DISASSEMBLE // 2 + 4
        assert time.process_time() - started < 60
    finally:
        s.machine.close()


@pytest.mark.parametrize("command", [
    "break ²", "tbreak ²", "list ²", "list main.c:²", "break main.c:²", "x/²x $sp", "delete ²", "disable ²",
    "condition ² 1", "stepi ²", "next ²", "bt ²", "frame ²", "up ²", "undisplay ²", "quit ²", "until ²",
    "advance ²", "info line ²", "watch ² 4", "p $²", "p ²", "x/2x ²", "ignore ² 1", "npu dump ²",
    "npu dump 0 ²:3", "set listsize ²", "reverse-stepi ²",
])
def test_d3_superscript_digits_are_refused_in_one_line(debug, command) -> None:
    s = debug()
    s("break main")
    s("run")
    out = s(command)
    _clean(out)
    assert out.count("\n") <= 1, out


def test_d3_one_integer_parser() -> None:
    from emu.debugger.errors import DebuggerError
    from emu.debugger.numbers import is_decimal, is_int, parse_int

    assert "²".isdigit() and not is_int("²") and not is_decimal("²") and not is_decimal("١٢")
    assert [parse_int(t) for t in ("12", "0x1f", "017", "-3", "+4", "0")] == [12, 31, 15, -3, 4, 0]
    for bad in ("²", "1²", "0x", "1_000", "", "9" * 41, "0b1"):
        with pytest.raises(DebuggerError):
            parse_int(bad)


def test_d4_non_utf8_bytes_in_ex() -> None:
    hello = ROOT / "build" / "firmware" / "rv32" / "hello.elf"
    if not hello.exists():
        pytest.fail("run `make firmware` first", pytrace=False)
    cmds = [b"echo \xff\\n", b"p \xff", b"break \xff", b"print $\xfe", b"list \xc3\x28", b"x/s \xff"]
    args = [sys.executable.encode(), b"-m", b"emu.cli", b"debug"]
    for c in cmds:
        args += [b"-ex", c]
    r = subprocess.run(args + [str(hello).encode()], capture_output=True, timeout=60, cwd=ROOT,
                       stdin=subprocess.DEVNULL)
    out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
    _clean(out)
    assert "UnicodeEncodeError" not in out and r.returncode == 0, out
    assert out.count("\n") == len(cmds), out


@pytest.mark.parametrize("text", [
    "(" * 300 + "1" + ")" * 300, "+".join(["1"] * 3000), "-" * 3000 + "1", "*" * 500 + "$sp",
    "a" + "[0]" * 400, "s" + ".x" * 2000, "{int}" * 400 + "0", "(int)" * 400 + "1", "sizeof " * 400 + "1",
])
def test_d5_deep_nesting_and_long_sums_give_a_clear_error(debug, text) -> None:
    s = debug()
    out = s(f"p {text}")
    _clean(out)
    assert out.count("\n") == 1, out
    assert "RecursionError" not in out and "maximum recursion" not in out


def test_d5_moderate_expressions_still_work(debug) -> None:
    s = debug()
    assert s("p " + "(" * 40 + "1" + ")" * 40) == "$1 = 1\n"
    assert s("p " + "+".join(["1"] * 150)) == "$2 = 150\n"
