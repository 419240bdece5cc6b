"""Run a firmware ELF on QEMU's `virt` machine: the reference npuemu is compared against.

``run_qemu(elf, "rv32", args=("x",), stdin=b"...", timeout=30)`` boots ``elf`` with
``-bios none -kernel``, UART0 on stdio and semihosting enabled, feeds ``stdin`` to the UART (and to semihosting reads), and returns a
:class:`QemuResult` with stdout, stderr, both merged in arrival order, and the exit status
(the finisher's code, or the semihosting exit code). On timeout the whole process group is
killed and ``exit_code`` is None; no QEMU process outlives the call.

Semihosting command line: exactly ``args`` joined by spaces (QEMU's ``arg=`` list); with no
``args`` QEMU uses the ``-kernel`` path. ``npuemu run semihost.elf -- alpha beta`` puts the ELF's
file name first, so the QEMU equivalent is ``args=(elf.name, "alpha", "beta")``; picolibc's crt0
turns either into ``argv = {"program-name", "semihost.elf", "alpha", "beta"}``.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["QemuError", "QemuResult", "qemu_binary", "qemu_command", "run_qemu"]


class QemuError(RuntimeError):
    """QEMU is missing or could not be started."""


@dataclass(frozen=True)
class QemuResult:
    output: bytes           # stdout and stderr merged in the order they arrived
    stdout: bytes           # UART0
    stderr: bytes           # semihosting console output and QEMU's own messages
    exit_code: int | None   # None when the run was killed on timeout
    timed_out: bool = False
    elapsed: float = 0.0    # wall-clock seconds

    @property
    def text(self) -> str:
        """The merged output decoded as UTF-8 (undecodable bytes replaced)."""
        return self.output.decode("utf-8", "replace")


def _xlen(arch: str | int) -> int:
    value = str(arch).lower().removeprefix("rv")
    if value not in ("32", "64"):
        raise ValueError(f"arch must be rv32 or rv64, not {arch!r}")
    return int(value)


def qemu_binary(arch: str | int) -> str:
    """Path of qemu-system-riscv32/64; QemuError with the fix when it is not installed."""
    name = f"qemu-system-riscv{_xlen(arch)}"
    path = shutil.which(name)
    if path is None:
        raise QemuError(f"{name} not found: run `make setup` (or `python3 toolchain/ensure_toolchain.py`)")
    return path


def qemu_command(elf: Path, arch: str | int, args: Sequence[str] = (),
                 extra: Sequence[str] = ()) -> list[str]:
    """The QEMU command line run_qemu uses (useful to reproduce a run by hand)."""
    semihosting = "enable=on,target=native"
    # Semihosting command line: the arguments as given; commas are escaped by doubling them.
    for arg in args:
        semihosting += ",arg=" + str(arg).replace(",", ",,")
    return [
        qemu_binary(arch), "-M", "virt", "-m", "128M", "-smp", "1",
        "-bios", "none", "-kernel", str(elf),
        "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
        "-semihosting-config", semihosting,
        *extra,
    ]


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail like that
        proc.kill()
        proc.wait()


def run_qemu(elf: Path | str, arch: str | int, args: Sequence[str] = (), stdin: bytes = b"",
             timeout: float = 30, extra: Sequence[str] = ()) -> QemuResult:
    """Boot ``elf`` on qemu-system-riscv32/64 and collect its output until it exits or times out.

    ``stdin`` is written to the guest's UART (then stdin is closed); ``extra`` adds QEMU options
    (for example ``("-icount", "shift=0")``).
    """
    _xlen(arch)
    elf = Path(elf)
    if not elf.is_file():
        raise QemuError(f"{elf} does not exist: run `make firmware` first")
    cmd = qemu_command(elf, arch, args, extra)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    except OSError as exc:
        raise QemuError(f"cannot start {cmd[0]}: {exc}") from exc

    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    merged: list[bytes] = []
    pending = memoryview(stdin)
    timed_out = False
    sel = selectors.DefaultSelector()
    try:
        sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
        sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
        if pending:
            os.set_blocking(proc.stdin.fileno(), False)
            sel.register(proc.stdin, selectors.EVENT_WRITE, "stdin")
        else:
            proc.stdin.close()
        open_outputs = 2
        deadline = start + timeout
        while open_outputs:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in sel.select(timeout=min(remaining, 0.5)):
                if key.data == "stdin":
                    try:
                        written = os.write(key.fd, pending[:65536])
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        written = len(pending)
                    pending = pending[written:]
                    if not pending:
                        sel.unregister(proc.stdin)
                        proc.stdin.close()
                    continue
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fileobj)
                    open_outputs -= 1
                    continue
                chunks[key.data].append(data)
                merged.append(data)
        if not timed_out:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        sel.close()
        if timed_out or proc.poll() is None:
            _kill_group(proc)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if not stream.closed:
                stream.close()
    return QemuResult(
        output=b"".join(merged),
        stdout=b"".join(chunks["stdout"]),
        stderr=b"".join(chunks["stderr"]),
        exit_code=None if timed_out else proc.returncode,
        timed_out=timed_out,
        elapsed=time.monotonic() - start,
    )
