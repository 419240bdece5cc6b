"""Source text for ``list`` and stop lines, and which addresses start a source line.

The DWARF line table names files by the path the compiler saw; the files
may have moved or be missing, which GDB reports on the line instead of
failing, and so do we.  The names come from the ELF, which may be hostile:
only regular files of at most 4 MiB are read, anything else (``/dev/zero``,
a FIFO, a NUL in the name) is "no source".  Line starts decide whether a
stop prints ``0x... in`` and where ``step`` may stop, so they are cached per
(file, line).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from emu.debugger.errors import DebuggerError
from emu.debugger.files import MAX_SOURCE_BYTES, read_text_lines

if TYPE_CHECKING:
    from emu.elf_loader import ElfImage


class SourceCache:
    """File contents and line-start addresses, loaded on first use."""

    def __init__(self) -> None:
        self._files: dict[str, list[str] | None] = {}
        self._starts: dict[tuple[str, int], frozenset[int]] = {}

    def lines(self, path: str) -> list[str] | None:
        if path not in self._files:
            try:
                self._files[path] = read_text_lines(path, MAX_SOURCE_BYTES, expand_user=False)
            except DebuggerError:  # missing, not a regular file, too large, a NUL in the name
                self._files[path] = None
        return self._files[path]

    @staticmethod
    def short(path: str) -> str:
        """The name GDB shows in ``at hello.c:10``: the base name."""
        return os.path.basename(path)

    def line_text(self, path: str, line: int) -> str:
        """``10\\t  counter++;``, or GDB's ``10\\tin /path/hello.c`` when the file is unreadable."""
        text = self.lines(path)
        if text is None or not 1 <= line <= len(text):
            return f"{line}\tin {path}"
        return f"{line}\t{text[line - 1]}"

    def is_line_start(self, elf: ElfImage, addr: int) -> bool:
        """True when ``addr`` begins a row of its source line (where GDB prints no address)."""
        where = elf.line_for(addr)
        if where is None:
            return False
        if where not in self._starts:
            self._starts[where] = frozenset(elf.addresses_for_line(*where))
        return addr in self._starts[where]
