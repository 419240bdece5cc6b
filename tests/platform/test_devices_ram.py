"""Guest RAM images: dirty-page tracking with mprotect/SIGSEGV, shared pages, lazy zero pages."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from emu.errors import BusError
from emu.memory import PAGE, Ram

MIB = 1 << 20


def test_images_share_unchanged_pages_and_copy_only_written_ones():
    ram = Ram(16 * MIB)
    ram.buf[: 3 * PAGE] = 1
    first = ram.checkpoint()
    assert sorted(first.pages) == [0, 1, 2]
    ram.buf[PAGE + 7] = 2  # one store into a write-protected page
    second = ram.checkpoint()
    assert second.pages[0] is first.pages[0] and second.pages[2] is first.pages[2]
    assert second.pages[1] is not first.pages[1] and second.pages[1][7] == 2
    assert ram.live_image_bytes() == 4 * PAGE + 64 * 6


def test_restore_rewrites_exactly_the_differing_pages():
    ram = Ram(16 * MIB)
    ram.buf[5 * PAGE : 6 * PAGE] = 9
    image = ram.checkpoint()
    ram.buf[5 * PAGE] = 1
    ram.buf[10 * MIB : 10 * MIB + 3] = 4
    later = ram.checkpoint()
    ram.restore(image)
    assert ram.buf[5 * PAGE] == 9 and not ram.buf[10 * MIB : 10 * MIB + 3].any()
    ram.restore(later)
    assert ram.buf[5 * PAGE] == 1 and ram.buf[10 * MIB] == 4
    with pytest.raises(BusError, match="another machine"):
        Ram(16 * MIB).restore(image)


def test_clear_gives_pages_back_and_keeps_tracking_right():
    ram = Ram(64 * MIB)
    ram.buf[:8 * MIB] = 3
    image = ram.checkpoint()
    assert len(ram._touched_pages()) >= 8 * MIB // PAGE
    ram.clear()
    assert len(ram._touched_pages()) == 0 and not ram.buf[:8 * MIB].any()
    ram.restore(image)
    assert (ram.buf[:8 * MIB] == 3).all()


def test_a_crash_outside_ram_is_still_a_crash():
    """The SIGSEGV handler only takes faults inside tracked RAM; others reach faulthandler / the
    default action (the process dies as it would have)."""
    code = ("import ctypes, faulthandler; faulthandler.enable()\n"
            "from emu.memory import Ram\nr = Ram(1 << 20); r.checkpoint(); r.buf[0] = 1\n"
            "print('tracked write ok', flush=True)\nctypes.string_at(16)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, check=False)
    assert proc.stdout == b"tracked write ok\n"
    assert proc.returncode == -11 and b"Segmentation fault" in proc.stderr


def test_untracked_ram_is_lazily_zero():
    ram = Ram(1 << 30)
    assert len(ram._touched_pages()) == 0
    ram.write(0x8000_0000 + (1 << 29), b"abc")
    assert len(ram._touched_pages()) == 1 and np.count_nonzero(ram.buf[(1 << 29) : (1 << 29) + 8]) == 3


def test_zero_gives_whole_pages_back_and_is_tracked():
    ram = Ram(64 * MIB)
    ram.buf[100 : 40 * MIB] = 5
    image = ram.checkpoint()
    ram.zero(0x8000_0000 + 1000, 40 * MIB - 1000 + 7)
    assert len(ram._touched_pages()) <= 2  # the zeroed middle is unallocated
    assert ram.buf[999] == 5 and not ram.buf[1000 : 40 * MIB + 7].any()
    ram.restore(image)
    assert (ram.buf[100 : 40 * MIB] == 5).all() and ram.buf[40 * MIB] == 0


def test_scattered_writes_past_the_mapping_limit_fall_back_to_pages_in_use():
    """Every writable page among read-only ones is a kernel mapping; past 8192 runs tracking stops
    (instead of exhausting vm.max_map_count and crashing) and the next image copies every page in
    use: still correct, and tracking resumes after it."""
    ram = Ram(128 * MIB)
    empty = ram.checkpoint()
    ram.buf[:: 2 * PAGE] = 1  # 16384 separate pages
    assert ram._dirty[-1] == 1
    scattered = ram.checkpoint()
    assert len(scattered.pages) == 16384 and ram._dirty[-1] == 0
    ram.buf[PAGE] = 7
    assert ram._dirty[1] == 1 and ram._dirty[-1] == 0  # tracked again
    ram.restore(empty)
    assert not ram.buf.any()
    ram.restore(scattered)
    assert (ram.buf[:: 2 * PAGE] == 1).all() and ram.buf[PAGE] == 0
