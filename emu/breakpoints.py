"""Breakpoints and watchpoints, shared by the debugger shell and the GDB stub.

Breakpoints stop *before* their instruction.  While the exact instruction
counter runs (deterministic mode, the debugger's default), they live in one
sorted table searched by the counter's C hook: per-address UC_HOOK_CODE hooks
would each be checked on every instruction next to a full-range hook.  Without
the counter they are UC_HOOK_CODE hooks on exactly one address (free elsewhere).
Watchpoints are memory hooks on their range; they record the access and ask the
instruction counter to stop before the next instruction, so the stop lands right
after the accessing instruction as GDB expects.  Adding one drops translated code
and the TLB, so stores that took the fast path before see the new hook.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from unicorn import UC_HOOK_CODE, UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE, UC_MEM_WRITE, Uc
from unicorn.unicorn_const import UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH

from emu.icount import InstructionCounter

WATCH_KINDS = {"w": UC_HOOK_MEM_WRITE, "r": UC_HOOK_MEM_READ, "a": UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE}


@dataclass
class WatchHit:
    addr: int
    length: int
    kind: str          # "w", "r" or "a" as set
    access: str        # "r" or "w", what the instruction did
    access_addr: int
    old: int
    new: int
    pc: int


class DebugHooks:
    """Owns the hooks; reports hits to the machine through ``on_break`` / ``on_watch``."""

    def __init__(self, uc: Uc, read_mem: Callable[[int, int], bytes], pc: Callable[[], int],
                 on_break: Callable[[int], None], on_watch: Callable[[WatchHit], None],
                 counter: InstructionCounter) -> None:
        self.uc = uc
        self._counter = counter
        counter.on_enable.append(self._sync_hooks)
        self._read_mem = read_mem
        self._pc = pc
        self._on_break = on_break
        self._on_watch = on_watch
        self.breakpoints: dict[int, int | None] = {}  # address -> hook handle (None: in the table)
        self._refs: dict[int, int] = {}         # address -> how many users set it
        self.watchpoints: dict[tuple[int, int, str], int] = {}
        self.skip_once: int | None = None

    # -- breakpoints ---------------------------------------------------------------
    def add_breakpoint(self, addr: int) -> None:
        """All or nothing: a breakpoint Unicorn refuses leaves no count and no hook behind."""
        if addr not in self.breakpoints:
            handle = None
            if not self._counter.enabled:
                handle = self.uc.hook_add(UC_HOOK_CODE, self._code_hit, begin=addr, end=addr)
            try:
                self._forget_translation(addr)
            except Exception:
                if handle is not None:
                    self.uc.hook_del(handle)
                raise
            self.breakpoints[addr] = handle
            self._sync_table()
        self._refs[addr] = self._refs.get(addr, 0) + 1

    def remove_breakpoint(self, addr: int) -> bool:
        """Drop one reference; the hook goes when the last user removes it."""
        if addr not in self._refs:
            return False
        self._refs[addr] -= 1
        if self._refs[addr]:
            return True
        del self._refs[addr]
        handle = self.breakpoints.pop(addr)
        if handle is not None:
            self.uc.hook_del(handle)
            self._forget_translation(addr)
        self._sync_table()
        return True

    def _sync_table(self) -> None:
        if self._counter.enabled:
            self._counter.set_breakpoints(list(self.breakpoints), self._table_hit)

    def _sync_hooks(self) -> None:
        """The counter just started: its table takes over from the per-address hooks."""
        for addr, handle in list(self.breakpoints.items()):
            if handle is not None:
                self.uc.hook_del(handle)
                self.breakpoints[addr] = None
        self._sync_table()

    def _table_hit(self, addr: int) -> bool:
        if self.skip_once == addr:
            self.skip_once = None
            return False
        self._on_break(addr)
        return True

    def _forget_translation(self, addr: int) -> None:
        """Unicorn decides at translation time whether an instruction calls code hooks: code already
        translated (run before, or stepped over a breakpoint) must be translated again."""
        end = min(addr + 4, (1 << 64) - 1)
        if end > addr:
            self.uc.ctl_remove_cache(addr, end)

    def _code_hit(self, uc: Uc, addr: int, size: int, _user: object) -> None:
        if self.skip_once == addr:
            self.skip_once = None
            return
        self._on_break(addr)
        uc.emu_stop()

    # -- watchpoints ---------------------------------------------------------------
    def add_watchpoint(self, addr: int, length: int, kind: str) -> None:
        key = (addr, length, kind)
        if key in self.watchpoints:
            return
        if kind not in WATCH_KINDS or length <= 0:
            raise ValueError(f"bad watchpoint kind {kind!r} or length {length}")
        self.watchpoints[key] = self.uc.hook_add(
            WATCH_KINDS[kind], self._mem_hit, user_data=key, begin=addr, end=addr + length - 1)
        # Code translated and TLB entries filled before the hook existed would bypass it.
        self.uc.ctl_flush_tb()
        self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    def remove_watchpoint(self, addr: int, length: int, kind: str) -> bool:
        handle = self.watchpoints.pop((addr, length, kind), None)
        if handle is None:
            return False
        self.uc.hook_del(handle)
        return True

    def _mem_hit(self, uc: Uc, access: int, address: int, size: int, value: int, key: tuple) -> None:
        addr, length, kind = key
        try:
            old = int.from_bytes(self._read_mem(address, size), "little")
        except Exception:  # noqa: BLE001 - MMIO or unmapped: no old value to show
            old = 0
        is_write = access == UC_MEM_WRITE
        new = value & ((1 << (8 * size)) - 1) if is_write else old
        self._on_watch(WatchHit(addr, length, kind, "w" if is_write else "r", address, old, new, self._pc()))

    def clear(self) -> None:
        """Remove every breakpoint and watchpoint (a fresh start for the next user)."""
        for addr in list(self.breakpoints):
            self._refs[addr] = 1
            self.remove_breakpoint(addr)
        for key in list(self.watchpoints):
            self.remove_watchpoint(*key)

    @property
    def active(self) -> bool:
        return bool(self.breakpoints or self.watchpoints)
