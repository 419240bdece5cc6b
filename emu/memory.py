"""Guest RAM: one numpy buffer mapped into Unicorn with ``mem_map_ptr``.

Why numpy: devices (the NPU's DMA above all) read and write guest memory as
numpy views of the very bytes the CPU executes from, with no copies and no
per-byte Python.

Why an anonymous private mmap under the numpy array: it is page aligned (so
pages can be write-protected) and lazily zero (a 1 GiB guest costs only the
pages it touches; :meth:`Ram.clear` gives pages back with MADV_DONTNEED).

Images (snapshots of RAM) cost what changed: the first :meth:`Ram.checkpoint`
copies the pages the process ever touched (from /proc/self/pagemap); from then
on RAM is write-protected after each checkpoint or restore and the C extension
``emu._ramtrack`` marks the pages written since (first store to a page: one
SIGSEGV, ~2 us).  An image is a dict page -> bytes (absent = zero) whose page
copies are shared with every other image that saw the same contents, so named
snapshots share unchanged pages.  RAM without images runs untracked, at no cost.
"""

from __future__ import annotations

import gc
import mmap
import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from emu.errors import BusError, EmuError

DRAM_BASE = 0x8000_0000
DEFAULT_RAM_SIZE = 128 << 20
_SIZE_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
PAGE = mmap.PAGESIZE
PAGE_SHIFT = PAGE.bit_length() - 1
IMAGE_ENTRY_BYTES = 64      # bookkeeping per page entry of an image (dict slot, bytes header)
EXTRA_IMAGE_BUDGET = 1 << 30  # live images may hold one full RAM plus this many bytes of copies


class SnapshotBudgetError(EmuError):
    """Taking one more image would exceed the bytes live snapshots may hold."""


@dataclass(eq=False)
class RamImage:
    """RAM contents at a checkpoint: page index -> page bytes (pages absent are zero)."""

    pages: dict[int, bytes]
    ram_size: int
    owner: weakref.ref = field(repr=False)


def parse_size(value: int | str) -> int:
    """``134217728``, ``"128M"``, ``"64k"``, ``"1G"``, ``"0.5G"`` -> bytes (RAM sizes as QEMU's ``-m``
    takes them); ValueError with a one-line message otherwise."""
    if isinstance(value, int):
        return value
    text = value.strip().upper().removesuffix("B").removesuffix("I")
    scale = _SIZE_UNITS.get(text[-1:], 1)
    digits = text[:-1] if scale > 1 else text
    try:
        number = float(digits) if "." in digits else int(digits, 0)
        size = int(number * scale)
    except (ValueError, OverflowError):
        raise ValueError(f"bad size {value!r}: use bytes or a K/M/G suffix, e.g. 128M") from None
    if size <= 0:
        raise ValueError(f"bad size {value!r}: must be positive")
    return size


