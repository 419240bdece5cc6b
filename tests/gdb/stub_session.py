"""An in-process GDB stub serving one socket-pair client in a thread (tests/gdb)."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

from gdb_rsp import RspClient

from emu import Machine
from emu.debugger.gdbstub import GdbStub


@dataclass
class StubRun:
    """A stub serving one socket-pair client in a thread."""

    machine: Machine
    client: RspClient
    thread: threading.Thread
    result: dict

    def wait(self, timeout: float = 10.0) -> int:
        """The stub's return value; fails if it has not finished within ``timeout``."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the stub did not finish"
        assert "error" not in self.result, self.result.get("error")
        return self.result["status"]


def start_stub(machine: Machine, log: list[str] | None = None) -> StubRun:
    server, client = socket.socketpair()
    result: dict = {}

    def serve() -> None:
        try:
            result["status"] = GdbStub(machine, server, log=log.append if log is not None else None).serve()
        except BaseException as exc:  # noqa: BLE001 - reported by StubRun.wait
            result["error"] = repr(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return StubRun(machine, RspClient(client), thread, result)
