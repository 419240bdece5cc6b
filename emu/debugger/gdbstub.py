"""GDB remote stub: lets a real gdb (or an IDE driving one) debug the emulated firmware.

``npuemu run --gdb [HOST:]PORT fw.elf`` calls :func:`serve_gdb`, which listens,
waits for one client and serves the GDB Remote Serial Protocol until the
client detaches, kills or goes away.  Run control is the Machine's: ``c``
is ``machine.run()``, ``s`` is ``machine.step()``, breakpoints and
watchpoints are the Machine's own, so the stub, the debugger shell and the
tests all stop in exactly the same places.

Threads: the caller's thread serves packets and runs the machine; a reader
thread owns the socket's receiving side.  It acks packets and queues them (so
nothing gdb sends while the firmware runs is lost), and turns a 0x03 byte or
a hang-up into ``machine.request_stop()`` -- the only Machine call that is
safe from another thread.  The serving thread blocks on the queue, so an idle
stub costs no CPU.
"""

from __future__ import annotations

import contextlib
import ipaddress
import queue
import socket
import sys
import threading
from collections.abc import Callable

from emu.cli import process_status
from emu.debugger.commands import CommandShell
from emu.debugger.files import HOST_FILES_REFUSED
from emu.debugger.gdb_packets import (
    MAX_PACKET,
    Frame,
    FrameKind,
    PacketReader,
    escape_binary,
    frame_packet,
    hex_to_bytes,
    hex_to_int,
    unescape_binary,
)
from emu.debugger.gdb_target import (
    G_PACKET_REGS,
    REGISTERS,
    REGISTERS_BY_NUMBER,
    decode_value,
    encode_value,
    target_xml,
)
from emu.debugger.netif import interface_addresses
from emu.debugger.timetravel import Cancelled, NoHistory, ReverseHit, TimeTravel, time_travel
from emu.errors import ConfigError, EmuError
from emu.machine import Machine, Stop, StopReason

Log = Callable[[str], None]

# Error replies.  gdb shows only "E" + number, so the numbers follow errno where one fits.
E_MALFORMED = b"E01"
E_FAULT = b"E0e"      # EFAULT: memory not backed by RAM
E_INVALID = b"E16"    # EINVAL: unknown register, empty watchpoint, an internal error
E_ANNEX = b"E00"      # qXfer of an object we do not have

SIGINT, SIGTRAP, SIGABRT = 0x02, 0x05, 0x06
THREAD = b"thread:1;"
WATCH_REPLY = {"w": b"watch", "r": b"rwatch", "a": b"awatch"}
WATCH_KINDS = {2: "w", 3: "r", 4: "a"}
# Bytes of memory per 'm' reply: two hex digits per byte plus framing must fit in PacketSize.
MAX_MEMORY_READ = (MAX_PACKET - 8) // 2
MAX_CONSOLE_CHUNK = MAX_MEMORY_READ - 1  # 'O' + hex
HISTORY_BEGIN = b"T%02xreplaylog:begin;" % SIGTRAP  # reverse execution reached the start of its history
HOST_FILES_MESSAGE = ("monitor commands cannot read or write host files: start npuemu with "
                      "--gdb-allow-host-files to allow it")
# Packets that may run the firmware for a long time: acknowledged at once, not with their reply.
RUN_PACKETS = (b"c", b"s", b"C", b"S", b"vCont;", b"bc", b"bs", b"qRcmd,")


def parse_address(address: str) -> tuple[str, int]:
    """``"1234"``, ``":1234"``, ``"host:1234"``, ``"[::1]:1234"`` -> (host, port); 127.0.0.1 by default.

    Only loopback unless asked otherwise: a gdb stub can write any memory, so
    listening on every interface must be a deliberate choice.
    """
    host, sep, port_text = address.rpartition(":")
    if not sep:
        host, port_text = "", address
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"bad gdb address {address!r}: expected [HOST:]PORT") from None
    if not 0 <= port <= 0xFFFF:
        raise ConfigError(f"bad gdb port {port}: expected 0..65535")
    return host, port


