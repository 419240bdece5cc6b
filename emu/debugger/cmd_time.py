"""Time travel in the shell: ``snapshot``, ``restore``, ``info snapshots``, ``reverse-stepi``.

Named snapshots are the user's.  Reverse execution is the machine's one engine
(emu/debugger/timetravel.py, shared with the GDB stub): with deterministic time
and the exact instruction counter, restoring a checkpoint and executing ``k``
instructions always arrives at the same state, so ``reverse-stepi N`` restores
the nearest checkpoint before the target and re-executes up to ``insn_count - N``.
Anything the user changes by hand (``set``, ``uart send``, ``restore``) cannot be
replayed, so the history restarts there: reverse execution never crosses a manual
change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from emu.debugger.errors import DebuggerError
from emu.debugger.numbers import is_decimal
from emu.debugger.registry import Command, Registry
from emu.debugger.timetravel import NoHistory, time_travel

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell
    from emu.snapshot import Snapshot


@dataclass
class Saved:
    name: str
    snapshot: Snapshot
    insn_count: int | None
    pc: int


class Timeline:
    """Named snapshots, and the shell's side of the machine's time-travel engine."""

    def __init__(self, shell: CommandShell) -> None:
        self.shell = shell
        self.saved: dict[str, Saved] = {}
        self.travel = time_travel(shell.machine)  # a new engine's history begins now
        self.fresh_start = False  # ``run`` prints "Starting program" instead of "Continuing."

    def _take(self, name: str) -> Saved:
        m = self.shell.machine
        return Saved(name, m.snapshot(), m.insn_count, int(m.read_reg("pc")))

    def restart(self) -> None:
        self.shell.machine.reset()
        self.travel.restart()
        self.fresh_start = True

    def state_changed(self) -> None:
        """The user changed state by hand: replays must start from here."""
        self.travel.restart()

    def note_stop(self) -> None:
        """After a command that ran the machine: a checkpoint if it went far."""
        self.travel.note_stop()

    def save(self, name: str) -> Saved:
        saved = self.saved[name] = self._take(name)
        return saved

    def restore(self, name: str) -> Saved:
        if name not in self.saved:
            raise DebuggerError(f'No snapshot named "{name}".  Try "info snapshots".')
        saved = self.saved[name]
        self.shell.machine.restore(saved.snapshot)
        self.travel.restart()
        return saved

    def rewind(self, n: int) -> None:
        """Go back ``n`` instructions (replayed from the nearest checkpoint before the target)."""
        try:
            self.travel.step_back(n)
        except NoHistory as e:
            raise DebuggerError(_history_message(e)) from None


def _history_message(e: NoHistory) -> str:
    if "deterministic" in str(e):
        return "Reverse execution needs deterministic time: start npuemu debug without --realtime."
    return ("No more reverse-execution history (the history starts at the last restart, restore or "
            "manual change).")


def register(root: Registry, info: Registry) -> None:
    root.add(Command("snapshot", snapshot_cmd, "snapshot [NAME] -- save the whole machine (CPU, RAM, devices, "
                     "time) under NAME.\n  snapshot before_irq"))
    root.add(Command("restore", restore_cmd, "restore NAME -- return the whole machine to a snapshot.",
                     complete="snapshot"))
    root.add(Command("reverse-stepi", reverse_stepi, "reverse-stepi [N] -- go back N instructions (1).\n"
                     "Replays from the nearest snapshot taken since the last restart, restore or manual\n"
                     "change (set, uart send); needs deterministic time (the default; not --realtime).",
                     aliases=("rsi",), repeatable=True))
    info.add(Command("snapshots", info_snapshots, "info snapshots -- list saved snapshots."))


def snapshot_cmd(shell: CommandShell, arg: str) -> None:
    name = arg.strip() or f"snap{len(shell.timeline.saved) + 1}"
    if " " in name:
        raise DebuggerError("A snapshot name is one word.")
    saved = shell.timeline.save(name)
    shell.out(f'Snapshot "{name}" saved at {_where(shell, saved.pc)}.')


def restore_cmd(shell: CommandShell, arg: str) -> None:
    if not arg.strip():
        raise DebuggerError("Argument required (snapshot name).")
    shell.timeline.restore(arg.strip())
    shell.location_line(shell.pc)


def info_snapshots(shell: CommandShell, arg: str) -> None:
    if not shell.timeline.saved:
        shell.out("No snapshots.")
        return
    shell.out(f"{'Name':<16} {'Instructions':>12}  Location")
    for s in shell.timeline.saved.values():
        count = "?" if s.insn_count is None else str(s.insn_count)
        shell.out(f"{s.name:<16} {count:>12}  {_where(shell, s.pc)}")


def _where(shell: CommandShell, pc: int) -> str:
    name = shell.describe(pc)
    return f"{pc:#x}" + (f" <{name}>" if name else "")


def reverse_stepi(shell: CommandShell, arg: str) -> None:
    text = arg.strip() or "1"
    if not is_decimal(text) or int(text) < 1:
        raise DebuggerError(f'Invalid count "{text}".')
    before = shell.function_of(shell.pc)
    shell.timeline.rewind(int(text))
    if shell.function_of(shell.pc) != before:
        shell.location_line(shell.pc)
    else:
        shell.frame_line(shell.pc)
