"""The ``dut`` test API: one console-level interface over npuemu and over QEMU.

Users of pytest-embedded and of Renode's Robot keywords write ``dut.expect(...)``,
``dut.expect_exact(...)``, "must not appear" checks, line matching and Unity parsing; this
module gives them those words.  The same test file runs on two backends:

- ``npuemu`` (:class:`NpuemuDut`): the emulator itself; timeouts are *virtual* seconds and the
  whole :class:`~emu.testing.FirmwareMachine` API (symbols, registers, NPU counters) is there too;
- ``qemu`` (:class:`QemuDut`): ``qemu-system-riscv32/64 -M virt`` for differential checks;
  console and exit status only, timeouts in host seconds (QEMU has no virtual-time bound here).

The backends provide three primitives (search the unread console for one regex, wait for the
exit, type bytes); everything else is built once on top of them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from emu.testing import DEFAULT_TAIL_LINES, DEFAULT_TIMEOUT, FirmwareError, FirmwareMachine
from emu.unity import SUMMARY, UnityRun, parse_unity

Pattern = str | bytes | re.Pattern[str]
BACKENDS = ("npuemu", "qemu")
QEMU_RAM = "128M"  # npuemu's default DRAM, so both backends see the same platform


def _compile(pattern: Pattern) -> re.Pattern[str]:
    if isinstance(pattern, re.Pattern):
        return pattern
    return re.compile(pattern.decode("utf-8", "surrogateescape") if isinstance(pattern, bytes) else pattern)


class Dut:
    """A device under test seen through its console: what pytest-embedded users know.

    Each ``expect*`` call searches the output after the previous match (pexpect semantics), so
    consecutive calls check order; on failure they raise :class:`~emu.testing.FirmwareError`
    (a test *failure*) with the report.
    """

    backend = ""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self.unity_runs: list[UnityRun] = []

    # -- what backends provide ---------------------------------------------------------------
    def _expect_regex(self, regex: re.Pattern[str], timeout: float | None) -> re.Match[str]:
        raise NotImplementedError

    def expect_exit(self, status: int | None = None, *, timeout: float | None = None) -> int:
        """Wait for the firmware to exit (with ``status`` if given); its exit status."""
        raise NotImplementedError

    def write(self, data: bytes | str) -> None:
        """Type ``data`` on the console (UART receive line), exactly as given."""
        raise NotImplementedError

    @property
    def output(self) -> bytes:
        """Everything the firmware printed so far."""
        raise NotImplementedError

    @property
    def cursor(self) -> int:
        """Byte offset in :attr:`output` where the next ``expect`` starts searching."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- the test API ---------------------------------------------------------------------------
    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def tail(self, lines: int = DEFAULT_TAIL_LINES) -> str:
        return "\n".join(self.text.splitlines()[-lines:])

    def write_line(self, line: str) -> None:
        """Type ``line`` and a newline."""
        self.write(line + "\n")

    def expect(self, pattern: Pattern | Sequence[Pattern], *, timeout: float | None = None) -> re.Match[str]:
        """Run until the output matches ``pattern`` (a regex string, bytes or compiled regex), or any
        of a list of them; the match (for a list, of the pattern that matched first in the output,
        ties going to the earlier one in the list; ``match.re`` tells which)."""
        __tracebackhide__ = True
        if isinstance(pattern, (str, bytes, re.Pattern)):
            return self._expect_regex(_compile(pattern), timeout)
        regexes = [_compile(p) for p in pattern]
        if not regexes:
            raise ValueError("expect() needs at least one pattern")
        either = re.compile("|".join(f"(?P<_npuemu_{i}>{r.pattern})" for i, r in enumerate(regexes)))
        match = self._expect_regex(either, timeout)
        index = next(i for i in range(len(regexes)) if match.group(f"_npuemu_{i}") is not None)
        found = regexes[index].match(match.string, match.start())
        assert found is not None  # the alternative matched at this very position
        return found

    def expect_exact(self, text: str | bytes | Sequence[str | bytes], *,
                     timeout: float | None = None) -> re.Match[str]:
        """Like :meth:`expect` with literal text (no regex characters to escape)."""
        __tracebackhide__ = True
        texts = [text] if isinstance(text, (str, bytes)) else list(text)
        return self.expect([re.escape(t.decode() if isinstance(t, bytes) else t) for t in texts], timeout=timeout)

    def expect_line(self, pattern: str, *, timeout: float | None = None) -> re.Match[str]:
        """A whole console line matches ``pattern`` (anchored at both ends, the newline printed);
        ``match.group(0)`` is the line without its line ending."""
        __tracebackhide__ = True
        line = self._expect_regex(re.compile(rf"^(?:{pattern})(?=\r?\n)\r?\n", re.MULTILINE), timeout)
        found = re.compile(rf"^(?:{pattern})(?=\r?\n)", re.MULTILINE).match(line.string, line.start())
        assert found is not None
        return found

    @contextmanager
    def expect_no(self, pattern: Pattern) -> Iterator[None]:
        """``with dut.expect_no(r"panic|assert"): dut.expect("ready")``: the output the block's
        ``expect`` calls go over must not match ``pattern``."""
        __tracebackhide__ = True
        regex = _compile(pattern)
        start = self.cursor
        yield
        span = self.output[start : self.cursor].decode("utf-8", "replace")
        found = regex.search(span)
        if found is not None:
            line = span[span.rfind("\n", 0, found.start()) + 1 : span.find("\n", found.end()) % (len(span) + 1)]
            raise self.failure(f"forbidden output {regex.pattern!r} appeared: {line.strip()!r}")

    def expect_unity_test_output(self, *, timeout: float | None = None) -> UnityRun:
        """Run until Unity's summary (``N Tests M Failures K Ignored`` / ``OK|FAIL``) and return the
        cases; under the pytest plugin each case becomes one pytest result (passed, failed or
        skipped for IGNORE), named ``<this test>::<unity test name>``."""
        __tracebackhide__ = True
        start = self.cursor
        self._expect_regex(SUMMARY, timeout)
        text = self.output[start : self.cursor].decode("utf-8", "replace")
        summary = SUMMARY.search(text)
        assert summary is not None
        run = parse_unity(text, summary)
        self.unity_runs.append(run)
        return run

    def failure(self, reason: str) -> FirmwareError:
        """A FirmwareError with this backend's report."""
        return FirmwareError(reason, self.report(reason))

    def report(self, headline: str) -> str:
        raise NotImplementedError