def serve_gdb(machine: Machine, address: str, *, log: Log | None = None, allow_host_files: bool = False) -> int:
    """Listen on ``[HOST:]PORT``, serve one gdb client, return the CLI's exit status.

    Prints ``npuemu: waiting for gdb on HOST:PORT`` to stderr once listening
    (port 0 picks a free port, and the line says which), after a warning naming
    every address it is reachable on when that is not only loopback.  The
    status is the firmware's exit code if it exited (mapped as ``npuemu run``
    maps it), else 0 (detach, kill, disconnect).
    """
    host, port = parse_address(address)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family = infos[0][0]
        listener = socket.socket(family, socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:  # UnicodeError: a label over 63 characters (IDNA)
        raise ConfigError(f"cannot listen on {address}: {exc}") from None
    with listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(infos[0][4])
            listener.listen(1)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {address}: {exc.strerror or exc}") from None
        bound_addr, bound_port = listener.getsockname()[:2]
        exposed = exposed_addresses(bound_addr, family, listener)
        if exposed:
            print(f"npuemu: warning: the gdb stub on port {bound_port} is reachable from other machines "
                  f"at {', '.join(exposed)}: anyone who connects can read and write this machine "
                  f"(bind 127.0.0.1 unless you mean it)", file=sys.stderr, flush=True)
        shown = f"[{host}]" if ":" in host else host
        print(f"npuemu: waiting for gdb on {shown}:{bound_port}", file=sys.stderr, flush=True)
        conn, peer = listener.accept()
    if log:
        log(f"gdb connected from {peer[0]}:{peer[1]}")
    stub = GdbStub(machine, conn, log=log, allow_host_files=allow_host_files)
    stub.serve()
    return (process_status(machine.exit_code) or 0) if machine.exited else 0


def exposed_addresses(bound: str, family: int, listener: socket.socket) -> list[str]:
    """The non-loopback addresses a listener bound to ``bound`` accepts connections on (empty when
    only loopback): every interface's address for a wildcard bind, else the bound address."""
    ip = ipaddress.ip_address(bound.split("%")[0])
    if ip.is_loopback:
        return []
    if not ip.is_unspecified:
        return [str(ip)]
    families = {family}
    if family == socket.AF_INET6:
        with contextlib.suppress(OSError):  # a dual-stack socket also takes IPv4 connections
            if not listener.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY):
                families.add(socket.AF_INET)
    found = [f"{address} ({name})" for name, fam, address in interface_addresses()
             if fam in families and not ipaddress.ip_address(address.split("%")[0]).is_loopback]
    return found or [f"every interface ({ip})"]


