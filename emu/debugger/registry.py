"""The command table: names, GDB-style abbreviations, help texts and sub-commands.

GDB resolves a command word by exact name, then by an explicit alias (``s`` is
``step`` although ``set`` and ``source`` share the prefix), then by a unique
prefix; we do the same so a GDB user's fingers keep working.  The table is
data, so ``help``, Tab completion and the GDB stub's ``monitor`` all read the
same source of truth.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from emu.debugger.errors import DebuggerError

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell

Handler = Callable[["CommandShell", str], None]


@dataclass
class Command:
    """One command: ``handler(shell, argument_text)``; ``usage``'s first line is the summary."""

    name: str
    handler: Handler | None
    usage: str
    aliases: tuple[str, ...] = ()
    # What Tab completes in the argument: "symbol", "register", "file", "location" or "" (nothing).
    complete: str = ""
    # Enter on an empty line runs the command again (stepping and examining, as in GDB).
    repeatable: bool = False
    subcommands: Registry | None = None

    @property
    def summary(self) -> str:
        return self.usage.strip().splitlines()[0]


@dataclass
class Registry:
    """Commands by name, resolved the way GDB resolves them."""

    prefix: str = ""
    commands: dict[str, Command] = field(default_factory=dict)

    def add(self, command: Command) -> Command:
        self.commands[command.name] = command
        return command

    def names(self) -> list[str]:
        return sorted(self.commands)

    def all_words(self) -> list[str]:
        """Names, and the aliases that are not just a name's prefix (``bt``, not ``reg``), for completion."""
        words = set(self.commands)
        for c in self.commands.values():
            words.update(a for a in c.aliases if not any(n.startswith(a) for n in self.commands))
        return sorted(words)

    def resolve(self, word: str) -> Command:
        """The command ``word`` names: exact name, alias, or unique prefix; else :class:`DebuggerError`."""
        if word in self.commands:
            return self.commands[word]
        for c in self.commands.values():
            if word in c.aliases:
                return c
        hits = [c for name, c in self.commands.items() if name.startswith(word)]
        if len(hits) == 1:
            return hits[0]
        if hits:
            what = f"{self.prefix} {word}" if self.prefix else word
            raise DebuggerError(f"Ambiguous command \"{what}\": {', '.join(sorted(c.name for c in hits))}.")
        close = difflib.get_close_matches(word, self.all_words(), n=1)  # "did you mean" (emu/cli.py does too)
        hint = f'  Did you mean "{close[0]}"?' if close else ""
        if self.prefix:
            raise DebuggerError(f'Undefined {self.prefix} command: "{word}".{hint}  Try "help {self.prefix}".')
        raise DebuggerError(f'Undefined command: "{word}".{hint}  Try "help".')

    def __iter__(self) -> Iterator[Command]:
        return iter(self.commands[n] for n in self.names())


def split_command(line: str) -> tuple[str, str]:
    """``"x/4xw $sp"`` -> ``("x", "/4xw $sp")``; ``"b main"`` -> ``("b", "main")``.

    As in GDB a ``/`` right after the command word starts the argument, which
    is how ``x/4x`` and ``p/x`` parse without a space.
    """
    line = line.strip()
    end = 0
    while end < len(line) and (line[end].isalnum() or line[end] in "-_"):
        end += 1
    if end == 0:
        # Punctuation commands are not ours, but return something printable for the error.
        return line.split(maxsplit=1)[0], line[len(line.split(maxsplit=1)[0]):].strip()
    return line[:end], line[end:].strip()
