"""Loading firmware ELF files: segments, entry point, symbols and the DWARF line table.

Every way an ELF can be wrong becomes one :class:`ElfError` line; pyelftools
raises many exception types on malformed input, so parsing is wrapped once here.
"""

from __future__ import annotations

import bisect
import io
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from elftools.elf.elffile import ELFFile

from emu.errors import ElfError

EM_RISCV = 243
MAX_IMAGE_BYTES = 512 << 20  # firmware, kernel or initrd files: larger is refused (the RAM limit is 2 GiB)
PF_X, PF_W, PF_R = 1, 2, 4


@dataclass(frozen=True)
class Segment:
    """A PT_LOAD segment: ``data`` goes at ``paddr``, then zeros up to ``memsz``."""

    paddr: int
    data: bytes
    memsz: int
    flags: int

    @property
    def executable(self) -> bool:
        """PF_X, or no permission flags at all: QEMU loads and runs segments regardless of their
        flags, and a linker script that writes FLAGS(...) wrongly leaves them 0."""
        return bool(self.flags & PF_X) or not self.flags & (PF_X | PF_W | PF_R)


@dataclass(frozen=True)
class Symbol:
    name: str
    addr: int
    size: int
    kind: str  # "func", "object", "notype"


@dataclass
class LineTable:
    """Address -> (file, line) rows from DWARF .debug_line, sorted by address."""

    addrs: list[int] = field(default_factory=list)
    rows: list[tuple[str, int]] = field(default_factory=list)
    stmt: list[bool] = field(default_factory=list)  # a statement start (where GDB puts breakpoints)
    # address ranges [start, end) that have line info, to tell "no line" from "nearest line"
    ends: list[int] = field(default_factory=list)


class ElfImage:
    """A parsed firmware ELF: what the machine loads and what the debuggers look up."""

    def __init__(self, path: Path, xlen: int, entry: int, segments: list[Segment],
                 symbols: list[Symbol], raw: bytes, tohost: int | None, fromhost: int | None) -> None:
        self.path = path
        self.xlen = xlen
        self.entry = entry
        self.segments = segments
        self.symbols = {s.name: s for s in symbols}
        self._by_addr = sorted((s for s in symbols if s.size > 0 or s.kind == "func"), key=lambda s: s.addr)
        self._addr_keys = [s.addr for s in self._by_addr]
        self._raw = raw
        self._line_cache: LineTable | None = None
        self.tohost = tohost
        self.fromhost = fromhost
        self.npuemu_sections: dict[str, bytes] = {}  # ".npuemu.*" sections: data the firmware leaves for the emulator

    @property
    def raw(self) -> bytes:
        """The file's bytes as loaded (DWARF readers parse these, not the file, which may have changed)."""
        return self._raw

    # -- symbols --------------------------------------------------------------
    def lookup(self, name: str) -> Symbol | None:
        return self.symbols.get(name)

    def symbol_at(self, addr: int) -> tuple[Symbol, int] | None:
        """The symbol containing ``addr`` and the offset into it."""
        i = bisect.bisect_right(self._addr_keys, addr) - 1
        while i >= 0:
            sym = self._by_addr[i]
            if sym.addr <= addr < sym.addr + max(sym.size, 1):
                return sym, addr - sym.addr
            if sym.addr < addr and sym.size == 0:
                return sym, addr - sym.addr
            if sym.addr < addr:
                return None
            i -= 1
        return None

    def describe(self, addr: int) -> str:
        """``0x80000010 <main+4>`` style text for messages."""
        hit = self.symbol_at(addr)
        if hit is None:
            return f"{addr:#x}"
        sym, off = hit
        return f"{addr:#x} <{sym.name}+{off}>" if off else f"{addr:#x} <{sym.name}>"

    # -- source lines -----------------------------------------------------------
    @property
    def _lines(self) -> LineTable:
        """Parsed on first use: DWARF decoding costs more than the rest of booting."""
        if self._line_cache is None:
            try:
                self._line_cache = _line_table(ELFFile(io.BytesIO(self._raw)))
            except Exception:  # noqa: BLE001 - bad debug info must not stop a run: no lines
                self._line_cache = LineTable()
        return self._line_cache

    def line_for(self, addr: int) -> tuple[str, int] | None:
        t = self._lines
        i = bisect.bisect_right(t.addrs, addr) - 1
        if i < 0 or addr >= t.ends[i]:
            return None
        return t.rows[i]

    def addresses_for_line(self, file: str, line: int) -> list[int]:
        """Start addresses of the rows for ``file:line`` (file matched by basename or suffix)."""
        out = []
        t = self._lines
        for addr, (f, ln), stmt in zip(t.addrs, t.rows, t.stmt, strict=True):
            if stmt and ln == line and (f == file or f.endswith("/" + file) or os.path.basename(f) == file):
                out.append(addr)
        return sorted(set(out))

    def source_files(self) -> list[str]:
        return sorted({f for f, _ in self._lines.rows})

    def executable_ranges(self) -> list[tuple[int, int]]:
        return [(s.paddr, s.paddr + len(s.data)) for s in self.segments if s.executable]


