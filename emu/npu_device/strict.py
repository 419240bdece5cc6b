"""Strict completion: NPU outputs land in DRAM at the modelled completion, and CPU accesses that
race a pending command are reported.

Without it the device applies each command's effect at the doorbell (docs/npu.md, "Execution
and timing semantics"), so a driver that reads an output before waiting, or rewrites an input
after the doorbell, passes silently.  With it (``npuemu run --npu-strict``, always in ``npuemu
debug`` and in the test fixtures):

* a DRAM write of a command (DMA_OUT, ARGMAX) is held back: the bytes it wrote are put back to
  their previous contents when the doorbell returns and written again when the command
  completes (in completion order; a later doorbell lands every held write first, since the
  scoreboard orders any command touching them after them);
* while a command is pending, a CPU load or store of the DRAM it will write, or a CPU store to
  the DRAM it reads (DMA_IN/LOAD_WEIGHTS sources, POSTPROC tables, its descriptor slot), is
  reported with the PC, the address and the descriptor.

Which DRAM a command writes and reads is what its declaration's operands say (:func:`dram_ranges`).
Commands that only touch on-chip memory (MVM, DWCONV, QADD...) have none of their own: a CPU
read of their results goes through the DMA_OUT that the scoreboard orders after them, and that
DMA_OUT's output is guarded until it completes.

The CPU side is a Unicorn memory hook per cluster of a doorbell's guarded ranges
(:class:`UnicornAccessHooks`), added when the doorbell returns and removed when its last command
completes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from emu.memory import Ram
from emu.npu_device.ops import BY_NAME


class Guard(NamedTuple):
    lo: int
    hi: int  # exclusive
    until_ns: int  # the command's completion
    output: bool  # True: the command writes it (loads and stores race); False: it reads it (stores race)
    desc_addr: int
    op: str
    index: int


class Held(NamedTuple):
    """A DRAM write not yet visible: ``new`` lands over ``old`` at ``land_ns``."""

    land_ns: int
    addr: int
    old: bytes
    new: bytes


class AccessHooks:
    """What strict mode needs from the CPU: range hooks reporting (address, is_write), and the PC."""

    def add(self, lo: int, hi: int, stores_only: bool, callback: Callable[[int, bool], None]) -> Any:
        raise NotImplementedError

    def remove(self, handle: Any) -> None:
        raise NotImplementedError

    def where(self) -> str:
        """The PC of the access being checked, with its symbol when known."""
        raise NotImplementedError


class UnicornAccessHooks(AccessHooks):
    """:class:`AccessHooks` on a Unicorn CPU.

    Unicorn decides at translation time whether a memory access calls its hook helper at all
    (only if a hook of that kind exists), and flushing translated code from inside an MMIO
    callback (where the doorbell runs) corrupts the running block.  So one permanent hook on an
    address nothing uses is installed up front, with one flush: translated code then always asks
    the helper, which walks the live hook list, and hooks added later take effect at once.
    """

    NEVER = 0xFFFF_FFFF_FFFF_F000  # no RAM or device there on rv32 or rv64

    def __init__(self, uc: Any, where: Callable[[], str]) -> None:
        from unicorn import UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE, UC_MEM_WRITE

        self.uc, self._where = uc, where
        self._read, self._write, self._mem_write = UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE, UC_MEM_WRITE
        uc.hook_add(UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, _ignore, begin=self.NEVER, end=self.NEVER)
        uc.ctl_flush_tb()

    def add(self, lo: int, hi: int, stores_only: bool, callback: Callable[[int, bool], None]) -> Any:
        kinds = self._write if stores_only else self._read | self._write
        mem_write = self._mem_write

        def hook(uc: Any, access: int, address: int, size: int, value: int, _user: Any) -> None:
            callback(address, access == mem_write)

        return self.uc.hook_add(kinds, hook, begin=lo, end=hi - 1)

    def remove(self, handle: Any) -> None:
        self.uc.hook_del(handle)

    def where(self) -> str:
        return self._where()


def _ignore(*_args: Any) -> None:
    """The permanent hook's callback (never called: nothing accesses its address)."""


