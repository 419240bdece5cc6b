"""Time travel: ``snapshot``, ``restore``, ``info snapshots``, ``reverse-stepi``.

Reverse execution falls out of snapshots and determinism: with deterministic
time and the exact instruction counter, restoring a snapshot and executing
``k`` instructions always arrives at the same state.  So ``reverse-stepi N``
restores the nearest *anchor* before the target (a snapshot the timeline is
known to be reproducible from) and re-executes up to ``insn_count - N``.  Anything the
user changes by hand (``set``, ``uart send``, ``restore``) cannot be
replayed, so it moves the anchor to "now": reverse execution never crosses
a manual change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from emu.debugger.errors import DebuggerError
from emu.debugger.numbers import is_decimal
from emu.debugger.registry import Command, Registry

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell
    from emu.snapshot import Snapshot


@dataclass
class Saved:
    name: str
    snapshot: Snapshot
    insn_count: int | None
    pc: int


# Reverse execution replays from the nearest anchor; one is kept every REANCHOR_INSNS instructions
# (at the end of a command) so a step back never replays more, within a RAM budget for the copies.
REANCHOR_INSNS = 2_000_000
ANCHOR_RAM_BUDGET = 512 << 20


class Timeline:
    """Named snapshots and the replay anchors (all on the current deterministic timeline)."""

    def __init__(self, shell: CommandShell) -> None:
        self.shell = shell
        self.saved: dict[str, Saved] = {}
        self.anchors = [self._take("(attach)")]  # sorted by instruction count
        self._writes = shell.machine.state_writes  # changes from outside (gdb) invalidate anchors
        self.fresh_start = False  # ``run`` prints "Starting program" instead of "Continuing."

    def _take(self, name: str) -> Saved:
        m = self.shell.machine
        return Saved(name, m.snapshot(), m.insn_count, int(m.read_reg("pc")))

    def restart(self) -> None:
        self.shell.machine.reset()
        self.anchors = [self._take("(start)")]
        self._writes = self.shell.machine.state_writes
        self.fresh_start = True

    def state_changed(self) -> None:
        """The user changed state by hand: replays must start from here."""
        self.anchors = [self._take("(anchor)")]
        self._writes = self.shell.machine.state_writes

    def note_stop(self) -> None:
        """After a command: add an anchor when the firmware ran far past the latest one."""
        m = self.shell.machine
        latest = self.anchors[-1].insn_count
        if m.insn_count is None or latest is None or not m.clock.deterministic:
            return
        if m.insn_count - latest >= REANCHOR_INSNS:
            self.anchors.append(self._take("(anchor)"))
            keep = max(2, ANCHOR_RAM_BUDGET // max(m.ram.size, 1))
            del self.anchors[:-keep]

    def save(self, name: str) -> Saved:
        saved = self.saved[name] = self._take(name)
        return saved

    def restore(self, name: str) -> Saved:
        if name not in self.saved:
            raise DebuggerError(f'No snapshot named "{name}".  Try "info snapshots".')
        saved = self.saved[name]
        self.shell.machine.restore(saved.snapshot)
        self.anchors = [saved]
        self._writes = self.shell.machine.state_writes
        return saved

    def rewind(self, n: int) -> None:
        """Go back ``n`` instructions by replaying from the nearest anchor before the target."""
        m = self.shell.machine
        if m.insn_count is None or not m.clock.deterministic:
            raise DebuggerError("reverse-stepi needs deterministic time: start npuemu debug "
                                "without --realtime.")
        if m.state_writes != self._writes:  # changed behind the shell's back (gdb, a test)
            self.state_changed()
        target = m.insn_count - n
        usable = [a for a in self.anchors if a.insn_count is not None and a.insn_count <= target]
        if not usable:
            raise DebuggerError("No more reverse-execution history (the history starts at the last "
                                "restart, restore or manual change).")
        m.restore(usable[-1].snapshot)
        m.output_muted = True  # the replayed instructions must not print their output twice
        try:
            while m.insn_count < target:
                stop = m.step(target - m.insn_count)
                if stop.reason.name in ("EXITED", "FATAL"):
                    break
        finally:
            m.output_muted = False


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