def read_bounded(fd: int, size: int, limit: int) -> bytes | None:
    """The rest of open file ``fd`` whose fstat said ``size`` bytes: None once it holds more than
    ``limit`` (a file can grow after fstat: never more than ``limit + 1`` bytes are read).  The
    whole file comes in one read when it did not grow (joining one chunk copies nothing)."""
    chunks, total = [], 0
    while total <= limit:
        want = size - total if total < size else 1 << 20
        chunk = os.read(fd, min(want, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
    return None


def read_image_file(path: str | os.PathLike, what: str = "firmware") -> bytes:
    """The bytes of a firmware/kernel/initrd file: a regular file of at most MAX_IMAGE_BYTES.

    Opened non-blocking and checked with fstat before reading, so a FIFO, a device such as
    /dev/zero or a huge sparse file is refused at once with one line instead of blocking or
    filling host memory."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise ElfError(f"cannot read {what} {p}: {e.strerror or e}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ElfError(f"cannot read {what} {p}: not a regular file")
        if info.st_size > MAX_IMAGE_BYTES:
            raise ElfError(f"cannot read {what} {p}: {info.st_size} bytes is larger than the "
                           f"{MAX_IMAGE_BYTES >> 20} MiB limit")
        data = read_bounded(fd, info.st_size, MAX_IMAGE_BYTES)
        if data is None:  # the file grew while we read it
            raise ElfError(f"cannot read {what} {p}: larger than the {MAX_IMAGE_BYTES >> 20} MiB limit")
        return data
    except OSError as e:
        raise ElfError(f"cannot read {what} {p}: {e.strerror or e}") from None
    finally:
        os.close(fd)


def load_elf(path: str | os.PathLike) -> ElfImage:
    """Parse ``path``; raises :class:`ElfError` with one line for anything malformed."""
    p = Path(path)
    raw = read_image_file(p)
    return parse_elf(p, raw)


def parse_elf(p: Path, raw: bytes) -> ElfImage:
    """Parse ELF bytes already read from ``p`` (one-line :class:`ElfError` for anything malformed)."""
    try:
        return _parse(p, raw)
    except ElfError:
        raise
    except Exception as e:  # noqa: BLE001 - pyelftools raises many types on hostile input
        # (_PyElfError, ValueError, KeyError, AssertionError, ...): all mean "malformed".
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ElfError(f"{p}: malformed ELF ({msg})") from None


def _parse(path: Path, raw: bytes) -> ElfImage:
    if raw[:4] != b"\x7fELF":
        raise ElfError(f"{path}: not an ELF file")
    if len(raw) < 52:
        raise ElfError(f"{path}: truncated ELF header")
    if raw[5] == 2:
        raise ElfError(f"{path}: big-endian ELF; RISC-V firmware is little-endian")
    if raw[4] not in (1, 2):
        raise ElfError(f"{path}: bad ELF class {raw[4]}")
    elf = ELFFile(io.BytesIO(raw))
    if elf["e_machine"] != "EM_RISCV":
        raise ElfError(f"{path}: not a RISC-V ELF (machine {elf['e_machine']})")
    xlen = 64 if elf.elfclass == 64 else 32
    segments = []
    for seg in elf.iter_segments():
        if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
            continue
        off, filesz = seg["p_offset"], seg["p_filesz"]
        if off + filesz > len(raw):
            raise ElfError(f"{path}: truncated: segment at {seg['p_paddr']:#x} runs past the end of the file")
        if filesz > seg["p_memsz"]:
            raise ElfError(f"{path}: segment at {seg['p_paddr']:#x} has filesz > memsz")
        segments.append(Segment(seg["p_paddr"], raw[off : off + filesz], seg["p_memsz"], seg["p_flags"]))
    if not segments:
        raise ElfError(f"{path}: no loadable segments")
    symbols, tohost, fromhost = _symbols(elf)
    image = ElfImage(path, xlen, elf["e_entry"], segments, symbols, raw, tohost, fromhost)
    for section in elf.iter_sections():
        if section.name.startswith(".npuemu.") and section["sh_type"] != "SHT_NOBITS":
            off, size = section["sh_offset"], section["sh_size"]
            if off + size > len(raw):
                raise ElfError(f"{path}: truncated: section {section.name} runs past the end of the file")
            image.npuemu_sections[section.name] = raw[off : off + size]
    return image


def _symbols(elf: ELFFile) -> tuple[list[Symbol], int | None, int | None]:
    table = elf.get_section_by_name(".symtab")
    out: list[Symbol] = []
    if table is None or not hasattr(table, "iter_symbols"):
        return out, None, None
    kinds = {"STT_FUNC": "func", "STT_OBJECT": "object", "STT_NOTYPE": "notype"}
    for sym in table.iter_symbols():
        kind = kinds.get(sym["st_info"]["type"])
        if kind is None or not sym.name or sym["st_shndx"] == "SHN_UNDEF" or sym.name.startswith("$"):
            continue
        if kind == "notype" and sym.name.startswith(".L"):
            continue
        out.append(Symbol(sym.name, sym["st_value"], sym["st_size"], kind))
    names = {s.name: s.addr for s in out}
    return out, names.get("tohost"), names.get("fromhost")


def _line_table(elf: ELFFile) -> LineTable:
    """The rows of .debug_line as GDB uses them: where several rows share an address the last one
    wins (a statement row over a non-statement one), and a row covers up to the next row or end
    of sequence."""
    table = LineTable()
    if not elf.has_dwarf_info():
        return table
    dwarf = elf.get_dwarf_info()
    rows: dict[int, tuple[str, int, bool]] = {}
    boundaries: set[int] = set()
    for cu in dwarf.iter_CUs():
        lp = dwarf.line_program_for_CU(cu)
        if lp is None:
            continue
        names = _file_names(lp.header)
        for entry in lp.get_entries():
            st = entry.state
            if st is None:
                continue
            boundaries.add(st.address)
            if st.end_sequence:
                continue
            previous = rows.get(st.address)
            if previous is not None and previous[2] and not st.is_stmt:
                continue
            rows[st.address] = (names.get(st.file, "?"), st.line, bool(st.is_stmt))
    edges = sorted(boundaries)
    for addr in sorted(rows):
        i = bisect.bisect_right(edges, addr)
        name, line, stmt = rows[addr]
        table.addrs.append(addr)
        table.rows.append((name, line))
        table.stmt.append(stmt)
        table.ends.append(edges[i] if i < len(edges) else addr + 4)
    return table


def _file_names(header) -> dict[int, str]:
    """DWARF file index -> path (indices start at 1 before DWARF 5, at 0 from 5 on)."""
    files, dirs = header["file_entry"], header["include_directory"]
    first = 0 if header["version"] >= 5 else 1
    out = {}
    for i, fe in enumerate(files):
        name = fe.name.decode(errors="replace") if isinstance(fe.name, bytes) else str(fe.name)
        d = fe.dir_index if header["version"] >= 5 else fe.dir_index - 1
        if not os.path.isabs(name) and 0 <= d < len(dirs):
            dname = dirs[d].decode(errors="replace") if isinstance(dirs[d], bytes) else str(dirs[d])
            name = os.path.join(dname, name)
        out[i + first] = os.path.normpath(name)
    return out