class StrictCompletion:
    """Held DRAM writes and guarded ranges of the commands not yet complete."""

    def __init__(self, ram: Ram, now: Callable[[], int], hooks: AccessHooks, report: Callable[[str], None]) -> None:
        self.ram, self.now, self.hooks, self.report = ram, now, hooks, report
        self.held: list[Held] = []
        # A doorbell's guards share Unicorn hooks, one per cluster of guards less than HOOK_GAP
        # apart: every hook costs a Python call to add and to remove, and a network's doorbell
        # fetches hundreds of commands with up to MAX_ROW_GUARDS rows each (one hook per row made
        # a kws inference 5x slower), while one hook over the whole bounding span would send every
        # CPU access between far-apart buffers (the stack, say) through Python.  The hook's
        # checker sorts real races from accesses between the guards of its cluster.
        self.hooked: dict[Any, tuple[int, list[Guard]]] = {}  # handle: (last completion, guards)
        self._new: list[Guard] = []
        self.reported: set[tuple[int, int]] = set()  # (descriptor index, access kind): once each

    # -- the device's side -----------------------------------------------------------------
    def land_all(self) -> None:
        """Before a doorbell runs commands: every held write becomes visible (in order)."""
        for held in self.held:
            self.ram.write(held.addr, held.new)

    def hold(self, land_ns: int, addr: int, old: bytes) -> None:
        """A command just wrote [addr, addr + len(old)): keep the new bytes for its completion."""
        self.held.append(Held(land_ns, addr, old, bytes(self.ram.read(addr, len(old)))))

    def guard(self, guard: Guard) -> None:
        self._new.append(guard)

    def after_doorbell(self) -> None:
        """Put held writes back (newest first) and arm the guards of the commands just fetched."""
        for held in reversed(self.held):
            self.ram.write(held.addr, held.old)
        self._arm(list(self._new))
        self._new.clear()

    @property
    def guards(self) -> list[Guard]:
        """Every armed guard, hook by hook (a snapshot keeps them)."""
        return [guard for _, group in self.hooked.values() for guard in group]

    def _arm(self, guards: list[Guard]) -> None:
        clusters: list[list[Any]] = []  # [lo, hi, indices into guards]; disjoint spans
        for i in sorted(range(len(guards)), key=lambda i: guards[i].lo):
            g = guards[i]
            if clusters and g.lo - clusters[-1][1] < HOOK_GAP:
                clusters[-1][1] = max(clusters[-1][1], g.hi)
                clusters[-1][2].append(i)
            else:
                clusters.append([g.lo, g.hi, [i]])
        for lo, hi, members in clusters:
            group = [guards[i] for i in sorted(members)]  # armed order: the checker reports the first
            stores_only = not any(g.output for g in group)
            until = max(g.until_ns for g in group)
            self.hooked[self.hooks.add(lo, hi, stores_only, self._checker(group))] = (until, group)

    def complete(self, now: int) -> None:
        """Land the held writes due by ``now`` and drop the guards of completed commands."""
        while self.held and self.held[0].land_ns <= now:
            held = self.held.pop(0)
            self.ram.write(held.addr, held.new)
        for handle, (until, _) in list(self.hooked.items()):
            if until <= now:
                self.hooks.remove(handle)
                del self.hooked[handle]

    def restore(self, held: list[Held], guards: list[Guard]) -> None:
        """A snapshot's held writes and guards (its RAM already holds the pre-completion bytes)."""
        self.clear()
        self.held = [Held(*h) for h in held]
        self._arm([Guard(*guard) for guard in guards])

    def clear(self) -> None:
        """CTRL.RESET or power-on: pending commands never complete; their held writes are dropped."""
        for handle in self.hooked:
            self.hooks.remove(handle)
        self.hooked.clear()
        self._new.clear()
        self.held.clear()
        self.reported.clear()

    # -- the CPU's side --------------------------------------------------------------------
    def _checker(self, group: list[Guard]) -> Callable[[int, bool], None]:
        """The hook of a group of guards: an access inside their bounding span races with the
        first pending guard that covers it (a store with any, a load with an output)."""
        def check(address: int, is_write: bool) -> None:
            # The clock is read only for an access some guard covers: most accesses the span's
            # hook sees fall between the guards.
            covering = [g for g in group if g.lo <= address < g.hi and (is_write or g.output)]
            if not covering:
                return
            now = self.now()
            guard = next((g for g in covering if now < g.until_ns), None)
            if guard is None:
                return
            key = (guard.index, is_write)
            if key in self.reported:
                return
            self.reported.add(key)
            access = "write to" if is_write else "read of"
            role = "will write" if guard.output else "reads"
            self.report(f"npu strict: CPU {access} {address:#x} at pc {self.hooks.where()} before descriptor "
                        f"{guard.index} ({guard.op} at {guard.desc_addr:#x}) completes: it {role} "
                        f"[{guard.lo:#x}, {guard.hi:#x}) until {guard.until_ns} ns (now {now} ns); "
                        f"wait for it (npu_wait) first")

        return check


MAX_ROW_GUARDS = 64  # a strided transfer with more rows is guarded (and held) as one span
HOOK_GAP = 4096  # guards closer than this share one CPU hook (StrictCompletion._arm)


def _rows(addr: int, rows: int, row_bytes: int, stride: int) -> list[tuple[int, int]]:
    if not rows or not row_bytes:
        return []
    if rows == 1 or stride == row_bytes or rows > MAX_ROW_GUARDS or stride < row_bytes:
        return [(addr, addr + (rows - 1) * stride + row_bytes)]
    return [(addr + i * stride, addr + i * stride + row_bytes) for i in range(rows)]


def dram_ranges(name: str, d: Any) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(written, read) DRAM byte ranges of a decoded descriptor, row by row for strided transfers:
    the DRAM operands its command declares (:mod:`emu.npu_device.ops`)."""
    command = BY_NAME.get(name)
    if command is None:
        return [], []
    written, read = command.dram_ranges(d)
    return ([span for o in written for span in _rows(o.addr, o.rows, o.row_bytes, o.stride)],
            [span for o in read for span in _rows(o.addr, o.rows, o.row_bytes, o.stride)])
