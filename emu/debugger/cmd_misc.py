"""The shell itself: ``help``, ``source``, ``echo``, ``quit``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.cli import process_status
from emu.debugger.errors import DebuggerError
from emu.debugger.files import MAX_SCRIPT_BYTES, read_text_lines
from emu.debugger.numbers import parse_int
from emu.debugger.registry import Command, Registry, split_command
from emu.debugger.xformat import decode_escapes

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell

MAX_SOURCE_DEPTH = 8


def register(root: Registry, info: Registry) -> None:
    root.add(Command("help", help_cmd, "help [COMMAND] -- list commands, or describe one.\n"
                     "  help x\n  help info registers", aliases=("h",), complete="command"))
    root.add(Command("source", source_cmd, "source FILE -- run the commands in FILE (stops at the first "
                     "error).\nLines starting with # are comments.  FILE must be a regular file of at "
                     "most 1 MiB.",
                     complete="file"))
    root.add(Command("echo", echo_cmd, "echo TEXT -- print TEXT (C escapes such as \\n work), for scripts."))
    root.add(Command("quit", quit_cmd, "quit [CODE] -- leave the debugger (exit status CODE, 0 by default).",
                     aliases=("q", "exit")))


def help_cmd(shell: CommandShell, arg: str) -> None:
    text = arg.strip()
    if not text:
        shell.out("Commands (GDB names and abbreviations; \"help COMMAND\" for details):")
        for c in shell.registry:
            shell.out(f"  {c.summary}")
            if c.subcommands is not None:
                for sub in c.subcommands:
                    shell.out(f"    {c.name} {sub.summary}" if not sub.summary.startswith(c.name)
                              else f"    {sub.summary}")
        return
    command, rest = shell.resolve(text)
    if rest and command.subcommands is None and split_command(rest)[0]:
        raise DebuggerError(f'"{command.name}" has no sub-command "{rest}".')
    shell.out(command.usage.strip())
    if command.aliases:
        shell.out(f"Aliases: {', '.join(command.aliases)}")
    if command.subcommands is not None:
        shell.out("")
        for sub in command.subcommands:
            shell.out(f"  {sub.summary}")


def source_cmd(shell: CommandShell, arg: str) -> None:
    name = arg.strip()
    if not name:
        raise DebuggerError("source: argument required (file name).")
    run_script(shell, name, read_script(name))


def read_script(name: str) -> list[str]:
    """The lines of a command file: a regular file of at most MAX_SCRIPT_BYTES, or a DebuggerError."""
    return read_text_lines(name, MAX_SCRIPT_BYTES)


def run_script(shell: CommandShell, name: str, lines: list[str]) -> None:
    """Run ``lines`` as ``source`` does: stop at the first failing command, or at ``quit``."""
    if shell.source_depth >= MAX_SOURCE_DEPTH:
        raise DebuggerError(f"source: nested more than {MAX_SOURCE_DEPTH} deep.")
    shell.source_depth += 1
    try:
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.strip().startswith("#"):
                continue
            if not shell.execute(line):
                raise DebuggerError(f"{name}:{number}: stopped at this error.")
            if shell.quit_requested is not None:
                return
    finally:
        shell.source_depth -= 1


def echo_cmd(shell: CommandShell, arg: str) -> None:
    shell.write(decode_escapes(arg).decode("utf-8", errors="replace"))


def quit_cmd(shell: CommandShell, arg: str) -> None:
    text = arg.strip() or "0"
    # As `npuemu run` maps a firmware's exit code: 256 must not become a successful 0.
    shell.quit_requested = process_status(parse_int(text, "exit code")) or 0
