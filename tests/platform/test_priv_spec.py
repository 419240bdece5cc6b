"""The privileged architecture, diffed against QEMU 7.2: firmware/apps/priv_spec runs PMP (TOR,
full-range NAPOT, an entry that denies), Sv32/Sv39/Sv48 page faults handled in S-mode (one on an instruction
straddling into a no-execute page: stval = the second page), A/D bits, sret
from a virtual alias, medeleg/mideleg for every cause and the sstatus/sie views, F state (FS Off ->
illegal, FS Dirty and SD after a write, fcsr), TVM/TSR/TW, UXL,
Sdtrig probes, mcountinhibit and counter writes, printing one
tagged line per observation.  Each tag is compared on its own, so a difference names a feature.

The [sdtrig] tag probes tselect/tdata1..3/tinfo (WARL values, the trigger count) and makes type 2
and type 6 triggers fire on execute, load, store, AMO and lr/sc from U, S and M (Unicorn patch
0008); every tag, and the whole console, must equal QEMU 7.2's."""

from __future__ import annotations

import functools

import pytest
from npuemu_cli import run_npuemu
from support.qemu import run_qemu

BOTH = ("rv32", "rv64")
TAGS = ("pmp-tor", "pmp-deny", "pmp-mtval", "vm", "vm-stval", "satp", "deleg", "fpu", "uxl", "sdtrig", "counters", "tvm", "tsr",
        "pmp-napot", "tw")


@functools.cache
def _runs(elf: str, arch: str) -> tuple[str, int | None, str, int]:
    qemu = run_qemu(elf, arch)
    ours = run_npuemu("run", "--deterministic", elf, merge=False)
    return qemu.stdout.decode(errors="replace"), qemu.exit_code, ours.output.decode(errors="replace"), ours.status


def _tagged(text: str, tag: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"[{tag}] ")]


@pytest.mark.qemu
@pytest.mark.parametrize(("tag", "arch"), [pytest.param(t, a, id=f"{t}-{a}") for t in TAGS for a in BOTH])
def test_feature_lines_equal_qemus(firmware, tag, arch):
    qemu, _, ours, _ = _runs(str(firmware("priv_spec", arch)), arch)
    expected = _tagged(qemu, tag)
    assert expected, f"QEMU printed no [{tag}] line:\n{qemu}"
    assert _tagged(ours, tag) == expected


@pytest.mark.qemu
@pytest.mark.parametrize("arch", BOTH)
def test_whole_console_and_exit_status_equal_qemus(firmware, arch):
    qemu, qemu_status, ours, status = _runs(str(firmware("priv_spec", arch)), arch)
    assert qemu.endswith("priv_spec: done\n") and qemu_status == 0
    assert (ours, status) == (qemu, qemu_status)


@pytest.mark.parametrize("arch", BOTH)
def test_deterministic_runs_are_byte_identical(firmware, arch):
    elf = firmware("priv_spec", arch)
    first = run_npuemu("run", "--deterministic", elf, merge=False)
    second = run_npuemu("run", "--deterministic", elf, merge=False)
    assert b"[vm] sret at 0xC0000000 alias" in first.output
    assert (first.output, first.stderr, first.status) == (second.output, second.stderr, second.status)