class NpuemuDut(Dut):
    """The ``dut`` on npuemu: console API plus everything of :class:`~emu.testing.FirmwareMachine`."""

    backend = "npuemu"

    def __init__(self, machine: FirmwareMachine) -> None:
        super().__init__(machine.path, machine.timeout)
        self.machine = machine

    def __getattr__(self, name: str) -> Any:
        if name == "machine":
            raise AttributeError(name)
        return getattr(self.machine, name)

    def _expect_regex(self, regex: re.Pattern[str], timeout: float | None) -> re.Match[str]:
        __tracebackhide__ = True
        return self.machine.uart.expect(regex, timeout=timeout)

    def expect_exit(self, status: int | None = None, *, timeout: float | None = None) -> int:
        __tracebackhide__ = True
        self.machine.run_until(exit=True if status is None else status, timeout=timeout)
        assert self.machine.exit_code is not None
        return self.machine.exit_code

    def write(self, data: bytes | str) -> None:
        self.machine.uart.send(data)

    @property
    def output(self) -> bytes:
        return self.machine.uart.output

    @property
    def cursor(self) -> int:
        return self.machine.uart._cursor

    def report(self, headline: str) -> str:
        return self.machine.report(headline)

    def close(self) -> None:
        self.machine.close()


def _xlen(path: Path) -> int:
    with open(path, "rb") as f:
        header = f.read(5)
    if header[:4] != b"\x7fELF" or header[4] not in (1, 2):
        raise FirmwareError(f"{path}: not an ELF file", f"{path}: not an ELF file")
    return 32 if header[4] == 1 else 64


