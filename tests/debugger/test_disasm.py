"""Capstone disassembly of raw bytes: RV32/RV64, compressed, branch targets, undecodable data."""

from __future__ import annotations

from emu.debugger.disasm import Disassembler, format_insn, is_call


def test_rv32_compressed_and_targets() -> None:
    code = bytes.fromhex("130101ff" "ef008000" "0145" "8280" "63100500")
    insns = Disassembler(32).decode(code, 0x80000000)
    assert [i.mnemonic for i in insns] == ["addi", "jal", "c.li", "c.jr", "bnez"]
    assert [i.size for i in insns] == [4, 4, 2, 2, 4]
    assert insns[1].target == 0x8000000C and insns[1].operands == "0x8000000c"
    assert insns[4].target == 0x8000000C
    assert is_call(insns[1]) and not is_call(insns[3])


def test_rv64_words() -> None:
    insns = Disassembler(64).decode(bytes.fromhex("1b050500" "0265"), 0x1000)  # sext.w a0, a0 ; c.ldsp a0
    assert insns[0].mnemonic == "sext.w"
    assert insns[1].mnemonic == "c.ldsp"


def test_undecodable_bytes_do_not_stop_the_dump() -> None:
    insns = Disassembler(32).decode(b"\xff\xff\xff\xff\x01\x45", 0x100)
    assert insns[0].mnemonic == ".4byte" and insns[0].operands == "0xffffffff"
    assert insns[1].mnemonic == "c.li"


def test_format_marks_current_and_names_targets() -> None:
    insn = Disassembler(32).decode(bytes.fromhex("ef008000"), 0x80000000)[0]
    line = format_insn(insn, lambda a: "foo" if a == 0x80000008 else None, " <main>", current=True)
    assert line == "=> 0x80000000 <main>:\tjal\t0x80000008 <foo>"
