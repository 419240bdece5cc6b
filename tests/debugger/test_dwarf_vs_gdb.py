"""The DWARF debugger against the judge: the same session in ``npuemu debug`` and in gdb-multiarch
on QEMU's gdbstub, on dbgtest built at -O0 and -O2 for rv32 and rv64, compared line by line.

One QEMU and one gdb per build, every command in one batch.  The only differences accepted are
the formatting ones in :func:`normalize`, each with its reason; values, frame lists (inlined
frames included), breakpoint addresses and lines must be equal.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.gdb

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "firmware" / "apps" / "dbgtest" / "main.c"
BUILDS = [("rv32", "dbgtest"), ("rv64", "dbgtest"), ("rv32", "dbgtest_o2"), ("rv64", "dbgtest_o2")]



def marker_line(marker: str) -> int:
    """The line of dbgtest's ``/* MARKER */`` comment, so the session survives edits of the source."""
    for number, text in enumerate(SOURCE.read_text().splitlines(), 1):
        if f"/* {marker} */" in text:
            return number
    raise AssertionError(f"{marker} not in {SOURCE}")


def session() -> list[str]:
    """The commands: ``continue`` starts the program (gdb is attached to a halted QEMU)."""
    check, inline, fact = marker_line("BREAK_CHECK"), marker_line("BREAK_INLINE"), marker_line("BREAK_FACT")
    return [
        "break check", f"break main.c:{check}", f"break main.c:{inline}", "break paint", "break make_point",
        f"break main.c:{fact}",
        "continue", "bt", "info args", "info locals", "info frame",
        "continue", "bt", "info args", "info locals", "finish",
        "continue", "bt", "info args", "p *s", "p s->f", "p/x s->color", "ptype s", "whatis s", "finish",
        "continue", "bt", "info locals", "p s", "p/x s", "p *p", "p p->next->val", "p arr[3]", "p arr",
        "ptype s", "whatis s", "p pxCurrentTCB->pcTaskName", "p *pxCurrentTCB", "p/x *pxCurrentTCB",
        "p pxCurrentTCB->pxNext->pcTaskName[0]", "p global_shape.name", "p limits", "p big", "p ratio",
        "p sizeof(s)", "p &nodes[1]", "p *nodes[0].next", "p nodes[1].next->val + 1", "p limits[1]@3",
        "p (long)&nodes[2] - (long)&nodes[0]", "p &nodes[2] - &nodes[0]", "whatis &nodes[1]",
        "p *(struct node *)&nodes[1]", "ptype struct flags", "ptype TCB_t", "whatis pxCurrentTCB",
        "whatis big", "ptype struct point", "whatis sizeof(int)", "ptype paint", "whatis &fact", "whatis idle_stack",
        "ptype enum color", "whatis (char)65", "p (char)65", "p/x limits", "p/d nodes[0]", "p -limits[0] * 3u",
        "info functions ^f", "info variables ^n", "p RED", "p (enum color)6", "p ratio * 3",
        "info frame",
        "continue", "bt", "info locals", "up", "info locals", "info frame", "down",
        "continue", "bt", "info args", "finish",
        "delete", "finish", "finish", "bt",
    ]


# -- normalisation: formatting differences only ---------------------------------------------------
_PATH = re.compile(r"(?:[\w.-]+/)+([\w.-]+\.[chS])\b")
_ENTRY = re.compile(r"\b(\w+)=\1@entry=")
# QEMU 7.2's rv64 stub refuses pmpcfg1 when gdb reads every register (``info frame``); gdb prints
# the complaint in the middle of its output.  Not a value of the program.
_QEMU_PMP = re.compile(r"Could not fetch register \"pmpcfg1\"; remote failure reply 'E14'")
_DROP = (
    "Continuing.",            # npuemu prints it as interactive gdb does; gdb -batch does not
    "Starting program:",      # npuemu loads and starts the program; gdb attaches to a halted QEMU
    "Run till exit from",     # gdb prints it only when from_tty (interactively), npuemu always
    "Remote debugging using",
    "0x00001000 in ?? ()",    # QEMU's reset vector, where gdb first finds the halted CPU (rv32
    "0x0000000000001000 in ?? ()",  # and rv64)
    "[Inferior 1",
)


def normalize(text: str) -> list[str]:
    """Lines to compare.  Accepted differences, with their reasons:

    * file names: gdb prints the path the compiler was given (``firmware/apps/dbgtest/main.c``),
      the npuemu shell the base name (``main.c``) as it always has; both name the same line-table
      file, compared after reducing both to the base name.
    * ``x=x@entry=3``: gdb's ``print entry-values default`` also shows the value a parameter had
      on entry when DWARF call-site data proves it equal; the value shown is the same.
    * the lines in ``_DROP``: session framing, not values; QEMU's pmpcfg1 complaint (``_QEMU_PMP``).
    """
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(_DROP):
            continue
        if line.startswith("dbgtest: "):  # the firmware's own UART line (npuemu echoes it)
            continue
        line = _ENTRY.sub(r"\1=", _PATH.sub(r"\1", _QEMU_PMP.sub("", line)))
        if not line.strip():
            continue
        out.append(line.rstrip())
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_gdb_on_qemu(elf: Path, arch: str, commands: list[str]) -> str:
    port = _free_port()
    qemu = subprocess.Popen([f"qemu-system-riscv{arch[2:]}", "-M", "virt", "-m", "128M", "-bios", "none",
                             "-kernel", str(elf), "-display", "none", "-serial", "null", "-monitor", "none",
                             "-S", "-gdb", f"tcp:127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        args = ["gdb-multiarch", "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off",
                "-ex", "set width 0",
                "-ex", f"file {elf}", "-ex", f"target remote 127.0.0.1:{port}"]
        for c in commands:
            args += ["-ex", c]
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
                           cwd=ROOT, errors="replace")
        return r.stdout
    finally:
        os.killpg(qemu.pid, signal.SIGKILL)
        qemu.wait(timeout=10)


def run_npuemu(elf: Path, commands: list[str]) -> str:
    args = [sys.executable, "-m", "emu.cli", "debug"]
    for c in commands:
        args += ["-ex", "run" if c == "continue" and "run" not in args else c]
    args.append(str(elf))
    r = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=ROOT, stdin=subprocess.DEVNULL,
                       errors="replace")
    assert "Traceback" not in r.stderr and "internal error" not in r.stdout, r.stdout + r.stderr
    return r.stdout + r.stderr


def _interleave(gdb: list[str], emu: list[str]) -> str:
    return "\n".join(difflib.unified_diff(gdb, emu, "gdb-multiarch on QEMU", "npuemu debug", lineterm="", n=2))


@pytest.mark.skipif(shutil.which("gdb-multiarch") is None, reason="gdb-multiarch not installed")
@pytest.mark.parametrize("arch, app", BUILDS, ids=[f"{a}-{p}" for a, p in BUILDS])
def test_session_matches_gdb_on_qemu(firmware, arch: str, app: str) -> None:
    elf = firmware(app, arch)
    commands = session()
    gdb = normalize(run_gdb_on_qemu(elf, arch, commands))
    emu = normalize(run_npuemu(elf, commands))
    assert len(gdb) > 60, "\n".join(gdb)  # the reference session really ran
    assert gdb == emu, _interleave(gdb, emu)
