"""Fault injection: disturb a running firmware at a chosen moment, reproducibly.

What can be injected (each at a virtual time ``at=`` seconds, on the ``hit``-th execution of a
symbol or address ``on=``, or at once):

- ``flip_ram(target, bit=)``: flip one bit of a RAM word or of a global (``bit`` counts from
  bit 0 of the first byte; random in the object when omitted);
- ``flip_reg(name, bit=)``: flip one bit of a register (``a0``, ``sp``, ``mstatus``...);
- ``npu_error(code, count=)``: the NPU's next ``count`` commands fail with that error code, as
  firmware sees real errors (STATUS.ERROR, ERR_CODE, ERR_DESC, the error interrupt);
- ``uart_input(drop=, corrupt=)``: from then on each byte typed into the UART is dropped or gets
  one bit flipped with those probabilities;
- ``delay_irq(cause, seconds)``: interrupt ``cause`` (timer, software, external, s-external or
  a number) stays invisible to the hart for that long, so one that arrives meanwhile is late.

Random choices come from ``random.Random(seed)`` and triggers are exact virtual times or
instruction addresses, so with deterministic time the same seed gives a byte-identical run.
Everything applied is in :attr:`FaultInjector.log`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from emu.errors import ConfigError

if TYPE_CHECKING:
    from emu.machine import Machine

IRQ_CAUSES = {"software": 3, "s-external": 9, "timer": 7, "external": 11}


@dataclass(frozen=True)
class Injection:
    """One fault that was applied: when (virtual ns, instructions), what and where."""

    time_ns: int
    insn_count: int | None
    kind: str
    detail: str

    def __str__(self) -> str:
        count = f", insn {self.insn_count}" if self.insn_count is not None else ""
        return f"{self.time_ns / 1e9:.9f} s{count}: {self.kind} {self.detail}"


@dataclass
class Armed:
    """A fault waiting for its trigger."""

    ident: int
    kind: str
    trigger: str
    cancel: Callable[[], None]


class FaultInjector:
    """Schedules faults on one machine; ``seed`` makes the random choices reproducible."""

    def __init__(self, machine: Machine, seed: int = 0) -> None:
        self.machine = machine
        self.seed = seed
        self.rng = random.Random(seed)
        self.log: list[Injection] = []
        self.armed: dict[int, Armed] = {}
        self._next_id = 1

    # -- what can be injected ----------------------------------------------------------------------
    def flip_ram(self, target: int | str, *, bit: int | None = None, size: int | None = None,
                 at: float | None = None, on: int | str | None = None, hit: int = 1) -> int:
        """Flip one bit of the global ``target`` (or of ``size`` bytes at an address, default 4)."""
        addr, length = self._object(target, size)
        if bit is not None and not 0 <= bit < 8 * length:
            raise ConfigError(f"bit {bit} is outside the {length} bytes of {target}")

        def apply() -> None:
            chosen = self.rng.randrange(8 * length) if bit is None else bit
            where = addr + chosen // 8
            old = self.machine.read_mem(where, 1)[0]
            self.machine.write_mem(where, bytes([old ^ (1 << (chosen % 8))]))
            self._record("flip-ram", f"{self._name(target)} bit {chosen} ({where:#x}: {old:#04x} -> "
                                     f"{old ^ (1 << (chosen % 8)):#04x})")

        return self._arm("flip-ram", apply, at, on, hit)

    def flip_reg(self, name: str, *, bit: int | None = None, at: float | None = None,
                 on: int | str | None = None, hit: int = 1) -> int:
        """Flip one bit of register ``name``."""
        try:
            self.machine.read_reg(name)
        except Exception as e:  # noqa: BLE001 - the machine's own message names the problem
            raise ConfigError(f"no register {name!r}: {e}") from None
        width = self.machine.xlen
        if bit is not None and not 0 <= bit < width:
            raise ConfigError(f"bit {bit} is outside the {width}-bit register {name}")

        def apply() -> None:
            chosen = self.rng.randrange(width) if bit is None else bit
            old = self.machine.read_reg(name)
            self.machine.write_reg(name, old ^ (1 << chosen))
            self._record("flip-reg", f"{name} bit {chosen} ({old:#x} -> {old ^ (1 << chosen):#x})")

        return self._arm("flip-reg", apply, at, on, hit)

    def npu_error(self, code: int | str, *, count: int = 1, at: float | None = None,
                  on: int | str | None = None, hit: int = 1) -> int:
        """The NPU's next ``count`` commands fail with ``code`` (a number or a name like ``DRAM_RANGE``)."""
        from emu.npu_device.regs import ERROR_NAMES, ERRORS

        name = ERROR_NAMES.get(code) if isinstance(code, int) else str(code).upper()
        if name not in ERRORS or name == "NONE":
            known = ", ".join(f"{n}={c}" for n, (c, _) in ERRORS.items() if n != "NONE")
            raise ConfigError(f"unknown NPU error code {code!r} (one of {known})")

        def apply() -> None:
            self.machine.npu.injected_errors.extend([name] * count)
            self._record("npu-error", f"{name} ({ERRORS[name][0]}) on the next {count} command(s)")

        return self._arm("npu-error", apply, at, on, hit)

    def uart_input(self, *, drop: float = 0.0, corrupt: float = 0.0, at: float | None = None,
                   on: int | str | None = None, hit: int = 1) -> int:
        """From the trigger on, drop each byte typed into the UART with probability ``drop``, else
        flip one of its bits with probability ``corrupt``."""
        if not (0 <= drop <= 1 and 0 <= corrupt <= 1 and drop + corrupt <= 1):
            raise ConfigError("drop and corrupt are probabilities that add up to at most 1")
        uart = self.machine.uart

        def apply() -> None:
            deliver = type(uart).send.__get__(uart)  # the device's own method, under any earlier wrapper

            def send(data: bytes) -> None:
                out = bytearray()
                for byte in data:
                    roll = self.rng.random()
                    if roll < drop:
                        self._record("uart-drop", f"{byte:#04x}")
                    elif roll < drop + corrupt:
                        flipped = byte ^ (1 << self.rng.randrange(8))
                        self._record("uart-corrupt", f"{byte:#04x} -> {flipped:#04x}")
                        out.append(flipped)
                    else:
                        out.append(byte)
                if out:
                    deliver(bytes(out))

            uart.send = send
            self._record("uart-input", f"drop {drop:g}, corrupt {corrupt:g}")

        return self._arm("uart-input", apply, at, on, hit)

    def delay_irq(self, cause: int | str, seconds: float, *, at: float | None = None,
                  on: int | str | None = None, hit: int = 1) -> int:
        """Hide interrupt ``cause`` from the hart for ``seconds`` of virtual time from the trigger."""
        number = IRQ_CAUSES.get(cause) if isinstance(cause, str) else cause
        if number is None or not 0 <= number < self.machine.xlen:
            raise ConfigError(f"unknown interrupt {cause!r} (one of {', '.join(IRQ_CAUSES)} or a cause number)")
        if seconds <= 0:
            raise ConfigError("the delay must be positive")
        clock = self.machine.clock

        def release() -> None:
            self.machine.hold_interrupt(number, False)
            self._record("irq-release", f"cause {number}")

        def apply() -> None:
            self.machine.hold_interrupt(number, True)
            clock.schedule(clock.now_ns() + int(seconds * 1e9), release, f"fault: release irq {number}")
            self._record("irq-delay", f"cause {number} for {seconds:g} s")

        return self._arm("delay-irq", apply, at, on, hit)

    def cancel(self, ident: int) -> None:
        """Disarm a fault that has not fired yet."""
        armed = self.armed.pop(ident, None)
        if armed is None:
            raise ConfigError(f"no armed fault {ident}")
        armed.cancel()

    # -- triggers ------------------------------------------------------------------------------------
    def _arm(self, kind: str, apply: Callable[[], None], at: float | None, on: int | str | None, hit: int) -> int:
        if at is not None and on is not None:
            raise ConfigError("a fault triggers at a time or on a symbol, not both")
        ident = self._next_id
        self._next_id += 1

        def fire() -> None:
            if self.armed.pop(ident, None) is not None:
                apply()

        clock = self.machine.clock
        if on is not None:
            if hit < 1:
                raise ConfigError("hit counts from 1")
            addr = self._address(on)
            self.armed[ident] = Armed(ident, kind, f"on {self._name(on)} (hit {hit})", lambda: None)
            self._on_address(addr, hit, fire, ident)
        else:
            when = clock.now_ns() if at is None else int(at * 1e9)
            if at is not None and (at < 0 or when < clock.now_ns()):
                raise ConfigError(f"virtual time {at:g} s has passed (now {clock.now_ns() / 1e9:g} s)")
            event = clock.schedule(when, fire, f"fault {ident}: {kind}")
            self.armed[ident] = Armed(ident, kind, f"at {when / 1e9:g} s", lambda: clock.cancel(event))
        return ident

    def _on_address(self, addr: int, hit: int, fire: Callable[[], None], ident: int) -> None:
        """A code hook on exactly ``addr`` that fires on its ``hit``-th execution, then goes away."""
        from unicorn import UC_HOOK_CODE

        uc = self.machine.uc
        seen = [0]
        handle: list[int] = []

        def on_code(_uc: object, _address: int, _size: int, _user: object) -> None:
            if ident not in self.armed:
                return
            seen[0] += 1
            if seen[0] == hit:
                fire()
                clock = self.machine.clock  # not inside its own callback: drop the hook between slices
                clock.schedule(clock.now_ns(), lambda: uc.hook_del(handle[0]), f"fault {ident}: unhook")

        handle.append(uc.hook_add(UC_HOOK_CODE, on_code, begin=addr, end=addr))
        uc.ctl_remove_cache(addr, addr + 4)  # code translated before the hook must see it
        self.armed[ident].cancel = lambda: self.machine.clock.schedule(
            self.machine.clock.now_ns(), lambda: uc.hook_del(handle[0]), f"fault {ident}: unhook")

    # -- helpers ------------------------------------------------------------------------------------------
    def _record(self, kind: str, detail: str) -> None:
        self.log.append(Injection(self.machine.clock.now_ns(), self.machine.insn_count, kind, detail))

    def _address(self, where: int | str) -> int:
        if isinstance(where, int):
            return where
        elf = self.machine.elf
        symbol = elf.lookup(where) if elf is not None else None
        if symbol is None:
            raise ConfigError(f"no symbol {where!r}")
        return symbol.addr

    def _object(self, target: int | str, size: int | None) -> tuple[int, int]:
        if isinstance(target, int):
            return target, 4 if size is None else size
        elf = self.machine.elf
        symbol = elf.lookup(target) if elf is not None else None
        if symbol is None:
            raise ConfigError(f"no symbol {target!r}")
        return symbol.addr, size or symbol.size or 4

    @staticmethod
    def _name(where: int | str) -> str:
        return f"{where:#x}" if isinstance(where, int) else where
