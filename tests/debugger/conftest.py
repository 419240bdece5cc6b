"""A CommandShell on a real firmware ELF, with its output captured per command."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from emu import Machine
from emu.debugger.commands import CommandShell


class Session:
    """``session("b main")`` runs one command and returns what it printed."""

    def __init__(self, path, **options) -> None:
        self.uart = bytearray()
        options.setdefault("deterministic", True)
        self.machine = Machine.from_elf(path, count_insns=True, stdout=self.uart.extend, **options)
        self.chunks: list[str] = []
        self.shell = CommandShell(self.machine, self.chunks.append)

    def __call__(self, line: str) -> str:
        start = len(self.chunks)
        self.shell.execute(line)
        return "".join(self.chunks[start:])

    def reg(self, name: str) -> int:
        return self.machine.read_reg(name)


@pytest.fixture
def debug(firmware) -> Iterator[Callable[..., Session]]:
    """``debug("hello", "rv64")`` -> a Session on build/firmware/rv64/hello.elf."""
    sessions: list[Session] = []

    def make(app: str = "hello", arch: str = "rv32", **options) -> Session:
        sessions.append(Session(firmware(app, arch), **options))
        return sessions[-1]

    yield make
    for s in sessions:
        s.machine.close()
