"""Regression tests for issue 17's GDB findings, each driven the way its reproducer was.

G1 a host label over 63 characters; G2 ``monitor`` touching host files; G3 ack mode costing a
round trip per packet (Nagle); G4 a wildcard bind with no warning; X1 exit status 256 read as
success under ``--gdb`` and from the shell's ``quit``.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading

import pytest
from gdb_rsp import RspClient
from stub_session import start_stub
from support.paths import ROOT

from emu import Machine
from emu.debugger.gdbstub import GdbStub, exposed_addresses, serve_gdb

pytestmark = pytest.mark.gdb


def npuemu(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emu.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_g1_host_label_over_63_characters_is_a_one_line_error(firmware):
    r = npuemu("run", "--gdb", "a" * 64 + ":1234", str(firmware("hello")))
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr
    assert re.fullmatch(r"npuemu: cannot listen on a{64}:1234: .+\n", r.stderr), r.stderr


def _monitor(client: RspClient, line: str) -> str:
    """``monitor LINE``: the console text of the 'O' packets, up to the final OK."""
    client.console.clear()
    assert client.cmd(b"qRcmd," + line.encode().hex().encode()) == b"OK"
    return b"".join(client.console).decode()


@pytest.mark.parametrize("allowed", [False, True])
def test_g2_monitor_touches_host_files_only_when_allowed(firmware, tmp_path, allowed):
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2 is the password\n")
    trace = tmp_path / "trace.json"
    server, client_sock = socket.socketpair()
    machine = Machine.from_elf(firmware("hello"))
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(
        status=GdbStub(machine, server, allow_host_files=allowed).serve()), daemon=True)
    thread.start()
    client = RspClient(client_sock)
    read = _monitor(client, f"source {secret}")
    written = _monitor(client, f"npu trace {trace}")
    client.send(b"D")
    assert client.recv() == b"OK"
    thread.join(10)
    assert not thread.is_alive()
    if allowed:
        assert "hunter2" in read  # the shell's error echoes the first word: the file was read
        assert trace.exists() and "NPU trace written" in written
    else:
        message = "monitor commands cannot read or write host files: start npuemu with --gdb-allow-host-files"
        assert message in read and "hunter2" not in read, read
        assert message in written and not trace.exists(), written


class _CountingSocket:
    """A TCP socket that counts sendall calls (one per reply is the promise)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sends = 0

    def sendall(self, data: bytes) -> None:
        self.sends += 1
        self.sock.sendall(data)

    def __getattr__(self, name: str):
        return getattr(self.sock, name)


def test_g3_ack_mode_one_write_per_reply_and_no_nagle(firmware):
    """2000 breakpoints in ack mode (gdb's default before QStartNoAckMode): each reply, '+' included,
    is one write on a TCP_NODELAY socket, so no packet waits for the client's delayed ACK."""
    listener = socket.create_server(("127.0.0.1", 0))
    client_sock = socket.create_connection(listener.getsockname())
    client_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as gdb's ser-tcp.c does
    server, _ = listener.accept()
    listener.close()
    counting = _CountingSocket(server)
    run_result: dict = {}
    machine = Machine.from_elf(firmware("hello"))
    thread = threading.Thread(target=lambda: run_result.update(
        status=GdbStub(machine, counting).serve()), daemon=True)  # type: ignore[arg-type]
    thread.start()
    client = RspClient(client_sock)
    assert server.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    packets = 0
    for i in range(2000):
        client.send(b"Z0,%x,2" % (0x80000000 + 2 * i))
        assert client.recv() == b"OK"  # RspClient checks the '+' came first
        packets += 1
    assert len(machine.debug.breakpoints) == 2000
    client.send(b"D")
    assert client.recv() == b"OK"
    thread.join(10)
    assert counting.sends == packets + 1, counting.sends  # + the D's reply; no separate '+' writes
    assert not machine.debug.breakpoints  # gdb's breakpoints leave with it


def test_g4_wildcard_bind_names_every_interface(firmware):
    proc = subprocess.Popen([sys.executable, "-m", "emu.cli", "run", "--gdb", "0.0.0.0:0", str(firmware("hello"))],
                            cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        assert proc.stderr is not None
        warning = proc.stderr.readline().decode()
        waiting = proc.stderr.readline().decode()
    finally:
        proc.kill()
        proc.wait()
    assert warning.startswith("npuemu: warning: the gdb stub on port "), warning
    assert "reachable from other machines at" in warning
    assert waiting.startswith("npuemu: waiting for gdb on 0.0.0.0:"), waiting
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    with listener:
        expected = exposed_addresses("0.0.0.0", socket.AF_INET, listener)
    assert expected and all(address in warning for address in expected), (expected, warning)


def test_g4_loopback_bind_has_no_warning(firmware):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    with listener:
        assert exposed_addresses("127.0.0.1", socket.AF_INET, listener) == []
        assert exposed_addresses("192.0.2.7", socket.AF_INET, listener) == ["192.0.2.7"]


def test_x1_exit_256_under_gdb_is_a_failure(gdb_session, firmware):
    r = gdb_session(firmware("hello"), "break exit", "continue", "set $a0 = 256", "continue")
    assert "[Inferior 1 (Remote target) exited with code 01]" in r.output, r.output
    assert r.emu_status == 1


def test_x1_exit_256_from_serve_gdb_and_w_reply(firmware):
    machine = Machine.from_elf(firmware("hello"))
    run = start_stub(machine)
    run.client.start_no_ack()
    machine.exited, machine.exit_code = True, 256
    assert run.client.cmd(b"c") == b"W01"
    run.client.sock.close()
    run.wait()


def test_x1_quit_256_in_the_shell_is_non_zero(firmware):
    r = npuemu("debug", "-ex", "quit 256", str(firmware("hello")))
    assert r.returncode == 1, r
    r = npuemu("debug", "-ex", "quit 3", str(firmware("hello")))
    assert r.returncode == 3, r


def test_serve_gdb_maps_the_exit_status(firmware, monkeypatch):
    """serve_gdb's return value is the process status: 256 -> 1 as `npuemu run` does."""
    machine = Machine.from_elf(firmware("hello"))
    machine.exited, machine.exit_code = True, 256
    monkeypatch.setattr(GdbStub, "serve", lambda self: 256)
    done: dict = {}
    thread = threading.Thread(target=lambda: done.update(status=serve_gdb(machine, "127.0.0.1:0")), daemon=True)
    import io
    import sys as _sys
    err = io.StringIO()
    monkeypatch.setattr(_sys, "stderr", err)
    thread.start()
    for _ in range(200):
        match = re.search(r"waiting for gdb on 127\.0\.0\.1:(\d+)", err.getvalue())
        if match:
            break
        threading.Event().wait(0.02)
    assert match, err.getvalue()
    socket.create_connection(("127.0.0.1", int(match.group(1)))).close()
    thread.join(10)
    assert done["status"] == 1
