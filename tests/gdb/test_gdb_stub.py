"""The stub against the real Machine, packet by packet, over a socket pair (no gdb binary needed)."""

from __future__ import annotations

import re
import socket
import threading
import time
import xml.etree.ElementTree as ET

import pytest
from gdb_rsp import RspClient
from stub_session import start_stub

from emu import ConfigError, Machine
from emu.debugger.gdb_packets import escape_binary
from emu.debugger.gdb_target import encode_value
from emu.debugger.gdbstub import parse_address, serve_gdb

pytestmark = pytest.mark.gdb

ARCHES = ("rv32", "rv64")


def le(value: int, xlen: int) -> bytes:
    return encode_value(value, xlen)


@pytest.mark.parametrize("arch", ARCHES)
def test_handshake_and_target_description(stub, arch):
    run = stub("hello", arch)
    c = run.client
    supported = c.cmd(b"qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+")
    assert c.acks[0] == "+"
    features = supported.split(b";")
    assert b"PacketSize=4000" in features
    for feature in (b"qXfer:features:read+", b"swbreak+", b"hwbreak+", b"QStartNoAckMode+"):
        assert feature in features
    assert c.cmd(b"qAttached") == b"1"
    assert c.cmd(b"?").startswith(b"T05")
    assert c.cmd(b"vCont?") == b"vCont;c;C;s;S"
    assert c.cmd(b"qSomethingNew") == b""  # unknown packets: empty reply, as the protocol says
    # The description in small chunks, as gdb reads it when the stub's PacketSize is small.
    doc, offset = b"", 0
    while True:
        reply = c.cmd(b"qXfer:features:read:target.xml:%x,%x" % (offset, 0x80))
        assert reply[:1] in (b"m", b"l")
        doc += reply[1:]
        offset += len(reply) - 1
        if reply[:1] == b"l":
            break
    root = ET.fromstring(doc.split(b"\n", 2)[2])
    assert root.find("architecture").text == f"riscv:{arch}"
    assert c.cmd(b"qXfer:features:read:other.xml:0,100").startswith(b"E")
    c.send(b"D")
    assert c.recv() == b"OK"
    assert run.wait() == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_registers(stub, arch):
    run = stub("hello", arch)
    c, m = run.client, run.machine
    xlen = m.xlen
    regs = c.cmd(b"g")
    width = xlen // 4
    assert len(regs) == 33 * width
    assert regs[32 * width:] == le(m.elf.entry, xlen)
    assert c.cmd(b"p20") == le(m.elf.entry, xlen)               # pc = 32
    assert c.cmd(b"p%x" % 833) == le(m.read_reg("mstatus"), xlen)
    assert c.cmd(b"p%x" % 4161) == le(3, xlen)                  # priv: M-mode
    assert c.cmd(b"p21").startswith(b"E")                       # f0: no FPU
    assert c.cmd(b"P5=" + le(0x1234, xlen)) == b"OK"
    assert m.read_reg("t0") == 0x1234
    assert c.cmd(b"p5") == le(0x1234, xlen)
    assert c.cmd(b"P%x=" % (65 + 0x340) + le(0xABC, xlen)) == b"OK"  # mscratch
    assert m.read_reg("mscratch") == 0xABC
    new = bytearray(regs)
    new[6 * width:7 * width] = le(0x5678, xlen)                 # t1
    assert c.cmd(b"G" + bytes(new)) == b"OK"
    assert m.read_reg("t1") == 0x5678
    assert c.cmd(b"G" + bytes(new[:-2])).startswith(b"E")
    assert c.cmd(b"P5=12").startswith(b"E")                     # wrong width
    assert c.cmd(b"Pzz=" + le(1, xlen)).startswith(b"E")


