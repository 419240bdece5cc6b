"""Fault injection from the shell: ``fault flip-ram|flip-reg|npu-error|uart-input|delay-irq|cancel|seed``
and ``info faults`` (the same :class:`emu.faults.FaultInjector` tests use).

Every fault takes a trigger: ``at SECONDS`` (virtual time), ``on SYMBOL|ADDRESS [hit N]``, or
none (at once).  Arming one is a manual change, so reverse execution does not replay across it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.debugger.companions import companion
from emu.debugger.errors import DebuggerError
from emu.debugger.registry import Command, Registry
from emu.faults import FaultInjector

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell

# keyword -> how its value parses; ``on`` takes a symbol or an address
_KEYWORDS = {"bit": int, "size": int, "hit": int, "count": int, "at": float, "drop": float, "corrupt": float,
             "on": str}


def injector(shell: CommandShell) -> FaultInjector:
    """The shell's machine's injector (seed 0 until ``fault seed N``)."""
    machine = shell.machine
    return companion(machine, "fault_injector", lambda: FaultInjector(machine))


def register(root: Registry, info: Registry) -> None:
    faults = Registry("fault")
    root.add(Command("fault", None, "fault KIND ... -- inject a fault now, at a virtual time or on a symbol.\n"
                     "Type \"help fault\" for the kinds; \"info faults\" lists armed and applied faults.",
                     subcommands=faults))
    trigger = "  trigger: at SECONDS | on SYMBOL|ADDRESS [hit N] | (nothing: at once)"
    faults.add(Command("flip-ram", _flip_ram, "fault flip-ram SYMBOL|ADDRESS [bit N] [size BYTES] TRIGGER -- "
                       "flip one bit in RAM (random bit without 'bit').\n" + trigger, complete="symbol"))
    faults.add(Command("flip-reg", _flip_reg, "fault flip-reg REGISTER [bit N] TRIGGER -- flip one bit of a "
                       "register.\n" + trigger, complete="register"))
    faults.add(Command("npu-error", _npu_error, "fault npu-error CODE|NAME [count N] TRIGGER -- the NPU's next "
                       "command(s) fail with that error.\n" + trigger))
    faults.add(Command("uart-input", _uart_input, "fault uart-input [drop P] [corrupt P] TRIGGER -- drop or "
                       "corrupt typed UART bytes with probabilities P.\n" + trigger))
    faults.add(Command("delay-irq", _delay_irq, "fault delay-irq timer|software|external|s-external|CAUSE SECONDS "
                       "TRIGGER -- hide that interrupt for SECONDS.\n" + trigger))
    faults.add(Command("cancel", _cancel, "fault cancel ID -- disarm a fault that has not fired."))
    faults.add(Command("seed", _seed, "fault seed N -- seed of the random choices (bits, drops): same seed, "
                       "same run."))
    info.add(Command("faults", _info_faults, "info faults -- armed faults and the ones applied, with their time."))


def _parse(arg: str, positional: int) -> tuple[list[str], dict[str, object]]:
    words = arg.split()
    if len(words) < positional:
        raise DebuggerError(f"Expected {positional} argument(s) before the options.  Try \"help fault\".")
    head, rest = words[:positional], words[positional:]
    if len(rest) % 2:
        raise DebuggerError(f"Option {rest[-1]!r} needs a value.")
    options: dict[str, object] = {}
    for key, value in zip(rest[::2], rest[1::2], strict=True):
        kind = _KEYWORDS.get(key)
        if kind is None:
            raise DebuggerError(f"Unknown option {key!r} (one of {', '.join(_KEYWORDS)}).")
        try:
            options[key] = kind(value)
        except ValueError:
            raise DebuggerError(f"Bad value for {key}: {value!r}.") from None
    if isinstance(options.get("on"), str):
        options["on"] = _where(str(options["on"]))
    return head, options


def _where(text: str) -> int | str:
    try:
        return int(text, 0)
    except ValueError:
        return text


def _armed(shell: CommandShell, ident: int) -> None:
    shell.timeline.state_changed()
    armed = injector(shell).armed.get(ident)
    when = armed.trigger if armed is not None else "applied"
    shell.write(f"Fault {ident} ({armed.kind if armed else 'fault'}) armed {when}.\n" if armed else
                f"Fault {ident} {when}.\n")


def _flip_ram(shell: CommandShell, arg: str) -> None:
    (target,), options = _parse(arg, 1)
    _armed(shell, injector(shell).flip_ram(_where(target), **options))


def _flip_reg(shell: CommandShell, arg: str) -> None:
    (name,), options = _parse(arg, 1)
    _armed(shell, injector(shell).flip_reg(name, **options))


def _npu_error(shell: CommandShell, arg: str) -> None:
    (code,), options = _parse(arg, 1)
    _armed(shell, injector(shell).npu_error(_where(code), **options))


def _uart_input(shell: CommandShell, arg: str) -> None:
    _, options = _parse(arg, 0)
    _armed(shell, injector(shell).uart_input(**options))


def _delay_irq(shell: CommandShell, arg: str) -> None:
    (cause, seconds), options = _parse(arg, 2)
    try:
        delay = float(seconds)
    except ValueError:
        raise DebuggerError(f"Bad delay {seconds!r}: seconds of virtual time.") from None
    _armed(shell, injector(shell).delay_irq(_where(cause), delay, **options))


def _cancel(shell: CommandShell, arg: str) -> None:
    try:
        ident = int(arg)
    except ValueError:
        raise DebuggerError("Usage: fault cancel ID") from None
    injector(shell).cancel(ident)
    shell.write(f"Fault {ident} cancelled.\n")


def _seed(shell: CommandShell, arg: str) -> None:
    try:
        seed = int(arg, 0)
    except ValueError:
        raise DebuggerError("Usage: fault seed N") from None
    current = injector(shell)
    current.seed = seed
    current.rng.seed(seed)
    shell.write(f"Fault seed {seed}.\n")


def _info_faults(shell: CommandShell, arg: str) -> None:
    faults = injector(shell)
    if not faults.armed and not faults.log:
        shell.write("No faults.\n")
        return
    for armed in faults.armed.values():
        shell.write(f"armed {armed.ident}: {armed.kind} {armed.trigger}\n")
    for entry in faults.log:
        shell.write(f"applied: {entry}\n")
