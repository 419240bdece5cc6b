"""``npuemu debug``: the prompt_toolkit shell around :class:`CommandShell`.

Commands run in a worker thread while the main thread waits, so Ctrl-C (a
SIGINT in the main thread) can reach a running firmware: it calls
``Machine.request_stop()`` (thread-safe) and the command reports where the
firmware stopped.  The machine is never torn down by Ctrl-C.  History is
kept in ``$XDG_STATE_HOME/npuemu/history`` when XDG_STATE_HOME is set, else
``~/.npuemu_history``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output

from emu.debugger.cmd_misc import read_script, run_script
from emu.debugger.commands import CommandShell
from emu.debugger.completion import ShellCompleter
from emu.debugger.pager import Pager
from emu.errors import EmuError

PROMPT = "(npuemu) "


def history_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME")
    if state:
        return Path(state) / "npuemu" / "history"
    return Path.home() / ".npuemu_history"


def _history() -> History:
    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError:
        return InMemoryHistory()  # a read-only home must not stop the debugger
    return FileHistory(str(path))


def run_command(shell: CommandShell, line: str) -> bool:
    """Execute ``line`` in a worker thread; Ctrl-C meanwhile stops the machine, not the shell.

    While the command runs, SIGINT calls :meth:`CommandShell.interrupt` instead of raising
    KeyboardInterrupt, so a Ctrl-C at any moment (even before the worker starts) stops the
    firmware and nothing else.  The main thread polls an Event rather than ``Thread.join``:
    a join interrupted by a signal can mark a running thread as finished (CPython 3.11,
    bpo-45274), and the prompt would come back while the command still prints.
    """
    return _in_worker(shell, lambda: shell.execute(line))


def run_script_lines(shell: CommandShell, name: str, lines: list[str]) -> bool:
    """``--batch``: run an already-read script as ``source`` would, in the worker thread."""

    def work() -> bool:
        try:
            run_script(shell, name, lines)
        except EmuError as e:
            shell.out(str(e))
            return False
        return True

    return _in_worker(shell, work)


def _in_worker(shell: CommandShell, job: Callable[[], bool]) -> bool:
    result: list[bool] = []
    done = threading.Event()

    def work() -> None:
        try:
            result.append(job())
        finally:
            done.set()

    shell.interrupted.clear()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda _sig, _frame: shell.interrupt()) if in_main else None
    try:
        threading.Thread(target=work, name="npuemu-command", daemon=True).start()
        while not done.wait(0.05):
            pass
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
    shell.interrupted.clear()
    return bool(result and result[0])


class Repl:
    """The interactive loop; ``input``/``output`` are for tests (pipe input, DummyOutput)."""

    def __init__(self, shell: CommandShell, input: Input | None = None, output: Output | None = None,
                 history: History | None = None) -> None:
        self.shell = shell
        self.session: PromptSession[str] = PromptSession(
            completer=ShellCompleter(shell), history=history if history is not None else _history(),
            input=input, output=output, complete_while_typing=False)

    def run(self) -> int:
        """Prompt until ``quit`` or end of input; returns the exit status."""
        while self.shell.quit_requested is None:
            try:
                line = self.session.prompt(PROMPT)
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt only clears the line, as in GDB
            except EOFError:
                self.shell.out("quit")
                break
            if self.shell.pager is not None:
                self.shell.pager.new_command()
            try:
                run_command(self.shell, line)
            except KeyboardInterrupt:
                continue  # Ctrl-C between the prompt and the command: nothing was running
        return self.shell.quit_requested or 0


def _ask(prompt: str) -> str:
    """The pager's question, answered on the terminal (from the command's worker thread)."""
    try:
        return input(prompt)
    except EOFError:
        return "c"


def _stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def main_debug(opts: argparse.Namespace, make_machine: Callable[..., Any]) -> int:
    """``npuemu debug [--batch FILE] [-ex CMD]... FIRMWARE``: returns the exit status.

    ``-ex`` commands run first, in order; then ``--batch FILE`` runs and the
    debugger exits (status 1 if a command failed, or ``quit N``'s N); without
    ``--batch`` the prompt follows, or, when stdin is not a terminal, its lines
    are read as commands.  A ``--batch`` file that cannot be read (missing, not a
    regular file, over 1 MiB) is a one-line DebuggerError before the firmware loads.
    """
    script = read_script(opts.batch) if opts.batch is not None else None
    machine = make_machine(opts, count_insns=True)
    try:
        shell = CommandShell(machine, _stdout)
        ok = True
        for command in opts.ex:
            ok = run_command(shell, command) and ok
            if shell.quit_requested is not None:
                return shell.quit_requested
        if script is not None:
            ok = run_script_lines(shell, opts.batch, script) and ok
            return shell.quit_requested if shell.quit_requested is not None else (0 if ok else 1)
        if not sys.stdin.isatty():
            for line in sys.stdin:
                run_command(shell, line)
                if shell.quit_requested is not None:
                    break
            return shell.quit_requested or 0
        if sys.stdout.isatty():  # a terminal reads the output: page it as GDB does
            shell.pager = Pager(_stdout, _ask)
            shell.write = shell.pager
        return Repl(shell).run()
    finally:
        machine.close()
