"""GDB's pager for long output at the interactive prompt (``disassemble main``, ``info functions``).

Only the terminal REPL installs it (never ``--batch``, ``-ex`` runs, piped stdin or the GDB stub's
``monitor``): after a screenful it asks ``--Type <RET> for more, q to quit, c to continue without
paging--``.  ``q`` ends the command's output with "Quit" (the command itself stops printing);
``c`` turns paging off until the next prompt.  ``set pagination off`` / ``set height 0`` disable it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from emu.debugger.errors import DebuggerError

PROMPT = "--Type <RET> for more, q to quit, c to continue without paging--"


class Pager:
    """A ``write`` for CommandShell that pauses every ``height - 1`` lines."""

    def __init__(self, write: Callable[[str], None], ask: Callable[[str], str],
                 height: Callable[[], int] | None = None) -> None:
        self._write, self._ask = write, ask
        self._height = height or (lambda: shutil.get_terminal_size((80, 24)).lines)
        self.enabled = True
        self.fixed_height: int | None = None  # ``set height N`` (0: unlimited)
        self._lines = 0
        self._continue = False

    def new_command(self) -> None:
        """At each prompt: count from zero again, and ask again after ``c``."""
        self._lines = 0
        self._continue = False

    def __call__(self, text: str) -> None:
        height = self.fixed_height if self.fixed_height is not None else self._height()
        if not self.enabled or self._continue or height <= 1:
            self._write(text)
            return
        for piece in text.splitlines(keepends=True):
            if self._lines >= height - 1 and not self._continue:
                answer = self._ask(PROMPT).strip().lower()
                if answer.startswith("q"):
                    self._lines = 0
                    raise DebuggerError("Quit")
                if answer.startswith("c"):
                    self._continue = True
                self._lines = 0
            self._write(piece)
            if piece.endswith("\n"):
                self._lines += 1
