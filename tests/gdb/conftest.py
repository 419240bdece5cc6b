"""Fixtures for the GDB stub tests: an in-process stub on a socket pair, and real gdb sessions.

Every test module here sets ``pytestmark = pytest.mark.gdb``.  The in-process fixture joins the stub's
thread with a timeout and fails if it is still alive, which is how "never
hangs" is checked; the gdb-multiarch helper runs gdb with ``-batch`` under a
timeout and always kills the emulator it started.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from stub_session import StubRun, start_stub  # noqa: F401 - used by the fixtures below

from emu import Machine

GDB = shutil.which("gdb-multiarch")
ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "build" / "firmware"


@pytest.fixture
def stub(firmware) -> Iterator:
    """``stub("hello", "rv64")`` -> a :class:`StubRun` on a fresh Machine."""
    runs: list[StubRun] = []

    def make(app: str = "hello", arch: str = "rv32") -> StubRun:
        run = start_stub(Machine.from_elf(firmware(app, arch)))
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.client.sock.close()
        run.wait()


# -- real gdb sessions --------------------------------------------------------------------------------


@dataclass
class GdbResult:
    output: str       # gdb's stdout + stderr
    emu_stdout: str
    emu_stderr: str
    emu_status: int | None


def start_emulator(elf: Path, emu_args: tuple[str, ...] = ()) -> tuple[subprocess.Popen, int]:
    """``npuemu run [EMU_ARGS] --gdb 127.0.0.1:0 ELF``; returns the process and the port it printed."""
    proc = subprocess.Popen([sys.executable, "-m", "emu.cli", "run", *emu_args, "--gdb", "127.0.0.1:0", str(elf)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stderr is not None
    line = proc.stderr.readline().decode()
    match = re.fullmatch(r"npuemu: waiting for gdb on 127\.0\.0\.1:(\d+)\n", line)
    if not match:
        proc.kill()
        pytest.fail(f"no 'waiting for gdb' line from npuemu: {line!r}")
    return proc, int(match.group(1))


def run_gdb(elf: Path, *commands: str, timeout: float = 30.0, python: str | None = None,
            emu_args: tuple[str, ...] = ()) -> GdbResult:
    """One ``gdb-multiarch -batch`` session against a fresh emulator, ``commands`` as ``-ex``.

    ``python`` is a gdb Python script run (with ``source``) right after connecting; ``emu_args``
    go to ``npuemu run`` (``("--deterministic",)`` for reverse execution).
    """
    if GDB is None:
        pytest.skip("gdb-multiarch is not installed")
    proc, port = start_emulator(elf, emu_args)
    args = [GDB, "-batch", "-nx", "-ex", "set confirm off", "-ex", "set pagination off",
            "-ex", f"target remote 127.0.0.1:{port}"]
    script = None
    if python is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(python)
        script = Path(f.name)
        args += ["-ex", f"source {script}"]
    for command in commands:
        args += ["-ex", command]
    args.append(str(elf))
    try:
        try:
            gdb = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            printed = b"".join(x if isinstance(x, bytes) else (x or "").encode() for x in (exc.stdout, exc.stderr))
            pytest.fail(f"gdb session timed out; it printed:\n{printed.decode(errors='replace')}")
        output = gdb.stdout + gdb.stderr
        try:
            out, err = proc.communicate(timeout=10)
            status: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            status = None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if script is not None:
            script.unlink(missing_ok=True)
    result = GdbResult(output, out.decode(errors="replace"), err.decode(errors="replace"), status)
    assert "Traceback" not in result.emu_stderr, result.emu_stderr
    return result


@pytest.fixture
def gdb_session():
    return run_gdb

