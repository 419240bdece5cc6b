"""Names and counts the debugger must not trust: ``source``/``--batch``/``npu trace`` file names,
source files a (possibly hostile) ELF's DWARF names, and ``x`` counts.  Each must end in one
error line -- never a hang, an unbounded read or print, or an "internal error"."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import pytest

from emu.cli import main as cli_main
from emu.debugger.files import MAX_SCRIPT_BYTES, MAX_SOURCE_BYTES
from emu.debugger.source import SourceCache
from emu.debugger.xformat import MAX_COUNT

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")


def _finishes(job: Callable[[], object], timeout: float = 10.0) -> object:
    """``job()``'s result; fails (instead of hanging the suite) if it blocks."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(job()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "blocked (a FIFO opened for reading waits for a writer)"
    return result[0]


def _one_error_line(out: str) -> None:
    assert out.count("\n") == 1 and "internal error" not in out and "Traceback" not in out, out


# -- source FILE ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["/dev/null", "a\0b", "/"])
def test_source_rejects_what_is_not_a_regular_file(debug, name) -> None:
    s = debug()
    out = s(f"source {name}")
    _one_error_line(out)
    assert "NUL" in out if "\0" in name else ("not a regular file" in out or "directory" in out)


def test_source_rejects_a_script_over_the_size_limit(debug, tmp_path) -> None:
    s = debug()
    script = tmp_path / "huge.gdb"
    script.write_text("# just a comment\n" * (MAX_SCRIPT_BYTES // 17 + 1))
    assert script.stat().st_size > MAX_SCRIPT_BYTES
    out = s(f"source {script}")
    _one_error_line(out)
    assert "too large" in out
    script.write_text("p 6 * 7\n")  # an ordinary script still runs
    assert s(f"source {script}") == "$1 = 42\n"


@needs_fifo
def test_source_of_a_fifo_does_not_block(debug, tmp_path) -> None:
    s = debug()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    out = _finishes(lambda: s(f"source {fifo}"))
    _one_error_line(out)
    assert "not a regular file" in out


# -- npu trace FILE -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a\0b", "/dev/null", "/"])
def test_npu_trace_rejects_bad_output_names(debug, name) -> None:
    s = debug()
    out = s(f"npu trace {name}")
    _one_error_line(out)
    assert "NPU trace written" not in out


@needs_fifo
def test_npu_trace_to_a_fifo_does_not_block(debug, tmp_path) -> None:
    s = debug()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    out = _finishes(lambda: s(f"npu trace {fifo}"))
    _one_error_line(out)


# -- npuemu debug --batch FILE --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["device", "directory", "huge", "missing"])
def test_batch_file_must_be_a_small_regular_file(firmware, tmp_path, capfd, kind) -> None:
    if kind == "huge":
        batch = tmp_path / "huge.gdb"
        batch.write_text("# comment\n" * (MAX_SCRIPT_BYTES // 10 + 1))
    else:
        batch = {"device": "/dev/null", "directory": str(tmp_path), "missing": str(tmp_path / "nope")}[kind]
    status = cli_main(["debug", "--batch", str(batch), str(firmware("hello"))])
    captured = capfd.readouterr()
    assert status != 0
    assert captured.err.count("\n") == 1 and captured.err.startswith("npuemu: "), captured.err
    assert "Traceback" not in captured.err and "internal error" not in captured.out + captured.err


@needs_fifo
def test_batch_fifo_does_not_block(firmware, tmp_path, capfd) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    status = _finishes(lambda: cli_main(["debug", "--batch", str(fifo), str(firmware("hello"))]))
    assert status != 0
    assert "not a regular file" in capfd.readouterr().err


def test_batch_script_still_runs(firmware, tmp_path, capfd) -> None:
    batch = tmp_path / "ok.gdb"
    batch.write_text("p 6 * 7\np nosuch\np 1\n")
    assert cli_main(["debug", "--batch", str(batch), str(firmware("hello"))]) == 1
    out = capfd.readouterr().out
    assert "$1 = 42" in out and f"{batch}:2: stopped at this error." in out and "$2" not in out


# -- source files named by DWARF ------------------------------------------------------------------------------
def test_source_cache_reads_only_small_regular_files(tmp_path) -> None:
    cache = SourceCache()
    big = tmp_path / "big.c"
    big.write_text("int x;\n" * (MAX_SOURCE_BYTES // 7 + 1))
    assert big.stat().st_size > MAX_SOURCE_BYTES
    for name in ("/dev/null", str(big), "a\0b.c", str(tmp_path)):
        assert cache.lines(name) is None, name
    assert cache.line_text(str(big), 1) == f"1\tin {big}"
    small = tmp_path / "small.c"
    small.write_text("int x;\nint y;\n")
    assert cache.lines(str(small)) == ["int x;", "int y;"]
    assert cache.line_text(str(small), 2) == "2\tint y;"


@needs_fifo
def test_source_cache_does_not_block_on_a_fifo(tmp_path) -> None:
    fifo = tmp_path / "hello.c"
    os.mkfifo(fifo)
    assert _finishes(lambda: SourceCache().lines(str(fifo))) is None


@needs_fifo
def test_stop_line_with_a_fifo_as_source_file(debug, tmp_path, monkeypatch) -> None:
    """A hostile ELF naming a FIFO (or /dev/zero) as a source file: the stop line says where, no text."""
    s = debug()
    fifo = tmp_path / "main.c"
    os.mkfifo(fifo)
    monkeypatch.setattr(s.machine.elf, "line_for", lambda addr: (str(fifo), 10))
    out = _finishes(lambda: s("stepi"))
    assert f"10\tin {fifo}" in out and "internal error" not in out


# -- x/N ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("count", [MAX_COUNT + 1, 100_000_000, int("9" * 40)])
@pytest.mark.parametrize("fmt", ["xb", "xg", "i", "s", "a"])
def test_x_count_is_capped(debug, count, fmt) -> None:
    s = debug()
    out = s(f"x/{count}{fmt} main")
    _one_error_line(out)
    assert "too large" in out


def test_x_count_digits_beyond_int_conversion_limit(debug) -> None:
    s = debug()
    out = s("x/" + "9" * 5000 + "xb main")
    _one_error_line(out)
    assert "too large" in out


def test_x_at_the_cap_and_leading_zeros_still_work(debug) -> None:
    s = debug()
    addr = s.machine.elf.lookup("main").addr
    assert s(f"x/{MAX_COUNT}xb main").count("\n") == MAX_COUNT // 8
    assert s("x/0000002xb main").startswith(f"{addr:#x} <main>:\t0x")
    assert s("x/-3xb main") == "Count must be a positive number.\n"
    assert s("x/0xb main") == "Count must be a positive number.\n"
    # A failed x leaves the remembered format alone: a bare x still continues from the last one.
    s("x/2xw main")
    s(f"x/{MAX_COUNT + 1}xb main")
    assert s("x").startswith(f"{addr + 8:#x} <main+8>:\t0x") and s("x").count("\t") == 1


def test_x_strings_at_the_end_of_ram(debug) -> None:
    """x/s reads a string at once now; one running off the end of RAM still fails where RAM ends."""
    s = debug()
    end = s.machine.ram.base + s.machine.ram.size
    s.machine.write_mem(end - 9, b"B" * 9)
    assert s(f"x/s {end - 9:#x}") == f"Cannot access memory at address {end:#x}\n"
    s.machine.write_mem(end - 300, b"C" * 250 + b"\0")
    out = s(f"x/2s {end - 300:#x}").splitlines()
    assert out[0].endswith('"' + "C" * 200 + '"...') and out[1] == f'{end - 99:#x}:\t"' + "C" * 49 + '"'
