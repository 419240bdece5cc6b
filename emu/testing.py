"""Firmware integration testing on npuemu: boot an ELF, drive it to a goal, fail with a useful report.

The pytest plugin (``emu/pytest_plugin.py``) hands these objects to tests, but nothing here
depends on pytest, so scripts and other runners can use them too.

Why a wrapper around :class:`emu.Machine` rather than methods on it: a test needs goal-directed
runs (``run_until``), a console it can ``expect`` on, and failure reports, all of which are
built from the machine's public API.  Every run is bounded by an instruction budget *and* a
virtual-time timeout, never by host time, so a test gives the same result on a laptop and on a
loaded CI runner (boot with ``deterministic=True``, the default, for bit-exact timing).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emu.memory import parse_size

if TYPE_CHECKING:
    import os

    from emu.clock import Event
    from emu.elf_loader import Symbol
    from emu.faults import FaultInjector
    from emu.machine import Machine, Stop
    from emu.profile import Profiler

DEFAULT_MAX_INSNS = 50_000_000   # per run_until/expect call; about 2 s of host time
DEFAULT_TIMEOUT = 10.0           # virtual seconds per call; wfi sleeps skip ahead, so this is cheap
DEFAULT_TAIL_LINES = 20
# A safety net, not a test timeout: instructions that trap cost far more host time than others,
# so a firmware stuck in a trap loop can take minutes to use up its instruction budget.  Hitting
# this fails the test (with the report) instead of hanging CI; it is the only host-time bound.
DEFAULT_HOST_TIMEOUT = 120.0
# Console matching runs on every byte the firmware prints while the text since the last match is
# short (a prompt without a newline stops the run right after its last byte); past this size only
# on newlines, so long outputs do not cost a regex search per byte.
EAGER_MATCH_WINDOW = 4096
WFI = 0x10500073

__all__ = ["Console", "FirmwareError", "FirmwareMachine", "FirmwareSnapshot", "DEFAULT_HOST_TIMEOUT",
           "DEFAULT_MAX_INSNS", "DEFAULT_TIMEOUT", "parse_size"]


class FirmwareError(AssertionError):
    """The firmware did not do what the test asked for; the message is the full diagnostic report.

    An ``AssertionError`` so pytest reports a *failure* of the firmware under test (not an error
    in the test code).  ``reason`` is the one-line cause, ``report`` the whole text (PC as
    symbol+offset and file:line, last trap, exit state, console tail, registers), ``stop`` the
    machine's :class:`~emu.Stop` when a run ended the attempt.
    """

    def __init__(self, reason: str, report: str, stop: Stop | None = None) -> None:
        super().__init__(report)
        self.reason = reason
        self.report = report
        self.stop = stop


def _compile(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    return pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)


def _decode(data: bytes) -> str:
    # surrogateescape round-trips any byte, so a match end maps back to an exact byte offset.
    return data.decode("utf-8", "surrogateescape")


class Console:
    """What the firmware prints (UART, semihosting stdout, HTIF console) and what a test types.

    ``expect`` consumes output like pexpect: each match starts after the previous one, so a
    sequence of ``expect`` calls checks the order of the lines.
    """

    def __init__(self, owner: FirmwareMachine) -> None:
        self._owner = owner
        self._out = bytearray()
        self._err = bytearray()
        self._cursor = 0
        self._armed: re.Pattern[str] | None = None
        self._stop_event: Event | None = None
        self.matched: re.Match[str] | None = None

    # -- what the firmware wrote -------------------------------------------------------
    @property
    def output(self) -> bytes:
        """Everything the firmware printed on its console so far (stdout, in order)."""
        return bytes(self._out)

    @property
    def text(self) -> str:
        """:attr:`output` decoded as UTF-8 (undecodable bytes replaced)."""
        return self._out.decode("utf-8", "replace")

    @property
    def stderr(self) -> bytes:
        """What a semihosting firmware wrote to stderr (the UART has no stderr)."""
        return bytes(self._err)

    @property
    def unread(self) -> str:
        """The output after the last ``expect`` match (what the next ``expect`` searches)."""
        return self._out[self._cursor :].decode("utf-8", "replace")

    def tail(self, lines: int = DEFAULT_TAIL_LINES) -> str:
        """The last ``lines`` lines of output, for failure reports."""
        return "\n".join(self.text.splitlines()[-lines:])

    # -- what the test does --------------------------------------------------------------
    def send(self, data: bytes | str) -> None:
        """Type ``data`` on the UART's receive line; the firmware sees it when it next runs."""
        self._owner.machine.uart.send(data.encode() if isinstance(data, str) else bytes(data))

    def expect(self, pattern: str | re.Pattern[str], *, max_insns: int | None = None,
               timeout: float | None = None) -> re.Match[str]:
        """Run the firmware until its output after the last match matches ``pattern``; the match.

        The run stops right after the byte that completes the match, so the firmware state
        the test inspects next is the state at that line.  Raises :class:`FirmwareError` with
        the report when the budget or the virtual ``timeout`` runs out, or the firmware exits
        or dies first.  ``match.string`` is the output searched (from the previous match on).
        """
        __tracebackhide__ = True
        regex = _compile(pattern)
        match = self._search(regex)
        if match is None:
            self._owner._run_to_goal(f"console output matching {regex.pattern!r}", max_insns, timeout,
                                     console=regex)
            match = self.matched
        assert match is not None
        return match

    # -- plumbing ---------------------------------------------------------------------------
    def _search(self, regex: re.Pattern[str]) -> re.Match[str] | None:
        """Search the unread output; on a match, move the cursor past it."""
        window = _decode(bytes(self._out[self._cursor :]))
        match = regex.search(window)
        if match is not None:
            self._cursor += len(window[: match.end()].encode("utf-8", "surrogateescape"))
            self.matched = match
        return match

    def _on_stdout(self, data: bytes) -> None:
        """The machine's stdout sink: called from inside the run as the firmware prints."""
        self._out += data
        regex = self._armed
        if regex is None:
            return
        if (data.endswith(b"\n") or len(self._out) - self._cursor <= EAGER_MATCH_WINDOW) and \
                self._search(regex) is not None:
            self._armed = None
            # Not request_stop() here: this runs inside the UART store's MMIO callback, and
            # stopping Unicorn there would execute the store (and print the byte) again.  An event
            # due now ends the slice after this instruction; the run loop then stops cleanly.
            clock = self._owner.machine.clock
            self._stop_event = clock.schedule(clock.now_ns(), self._owner.machine.request_stop,
                                              "npuemu-expect-matched")

    def _on_stderr(self, data: bytes) -> None:
        self._err += data