class QemuDut(Dut):
    """The ``dut`` on ``qemu-system-riscv32/64 -M virt -bios none -kernel ELF``: console and exit.

    A reader thread collects QEMU's stdout; ``expect`` waits (host time) until the unread
    output matches.  Semihosting is enabled, so semihosting firmware prints and exits as on npuemu.
    """

    backend = "qemu"

    def __init__(self, path: Path, *, timeout: float = DEFAULT_TIMEOUT, args: Sequence[str] = (),
                 tail_lines: int = DEFAULT_TAIL_LINES, **_ignored: Any) -> None:
        super().__init__(path, timeout)
        self.tail_lines = tail_lines
        binary = f"qemu-system-riscv{_xlen(path)}"
        if shutil.which(binary) is None:
            raise FirmwareError(f"{binary} not found", f"--npuemu-backend qemu needs {binary} on PATH")
        command = [binary, "-M", "virt", "-m", QEMU_RAM, "-bios", "none", "-kernel", str(path), "-nographic",
                   "-monitor", "none", "-semihosting-config", "enable=on,target=native"]
        if args:
            command += ["-append", " ".join(args)]
        self._out = bytearray()
        self._cursor = 0
        self._changed = threading.Condition()
        self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._read, name="qemu-console", daemon=True)
        self._reader.start()

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"dut.{name} is not available on the qemu backend (console and exit only); "
                             "check dut.backend or skip the test there")

    def _read(self) -> None:
        assert self._proc.stdout is not None
        while chunk := os.read(self._proc.stdout.fileno(), 65536):
            with self._changed:
                self._out += chunk
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _wait(self, done: Any, timeout: float | None) -> bool:
        """Wait (host time) until ``done()`` is true or the timeout passes; whether it became true."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._changed:
            while not done():
                if not self._reader.is_alive() and self._proc.poll() is not None:
                    return bool(done())
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.1))
        return True

    def _expect_regex(self, regex: re.Pattern[str], timeout: float | None) -> re.Match[str]:
        __tracebackhide__ = True
        found: list[re.Match[str]] = []

        def matched() -> bool:
            window = self._out[self._cursor :].decode("utf-8", "surrogateescape")
            match = regex.search(window)
            if match is not None:
                found.append(match)
                self._cursor += len(window[: match.end()].encode("utf-8", "surrogateescape"))
            return match is not None

        if self._wait(matched, timeout):
            return found[0]
        seconds = self.timeout if timeout is None else timeout
        why = (f"QEMU exited with status {self._proc.returncode} first" if self._proc.poll() is not None
               else f"not reached within {seconds:g} s of host time (timeout)")
        raise self.failure(f"console output matching {regex.pattern!r}: {why}")

    def expect_exit(self, status: int | None = None, *, timeout: float | None = None) -> int:
        __tracebackhide__ = True
        if not self._wait(lambda: self._proc.poll() is not None, timeout):
            raise self.failure(f"exit: not reached within {self.timeout if timeout is None else timeout:g} s "
                               "of host time (timeout)")
        self._reader.join(timeout=5)
        code = self._proc.returncode
        if status is not None and code != status:
            raise self.failure(f"exit with status {status}: the firmware exited with status {code}")
        return code

    def write(self, data: bytes | str) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(data.encode() if isinstance(data, str) else bytes(data))
        self._proc.stdin.flush()

    @property
    def output(self) -> bytes:
        with self._changed:
            return bytes(self._out)

    @property
    def cursor(self) -> int:
        return self._cursor

    def report(self, headline: str) -> str:
        state = "running" if self._proc.poll() is None else f"exited with status {self._proc.returncode}"
        lines = [headline, f"  firmware:   {self.path} (qemu-system-riscv{_xlen(self.path)} -M virt)",
                 f"  state:      {state}"]
        tail = self.tail(self.tail_lines)
        lines.append(f"  console (last {self.tail_lines} lines):" if tail else "  console:    (no output)")
        lines.extend(f"    | {line}" for line in tail.splitlines())
        return "\n".join(lines)

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait(timeout=10)
        self._reader.join(timeout=5)
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                stream.close()