@pytest.mark.parametrize("arch", ARCHES)
def test_memory(stub, arch):
    run = stub("hello", arch)
    c, m = run.client, run.machine
    addr = m.elf.lookup("global_var").addr
    assert c.cmd(b"m%x,4" % addr) == (42).to_bytes(4, "little").hex().encode()
    assert c.cmd(b"M%x,4:07000000" % addr) == b"OK"
    assert m.read_mem(addr, 4) == b"\x07\0\0\0"
    data = b"}#$*\x00\xff"
    assert c.cmd(b"X%x,0:" % addr) == b"OK"                     # gdb's probe
    assert c.cmd(b"X%x,%x:" % (addr, len(data)) + escape_binary(data)) == b"OK"
    assert m.read_mem(addr, len(data)) == data
    assert c.cmd(b"m%x,%x" % (addr, len(data))) == data.hex().encode()
    assert c.cmd(b"m0,4") == b"E0e"                             # not RAM
    assert c.cmd(b"M0,1:00") == b"E0e"
    assert c.cmd(b"M%x,4:0700" % addr).startswith(b"E")         # length mismatch
    assert c.cmd(b"m%x" % addr).startswith(b"E")
    assert c.cmd(b"mzz,4").startswith(b"E")
    big = c.cmd(b"m%x,100000" % m.ram.base)                     # clamped to PacketSize
    assert 0 < len(big) < 0x4000


@pytest.mark.parametrize("arch", ARCHES)
def test_breakpoints_and_exit(stub, arch):
    run = stub("hello", arch)
    c, m = run.client, run.machine
    main, add = m.elf.lookup("main").addr, m.elf.lookup("add").addr
    assert c.cmd(b"Z0,%x,2" % main) == b"OK"
    assert c.cmd(b"vCont;c:1") == b"T05swbreak:;thread:1;"
    assert m.read_reg("pc") == main
    assert c.cmd(b"z0,%x,2" % main) == b"OK"
    assert c.cmd(b"Z1,%x,2" % add) == b"OK"
    assert c.cmd(b"c") == b"T05hwbreak:;thread:1;"
    assert m.read_reg("pc") == add
    assert c.cmd(b"s").startswith(b"T05")
    assert m.read_reg("pc") != add
    assert c.cmd(b"vCont;s:1;c").startswith(b"T05")
    assert c.cmd(b"Z9,0,0") == b""                              # unknown kind: unsupported
    assert c.cmd(b"Z0,zz,2").startswith(b"E")
    assert c.cmd(b"z1,%x,2" % add) == b"OK"
    assert c.cmd(b"c") == b"W00"
    assert c.cmd(b"?") == b"W00"
    assert c.cmd(b"c") == b"W00"
    c.send(b"k")
    assert run.wait() == 0
    assert not m.debug.breakpoints


@pytest.mark.parametrize("arch", ARCHES)
def test_watchpoint_reports_the_address(stub, arch):
    run = stub("hello", arch)
    c, m = run.client, run.machine
    addr = m.elf.lookup("global_var").addr
    assert c.cmd(b"Z2,%x,4" % addr) == b"OK"
    reply = c.cmd(b"c")
    assert reply == b"T05watch:%x;thread:1;" % addr
    assert m.read_mem(addr, 4) == (170).to_bytes(4, "little")
    assert c.cmd(b"z2,%x,4" % addr) == b"OK"
    assert c.cmd(b"Z3,%x,4" % addr) == b"OK"
    assert c.cmd(b"c") == b"T05rwatch:%x;thread:1;" % addr
    assert c.cmd(b"z3,%x,4" % addr) == b"OK"
    assert c.cmd(b"Z4,%x,4" % addr) == b"OK"
    assert c.cmd(b"Z4,%x,0" % addr).startswith(b"E")
    c.send(b"D")
    assert c.recv() == b"OK"
    assert run.wait() == 0
    assert not m.debug.watchpoints


@pytest.mark.parametrize("arch", ARCHES)
def test_ctrl_c_stops_a_spinning_firmware_and_time_stands_still(stub, arch):
    run = stub("spin", arch)
    c, m = run.client, run.machine
    c.send(b"c")
    time.sleep(0.3)
    c.send_raw(b"\x03")
    assert c.recv() == b"T02thread:1;"
    count = m.read_mem(m.elf.lookup("spin_count").addr, 4)
    assert count != b"\0\0\0\0"
    now = m.clock.now_ns()
    time.sleep(0.2)
    assert m.clock.now_ns() == now                              # halted: virtual time is paused
    # Resume and interrupt again, this time with the 0x03 right behind the packet.
    c.send_raw(b"$c#63\x03")
    assert c.recv() == b"T02thread:1;"
    assert c.cmd(b"?") == b"T02thread:1;"
    c.send(b"D")
    assert c.recv() == b"OK"
    assert run.wait() == 0


def test_disconnect_while_running_stops_the_machine(stub):
    run = stub("spin", "rv64")
    run.client.send(b"c")
    time.sleep(0.2)
    run.client.sock.close()
    assert run.wait() == 0


