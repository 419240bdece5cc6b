"""Tab completion for the REPL: command words, sub-commands, symbols, ``$registers``, files, snapshots.

What an argument completes to is declared on each :class:`Command`
(``complete="symbol"`` ...), so a new command gets completion by saying what
it takes, not by editing this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from emu.debugger.errors import DebuggerError
from emu.debugger.registry import Command, split_command

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell


class ShellCompleter(Completer):
    """Completes the word under the cursor from what the command before it takes."""

    def __init__(self, shell: CommandShell) -> None:
        self.shell = shell
        self._paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        text = document.text_before_cursor
        if " " not in text.lstrip() and "/" not in text:
            yield from _matching(text.lstrip(), self.shell.registry.all_words())
            return
        word = text.split(" ")[-1]
        command, at_subcommand = self._command(text[: len(text) - len(word)])
        if command is None:
            return
        if at_subcommand and command.subcommands is not None:
            yield from _matching(word, command.subcommands.all_words())
            return
        if word.startswith("$"):
            yield from _matching(word, ["$" + n for n in self._registers()])
            return
        kind = command.complete
        if kind == "file":
            sub = Document(word, len(word))
            yield from self._paths.get_completions(sub, complete_event)
        elif kind in ("symbol", "location"):
            yield from _matching(word.lstrip("*&"), self._symbols(kind == "location"), prefix=word[: len(word) - len(word.lstrip("*&"))])
        elif kind == "register":
            yield from _matching(word, self._registers())
        elif kind == "command":
            yield from _matching(word, self.shell.registry.all_words())
        elif kind == "snapshot":
            yield from _matching(word, list(self.shell.timeline.saved))

    def _command(self, head: str) -> tuple[Command | None, bool]:
        """The command the words in ``head`` name, and whether the next word is its sub-command."""
        try:
            word, rest = split_command(head)
            command = self.shell.registry.resolve(word)
            while command.subcommands is not None and rest.strip():
                word, rest = split_command(rest)
                command = command.subcommands.resolve(word)
        except DebuggerError:
            return None, False
        return command, command.subcommands is not None and not rest.strip()

    def _registers(self) -> list[str]:
        return ["fp", *self.shell.machine.register_names()]

    def _symbols(self, with_files: bool) -> list[str]:
        elf = self.shell.elf
        names = [n for n, s in elf.symbols.items() if s.kind in ("func", "object")]
        if with_files:
            names += [self.shell.sources.short(f) + ":" for f in elf.source_files()]
        return names


def _matching(word: str, candidates: Iterable[str], prefix: str = "") -> Iterator[Completion]:
    for c in sorted(set(candidates)):
        if c.startswith(word):
            yield Completion(prefix + c, start_position=-(len(word) + len(prefix)))
