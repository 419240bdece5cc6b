"""The counter-read scan (emu/csr_sites.py) decides, at load, whether a firmware gets exact
cycle/instret counts: it must find every ``csrr rd, cycle/instret/mcycle/minstret[h]`` at any
byte offset and agree, byte for byte, with the plain definition it replaced (a regular expression)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from emu import Machine
from emu.csr_sites import uses_insn_counters

# The definition: csrr* rd, {cycle,instret,mcycle,minstret}[h] as bytes (the scan's old regex).
REFERENCE = re.compile(
    rb"[\x73\xf3][\x10-\x3f\x50-\x7f\x90-\xbf\xd0-\xff][\x00-\x0f\x20-\x2f][\xc0\xc8\xb0\xb8]")


def _csr_insn(csr: int, rd: int = 10, funct3: int = 2, rs1: int = 0) -> bytes:
    return (csr << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | 0x73).to_bytes(4, "little")


@pytest.mark.parametrize("csr", [0xC00, 0xC02, 0xB00, 0xB02, 0xC80, 0xC82, 0xB80, 0xB82])
@pytest.mark.parametrize("funct3", [1, 2, 3, 5, 6, 7])
def test_counter_reads_are_found_at_any_offset(csr, funct3):
    nops = (0x13).to_bytes(4, "little") * 8
    for shift in range(4):
        assert uses_insn_counters(nops[:shift + 2] + _csr_insn(csr, funct3=funct3) + nops)


@pytest.mark.parametrize("csr", [0xC01, 0x300, 0x344, 0xB01, 0xC03])
def test_other_csrs_and_ecall_are_not_counter_reads(csr):
    assert not uses_insn_counters(_csr_insn(csr) + (0x73).to_bytes(4, "little") + _csr_insn(0xC00, funct3=0))


def test_agrees_with_the_reference_on_random_and_csr_dense_bytes():
    rng = np.random.default_rng(11)
    for trial in range(400):
        data = rng.integers(0, 256, size=int(rng.integers(0, 64)), dtype=np.uint8)
        # Bias towards the interesting bytes so matches and near misses both occur often.
        pool = np.array([0x73, 0xF3, 0x10, 0x20, 0x40, 0x00, 0x22, 0xC0, 0xC8, 0xB0, 0xB8, 0xD0], np.uint8)
        data = np.where(rng.random(data.size) < 0.7, rng.choice(pool, data.size), data).astype(np.uint8)
        raw = data.tobytes()
        assert uses_insn_counters(raw) == (REFERENCE.search(raw) is not None), (trial, raw.hex())
        assert uses_insn_counters(data) == uses_insn_counters(raw)


@pytest.mark.parametrize("app, counting", [("priv_spec", True), ("hello", False)])
def test_load_turns_counting_on_only_for_firmware_that_reads_counters(firmware, app, counting):
    assert Machine.from_elf(firmware(app, "rv32")).counter.enabled is counting