def test_no_ack_mode_and_bad_checksums(stub):
    run = stub("hello", "rv32")
    c = run.client
    c.send_raw(b"$g#00")                                        # bad checksum: NAK, no reply
    c.send(b"qAttached")
    assert c.recv() == b"1"
    assert c.acks[:2] == ["-", "+"]
    c.start_no_ack()
    acks = len(c.acks)
    assert c.cmd(b"qAttached") == b"1"
    assert len(c.acks) == acks                                  # no more acks
    c.send_raw(b"$qAttached#00")                                # no-ack mode: an error reply
    assert c.recv().startswith(b"E")
    c.send_raw(b"$" + b"m" * 0x5000 + b"#00")                   # longer than PacketSize
    assert c.recv().startswith(b"E")
    c.send_raw(b"$qAtt")                                        # disconnect mid-packet
    c.sock.close()
    assert run.wait() == 0


def test_nak_makes_the_stub_resend(stub):
    run = stub("hello", "rv32")
    c = run.client
    c.send(b"qAttached")
    assert c.recv() == b"1"
    c.send_raw(b"-")
    assert c.recv() == b"1"


@pytest.mark.parametrize("arch", ARCHES)
def test_monitor_runs_debugger_shell_commands(stub, arch):
    run = stub("hello", arch)
    c = run.client
    assert c.cmd(b"qRcmd," + b"info registers".hex().encode()) == b"OK"
    text = b"".join(c.console).decode()
    assert "pc" in text and "ra" in text
    c.console.clear()
    assert c.cmd(b"qRcmd," + b"npu status".hex().encode()) == b"OK"
    assert b"".join(c.console).strip()
    c.console.clear()
    assert c.cmd(b"qRcmd," + b"no-such-command".hex().encode()) == b"OK"
    assert b"Undefined command" in b"".join(c.console)
    assert c.cmd(b"qRcmd,zz").startswith(b"E")



def test_parse_address():
    assert parse_address("1234") == ("127.0.0.1", 1234)
    assert parse_address(":0") == ("127.0.0.1", 0)
    assert parse_address("0.0.0.0:3333") == ("0.0.0.0", 3333)
    assert parse_address("localhost:1") == ("localhost", 1)
    assert parse_address("[::1]:1234") == ("::1", 1234)
    for bad in ("", "host:", "host:port", "70000", "1.2.3.4:-1"):
        with pytest.raises(ConfigError):
            parse_address(bad)


def test_serve_gdb_prints_the_port_and_serves_one_client(firmware, capfd):
    machine = Machine.from_elf(firmware("hello", "rv32"))
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("status", serve_gdb(machine, "127.0.0.1:0")))
    thread.start()
    port = None
    deadline = time.monotonic() + 10
    err = ""
    while port is None and time.monotonic() < deadline:
        err += capfd.readouterr().err
        match = re.search(r"npuemu: waiting for gdb on 127\.0\.0\.1:(\d+)\n", err)
        port = int(match.group(1)) if match else time.sleep(0.05)
    assert port, err
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        client = RspClient(sock)
        assert client.cmd(b"c") == b"W00"
    thread.join(10)
    assert not thread.is_alive() and result["status"] == 0


