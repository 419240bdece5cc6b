"""`npuemu run --bios/--kernel/--initrd/--append/--xlen`: every misuse is one line and status 2."""

from __future__ import annotations

import pytest
from npuemu_cli import run_npuemu


def _one_line(result) -> str:
    text = result.output.decode(errors="replace")
    assert result.status == 2, text
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("npuemu: "), text
    return lines[0]


@pytest.mark.parametrize(("args", "message"), [
    (["--kernel", "{hello}"], "--kernel needs --bios FW or --bios none"),
    (["{hello}", "--bios", "{hello}"], "either a firmware ELF or --bios/--kernel"),
    (["--bios", "none"], "--bios none needs --kernel"),
    (["--bios", "{hello}", "--initrd", "{hello}"], "--initrd needs --kernel"),
    (["--bios", "{hello}", "--append", "quiet"], "--append needs --kernel"),
    (["--bios", "{hello}", "--xlen", "64"], "--xlen 64 does not match the rv32 ELF"),
    (["--bios", "{hello}", "--kernel", "{hello64}"], "the ELFs mix rv32 and rv64"),
    (["--bios", "{missing}"], "cannot read --bios"),
    (["{raw}"], "not an ELF file (raw images go with --bios or --kernel)"),
    (["--bios", "{hello}", "--kernel", "{hello}"], "overlap"),
    (["--bios", "{big}", "--ram", "1M"], "do not fit in RAM"),
    ([], "nothing to run"),
])
def test_misuse_is_one_line(firmware, tmp_path, args, message):
    raw = tmp_path / "raw.bin"
    raw.write_bytes(b"\x13\x00\x00\x00" * 8)
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(2 << 20))
    names = {"hello": firmware("hello", "rv32"), "hello64": firmware("hello", "rv64"), "missing": tmp_path / "nope",
             "raw": raw, "big": big}
    line = _one_line(run_npuemu("run", *(a.format(**names) for a in args)))
    assert message in line


def test_bios_elf_runs_like_a_plain_elf_but_through_the_reset_stub(firmware):
    """`--bios hello.elf`: QEMU's stub at 0x1000 jumps to 0x80000000 with a0/a1/a2 set."""
    plain = run_npuemu("run", "--deterministic", firmware("hello", "rv64"))
    bios = run_npuemu("run", "--deterministic", "--bios", firmware("hello", "rv64"))
    assert plain.status == bios.status == 0 and plain.output == bios.output


def test_debug_accepts_bios_and_kernel(firmware, tmp_path):
    kernel = tmp_path / "k.bin"
    kernel.write_bytes(b"\x6f\x00\x00\x00")  # j .
    result = run_npuemu("debug", "--bios", firmware("hello", "rv64"), "--kernel", kernel,
                        "-ex", "info registers pc", "-ex", "x/6i $pc", "-ex", "stepi 6", "-ex", "info registers pc a0 a1 a2",
                        "-ex", "quit")
    text = result.output.decode()
    assert result.status == 0, text
    assert "0x1000:\tauipc\tt0, 0" in text and "0x1014:\tjr\tt0" in text  # the reset stub, readable
    assert "0x1000" in text and "0x80000000" in text and "0x87e00000" in text and "0x1028" in text


def test_debug_a_raw_bios_without_symbols(tmp_path):
    bios = tmp_path / "loop.bin"
    bios.write_bytes(bytes.fromhex("13050000" "6f000000"))  # li a0, 0 ; j .
    result = run_npuemu("debug", "--bios", bios, "-ex", "stepi 7", "-ex", "info registers pc", "-ex", "bt",
                        "-ex", "x/2i $pc", "-ex", "quit")
    text = result.output.decode()
    assert result.status == 0, text
    assert "internal error" not in text and "0x80000004" in text and "j\t0x80000004" in text
