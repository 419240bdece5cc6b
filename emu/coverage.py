"""Firmware line and function coverage: executed blocks + the DWARF line table -> lcov ``.info``.

Collection is cheap: one ``UC_HOOK_BLOCK`` counts each translated block's executions by (start,
size); instruction boundaries, lines and functions are worked out only when the report is
written.  A line's count is the highest execution count of the instructions its line-table rows
cover; a function's count is how often its entry block ran.  The output is the lcov tracefile
format (``TN/SF/FN/FNDA/DA/LF/LH/end_of_record``) that ``genhtml`` (Debian ``lcov``) renders.

Caveat: a block that traps part-way is still counted whole (Unicorn reports the block when it
starts), so the instructions after a faulting one in the same block count as executed.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from emu.decode import insn_length

if TYPE_CHECKING:
    from emu.elf_loader import ElfImage
    from emu.machine import Machine


class CoverageCollector:
    """Counts block executions of one machine from now on (attach before running)."""

    def __init__(self, machine: Machine) -> None:
        from unicorn import UC_HOOK_BLOCK

        self.machine = machine
        self.blocks: Counter[tuple[int, int]] = Counter()
        ranges = machine.elf.executable_ranges() if machine.elf is not None else []
        self._hooks = [machine.uc.hook_add(UC_HOOK_BLOCK, self._on_block, begin=start, end=end - 1)
                       for start, end in ranges]
        for start, end in ranges:  # code translated before the hook existed would not report
            machine.uc.ctl_remove_cache(start, end)

    def _on_block(self, _uc: object, address: int, size: int, _user: object) -> None:
        self.blocks[(address, size)] += 1

    def executed(self, since: Counter[tuple[int, int]] | None = None) -> dict[int, int]:
        """Instruction address -> execution count (only what ran after the ``since`` counts)."""
        counts = self.blocks - since if since is not None else self.blocks
        out: dict[int, int] = {}
        for (start, size), hits in counts.items():
            addr = start
            while addr < start + size:
                out[addr] = max(out.get(addr, 0), hits)
                low = int.from_bytes(self.machine.read_mem(addr, 2), "little")
                addr += insn_length(low)
        return out

    def tracefile(self, test_name: str = "", since: Counter[tuple[int, int]] | None = None) -> str:
        """The lcov tracefile of what ran (optionally: since a copy of :attr:`blocks`)."""
        assert self.machine.elf is not None
        return lcov_tracefile(self.machine.elf, self.executed(since), test_name)

    def close(self) -> None:
        for hook in self._hooks:
            self.machine.uc.hook_del(hook)
        self._hooks = []


@dataclass
class FileCoverage:
    """One source file: line -> count, function -> (first line, count)."""

    lines: dict[int, int] = field(default_factory=dict)
    functions: dict[str, tuple[int, int]] = field(default_factory=dict)


def _comp_dirs(elf: ElfImage) -> list[str]:
    """The compilation directories of the ELF's CUs: relative DWARF file names start there."""
    import io

    from elftools.elf.elffile import ELFFile

    dirs: list[str] = []
    dwarf = ELFFile(io.BytesIO(elf._raw)).get_dwarf_info()
    for cu in dwarf.iter_CUs():
        attr = cu.get_top_DIE().attributes.get("DW_AT_comp_dir")
        if attr is not None:
            name = attr.value.decode(errors="replace") if isinstance(attr.value, bytes) else str(attr.value)
            if name not in dirs:
                dirs.append(name)
    return dirs


def _absolute(name: str, comp_dirs: list[str]) -> str:
    if os.path.isabs(name):
        return name
    for directory in comp_dirs:
        candidate = os.path.normpath(os.path.join(directory, name))
        if os.path.exists(candidate):
            return candidate
    return os.path.normpath(os.path.join(comp_dirs[0], name)) if comp_dirs else name


