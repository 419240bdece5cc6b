"""The platform around the CPU: ``info devices``, ``info uart``, ``uart send``, ``info time``, ``info trap``.

These read device state through the Machine's public attributes (``bus``,
``uart``, ``clint``, ``clock``, ``last_trap``); nothing here changes a
device except ``uart send``, which types into the UART as a user would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.cpu import EXCEPTION_NAMES, INTERRUPT_NAMES
from emu.debugger.errors import DebuggerError
from emu.debugger.registers import PRIV_NAMES
from emu.debugger.registry import Command, Registry
from emu.debugger.xformat import c_string, decode_escapes

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell

# mip/mie bits by name, as the privileged spec numbers them.
IRQ_BITS = [(1, "SSIP"), (3, "MSIP"), (5, "STIP"), (7, "MTIP"), (9, "SEIP"), (11, "MEIP")]
UART_TAIL = 512  # bytes of console output ``info uart`` shows


def register(root: Registry, info: Registry) -> None:
    info.add(Command("devices", info_devices, "info devices -- the physical address map: RAM and every "
                     "device window."))
    info.add(Command("uart", info_uart, "info uart -- UART registers, receive queue and the console output "
                     "so far (last 512 bytes)."))
    info.add(Command("time", info_time, "info time -- virtual time, mtime, mtimecmp, and pending/enabled "
                     "interrupts (mip/mie)."))
    info.add(Command("trap", info_trap, "info trap -- the last trap: cause, epc, tval, privilege change."))
    uart = Registry("uart")
    uart.add(Command("send", uart_send, "uart send TEXT -- type TEXT into the UART (C escapes: \\n \\r \\t "
                     "\\e \\xHH \\\\).\nThe firmware sees it when it next runs.\n  uart send hello\\r"))
    root.add(Command("uart", None, "uart send TEXT -- type into the UART's receive line.", subcommands=uart))


def info_devices(shell: CommandShell, arg: str) -> None:
    shell.out(f"{'Start':<20}{'End':<20}{'Size':<12}Device")
    for base, size, name in shell.machine.bus.describe():
        shell.out(f"{base:<#20x}{base + size:<#20x}{size:<#12x}{name}")


def info_uart(shell: CommandShell, arg: str) -> None:
    u = shell.machine.uart
    base = next((b for b, _, n in shell.machine.bus.describe() if n == u.name), None)
    where = f" at {base:#x}" if base is not None else ""
    shell.out(f"{u.name} (ns16550a){where}")
    shell.out(f"  IER={u.ier:#04x} LCR={u.lcr:#04x} LSR={u.lsr:#04x} FCR={u.fcr:#04x} MCR={u.mcr:#04x}  "
              f"interrupt line {'high' if u.irq.level else 'low'}")
    shell.out(f"  receive: {u.rx_waiting} byte(s) waiting")
    out = bytes(u.output)
    shown = out[-UART_TAIL:]
    skipped = f" (last {len(shown)})" if len(shown) < len(out) else ""
    shell.out(f"  output: {len(out)} byte(s){skipped}: {c_string(shown)}")


def uart_send(shell: CommandShell, arg: str) -> None:
    if not arg:
        raise DebuggerError("Argument required (text to send).")
    data = decode_escapes(arg)
    shell.machine.feed_input(data)
    shell.timeline.state_changed()
    shell.out(f"Sent {len(data)} byte(s) to {shell.machine.uart.name}.")


def _bits(value: int) -> str:
    names = [name for bit, name in IRQ_BITS if value >> bit & 1]
    return " ".join(names) if names else "-"


def info_time(shell: CommandShell, arg: str) -> None:
    m = shell.machine
    clock = m.clock
    mode = "deterministic (10 ns per instruction)" if clock.deterministic else "realtime (paused while stopped)"
    shell.out(f"virtual time  {clock.now_ns()} ns  [{mode}]")
    shell.out(f"mtime         {clock.mtime()}  (10 MHz)")
    if m.clint.armed and m.clint.mtimecmp != (1 << 64) - 1:
        delta = m.clint.mtimecmp - clock.mtime()
        when = f"in {delta} ticks" if delta > 0 else f"{-delta} ticks ago (timer pending)"
        shell.out(f"mtimecmp      {m.clint.mtimecmp}  ({when})")
    else:
        shell.out("mtimecmp      not armed")
    if m.insn_count is not None:
        shell.out(f"instructions  {m.insn_count}")
    mip, mie, mstatus = shell.get_reg("mip"), shell.get_reg("mie"), shell.get_reg("mstatus")
    shell.out(f"mip           {mip:#x}  {_bits(mip)}")
    shell.out(f"mie           {mie:#x}  {_bits(mie)}")
    shell.out(f"mstatus.MIE   {mstatus >> 3 & 1}   pending and enabled: {_bits(mip & mie)}")


def info_trap(shell: CommandShell, arg: str) -> None:
    trap = shell.machine.last_trap
    if trap is None:
        shell.out("No trap taken yet.")
    else:
        names = INTERRUPT_NAMES if trap.interrupt else EXCEPTION_NAMES
        kind = "interrupt" if trap.interrupt else "exception"
        shell.out(f"last trap  {kind} {trap.cause} ({names.get(trap.cause, 'unknown')})")
        epc = shell.describe(trap.epc)
        shell.out(f"epc        {trap.epc:#x}" + (f" <{epc}>" if epc else ""))
        shell.out(f"tval       {trap.tval:#x}")
        shell.out(f"privilege  {PRIV_NAMES.get(trap.from_priv, '?')} -> {PRIV_NAMES.get(trap.to_priv, '?')}")
    for csr in ("mcause", "mepc", "mtval"):
        shell.out(f"{csr:<10} {shell.get_reg(csr):#x}")