class Ram:
    """The DRAM region at ``base``; every accessor bounds-checks and raises :class:`BusError`."""

    def __init__(self, size: int = DEFAULT_RAM_SIZE, base: int = DRAM_BASE) -> None:
        if size <= 0 or size % 4096:
            raise BusError(f"RAM size must be a positive multiple of 4 KiB, not {size}")
        self.base = base
        self.size = size
        try:
            self._mm = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        except (OSError, OverflowError, ValueError):
            raise BusError(f"cannot allocate {size >> 20} MiB of guest RAM on this host") from None
        self.buf = np.frombuffer(self._mm, dtype=np.uint8)
        self._address = self.buf.ctypes.data
        self._slot: int | None = None           # tracked region in emu._ramtrack, once images exist
        self._dirty: np.ndarray | None = None   # one byte per page, written by the SIGSEGV handler
        self._image: dict[int, bytes] = {}      # contents at the last checkpoint/restore
        self._images: weakref.WeakSet[RamImage] = weakref.WeakSet()
        self.image_budget = size + EXTRA_IMAGE_BUDGET
        # Told (addr, length) of every write that does not come from the CPU (devices, DMA,
        # semihosting, the debugger): the machine drops translated code there (issue 17 N1).
        self.on_write: Callable[[int, int], None] | None = None

    @property
    def end(self) -> int:
        return self.base + self.size

    def contains(self, addr: int, length: int = 1) -> bool:
        return length >= 0 and self.base <= addr and addr + length <= self.end

    def offset(self, addr: int, length: int = 1) -> int:
        """Offset of ``addr`` in :attr:`buf`, after checking ``[addr, addr+length)`` is RAM."""
        if not self.contains(addr, length):
            raise BusError(f"{addr:#x}+{length:#x} is outside RAM {self.base:#x}..{self.end:#x}")
        return addr - self.base

    def view(self, addr: int, length: int) -> np.ndarray:
        """A writable uint8 view of ``length`` bytes at ``addr`` (no copy)."""
        off = self.offset(addr, length)
        return self.buf[off : off + length]

    def read(self, addr: int, length: int) -> bytes:
        return self.view(addr, length).tobytes()

    def write(self, addr: int, data: bytes) -> None:
        self.view(addr, len(data))[:] = np.frombuffer(data, dtype=np.uint8)
        self.written(addr, len(data))

    def written(self, addr: int, length: int) -> None:
        """``length`` bytes at ``addr`` were changed behind the CPU (writers through :meth:`view` say so)."""
        if self.on_write is not None and length > 0:
            self.on_write(addr, length)

    def read_int(self, addr: int, size: int) -> int:
        return int.from_bytes(self.view(addr, size).tobytes(), "little")

    def write_int(self, addr: int, size: int, value: int) -> None:
        self.write(addr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    # -- whole-RAM operations proportional to what changed -----------------------------------
    @property
    def tracking(self) -> bool:
        return self._slot is not None

    def clear(self) -> None:
        """All RAM zero again, in time proportional to the pages in use (not to RAM size):
        the pages go back to the kernel and are lazily zero on next touch (issue 17 O1)."""
        self._zeroed_untracked(0, self.size >> PAGE_SHIFT)
        self._mm.madvise(mmap.MADV_DONTNEED)

    def zero(self, addr: int, length: int) -> None:
        """Zero ``[addr, addr+length)``; whole pages go back to the kernel instead of being written,
        so a big .bss costs nothing until the firmware touches it."""
        off = self.offset(addr, length)
        first = -(-off // PAGE) * PAGE
        last = (off + length) // PAGE * PAGE
        if last - first < 16 * PAGE:
            self.buf[off : off + length] = 0
            return
        self.buf[off:first] = 0
        self.buf[last : off + length] = 0
        self._zeroed_untracked(first >> PAGE_SHIFT, last >> PAGE_SHIFT)
        self._mm.madvise(mmap.MADV_DONTNEED, first, last - first)

    def _zeroed_untracked(self, lo: int, hi: int) -> None:
        """Pages ``lo..hi`` go zero without a store the SIGSEGV handler sees (MADV_DONTNEED):
        those the last checkpoint saw non-zero are dirty."""
        if self._slot is not None:
            for page in self._image:
                if lo <= page < hi:
                    self._dirty[page] = 1

    def checkpoint(self) -> RamImage:
        """An image of RAM now; shares page copies with the images taken before."""
        if self._slot is None:
            self._start_tracking()
        else:
            self._collect_dirty()
        self._check_budget()
        image = RamImage(dict(self._image), self.size, weakref.ref(self))
        self._images.add(image)
        return image

    def restore(self, image: RamImage) -> None:
        """RAM contents as in ``image``: rewrites only the pages that differ from it."""
        if image.owner() is not self:
            raise BusError("this RAM image belongs to another machine")
        from emu import _ramtrack

        changed = set(self._dirty_pages())
        target = image.pages
        for page in self._image.keys() | target.keys():
            if self._image.get(page) is not target.get(page):
                changed.add(page)
        _ramtrack.protect(self._slot, True)
        zero = bytes(PAGE)
        for page in changed:
            data = target.get(page)
            off = page << PAGE_SHIFT
            self.buf[off : off + PAGE] = np.frombuffer(data if data is not None else zero, dtype=np.uint8)
        self._image = dict(target)
        self._rearm()

    def live_image_bytes(self) -> int:
        """Bytes held by the images still alive: each page copy once, plus bookkeeping."""
        return self._live_images()[0]

    def _live_images(self) -> tuple[int, set[int]]:
        """(bytes the live images hold, ids of the page copies they hold)."""
        seen: set[int] = set()
        total = 0
        for image in list(self._images):
            total += IMAGE_ENTRY_BYTES * len(image.pages)
            for data in image.pages.values():
                if id(data) not in seen:
                    seen.add(id(data))
                    total += len(data)
        return total, seen

    def _check_budget(self) -> None:
        # This image costs its entries plus the copies no live image holds yet (the new dirty pages).
        held, shared = self._live_images()
        new = sum(len(d) for d in self._image.values() if id(d) not in shared)
        needed = held + new + IMAGE_ENTRY_BYTES * len(self._image)
        if needed > self.image_budget:
            raise SnapshotBudgetError(
                f"snapshot budget exceeded: live snapshots would hold {needed >> 20} MiB of RAM pages, "
                f"over the budget of {self.image_budget >> 20} MiB (RAM size + "
                f"{EXTRA_IMAGE_BUDGET >> 20} MiB, see docs/platform.md)")

    def _start_tracking(self) -> None:
        from emu import _ramtrack

        # One byte per page, plus an overflow byte the handler sets when it had to stop tracking.
        self._dirty = np.zeros((self.size >> PAGE_SHIFT) + 1, dtype=np.uint8)
        self._image = {}
        self._copy_pages(self._touched_pages())
        try:
            self._slot = _ramtrack.track(self._address, self.size, self._dirty.ctypes.data)
        except RuntimeError:  # every slot taken: dead machines not collected yet (reference cycles)
            gc.collect()
            self._slot = _ramtrack.track(self._address, self.size, self._dirty.ctypes.data)
        weakref.finalize(self, _untrack, self._slot, self._mm, self._dirty)
        _ramtrack.protect(self._slot, False)

    def _dirty_pages(self) -> list[int]:
        """Pages written since the last checkpoint/restore (after an overflow: every page in use)."""
        if self._dirty[-1]:
            return sorted(set(self._touched_pages()) | self._image.keys())
        return np.flatnonzero(self._dirty[:-1]).tolist()

    def _collect_dirty(self) -> None:
        self._copy_pages(self._dirty_pages())
        self._rearm()

    def _copy_pages(self, pages: list[int]) -> None:
        """Fresh copies of ``pages`` in the current image (all-zero pages are left out)."""
        table = self.buf.reshape(-1, PAGE)
        for start in range(0, len(pages), 4096):  # bounded temporary: 16 MiB at a time
            batch = pages[start : start + 4096]
            rows = table[batch]
            for page, row, used in zip(batch, rows, rows.any(axis=1).tolist(), strict=True):
                if used:
                    self._image[page] = row.tobytes()
                else:
                    self._image.pop(page, None)

    def _rearm(self) -> None:
        from emu import _ramtrack

        self._dirty[:] = 0
        _ramtrack.protect(self._slot, False)

    def _touched_pages(self) -> list[int]:
        """Pages the process ever touched (present or swapped), from /proc/self/pagemap; all
        pages when pagemap cannot be read."""
        npages = self.size >> PAGE_SHIFT
        try:
            with open("/proc/self/pagemap", "rb", buffering=0) as f:
                entries = os.pread(f.fileno(), 8 * npages, 8 * (self._address >> PAGE_SHIFT))
        except OSError:
            return list(range(npages))
        if len(entries) != 8 * npages:
            return list(range(npages))
        flags = np.frombuffer(entries, dtype="<u8") >> np.uint64(62)
        return np.flatnonzero(flags).tolist()


def _untrack(slot: int, mm: mmap.mmap, dirty: np.ndarray) -> None:
    """Stop tracking before the memory goes (keeps ``mm`` and ``dirty`` alive until then)."""
    from emu import _ramtrack

    _ramtrack.untrack(slot)