class _Connection:
    """The socket: a reader thread that acks and queues packets, and a locked send side."""

    def __init__(self, sock: socket.socket, on_interrupt: Callable[[], None], log: Log | None) -> None:
        self._sock = sock
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            # Replies are small and each one is awaited: Nagle would hold each back for the
            # client's delayed ACK (~40-90 ms a packet in ack mode).
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._ack_pending = False  # a packet was taken but not yet acknowledged (see packet_taken)
        self._on_interrupt = on_interrupt
        self._log = log
        self._packets: queue.Queue[Frame | None] = queue.Queue()
        self._send_lock = threading.Lock()
        self._last_sent = b""
        self.no_ack = False
        self._thread = threading.Thread(target=self._read_loop, name="gdb-reader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def next_packet(self) -> Frame | None:
        """The next packet (blocking); None once the client has gone."""
        return self._packets.get()

    def acknowledge(self) -> None:
        """Acknowledge the packet being served now (before a long run), if not yet done."""
        if self._ack_pending:
            self._ack_pending = False
            self._write(b"+")

    def packet_taken(self) -> None:
        """The serving thread took a good packet: in ack mode its ``+`` goes out with the reply."""
        self._ack_pending = not self.no_ack

    def send(self, payload: bytes) -> None:
        if self._log:
            self._log(f"gdb -> {payload[:200].decode('latin-1')}")
        ack = b"+" if self._ack_pending else b""
        self._ack_pending = False
        self._write(ack + frame_packet(payload), remember=True, ack_len=len(ack))

    def close(self) -> None:
        with contextlib.suppress(OSError):  # already closed by the client
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(timeout=2)

    def _write(self, data: bytes, remember: bool = False, ack_len: int = 0) -> None:
        with self._send_lock:
            if remember:
                self._last_sent = data[ack_len:]
            # A client that has gone is noticed by the reader (EOF), which ends the session.
            with contextlib.suppress(OSError):
                self._sock.sendall(data)

    def _read_loop(self) -> None:
        reader = PacketReader()
        while True:
            try:
                data = self._sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                break
            for frame in reader.feed(data):
                self._dispatch(frame)
        self._packets.put(None)
        # A client that vanishes while the firmware runs must not leave it running forever.
        self._on_interrupt()

    def _dispatch(self, frame: Frame) -> None:
        if frame.kind is FrameKind.INTERRUPT:
            if self._log:
                self._log("gdb <- Ctrl-C")
            self._on_interrupt()
        elif frame.kind is FrameKind.NACK and not self.no_ack:  # the last reply was garbled: resend
            with self._send_lock:
                last = self._last_sent
            self._write(last)
        elif frame.kind is FrameKind.PACKET:
            if self._log:
                self._log(f"gdb <- {frame.data[:200].decode('latin-1')}")
            if not self.no_ack and not frame.checksum_ok:
                self._write(b"-")
                return  # gdb retransmits
            # A good packet is acknowledged by the serving thread, in the same write as its reply
            # (two small writes cost a round trip each in ack mode).
            self._packets.put(frame)


class GdbStub:
    """One gdb session on a connected socket: packet dispatch and run control."""

    def __init__(self, machine: Machine, sock: socket.socket, *, log: Log | None = None,
                 allow_host_files: bool = False) -> None:
        self.machine = machine
        self._allow_host_files = allow_host_files
        # Reverse execution (bs/bc) in deterministic mode: the history starts at the first resume
        # (made then, after that packet's ack: the first checkpoint copies all of RAM).
        self._reversible = machine.clock.deterministic
        self._travel_engine: TimeTravel | None = None
        self.xlen = machine.xlen
        self._log = log
        self._conn = _Connection(sock, self._interrupt, log)
        self._run_lock = threading.Lock()
        self._running = False
        self._run_ended = threading.Event()
        self._interrupt_pending = False
        self._reversing: TimeTravel | None = None  # set while bs/bc run: Ctrl-C cancels them
        self._breakpoints: dict[int, set[int]] = {}  # address -> Z types (0 software, 1 hardware)
        self._watchpoints: set[tuple[int, int, str]] = set()
        self._last_stop = b"T%02x" % SIGTRAP + THREAD
        self._shell: CommandShell | None = None  # created by the first `monitor` command
        self._done = False
        # Packet letter -> handler(body).  'C'/'S' carry a signal gdb wants delivered; a bare-metal
        # hart has no signals, so only the optional address after ';' matters.
        self._handlers: dict[bytes, Callable[[bytes], bytes | None]] = {
            b"?": lambda _body: self._last_stop,
            b"g": lambda _body: self._read_all_registers(),
            b"G": self._write_all_registers,
            b"p": self._read_register,
            b"P": self._write_register,
            b"m": self._read_memory,
            b"M": self._write_memory_hex,
            b"X": self._write_memory_binary,
            b"b": self._reverse,
            b"c": lambda body: self._resume(step=False, addr=body),
            b"s": lambda body: self._resume(step=True, addr=body),
            b"C": lambda body: self._resume(step=False, addr=body.partition(b";")[2]),
            b"S": lambda body: self._resume(step=True, addr=body.partition(b";")[2]),
            b"Z": lambda body: self._debug_point(body, insert=True),
            b"z": lambda body: self._debug_point(body, insert=False),
            b"q": self._query,
            b"Q": self._set,
            b"v": self._v_packet,
            b"H": lambda _body: b"OK",  # one thread: any thread selection is fine
            b"T": lambda _body: b"OK",  # ... and it is alive
            b"D": self._detach,
            b"k": self._kill,
        }

    # -- the session -------------------------------------------------------------------------
    def serve(self) -> int:
        """Serve until detach, kill or disconnect; the firmware's exit code if it exited, else 0."""
        self._conn.start()
        try:
            while not self._done:
                frame = self._conn.next_packet()
                if frame is None:
                    if self._log:
                        self._log("gdb disconnected")
                    break
                if frame.checksum_ok:  # (an overflowing packet is acknowledged, then refused)
                    self._conn.packet_taken()
                    if frame.data.startswith(RUN_PACKETS):
                        self._conn.acknowledge()
                reply = self._reply_to(frame)
                if reply is not None:
                    self._conn.send(reply)
                else:
                    self._conn.acknowledge()
        finally:
            self._remove_debug_points()
            self._conn.close()
        return self.machine.exit_code if self.machine.exited else 0

    def _reply_to(self, frame: Frame) -> bytes | None:
        """The reply to one packet; None for packets that take none (``k``)."""
        if frame.overflow:
            return E_MALFORMED
        if not frame.checksum_ok:
            return E_MALFORMED  # only reached in no-ack mode, where nobody retransmits
        try:
            return self._handle(frame.data)
        except ValueError:  # bad hex, missing fields: everything the parsers reject
            return E_MALFORMED
        except Exception as exc:  # noqa: BLE001 - a bug must cost one reply, not the session
            message = f"gdb stub: internal error on {frame.data[:60]!r}: {exc!r}"
            if self._log:
                self._log(message)
            else:
                print(f"npuemu: {message}", file=sys.stderr)
            return E_INVALID

    def _handle(self, packet: bytes) -> bytes | None:
        if not packet:
            return b""
        handler = self._handlers.get(packet[:1])
        return handler(packet[1:]) if handler else b""  # empty: "not supported", as the protocol says

    # -- registers -----------------------------------------------------------------------------
    def _read_all_registers(self) -> bytes:
        return b"".join(encode_value(self.machine.read_reg(reg.name), self.xlen)
                        for reg in REGISTERS[:G_PACKET_REGS])

    def _write_all_registers(self, body: bytes) -> bytes:
        width = self.xlen // 4  # hex digits per register
        if len(body) != width * G_PACKET_REGS:
            return E_MALFORMED
        values = [decode_value(body[i * width:(i + 1) * width], self.xlen) for i in range(G_PACKET_REGS)]
        for reg, value in zip(REGISTERS[:G_PACKET_REGS], values, strict=True):
            self.machine.write_reg(reg.name, value)
        return b"OK"

    def _read_register(self, body: bytes) -> bytes:
        reg = REGISTERS_BY_NUMBER.get(hex_to_int(body))
        if reg is None:
            return E_INVALID
        try:
            return encode_value(self.machine.read_reg(reg.name), self.xlen)
        except (KeyError, EmuError):
            return E_INVALID

    def _write_register(self, body: bytes) -> bytes:
        number, sep, value = body.partition(b"=")
        reg = REGISTERS_BY_NUMBER.get(hex_to_int(number))
        if not sep or reg is None:
            return E_INVALID if sep else E_MALFORMED
        try:
            self.machine.write_reg(reg.name, decode_value(value, self.xlen))
        except (KeyError, EmuError):
            return E_INVALID
        return b"OK"

    # -- memory --------------------------------------------------------------------------------
    @staticmethod
    def _address_length(text: bytes) -> tuple[int, int]:
        addr, sep, length = text.partition(b",")
        if not sep:
            raise ValueError("expected ADDR,LENGTH")
        return hex_to_int(addr), hex_to_int(length)

    def _fits(self, addr: int, size: int) -> bool:
        """True when ``[addr, addr + size)`` lies inside the hart's XLEN-bit address space."""
        return addr + size <= 1 << self.xlen  # hex_to_int never returns a negative number

    def _read_memory(self, body: bytes) -> bytes:
        addr, length = self._address_length(body)
        if length == 0:
            return E_MALFORMED
        if not self._fits(addr, 1):
            return E_FAULT  # beyond the address space: never reaches the machine
        try:
            # gdb accepts a short read; a longer one would not fit our PacketSize (or the address space).
            length = min(length, MAX_MEMORY_READ, (1 << self.xlen) - addr)
            # Machine.peek also reads device registers that have no read side effects (ID,
            # geometry), as QEMU's stub does; machines without it read RAM only.
            read = getattr(self.machine, "peek", self.machine.read_mem)
            return read(addr, length).hex().encode("ascii")
        except EmuError:
            return E_FAULT

    def _write_memory_hex(self, body: bytes) -> bytes:
        header, sep, data = body.partition(b":")
        addr, length = self._address_length(header)
        if not sep:
            return E_MALFORMED
        return self._write_memory(addr, length, hex_to_bytes(data))

    def _write_memory_binary(self, body: bytes) -> bytes:
        header, sep, data = body.partition(b":")
        addr, length = self._address_length(header)
        if not sep:
            return E_MALFORMED
        return self._write_memory(addr, length, unescape_binary(data))

    def _write_memory(self, addr: int, length: int, data: bytes) -> bytes:
        if len(data) != length:
            return E_MALFORMED
        if not self._fits(addr, length):
            return E_FAULT
        if not data:
            return b"OK"  # gdb's probe for X support
        try:
            self.machine.write_mem(addr, data)
        except EmuError:
            return E_FAULT
        return b"OK"

    # -- breakpoints and watchpoints ------------------------------------------------------------
    def _debug_point(self, body: bytes, insert: bool) -> bytes:
        fields = body.partition(b";")[0].split(b",")  # drop conditions and commands lists
        if len(fields) != 3:
            return E_MALFORMED
        kind, addr, size = hex_to_int(fields[0]), hex_to_int(fields[1]), hex_to_int(fields[2])
        if kind not in (0, 1) and kind not in WATCH_KINDS:
            return b""  # unknown kinds are "not supported", which gdb understands
        # A breakpoint's size is its instruction length (2 or 4); an address or a range beyond XLEN
        # bits names nothing in this hart and must not reach the Machine (nor the teardown list).
        if not self._fits(addr, max(size, 1)):
            return E_INVALID
        if kind in (0, 1):
            types = self._breakpoints.get(addr)
            if insert:
                if not types:
                    self.machine.add_breakpoint(addr)
                    types = self._breakpoints[addr] = set()
                types.add(kind)
            elif types is not None:  # never touch a breakpoint gdb did not insert (the shell's share it)
                types.discard(kind)
                if not types:
                    del self._breakpoints[addr]
                    self.machine.remove_breakpoint(addr)
            return b"OK"
        if kind in WATCH_KINDS:
            key = (addr, size, WATCH_KINDS[kind])
            if size == 0:
                return E_INVALID
            if insert:
                if key in self._watchpoints:
                    return b"OK"  # gdb re-inserts on resume; one Machine watchpoint per key
                self.machine.add_watchpoint(*key)
                self._watchpoints.add(key)
            elif key in self._watchpoints:
                self.machine.remove_watchpoint(*key)
                self._watchpoints.discard(key)
            return b"OK"
        return b""  # unknown kinds are "not supported", which gdb understands

    def _remove_debug_points(self) -> None:
        """gdb's breakpoints must not outlive its session (the shell may carry on)."""
        for addr in self._breakpoints:
            self.machine.remove_breakpoint(addr)
        for key in self._watchpoints:
            self.machine.remove_watchpoint(*key)
        self._breakpoints.clear()
        self._watchpoints.clear()

    # -- run control -------------------------------------------------------------------------------
    def _interrupt(self) -> None:
        """Reader thread: Ctrl-C or hang-up.  Stops a running machine, or the next resume.

        ``Machine.run()`` forgets a stop request made just before it starts, so
        the request is repeated until this run has ended (a blocking wait, not a spin).
        """
        with self._run_lock:
            if self._reversing is not None:
                self._reversing.cancel.set()  # a reverse-continue's search: abandoned, back where it began
                return
            if not self._running:
                self._interrupt_pending = True
                return
            ended = self._run_ended
        while True:
            self.machine.request_stop()
            if ended.wait(0.1):
                return

    def _begin_run(self) -> bool:
        """Tell the reader thread the machine may run now; False if a Ctrl-C arrived first."""
        with self._run_lock:
            if self._interrupt_pending:
                self._interrupt_pending = False
                return False
            self._running = True
            self._run_ended = threading.Event()
            return True

    def _end_run(self) -> None:
        with self._run_lock:
            self._running = False
            self._interrupt_pending = False
            self._run_ended.set()

    def _resume(self, step: bool, addr: bytes) -> bytes:
        if self.machine.exited:
            return self._exit_reply()
        if addr:
            pc = hex_to_int(addr)
            if not self._fits(pc, 2):
                return E_INVALID
            self.machine.write_reg("pc", pc)
        if not self._begin_run():
            self._last_stop = b"T%02x" % SIGINT + THREAD
            return self._last_stop
        # The Machine keeps virtual time paused outside run()/step(): time stands still while halted.
        try:
            travel = self._travel
            if travel is not None:
                stop = travel.forward(step=step)
            else:
                stop = self.machine.step() if step else self.machine.run()
        finally:
            self._end_run()
        self._last_stop = self._stop_reply(stop)
        return self._last_stop

    @property
    def _travel(self) -> TimeTravel | None:
        if self._reversible and self._travel_engine is None:
            self.machine.enable_counting()
            self._travel_engine = time_travel(self.machine)
        return self._travel_engine

    def _reverse(self, body: bytes) -> bytes:
        """``bs`` / ``bc``: one instruction back, or back to the last breakpoint/watchpoint hit."""
        if body not in (b"s", b"c"):
            return b""
        travel = self._travel
        if travel is None:
            return E_INVALID  # not announced in qSupported: gdb does not send these
        if self.machine.exited:
            return self._exit_reply()
        with self._run_lock:
            if self._interrupt_pending:
                self._interrupt_pending = False
                self._last_stop = b"T%02x" % SIGINT + THREAD
                return self._last_stop
            self._reversing = travel
        try:
            if body == b"s":
                travel.step_back(1)
                hit = None
            else:
                hit = travel.reverse_continue()
        except NoHistory:
            hit = ReverseHit("begin", self.machine.insn_count or 0, self.machine.cpu.pc)
        except Cancelled:
            self._last_stop = b"T%02x" % SIGINT + THREAD
            return self._last_stop
        finally:
            with self._run_lock:
                self._reversing = None
        self._last_stop = self._reverse_reply(hit)
        return self._last_stop

    def _reverse_reply(self, hit: ReverseHit | None) -> bytes:
        if hit is None:
            return b"T%02x" % SIGTRAP + THREAD
        if hit.kind == "begin":
            return HISTORY_BEGIN + THREAD
        if hit.kind == "watchpoint" and hit.watch is not None:
            name = WATCH_REPLY[hit.watch.kind]
            return b"T%02x%s:%x;" % (SIGTRAP, name, hit.watch.addr) + THREAD
        kind = b"swbreak" if 0 in self._breakpoints.get(hit.pc, {0}) else b"hwbreak"
        return b"T%02x" % SIGTRAP + kind + b":;" + THREAD

    def _stop_reply(self, stop: Stop) -> bytes:
        reason = stop.reason
        if reason is StopReason.EXITED:
            return self._exit_reply()
        if reason is StopReason.INTERRUPTED:
            return b"T%02x" % SIGINT + THREAD
        if reason is StopReason.BREAKPOINT:
            kind = b"swbreak" if 0 in self._breakpoints.get(stop.pc, {0}) else b"hwbreak"
            return b"T%02x" % SIGTRAP + kind + b":;" + THREAD
        if reason is StopReason.WATCHPOINT and stop.watch is not None:
            name = WATCH_REPLY[stop.watch.kind]
            return b"T%02x%s:%x;" % (SIGTRAP, name, stop.watch.addr) + THREAD
        if reason is StopReason.NPU:  # npu break / npu watch (monitor): say what the NPU did
            self._console(f"{stop.message}\n".encode())
            return b"T%02x" % SIGTRAP + THREAD
        if reason is StopReason.FATAL:
            # gdb prints 'O' packets; SIGABRT makes it stop and show where.
            self._console(f"npuemu: {stop.message}\n".encode())
            return b"T%02x" % SIGABRT + THREAD
        return b"T%02x" % SIGTRAP + THREAD

    def _exit_reply(self) -> bytes:
        # As the process status: an exit code of 256 is a failure, not W00.
        return b"W%02x" % (process_status(self.machine.exit_code) or 0)

    def _v_packet(self, body: bytes) -> bytes | None:
        if body == b"Cont?":
            return b"vCont;c;C;s;S"
        if body.startswith(b"Cont;"):
            # One thread: the leftmost action applies to it, whatever thread id it names.
            action = body[5:].split(b";")[0].split(b":")[0]
            if action[:1] in (b"c", b"C"):
                return self._resume(step=False, addr=b"")
            if action[:1] in (b"s", b"S"):
                return self._resume(step=True, addr=b"")
            return E_MALFORMED
        if body.startswith(b"Kill"):
            self._done = True
            return b"OK"
        return b""

    def _detach(self, _body: bytes) -> bytes:
        self._done = True
        return b"OK"

    def _kill(self, _body: bytes) -> None:
        self._done = True

    # -- queries -----------------------------------------------------------------------------------
    def _query(self, body: bytes) -> bytes:
        name, _, args = body.partition(b":")
        if name == b"Supported":
            reverse = b";ReverseStep+;ReverseContinue+" if self._reversible else b""
            return (b"PacketSize=%x;qXfer:features:read+;swbreak+;hwbreak+;QStartNoAckMode+;"
                    b"vContSupported+" % MAX_PACKET) + reverse
        if name == b"Xfer":
            return self._xfer(args)
        if name.startswith(b"Rcmd,"):
            return self._monitor(hex_to_bytes(name[5:]).decode("utf-8", "replace"))
        fixed = {
            b"Attached": b"1",
            b"C": b"QC1",
            b"fThreadInfo": b"m1",
            b"sThreadInfo": b"l",
            b"Symbol": b"OK",
        }
        return fixed.get(name, b"")

    def _xfer(self, args: bytes) -> bytes:
        obj, op, annex, window = (args.split(b":") + [b""] * 4)[:4]
        if obj != b"features" or op != b"read":
            return b""
        if annex != b"target.xml":
            return E_ANNEX
        offset, length = self._address_length(window)
        document = target_xml(self.xlen).encode("ascii")
        chunk = document[offset:offset + min(length, MAX_MEMORY_READ)]
        more = offset + len(chunk) < len(document)
        return (b"m" if more else b"l") + escape_binary(chunk)

    def _set(self, body: bytes) -> bytes:
        if body == b"StartNoAckMode":
            # Set before replying: gdb's next packet may arrive as soon as it has our OK.
            self._conn.no_ack = True
            return b"OK"
        return b""

    def _monitor(self, line: str) -> bytes:
        """``monitor LINE``: run a debugger-shell command, its output as 'O' packets."""
        if self._shell is None:
            self._shell = CommandShell(self.machine, self._monitor_output)
        # Shell commands may run the firmware (`monitor continue`): Ctrl-C must reach it.
        self._begin_run()
        # Whoever reaches the socket types these commands: no host file unless the user allowed it.
        token = HOST_FILES_REFUSED.set(None if self._allow_host_files else HOST_FILES_MESSAGE)
        before = (self.machine.state_writes, self.machine.insn_count)
        try:
            self._shell.execute(line)
        finally:
            HOST_FILES_REFUSED.reset(token)
            self._end_run()
        if self._travel_engine is not None and (self.machine.state_writes, self.machine.insn_count) != before:
            # `monitor start`, `restore`, `continue`...: whatever the shell did, the history begins again.
            self._travel_engine.restart()
        return b"OK"

    def _monitor_output(self, text: str) -> None:
        self._console(text.encode("utf-8"))

    def _console(self, data: bytes) -> None:
        """Text for gdb's console, as 'O' packets that each fit in PacketSize."""
        for start in range(0, len(data), MAX_CONSOLE_CHUNK):
            self._conn.send(b"O" + data[start:start + MAX_CONSOLE_CHUNK].hex().encode("ascii"))
