"""The machine: a RISC-V hart, DRAM and the QEMU-virt devices, and the run loop.

The run loop executes the CPU in *slices* (``emu_start`` calls) and does,
between slices, what Unicorn cannot: device events at their virtual time,
interrupt delivery, ``wfi`` fast-forward, exits, stop requests.  Inside a slice
the hooks emulate trap entry (Unicorn reports a raw cause and goes on).

Time (see emu/clock.py): realtime by default, like QEMU without -icount, so the
CPU runs with no per-instruction hook at near-QEMU speed; deterministic on
request, with virtual time derived from the exact instruction count.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import BinaryIO

from unicorn import (
    UC_ERR_FETCH_PROT,
    UC_ERR_FETCH_UNMAPPED,
    UC_ERR_INSN_INVALID,
    UC_ERR_READ_PROT,
    UC_ERR_READ_UNMAPPED,
    UC_ERR_WRITE_PROT,
    UC_ERR_WRITE_UNMAPPED,
    UC_HOOK_CODE,
    UC_HOOK_INTR,
    UC_HOOK_MEM_UNMAPPED,
    UC_PROT_EXEC,
    UC_PROT_READ,
    UcError,
)

from emu import board, boot, csr_sites
from emu.boot import BootFiles
from emu.breakpoints import DebugHooks, WatchHit
from emu.bus import Bus
from emu.clock import VirtualClock
from emu.cpu import (
    CAUSE_BREAKPOINT,
    CAUSE_ECALL_U,
    CAUSE_FETCH_ACCESS,
    CAUSE_ILLEGAL,
    CAUSE_LOAD_ACCESS,
    CAUSE_LOAD_MISALIGNED,
    CAUSE_STORE_ACCESS,
    CAUSE_STORE_MISALIGNED,
    EXCEPTION_NAMES,
    IRQ_PRIORITY,
    MIP_MEIP,
    MIP_MSIP,
    MIP_MTIP,
    MSTATUS_SIE,
    PRIV_M,
    PRIV_S,
    Cpu,
)
from emu.decode import insn_length, memory_target
from emu.devices.base import MmioDevice
from emu.devices.htif import Htif
from emu.devices.semihosting import Semihosting
from emu.elf_loader import ElfImage
from emu.errors import BusError, ConfigError
from emu.host_input import HostInput, InputInterrupted
from emu.icount import InstructionCounter
from emu.memory import DEFAULT_RAM_SIZE, DRAM_BASE, Ram
from emu.npu_device import NpuConfig

MIP_SEIP = 1 << 9

WFI = 0x10500073
EBREAK = 0x00100073
SEMIHOST_PRE = 0x01F01013   # slli x0, x0, 0x1f
SEMIHOST_POST = 0x40705013  # srai x0, x0, 7
NEVER = 1                   # an `until` address the CPU can never reach (PCs are even)
REALTIME_SLICE_US = 20_000  # longest slice without an event: bounds Ctrl-C and stdin latency
DETERMINISTIC_QUANTUM = 200_000
TRAP_STORM_LIMIT = 64       # identical faults in a row that mean "no progress"
REPEATABLE_FAULTS = frozenset({1, 2, 4, 5, 6, 7})  # access, illegal, misaligned; not ecall or page faults


class StopReason(Enum):
    EXITED = "exited"
    BREAKPOINT = "breakpoint"
    WATCHPOINT = "watchpoint"
    STEPPED = "stepped"
    INTERRUPTED = "interrupted"
    INSN_LIMIT = "instruction limit"
    TIMEOUT = "timeout"
    FATAL = "fatal"


@dataclass
class Stop:
    reason: StopReason
    pc: int
    message: str = ""
    exit_code: int | None = None
    watch: WatchHit | None = None


class Machine:
    """One hart on QEMU's virt memory map, with the NPU; built by :meth:`from_elf`."""

    def __init__(self, xlen: int, *, ram_size: int = DEFAULT_RAM_SIZE, deterministic: bool = False,
                 count_insns: bool = False, ns_per_insn: int = 10, args: tuple[str, ...] | list[str] = (),
                 semihost_root: str | os.PathLike | None = None, npu_config: str | os.PathLike | None = None,
                 stdout: Callable[[bytes], None] | None = None, stderr: Callable[[bytes], None] | None = None,
                 stdin: BinaryIO | None = None) -> None:
        self.xlen = xlen
        if DRAM_BASE + ram_size > 1 << xlen:
            raise ConfigError(f"--ram {ram_size >> 20} MiB does not fit an rv{xlen} address space "
                              f"above {DRAM_BASE:#x}")
        self.cpu = Cpu(xlen)
        self.uc = self.cpu.uc
        self.ram = Ram(ram_size)
        self.counter = InstructionCounter(self.uc)
        self.deterministic = deterministic
        self.clock = VirtualClock(deterministic, ns_per_insn, insn_count=lambda: self.counter.count)
        self.clock.on_new_deadline = self._on_new_deadline
        self.clock.pause()
        self.stdout_sink = stdout or (lambda data: None)
        self.stderr_sink = stderr or (lambda data: None)
        # Silences every console path (UART, semihosting, HTIF) while the debugger replays
        # instructions that already printed (reverse-stepi).
        self.output_muted = False
        # Counts changes made from outside the guest (registers, memory, input): a debugger's
        # replay history is only valid while this stays the same.
        self.state_writes = 0
        self.host_input = HostInput(stdin)
        self.args = list(args)
        self.semihost_root = semihost_root
        self.elf: ElfImage | None = None
        self.layout: boot.BootLayout | None = None

        self.exited = False
        self.exit_code: int | None = None
        self._fatal: str | None = None
        self._stop_requested = False
        self._kicked_store: int | None = None
        self._break_hit: int | None = None
        self._watch_hit: WatchHit | None = None
        self._unmapped_addr = 0
        self._storm = 0
        self._last_trap_key: tuple[int, int] | None = None
        self._slice_deadline_ns: int | None = None
        self._in_slice = False
        self._emu_thread: int | None = None
        self._reset_requested = False
        self._host_deadline: float | None = None
        self._csr_hooks: dict[int, int] = {}
        self._csr_sites: dict[int, csr_sites.CsrInsn] = {}
        self._boot = None

        self.bus = Bus(self.uc, self.ram)
        self.bus.on_error = self._internal_error
        self.npu_config = NpuConfig.load(npu_config)
        self.devices_by_name = self._build_devices()
        self.finisher, self.clint, self.plic, self.uart, self.npu = (
            self.devices_by_name[n] for n in ("finisher", "clint", "plic", "uart0", "npu"))
        self.plic.on_change = self._kick
        self.clint.on_change = self._kick
        self.uart.sink = self._console_out
        self.htif: Htif | None = None
        self.semihost: Semihosting | None = None
        self.devices = [self.finisher, self.clint, self.plic, self.uart, self.npu]

        self.debug = DebugHooks(self.uc, self.read_mem, lambda: self.cpu.pc, self._on_break, self._on_watch)
        self.uc.hook_add(UC_HOOK_INTR, self._on_cpu_exception)
        self.uc.hook_add(UC_HOOK_MEM_UNMAPPED, self._on_unmapped)
        if deterministic or count_insns:
            self.enable_counting()

    def _build_devices(self) -> dict[str, MmioDevice]:
        """Create and map every device of the board table (emu/board.py), PLIC first."""
        built: dict[str, MmioDevice] = {}
        for row in board.build_order():
            irq = built["plic"].line(row.irq) if row.irq is not None else None
            built[row.name] = device = row.make(self, irq)
            self.bus.add(row.base, device, row.size)
        return built

    # -- construction -----------------------------------------------------------------
    @classmethod
    def from_elf(cls, path: str | os.PathLike, **options) -> Machine:
        """Load ``path`` into a new machine; :class:`ElfError` (one line) when it cannot."""
        return cls.from_files(BootFiles(firmware=path), **options)

    @classmethod
    def from_files(cls, files: BootFiles, **options) -> Machine:
        """A machine booting what QEMU's -bios/-kernel/-initrd/-append would (emu/boot.py)."""
        xlen, images = boot.open_files(files)
        options.setdefault("args", ())
        first = files.firmware or files.kernel or files.bios
        options["args"] = [Path(first).name, *options["args"]]
        machine = cls(xlen, **options)
        machine.load_layout(boot.plan(files, images, xlen, ram_base=machine.ram.base, ram_size=machine.ram.size,
                                      misa=machine.cpu.read("misa"), npu=machine.npu_config))
        return machine

    def load_layout(self, layout: boot.BootLayout) -> None:
        self.layout = layout
        self.elf = image = layout.elf
        self._write_blobs()
        mrom = board.region("mrom")
        self.uc.mem_map(mrom.base, mrom.size, UC_PROT_READ | UC_PROT_EXEC)
        self.uc.mem_write(mrom.base, layout.rom)
        for start, end in layout.executable_ranges():
            self._hook_csr_sites(start, end)
        if any(site.csr in csr_sites.INSN_COUNTERS and not site.is_xret for site in self._csr_sites.values()):
            # The firmware measures itself with cycle/instret: give it exact counts (what it
            # reads would otherwise be derived from host time), at the counter's cost in speed.
            self.enable_counting()
        if image.tohost is not None and self.ram.contains(image.tohost, 8):
            page = image.tohost & ~0xFFF
            self.htif = Htif(self.ram, page, image.tohost, image.fromhost, self.xlen, self._exit, self._console_out)
            # Watch the page precisely (MMIO) unless code shares it (MMIO cannot be executed);
            # then a store to tohost ends the slice and the run loop processes it.
            if not any(s < page + 0x1000 and page < e for s, e in layout.executable_ranges()):
                self.bus.carve_out_of_ram(page, self.htif)
            else:
                self.htif.watch_stores(self.uc, self._end_slice_after_store)
        heap_base = (layout.top + 15) & ~15
        self.semihost = Semihosting(
            self.ram, self.xlen, self.clock, argv=self.args, root=self.semihost_root,
            stdout=self._console_out, stderr=self._console_err, read_stdin=self._read_stdin,
            on_exit=self._exit, heap=(heap_base, self.ram.end - (1 << 20), self.ram.end, self.ram.end - (1 << 20)))
        self.cpu.pc = layout.pc
        self.cpu.priv = PRIV_M
        for reg, value in layout.regs.items():  # a0 = hartid, a1 = FDT, a2 = fw_dynamic_info, as QEMU
            self.cpu.set_x(reg, value)
        from emu.snapshot import take_snapshot

        self._boot = take_snapshot(self, include_ram=False)

    def _write_blobs(self) -> None:
        for blob in self.layout.blobs:
            view = self.ram.view(blob.addr, blob.memsz)
            view[: len(blob.data)] = memoryview(blob.data)
            view[len(blob.data) :] = 0

    def start_input(self) -> None:
        """Start feeding host stdin to the UART (deterministic runs read it all first)."""
        self.host_input.start(read_all_first=self.deterministic)
        self._feed_uart()

    # -- public state access ------------------------------------------------------------
    @property
    def insn_count(self) -> int | None:
        return self.counter.count if self.counter.enabled else None

    @property
    def last_trap(self):
        return self.cpu.last_trap

    def read_reg(self, name: str) -> int:
        key = name.lower().lstrip("$")
        if key in ("mip",):
            return self._mip()
        counter = self._counter_value(csr_sites.COUNTER_CSRS.get(key, -1))
        if counter is not None:
            return counter
        return self.cpu.read(key)

    def write_reg(self, name: str, value: int) -> None:
        self.state_writes += 1
        self.cpu.write(name.lower().lstrip("$"), value)

    def register_names(self) -> list[str]:
        return self.cpu.register_names()

    def read_mem(self, addr: int, length: int) -> bytes:
        """RAM or mask-ROM contents (BusError elsewhere: device registers are not read behind the
        guest's back)."""
        mrom = board.region("mrom")
        if self.layout is not None and length >= 0 and mrom.base <= addr and addr + length <= mrom.base + mrom.size:
            return bytes(self.uc.mem_read(addr, length))
        return self.ram.read(addr, length)

    def write_mem(self, addr: int, data: bytes) -> None:
        self.ram.write(addr, data)
        self.state_writes += 1
        self.uc.ctl_remove_cache(addr, addr + max(len(data), 1))
        if any(s <= addr < e or addr <= s < addr + len(data) for s, e in self.layout.executable_ranges()):
            self._hook_csr_sites(addr, addr + len(data))

    def symbol_name(self, addr: int) -> str:
        return self.elf.describe(addr) if self.elf else f"{addr:#x}"

    # -- breakpoints and watchpoints -------------------------------------------------------
    def add_breakpoint(self, addr: int) -> None:
        """Reference-counted: the shell's internal breakpoints and gdb's may share an address."""
        self.debug.add_breakpoint(addr)

    def remove_breakpoint(self, addr: int) -> bool:
        return self.debug.remove_breakpoint(addr)

    def enable_counting(self) -> None:
        """Turn on the exact instruction counter (deterministic time, limits, steps, watchpoints)."""
        if not self.counter.enabled:
            self.counter.enable()
            self._sync_csr_hooks()

    def add_watchpoint(self, addr: int, length: int, kind: str = "w") -> None:
        self.enable_counting()  # precise stop right after the accessing instruction
        self.debug.add_watchpoint(addr, length, kind)

    def remove_watchpoint(self, addr: int, length: int, kind: str = "w") -> bool:
        return self.debug.remove_watchpoint(addr, length, kind)

    def clear_debug_points(self) -> None:
        """Remove all breakpoints and watchpoints, whoever set them."""
        self.debug.clear()

    # -- snapshots -----------------------------------------------------------------------
    def snapshot(self):
        from emu.snapshot import take_snapshot

        return take_snapshot(self)

    def restore(self, snapshot) -> None:
        from emu.snapshot import restore_snapshot

        restore_snapshot(self, snapshot)

    def reset(self, keep_time: bool = False) -> None:
        """Back to the state right after loading the ELF (the debugger's `run`).  ``keep_time``
        (a guest-requested reset) restarts everything but virtual time and the instruction count,
        which go on: a reset loop still meets --max-insns and time never runs backwards."""
        count, now = self.counter.count, self.clock.now_ns()
        self.ram.buf.fill(0)
        self._write_blobs()
        self.restore(self._boot)
        self._csr_sites.clear()  # the debugger may have patched code since boot
        for start, end in self.layout.executable_ranges():
            self._hook_csr_sites(start, end)
        if self.semihost is not None:
            self.semihost.reset()
        if keep_time:
            self.counter.count = count
            self.clock.skip_to(now)

    # -- run control -----------------------------------------------------------------------
    def request_stop(self) -> None:
        """Stop a running :meth:`run` soon; safe from any thread (Ctrl-C, gdb's 0x03) and from a
        device or hook callback on the emulation thread.  A request made while nothing runs is
        dropped when the next run starts (a late Ctrl-C must not stop the next `continue`).

        From another thread it never calls ``emu_stop``: landing inside an MMIO read callback, that
        would make Unicorn run the load again (a UART byte lost).  The counter's clean stop does
        it when counting; otherwise the slice ends within REALTIME_SLICE_US."""
        self._stop_requested = True
        if self._in_slice and threading.get_ident() == self._emu_thread:
            self._kick()
        elif self.counter.enabled:
            self.counter.stop_now()

    def step(self, n: int = 1) -> Stop:
        """Execute ``n`` instructions (a trap entry counts as the faulting instruction)."""
        self.enable_counting()
        return self._run(max_insns=n, timeout=None, stepping=True)

    def run(self, max_insns: int | None = None, timeout: float | None = None) -> Stop:
        """Run until the firmware exits or something stops it; see :class:`StopReason`."""
        if max_insns is not None:
            self.enable_counting()
        return self._run(max_insns=max_insns, timeout=timeout, stepping=False)

    def _run(self, max_insns: int | None, timeout: float | None, stepping: bool) -> Stop:
        # A fatal condition is reported once; running again tries again (the user may have fixed
        # the cause: fed input, changed a register, restored a snapshot).
        self._stop_requested = False
        self._fatal = None
        self._storm = 0
        self._emu_thread = threading.get_ident()
        limit = self.counter.count + max_insns if max_insns is not None else None
        host_deadline = time.monotonic() + timeout if timeout is not None else None
        self._host_deadline = host_deadline
        self.debug.skip_once = self.cpu.pc  # resuming from a breakpoint executes its instruction
        self.clock.resume()
        try:
            return self._loop(limit, host_deadline, stepping)
        finally:
            self.clock.pause()
            self.debug.skip_once = None

    def _loop(self, limit: int | None, host_deadline: float | None, stepping: bool) -> Stop:
        while True:
            if self._reset_requested:
                self._reset_requested = False
                self.reset(keep_time=True)
            self.clock.run_due()
            self._poll_devices()
            if self.exited:
                return Stop(StopReason.EXITED, self.cpu.pc, f"firmware exited with status {self.exit_code}",
                             exit_code=self.exit_code)
            if self._fatal is not None:
                return Stop(StopReason.FATAL, self.cpu.pc, self._fatal_report(self._fatal))
            if self._stop_requested:
                return Stop(StopReason.INTERRUPTED, self.cpu.pc, "interrupted")
            if limit is not None and self.counter.count >= limit:
                if stepping:
                    return Stop(StopReason.STEPPED, self.cpu.pc)
                return Stop(StopReason.INSN_LIMIT, self.cpu.pc,
                            f"stopped after {self.counter.count} instructions (--max-insns) at "
                            f"{self.symbol_name(self.cpu.pc)}")
            if host_deadline is not None and time.monotonic() >= host_deadline:
                return Stop(StopReason.TIMEOUT, self.cpu.pc,
                            f"stopped by --timeout at {self.symbol_name(self.cpu.pc)}")
            self._deliver_interrupt()
            outcome = self._run_slice(limit, host_deadline)
            if self._break_hit is not None:
                pc, self._break_hit = self._break_hit, None
                return Stop(StopReason.BREAKPOINT, pc, f"breakpoint at {self.symbol_name(pc)}")
            if self._watch_hit is not None and not self._fatal:
                hit, self._watch_hit = self._watch_hit, None
                return Stop(StopReason.WATCHPOINT, self.cpu.pc, f"watchpoint {hit.addr:#x} hit", watch=hit)
            if outcome == "wfi":
                fatal = self._sleep()
                if fatal:
                    self._fatal = fatal

    # -- one slice ---------------------------------------------------------------------------
    def _run_slice(self, limit: int | None, host_deadline: float | None) -> str:
        """Run the CPU until the next event; returns "wfi", "done" or "trap"."""
        deadline = self.clock.next_deadline()
        self._slice_deadline_ns = deadline
        timeout_us = 0
        if self.counter.enabled:
            budget = DETERMINISTIC_QUANTUM if self.deterministic else 1 << 40
            if limit is not None:
                budget = min(budget, limit - self.counter.count)
            if deadline is not None and self.deterministic:
                wait_ns = deadline - self.clock.now_ns()
                budget = min(budget, max(1, -(-wait_ns // self.clock.ns_per_insn)))
            self.counter.limit = self.counter.count + max(budget, 0)
        if not self.deterministic:
            timeout_us = REALTIME_SLICE_US
            if deadline is not None:
                timeout_us = max(1, min(timeout_us, (deadline - self.clock.now_ns()) // 1000))
            if host_deadline is not None:
                timeout_us = max(1, min(timeout_us, int((host_deadline - time.monotonic()) * 1e6)))
        pc = self.cpu.pc
        self._kicked_store = None
        self._in_slice = True
        try:
            self.uc.emu_start(pc, NEVER, timeout=timeout_us)
        except UcError as e:
            self._in_slice = False
            self._fix_kicked_store()
            return self._on_uc_error(e)
        except Exception as e:  # noqa: BLE001 - an exception raised inside one of our hooks
            self._in_slice = False
            self._internal_error(f"internal error: {e!r}")
            return "done"
        self._in_slice = False
        self._fix_kicked_store()
        if self._break_hit is None and self._kicked_store is None and not self._stop_requested:
            try:
                if self.cpu.pc >= 4 and self.ram.contains(self.cpu.pc - 4, 4) and \
                        self.ram.read_int(self.cpu.pc - 4, 4) == WFI and not self.counter.at_limit:
                    return "wfi"
            except BusError:
                pass
        return "done"

    def _fix_kicked_store(self) -> None:
        """Unicorn stops *on* a store whose MMIO callback asked to stop; the store already happened."""
        addr = self._kicked_store
        if addr is None or self.counter.enabled:
            return
        pc = self.cpu.pc
        try:
            low = self.ram.read_int(pc, 2)
            length = insn_length(low)
            insn = self.ram.read_int(pc, length)
        except BusError:
            return
        target = memory_target(insn, self.cpu.x, self.xlen)
        if target is not None and target[1] and target[0] <= addr < target[0] + 8:
            self.cpu.pc = pc + length

    def _kick(self) -> None:
        """A device needs the run loop now (exit, interrupt, new event): stop after this instruction.

        With the counter on, the stop lands cleanly before the next instruction.  Without it,
        Unicorn stops *on* the current instruction and would run it again: harmless for the store
        whose callback we are in (skipped by _fix_kicked_store), not for a load (a UART read would
        pop a second byte), so from a read or between slices the end of the slice must do."""
        if not self._in_slice:
            return
        if self.counter.enabled:
            self.counter.stop_now()
        elif self.bus.in_write:
            self._kicked_store = self.bus.last_write_addr
            self.uc.emu_stop()

    def _end_slice_after_store(self, addr: int) -> None:
        """From a RAM write hook: end the slice after this store.  The store is performed once
        the hook returns; Unicorn then stops *on* it, so it is skipped as a kicked MMIO store is."""
        if not self._in_slice:
            return
        if self.counter.enabled:
            self.counter.stop_now()
        else:
            self._kicked_store = addr
            self.uc.emu_stop()

    def _on_new_deadline(self, when_ns: int) -> None:
        if self._slice_deadline_ns is None or when_ns < self._slice_deadline_ns:
            self._slice_deadline_ns = when_ns
            if self.deterministic:
                wait = max(0, -(-(when_ns - self.clock.now_ns()) // self.clock.ns_per_insn))
                self.counter.limit = min(self.counter.limit, self.counter.count + wait)
            elif when_ns <= self.clock.now_ns() + 1000 * REALTIME_SLICE_US:
                self._kick()

    # -- sleeping in wfi ------------------------------------------------------------------------
    def _sleep(self) -> str | None:
        """The CPU executed wfi: skip virtual time to the next event (or wait for input)."""
        while True:
            if self._stop_requested or self.exited:
                return None
            if self._mip() & self.cpu.read("mie"):
                return None
            self._feed_uart()
            if self._mip() & self.cpu.read("mie"):
                return None
            deadline = self.clock.next_deadline()
            if deadline is not None:
                self.clock.skip_to(deadline)
                self.clock.run_due()
                continue
            if self.host_input.exhausted:
                return ("the firmware sleeps in wfi with no interrupt that can wake it "
                        "(no timer armed, no pending input)")
            self.host_input.wait(0.05)

    # -- interrupts ------------------------------------------------------------------------------
    def _mip(self) -> int:
        native = self.cpu.read("mip")
        bits = 0
        if self.clint.msip:
            bits |= MIP_MSIP
        if self.clint.mtip():
            bits |= MIP_MTIP
        if self.plic.interrupt_pending(0):
            bits |= MIP_MEIP
        if self.plic.interrupt_pending(1):
            bits |= MIP_SEIP
        return native | bits

    def _deliver_interrupt(self) -> bool:
        pending = self._mip() & self.cpu.read("mie")
        if not pending:
            return False
        priv = self.cpu.priv
        mstatus = self.cpu.read("mstatus")
        mideleg = self.cpu.read("mideleg")
        for cause in IRQ_PRIORITY:
            if not pending >> cause & 1:
                continue
            if mideleg >> cause & 1:
                enabled = priv < PRIV_S or (priv == PRIV_S and mstatus & MSTATUS_SIE)
            else:
                enabled = self.cpu.interrupts_enabled()
            if enabled:
                self.cpu.take_trap(cause, self.cpu.pc, 0, interrupt=True)
                return True
        return False

    # -- traps -----------------------------------------------------------------------------------
    def _on_cpu_exception(self, uc, intno: int, _user: object) -> None:
        """UC_HOOK_INTR: Unicorn reports the cause with PC already 4 past the instruction."""
        epc = (self.cpu.pc - 4) & self.cpu.mask
        cause, tval = intno, 0
        if intno == CAUSE_ECALL_U:
            cause = {0: 8, 1: 9, 3: 11}.get(self.cpu.priv, 11)
        elif intno == CAUSE_ILLEGAL:
            insn = self._insn_at(epc)
            if insn is not None and self._emulate_csr_read(epc, insn):
                return
            tval = insn or 0
        elif intno in (CAUSE_LOAD_MISALIGNED, CAUSE_STORE_MISALIGNED):
            insn = self._insn_at(epc)
            target = memory_target(insn, self.cpu.x, self.xlen) if insn is not None else None
            tval = target[0] if target else 0
        self._trap(cause, epc, tval)

    def _trap(self, cause: int, epc: int, tval: int) -> None:
        """Trap entry, watching for firmware that traps forever without progress: the same fault
        at the same instruction again and again (a handler that faults itself, or returns to a
        jump into nothing).  ecall/ebreak loops and page faults are legitimate repetition."""
        key = (cause, epc)
        if cause in REPEATABLE_FAULTS and key == self._last_trap_key:
            self._storm += 1
        else:
            self._storm = 0
        self._last_trap_key = key
        self.cpu.take_trap(cause, epc, tval)
        if self._storm >= TRAP_STORM_LIMIT:
            handler = self.cpu.pc
            where = (f"the trap handler at {self.symbol_name(handler)} itself faults" if epc == handler
                     else f"the same fault repeats at {self.symbol_name(epc)}")
            if cause == CAUSE_FETCH_ACCESS and epc != handler:
                where = f"the firmware keeps jumping into nothing at {epc:#x} (its trap handler returns there)"
            self._fatal = f"trap storm: {where} ({EXCEPTION_NAMES.get(cause, cause)}, tval={tval:#x})"
            self.uc.emu_stop()

    def _insn_at(self, addr: int) -> int | None:
        try:
            low = self.ram.read_int(addr, 2)
            return self.ram.read_int(addr, insn_length(low))
        except BusError:
            return None

    def _on_unmapped(self, uc, access: int, address: int, size: int, value: int, _user: object) -> bool:
        self._unmapped_addr = address
        return False

    def _on_uc_error(self, error: UcError) -> str:
        pc = self.cpu.pc
        code = error.errno
        if code in (UC_ERR_FETCH_UNMAPPED, UC_ERR_FETCH_PROT):
            self._trap(CAUSE_FETCH_ACCESS, pc, pc)
        elif code in (UC_ERR_READ_UNMAPPED, UC_ERR_READ_PROT):
            self._trap(CAUSE_LOAD_ACCESS, pc, self._unmapped_addr)
        elif code in (UC_ERR_WRITE_UNMAPPED, UC_ERR_WRITE_PROT):
            self._trap(CAUSE_STORE_ACCESS, pc, self._unmapped_addr)
        elif code == UC_ERR_INSN_INVALID:
            self._on_ebreak(pc)
        else:
            self._fatal = f"CPU error {error} at {self.symbol_name(pc)}"
        return "trap"

    def _on_ebreak(self, pc: int) -> None:
        insn = self._insn_at(pc)
        if insn == EBREAK and self._is_semihosting_call(pc):
            try:
                result = self.semihost.call(self.cpu.x(10), self.cpu.x(11))
            except InputInterrupted:
                return  # PC stays on the ebreak: the call runs again when the firmware resumes
            self.cpu.set_x(10, result)
            self.cpu.pc = pc + 8
            self._storm = 0
            return
        if insn is None or insn in (EBREAK, 0x9002):
            self._trap(CAUSE_BREAKPOINT, pc, 0)
        else:
            self._trap(CAUSE_ILLEGAL, pc, insn)

    def _is_semihosting_call(self, pc: int) -> bool:
        if self.semihost is None or pc % 4 or (pc & 0xFFF) in (0, 0xFFC):
            return False
        try:
            return (self.ram.read_int(pc - 4, 4) == SEMIHOST_PRE
                    and self.ram.read_int(pc + 4, 4) == SEMIHOST_POST)
        except BusError:
            return False

    # -- CSR instructions Unicorn gets wrong ---------------------------------------------------------
    def _hook_csr_sites(self, start: int, end: int) -> None:
        for addr in [a for a in self._csr_sites if start <= a < end]:
            del self._csr_sites[addr]
        try:
            code = self.ram.read(start, end - start)
        except BusError:
            return
        self._csr_sites.update(csr_sites.scan(code, start))
        self._sync_csr_hooks()

    def _sync_csr_hooks(self) -> None:
        """CSR sites are served by the counter's C hook when it runs, else by one hook per address."""
        for handle in self._csr_hooks.values():
            self.uc.hook_del(handle)
        self._csr_hooks.clear()
        if self.counter.enabled:
            self.counter.set_sites(list(self._csr_sites), self._csr_site_from_counter)
            return
        self.counter.set_sites([], self._csr_site_from_counter)
        for addr in self._csr_sites:
            self._csr_hooks[addr] = self.uc.hook_add(UC_HOOK_CODE, self._on_csr_site, begin=addr, end=addr)

    def _csr_site_from_counter(self, addr: int, size: int) -> None:
        try:
            self._on_csr_site(self.uc, addr, size, None)
        except Exception as e:  # noqa: BLE001 - ctypes would print and swallow it
            self._internal_error(f"internal error at CSR site {addr:#x}: {e!r}")

    def _counter_value(self, csr: int) -> int | None:
        if csr in (0xC01, 0xC81):
            value = self.clock.mtime()
        elif csr in (0xC00, 0xC02, 0xB00, 0xB02, 0xC80, 0xC82, 0xB80, 0xB82):
            value = self.counter.count if self.counter.enabled else self.clock.now_ns() // self.clock.ns_per_insn
        else:
            return None
        return (value >> 32) & 0xFFFFFFFF if csr & 0x80 and self.xlen == 32 else value & self.cpu.mask

    def _emulate_csr_read(self, pc: int, insn: int) -> bool:
        """rdtime & co. reached through the illegal-instruction path (code outside the ELF)."""
        decoded = csr_sites.decode_csr(insn)
        if decoded is None or decoded.writes:
            return False
        value = self._counter_value(decoded.csr)
        if value is None:
            return False
        self.cpu.set_x(decoded.rd, value)
        self.cpu.pc = pc + 4
        return True

    def _on_csr_site(self, uc, addr: int, size: int, _user: object) -> None:
        insn = self._csr_sites.get(addr)
        if insn is None or self.cpu.priv < (insn.csr >> 8) & 3:
            return  # let the CPU raise illegal-instruction natively
        if insn.is_xret:
            self.cpu.trap_return(machine_level=insn.csr == 0x302)
            self._deliver_interrupt()
            return
        operand = insn.rs1 if insn.immediate else self.cpu.x(insn.rs1)
        if insn.csr == csr_sites.CSR_MIP:
            old = self._mip()
            if insn.writes:
                native = self.cpu.read("mip")
                self.cpu.write("mip", csr_sites.new_value(insn, native, operand))
        elif insn.csr in csr_sites.WRITE_WATCHED:
            old = self.cpu.csr(insn.csr)
            if insn.writes:
                self.cpu.set_csr(insn.csr, csr_sites.new_value(insn, old, operand))
        else:
            old = self._counter_value(insn.csr)
            if insn.writes or old is None:
                return  # writes to counters: leave them to the CPU
        self.cpu.set_x(insn.rd, old)
        self.cpu.pc = addr + 4
        if insn.csr in csr_sites.WRITE_WATCHED and insn.writes:
            self._deliver_interrupt()

    # -- devices ---------------------------------------------------------------------------------
    def _poll_devices(self) -> None:
        if self.htif is not None:
            self.htif.poll()
        self._feed_uart()

    def _feed_uart(self) -> None:
        data = self.host_input.take()
        if data:
            self.uart.send(data)

    def feed_input(self, data: bytes) -> None:
        """Type ``data`` into the UART (tests, the debugger)."""
        self.state_writes += 1
        self.uart.send(data)

    def _read_stdin(self, n: int) -> bytes:
        """Semihosting reads wait for input, but give way to Ctrl-C, gdb and --timeout."""
        return self.host_input.read(n, abort=self._waiting_must_end)

    def _waiting_must_end(self) -> bool:
        return self._stop_requested or (self._host_deadline is not None
                                        and time.monotonic() >= self._host_deadline)

    def _console_out(self, data: bytes) -> None:
        if not self.output_muted:
            self.stdout_sink(data)

    def _console_err(self, data: bytes) -> None:
        if not self.output_muted:
            self.stderr_sink(data)

    def _exit(self, code: int) -> None:
        if not self.exited:
            self.exited = True
            self.exit_code = code
        self._kick()

    def _guest_reset(self) -> None:
        """Finisher 0x7777: restart the machine, between slices (not inside the store's callback)."""
        self._reset_requested = True
        self._kick()

    def _internal_error(self, message: str) -> None:
        self._fatal = message
        self.uc.emu_stop()

    def _on_break(self, addr: int) -> None:
        self._break_hit = addr

    def _on_watch(self, hit: WatchHit) -> None:
        self._watch_hit = hit
        self.counter.stop_now()

    # -- reports --------------------------------------------------------------------------------------
    def _fatal_report(self, message: str) -> str:
        lines = [message, f"pc {self.symbol_name(self.cpu.pc)}"]
        if self.cpu.last_trap is not None:
            lines.append(f"last trap: {self.cpu.last_trap.describe()}")
        lines.append(self.format_registers())
        return "\n".join(lines)

    def format_registers(self) -> str:
        width = self.xlen // 4
        names = [f"x{i}" for i in range(32)]
        from emu.cpu import ABI_NAMES

        cells = [f"{ABI_NAMES[i]:>4}={self.cpu.x(i):0{width}x}" for i in range(len(names))]
        rows = [" ".join(cells[i : i + 4]) for i in range(0, 32, 4)]
        rows.append(f"mstatus={self.cpu.read('mstatus'):#x} mcause={self.cpu.read('mcause'):#x} "
                    f"mepc={self.cpu.read('mepc'):#x} mtval={self.cpu.read('mtval'):#x} priv={self.cpu.priv}")
        return "\n".join(rows)

    def close(self) -> None:
        if self.semihost is not None:
            self.semihost.close_all()