def line_coverage(elf: ElfImage, executed: dict[int, int]) -> dict[str, FileCoverage]:
    """Per absolute source path: every line with code (count 0 if never run) and every function.

    Sources that are not on this disk (libgcc's, from the toolchain build) are left out: genhtml
    could not show them and they are not the project's code."""
    table = elf._lines
    comp_dirs = _comp_dirs(elf) if table.addrs else []
    files: dict[str, FileCoverage] = {}
    names: dict[str, str] = {}
    ordered = sorted(executed)
    import bisect

    for start, end, (name, line) in zip(table.addrs, table.ends, table.rows, strict=True):
        path = names.setdefault(name, _absolute(name, comp_dirs))
        if not os.path.exists(path):
            continue
        cov = files.setdefault(path, FileCoverage())
        i = bisect.bisect_left(ordered, start)
        hits = 0
        while i < len(ordered) and ordered[i] < end:
            hits = max(hits, executed[ordered[i]])
            i += 1
        cov.lines[line] = max(cov.lines.get(line, 0), hits)
    for symbol in elf.symbols.values():
        where = elf.line_for(symbol.addr) if symbol.kind == "func" else None
        if where is None:
            continue
        path = names.setdefault(where[0], _absolute(where[0], comp_dirs))
        if path not in files:
            continue
        files.setdefault(path, FileCoverage()).functions[symbol.name] = (where[1], executed.get(symbol.addr, 0))
    return files


def lcov_tracefile(elf: ElfImage, executed: dict[int, int], test_name: str = "") -> str:
    """lcov's tracefile text for ``executed`` (address -> count) in ``elf``."""
    return format_tracefile(line_coverage(elf, executed), test_name)


def format_tracefile(files: dict[str, FileCoverage], test_name: str = "") -> str:
    out = []
    for path in sorted(files):
        cov = files[path]
        out += [f"TN:{_test_name(test_name)}", f"SF:{path}"]
        functions = sorted(cov.functions.items(), key=lambda item: (item[1][0], item[0]))
        out += [f"FN:{line},{name}" for name, (line, _) in functions]
        out += [f"FNDA:{hits},{name}" for name, (_, hits) in functions]
        out += [f"FNF:{len(functions)}", f"FNH:{sum(hits > 0 for _, (_, hits) in functions)}"]
        out += [f"DA:{line},{hits}" for line, hits in sorted(cov.lines.items())]
        out += [f"LF:{len(cov.lines)}", f"LH:{sum(hits > 0 for hits in cov.lines.values())}", "end_of_record"]
    return "\n".join(out) + "\n"


def _test_name(name: str) -> str:
    return re.sub(r"\W", "_", name)  # lcov test names are identifiers


def parse_tracefile(text: str) -> dict[str, FileCoverage]:
    """Read a tracefile written by :func:`format_tracefile` (for merging)."""
    files: dict[str, FileCoverage] = {}
    cov = FileCoverage()
    fn_lines: dict[str, int] = {}
    for raw in text.splitlines():
        key, _, value = raw.partition(":")
        if key == "SF":
            cov = files.setdefault(value, FileCoverage())
            fn_lines = {}
        elif key == "FN":
            line, name = value.split(",", 1)
            fn_lines[name] = int(line)
        elif key == "FNDA":
            hits, name = value.split(",", 1)
            old = cov.functions.get(name, (fn_lines.get(name, 0), 0))
            cov.functions[name] = (old[0] or fn_lines.get(name, 0), old[1] + int(hits))
        elif key == "DA":
            line, hits = value.split(",")[:2]
            cov.lines[int(line)] = cov.lines.get(int(line), 0) + int(hits)
    return files


def merge_tracefiles(paths: Iterable[Path], test_name: str = "merged") -> str:
    """One tracefile with the counts of several added up (what ``lcov -a`` does)."""
    merged: dict[str, FileCoverage] = {}
    for path in paths:
        for source, cov in parse_tracefile(Path(path).read_text()).items():
            into = merged.setdefault(source, FileCoverage())
            for line, hits in cov.lines.items():
                into.lines[line] = into.lines.get(line, 0) + hits
            for name, (line, hits) in cov.functions.items():
                old = into.functions.get(name, (line, 0))
                into.functions[name] = (old[0] or line, old[1] + hits)
    return format_tracefile(merged, test_name)