@dataclass(frozen=True)
class FirmwareSnapshot:
    """A machine snapshot plus the console, so a restored test sees the output of its set-up."""

    state: object
    output: bytes
    stderr: bytes
    cursor: int


class FirmwareMachine:
    """A booted firmware under test: goal-directed runs, console, symbols, reports.

    Anything not defined here is the underlying :class:`emu.Machine`'s (``step``,
    ``add_breakpoint``, ``add_watchpoint``, ``clock``, ``elf``...), available as attributes and
    as :attr:`machine`.
    """

    def __init__(self, elf: str | os.PathLike, *, args: tuple[str, ...] | list[str] = (),
                 ram: int | str | None = None, deterministic: bool = True,
                 max_insns: int = DEFAULT_MAX_INSNS, timeout: float = DEFAULT_TIMEOUT,
                 host_timeout: float = DEFAULT_HOST_TIMEOUT, tail_lines: int = DEFAULT_TAIL_LINES,
                 npu_strict: bool = True, fault_seed: int = 0, **machine_options: Any) -> None:
        from emu.machine import Machine  # unicorn is heavy: the plugin imports this module lazily

        self.path = Path(elf)
        self.max_insns = max_insns
        self.timeout = timeout
        self.host_timeout = host_timeout
        self.tail_lines = tail_lines
        self.uart = Console(self)
        if ram is not None:
            machine_options["ram_size"] = parse_size(ram)
        self.machine: Machine = Machine.from_elf(
            self.path, args=tuple(args), deterministic=deterministic,
            stdout=self.uart._on_stdout, stderr=self.uart._on_stderr, **machine_options)
        if npu_strict:  # a CPU access racing a pending NPU command stops the run: the test fails
            self.machine.enable_npu_strict(stop=True)
        self._timed_out = False
        self._last_stop: Stop | None = None
        self.fault_seed = fault_seed
        self._faults: FaultInjector | None = None

    def __getattr__(self, name: str) -> Any:
        # Only called for names not found on the wrapper: the rest of the Machine API.
        if name == "machine":
            raise AttributeError(name)
        return getattr(self.machine, name)

    def __repr__(self) -> str:
        return f"<FirmwareMachine {self.path.name} rv{self.machine.xlen} pc={self.where(self.pc)}>"

    # -- state ------------------------------------------------------------------------------
    @property
    def pc(self) -> int:
        return self.machine.read_reg("pc")

    @property
    def exit_code(self) -> int | None:
        """The firmware's exit status (finisher, HTIF or semihosting), None while it runs."""
        return self.machine.exit_code

    @property
    def exited(self) -> bool:
        return self.machine.exited

    def where(self, addr: int) -> str:
        """``0x80000010 <main+4> at apps/hello/main.c:12``: an address as a firmware engineer reads it."""
        text = self.machine.symbol_name(addr)
        line = self.machine.elf.line_for(addr) if self.machine.elf is not None else None
        return f"{text} at {line[0]}:{line[1]}" if line else text

    def symbol_address(self, name: str) -> int:
        return self._symbol(name).addr

    def read_symbol(self, name: str, *, signed: bool = False) -> int:
        """The value of a global variable, as wide as the symbol table says (1, 2, 4 or 8 bytes)."""
        sym = self._symbol(name)
        if sym.size not in (1, 2, 4, 8):
            raise ValueError(f"symbol {name!r} is {sym.size} bytes, not a scalar: use read_symbol_bytes()")
        return int.from_bytes(self.machine.read_mem(sym.addr, sym.size), "little", signed=signed)

    def read_symbol_bytes(self, name: str) -> bytes:
        """The raw bytes of a global (arrays, structs)."""
        sym = self._symbol(name)
        return self.machine.read_mem(sym.addr, sym.size)

    def write_symbol(self, name: str, value: int) -> None:
        """Set a scalar global before the firmware reads it (test set-up, fault injection)."""
        sym = self._symbol(name)
        if sym.size not in (1, 2, 4, 8):
            raise ValueError(f"symbol {name!r} is {sym.size} bytes, not a scalar")
        self.machine.write_mem(sym.addr, (value & ((1 << (8 * sym.size)) - 1)).to_bytes(sym.size, "little"))

    def _symbol(self, name: str) -> Symbol:
        elf = self.machine.elf
        sym = elf.lookup(name) if elf is not None else None
        if sym is None:
            names = list(elf.symbols) if elf is not None else []
            close = difflib.get_close_matches(name, names, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise LookupError(f"no symbol {name!r} in {self.path.name}{hint}")
        return sym

    @property
    def faults(self) -> FaultInjector:
        """Fault injection on this machine (:mod:`emu.faults`), seeded with the boot's ``fault_seed``."""
        if self._faults is None:
            from emu.faults import FaultInjector

            self._faults = FaultInjector(self.machine, seed=self.fault_seed)
        return self._faults

    def profile(self) -> Profiler:
        """Start counting instructions per function, virtual time and NPU work from now on;
        ``.result()`` / ``.stop()`` give the :class:`emu.profile.Profile` (``with`` works too)."""
        from emu.profile import Profiler

        return Profiler(self.machine)

    def npu_counters(self) -> dict[str, int]:
        """The NPU's performance counters at the current virtual time (what ``npu stats`` shows)."""
        return self.machine.npu.counters()

    def npu_status(self) -> dict[str, Any]:
        """The NPU's state: enabled, busy, error, ring head/tail (what ``npu status`` shows)."""
        return self.machine.npu.status()

    # -- running ------------------------------------------------------------------------------
    def run_until(self, *, symbol: str | int | None = None, uart: str | re.Pattern[str] | None = None,
                  exit: bool | int | None = None, max_insns: int | None = None,
                  timeout: float | None = None) -> Stop | None:
        """Run until exactly one goal is reached, or raise :class:`FirmwareError` with the report.

        ``symbol``: a function name (or address) is about to execute (a temporary breakpoint);
        ``uart``: the console output matches a regex (see :meth:`Console.expect`);
        ``exit``: the firmware exits (``True``: any status; an int: that status, else a failure).
        ``max_insns`` (instructions) and ``timeout`` (virtual seconds) bound the call; the
        defaults come from the boot (``--npuemu-max-insns``, ``--npuemu-timeout``).
        Returns the machine's Stop, or None when the console already held the ``uart`` text.
        """
        __tracebackhide__ = True
        exit_goal = None if exit is False else exit
        if sum(goal is not None for goal in (symbol, uart, exit_goal)) != 1:
            raise ValueError("run_until needs exactly one of symbol=, uart=, exit=")
        if uart is not None:
            self._last_stop = None
            self.uart.expect(uart, max_insns=max_insns, timeout=timeout)
            return self._last_stop
        if symbol is not None:
            addr = symbol if isinstance(symbol, int) else self.symbol_address(symbol)
            goal = f"{symbol!r}" if isinstance(symbol, str) else self.machine.symbol_name(addr)
            self.machine.add_breakpoint(addr)
            try:
                return self._run_to_goal(f"reaching {goal}", max_insns, timeout, breakpoint=addr)
            finally:
                self.machine.remove_breakpoint(addr)
        want = None if exit_goal is True else int(exit_goal)
        return self._run_to_goal("exit" if want is None else f"exit with status {want}", max_insns, timeout,
                                 exit_status=want)

    def _run_to_goal(self, goal: str, max_insns: int | None, timeout: float | None, *,
                     console: re.Pattern[str] | None = None, breakpoint: int | None = None,
                     exit_status: int | None = None) -> Stop:
        """One bounded run; returns the Stop when the goal is met, raises FirmwareError otherwise."""
        __tracebackhide__ = True
        from emu.machine import StopReason

        budget = self.max_insns if max_insns is None else max_insns
        seconds = self.timeout if timeout is None else timeout
        clock = self.machine.clock
        self._timed_out = False
        deadline = clock.schedule(clock.now_ns() + int(seconds * 1e9), self._on_deadline, "npuemu-test-timeout")
        self.uart._armed = console
        self.uart.matched = None
        try:
            stop = self.machine.run(max_insns=budget, timeout=self.host_timeout)
        finally:
            self.uart._armed = None
            clock.cancel(deadline)
            clock.cancel(self.uart._stop_event)  # the firmware may have exited in the same slice
        self._last_stop = stop
        if console is not None and (self.uart.matched is not None or self.uart._search(console) is not None):
            return stop
        if breakpoint is not None and stop.reason is StopReason.BREAKPOINT and stop.pc == breakpoint:
            return stop
        if exit_status is None and console is None and breakpoint is None and stop.reason is StopReason.EXITED:
            return stop
        if exit_status is not None and stop.reason is StopReason.EXITED and stop.exit_code == exit_status:
            return stop
        raise self.failure(f"{goal}: {self._why(stop, budget, seconds)}", stop)

    def _on_deadline(self) -> None:
        self._timed_out = True
        self.machine.request_stop()

    def _why(self, stop: Stop, budget: int, seconds: float) -> str:
        from emu.machine import StopReason

        if stop.reason is StopReason.EXITED:
            return f"the firmware exited with status {stop.exit_code} first"
        if stop.reason is StopReason.INSN_LIMIT:
            return f"not reached within {budget:,} instructions (max_insns)"
        if stop.reason is StopReason.INTERRUPTED and self._timed_out:
            idle = " (sleeping in wfi: nothing left to wake it)" if self._after_wfi() else ""
            return f"not reached within {seconds:g} s of virtual time (timeout){idle}"
        if stop.reason is StopReason.TIMEOUT:
            return (f"the host-time safety net ({self.host_timeout:g} s, --npuemu-host-timeout) ran out "
                    f"after {self.machine.insn_count:,} instructions: a trap loop or a very slow run")
        if stop.reason is StopReason.FATAL:
            return stop.message.splitlines()[0]
        return f"stopped by a {stop.reason.value} at {self.machine.symbol_name(stop.pc)} first"

    def _after_wfi(self) -> bool:
        pc = self.pc
        try:
            return int.from_bytes(self.machine.read_mem(pc - 4, 4), "little") == WFI
        except Exception:  # noqa: BLE001 - PC outside RAM: certainly not sleeping in our code
            return False

    # -- reports ---------------------------------------------------------------------------------
    def report(self, headline: str) -> str:
        """The diagnostic a firmware engineer needs: where, why, what it printed, the registers."""
        m = self.machine
        lines = [headline, f"  firmware:   {self.path} (rv{m.xlen})", f"  pc:         {self.where(self.pc)}"]
        trap = m.last_trap
        if trap is not None:
            lines.append(f"  last trap:  {trap.describe()}")
            lines.append(f"              epc {self.where(trap.epc)}")
        state = f"exited with status {m.exit_code}" if m.exited else "running"
        count = m.insn_count
        executed = f"{count:,} instructions, " if count is not None else ""
        lines.append(f"  state:      {state}; {executed}virtual time {m.clock.now_ns() / 1e9:.6f} s")
        tail = self.uart.tail(self.tail_lines)
        lines.append(f"  console (last {self.tail_lines} lines):" if tail else "  console:    (no output)")
        lines.extend(f"    | {line}" for line in tail.splitlines())
        if self.uart.stderr:
            lines.append("  stderr:")
            lines.extend(f"    | {line}" for line in
                         self.uart.stderr.decode("utf-8", "replace").splitlines()[-self.tail_lines :])
        lines.append("  registers:")
        lines.extend(f"    {row}" for row in m.format_registers().splitlines())
        return "\n".join(lines)

    def failure(self, reason: str, stop: Stop | None = None) -> FirmwareError:
        """A :class:`FirmwareError` for ``reason`` with the full report (for custom checks too)."""
        return FirmwareError(reason, self.report(reason), stop)

    # -- snapshots --------------------------------------------------------------------------------
    def snapshot(self) -> FirmwareSnapshot:
        """CPU, RAM, devices, time and the console: restore it to rerun from here in milliseconds."""
        return FirmwareSnapshot(self.machine.snapshot(), self.uart.output, self.uart.stderr, self.uart._cursor)

    def restore(self, snap: FirmwareSnapshot) -> None:
        self.machine.restore(snap.state)
        self.uart._out[:] = snap.output
        self.uart._err[:] = snap.stderr
        self.uart._cursor = snap.cursor
        self.uart.matched = None

    def close(self) -> None:
        self.machine.close()