def test_serve_gdb_reports_a_busy_port_cleanly(firmware):
    machine = Machine.from_elf(firmware("hello", "rv32"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        with pytest.raises(ConfigError, match="cannot listen"):
            serve_gdb(machine, f"127.0.0.1:{busy.getsockname()[1]}")


def test_fatal_stop_is_reported_with_its_message(stub):
    """A hart that is not hart 0 parks in wfi with nothing to wake it: the Machine gives up."""
    run = stub("hello", "rv32")
    c = run.client
    assert c.cmd(b"Pa=" + le(5, 32)) == b"OK"                  # a0 = hart id 5
    assert c.cmd(b"c") == b"T06thread:1;"
    assert b"wfi" in b"".join(c.console)


# -- addresses beyond XLEN, and debug points gdb did not insert ---------------------------------------------
def _logged_stub(firmware, arch: str):
    log: list[str] = []
    return start_stub(Machine.from_elf(firmware("hello", arch)), log), log


@pytest.mark.parametrize("arch", ARCHES)
def test_breakpoint_beyond_xlen_is_refused_and_the_session_ends_cleanly(firmware, arch):
    """The reviewer's packet: an address wider than XLEN must be an error reply, not a Machine call
    (which failed inside Unicorn, and the left-over entry then broke the teardown after ``k``)."""
    run, log = _logged_stub(firmware, arch)
    c = run.client
    assert c.cmd(b"Z0,ffffffffffffffffffffffff,4") in (b"E16", b"E22")
    c.send(b"k")
    assert run.wait() == 0
    assert not [line for line in log if "internal error" in line], log
    assert not run.machine.debug.breakpoints


@pytest.mark.parametrize("arch", ARCHES)
def test_packets_beyond_xlen_answer_errors(firmware, arch):
    run, log = _logged_stub(firmware, arch)
    c, m = run.client, run.machine
    top = 1 << m.xlen
    for kind in range(5):
        for addr, size in ((top, 2), (top - 2, 4), (top + 0x80000000, 4), (1 << 100, 1)):
            for letter in (b"Z", b"z"):
                assert c.cmd(letter + b"%d,%x,%x" % (kind, addr, size)) == b"E16"
    assert c.cmd(b"m%x,4" % top) == b"E0e"
    assert c.cmd(b"m%x,4" % (top + m.ram.base)) == b"E0e"      # not RAM modulo 2**XLEN
    assert c.cmd(b"M%x,2:0000" % (top - 1)) == b"E0e"
    assert c.cmd(b"X%x,1:\x00" % top) == b"E0e"
    assert c.cmd(b"c%x" % (top + m.elf.entry)) == b"E16"
    assert m.read_reg("pc") == m.elf.entry                       # nothing ran
    assert c.cmd(b"?").startswith(b"T05")
    main = m.elf.lookup("main").addr                              # in-range packets still work
    assert c.cmd(b"Z0,%x,2" % main) == b"OK"
    assert c.cmd(b"c") == b"T05swbreak:;thread:1;"
    c.send(b"k")
    assert run.wait() == 0
    assert not [line for line in log if "internal error" in line], log
    assert not m.debug.breakpoints and not m.debug.watchpoints


def test_removing_what_gdb_never_inserted_leaves_the_shells_breakpoint(firmware):
    """The Machine's breakpoints are shared (reference-counted) with the `monitor` shell's: a z0 for an
    address gdb did not set must not take the shell's reference away."""
    run, log = _logged_stub(firmware, "rv32")
    c, m = run.client, run.machine
    main = m.elf.lookup("main").addr
    assert c.cmd(b"qRcmd," + (b"break *%#x" % main).hex().encode()) == b"OK"
    assert main in m.debug.breakpoints
    assert c.cmd(b"z0,%x,2" % main) == b"OK"
    assert main in m.debug.breakpoints
    assert c.cmd(b"c") == b"T05swbreak:;thread:1;"                # the shell's breakpoint still stops
    assert m.read_reg("pc") == main
    c.send(b"k")
    assert run.wait() == 0
    assert main in m.debug.breakpoints                             # the shell's, not gdb's: it stays


def test_a_watchpoint_inserted_twice_does_not_outlive_the_session(firmware):
    run, log = _logged_stub(firmware, "rv32")
    c, m = run.client, run.machine
    addr = m.elf.lookup("global_var").addr
    assert c.cmd(b"Z2,%x,4" % addr) == b"OK"
    assert c.cmd(b"Z2,%x,4" % addr) == b"OK"                     # gdb re-inserts on resume
    c.send(b"D")
    assert c.recv() == b"OK"
    assert run.wait() == 0
    assert not m.debug.watchpoints


def test_memory_reads_use_machine_peek_when_it_exists(firmware):
    """`m` goes through Machine.peek (RAM and side-effect-free device registers, added by the
    device-state work) when the Machine has it, and reads RAM only otherwise."""
    machine = Machine.from_elf(firmware("hello"))
    npu_id = 0x1800_0000
    run = start_stub(machine)
    run.client.start_no_ack()
    if not hasattr(Machine, "peek"):
        assert run.client.cmd(b"m%x,4" % npu_id) == b"E0e"
        machine.peek = lambda addr, length: bytes(range(length)) if addr == npu_id else machine.read_mem(addr, length)
    assert run.client.cmd(b"m%x,4" % npu_id) == machine.peek(npu_id, 4).hex().encode()
    assert run.client.cmd(b"m80000000,4") == machine.read_mem(0x80000000, 4).hex().encode()
    run.client.sock.close()
    run.wait()
