"""The machine: a RISC-V hart, DRAM and the QEMU-virt devices, and the run loop.

The run loop executes the CPU in *slices* (``emu_start`` calls) and does,
between slices, what the CPU cannot: device events at their virtual time,
``wfi`` fast-forward, exits, stop requests.  Traps and interrupts are entered
natively by npuemu's patched Unicorn (emu/hart.py): devices only drive ``mip``.

Time (see emu/clock.py): realtime by default, like QEMU without -icount, so the
CPU runs with no per-instruction hook at near-QEMU speed; deterministic on
request, with virtual time derived from the exact instruction count.
"""

from __future__ import annotations

import os
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
from emu.compiler import layer_table
from emu.cpu import (
    CAUSE_BREAKPOINT,
    CAUSE_FETCH_ACCESS,
    CAUSE_ILLEGAL,
    CAUSE_LOAD_ACCESS,
    CAUSE_STORE_ACCESS,
    PRIV_M,
    Cpu,
)
from emu.decode import insn_length
from emu.devices.base import IrqLine, MmioDevice
from emu.devices.htif import Htif
from emu.devices.semihosting import Semihosting
from emu.elf_loader import ElfImage
from emu.errors import BusError, ConfigError
from emu.hart import DRIVEN_MIP, Hart
from emu.host_input import HostInput, InputInterrupted
from emu.icount import InstructionCounter, Pacer
from emu.memory import DEFAULT_RAM_SIZE, DRAM_BASE, Ram
from emu.npu_device import NpuConfig

WFI = 0x10500073
EBREAK = 0x00100073
SEMIHOST_PRE = 0x01F01013   # slli x0, x0, 0x1f
SEMIHOST_POST = 0x40705013  # srai x0, x0, 7
CONSOLE_BUFFER = 4096       # bytes of console output held before a write without a newline
NEVER = 1                   # an `until` address the CPU can never reach (PCs are even)
REALTIME_SLICE_US = 20_000  # longest slice without an event: bounds Ctrl-C and stdin latency
DETERMINISTIC_QUANTUM = 200_000


class StopReason(Enum):
    EXITED = "exited"
    BREAKPOINT = "breakpoint"
    WATCHPOINT = "watchpoint"
    STEPPED = "stepped"
    INTERRUPTED = "interrupted"
    INSN_LIMIT = "instruction limit"
    TIMEOUT = "timeout"
    FATAL = "fatal"
    NPU = "npu"  # an NPU breakpoint or watchpoint matched (request_debug_stop; emu/debugger/npu_watch.py)


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
                 stdin: BinaryIO | None = None, buffer_console: bool = False) -> None:
        self.xlen = xlen
        if DRAM_BASE + ram_size > 1 << xlen:
            raise ConfigError(f"--ram {ram_size >> 20} MiB does not fit an rv{xlen} address space "
                              f"above {DRAM_BASE:#x}")
        self.cpu = Cpu(xlen)
        self.uc = self.cpu.uc
        self.ram = Ram(ram_size)
        self.counter = InstructionCounter(self.uc)
        # Realtime slices end at a host-clock deadline, between two instructions (emu/icount.py).
        self.pacer = None if deterministic else Pacer(self.uc)
        self.deterministic = deterministic
        self.clock = VirtualClock(deterministic, ns_per_insn, insn_count=lambda: self.counter.count)
        self.clock.on_new_deadline = self._on_new_deadline
        self.clock.pause()
        self.clock.state.count = self.counter.count_pointer()
        self.counter.on_enable.append(self._on_counting)
        self.hart = Hart(self.cpu, self.clock.state, self._stop_fatal)
        self.ram.on_write = self.invalidate_code  # DMA, semihosting, debugger writes (issue 17 N1)
        self.hart.describe_pc = self.symbol_name
        self.stdout_sink = stdout or (lambda data: None)
        self.stderr_sink = stderr or (lambda data: None)
        self._console_buf = bytearray()
        # `npuemu run` buffers console output (one write per line); tests and the debugger keep
        # byte-by-byte delivery, so a `uart.expect` stops right at its match.
        self.buffer_console = buffer_console
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
        self._debug_stop: str | None = None
        self._break_hit: int | None = None
        self._watch_hit: WatchHit | None = None
        self._unmapped_addr = 0
        self._slice_deadline_ns: int | None = None
        self._in_slice = False
        self._reset_requested = False
        self._host_deadline: float | None = None
        self._boot = None
        self.held_interrupts = 0  # mip bits kept from the hart for now (fault injection: emu/faults.py)

        self.bus = Bus(self.uc, self.ram)
        self.bus.on_error = self._stop_fatal
        self._irq_levels = 0  # the mip bits the device lines drive (pushed into the hart)
        self.npu_config = NpuConfig.load(npu_config)
        self.devices_by_name = self._build_devices()
        self.finisher, self.clint, self.plic, self.uart, self.npu = (
            self.devices_by_name[n] for n in ("finisher", "clint", "plic", "uart0", "npu"))
        self.uart.sink = self._console_out
        self.uart.line_buffered = buffer_console  # THR writes may wait in the native buffer
        self.htif: Htif | None = None
        self.semihost: Semihosting | None = None
        self.devices = [self.finisher, self.clint, self.plic, self.uart, self.npu]
        # A long NPU ring gives way to Ctrl-C, gdb and --timeout (not to an NPU breakpoint's own stop
        # request: the doorbell still runs the whole ring then, so what the debugger shows is deterministic).
        self.npu.must_yield = lambda: self._debug_stop is None and self._waiting_must_end()

        self.debug = DebugHooks(self.uc, self.read_mem, lambda: self.cpu.pc, self._on_break, self._on_watch,
                                self.counter)
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

    def enable_npu_strict(self, stop: bool) -> None:
        """Strict NPU completion (emu/npu_device/strict.py): outputs land at the modelled completion and
        a CPU access racing a pending command is reported: ``stop`` ends the run with it (debugger,
        tests), else it is a warning on stderr (``npuemu run --npu-strict``)."""
        from emu.npu_device.strict import UnicornAccessHooks

        def report(message: str) -> None:
            if stop:
                self._fatal = message
                self.request_stop()
            else:
                self.stderr_sink(f"npuemu: warning: {message}\n".encode())

        self.npu.enable_strict(UnicornAccessHooks(self.uc, lambda: self.symbol_name(self.cpu.pc)), report)

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
        if layer_table.SECTION in image.npuemu_sections:  # a compiled model's layer table
            self.npu.set_layers(layer_table.decode(image.npuemu_sections[layer_table.SECTION]))
        mrom = board.region("mrom")
        self.uc.mem_map(mrom.base, mrom.size, UC_PROT_READ | UC_PROT_EXEC)
        self.uc.mem_write(mrom.base, layout.rom)
        if any(csr_sites.uses_insn_counters(self.ram.view(start, end - start))
               for start, end in layout.executable_ranges() if self.ram.contains(start, end - start)):
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
                self.htif.watch_stores(self.uc, lambda _addr: self._kick())  # ends the slice after the store
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
            self.ram.zero(blob.addr + len(blob.data), blob.memsz - len(blob.data))

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
        if key == "mtime":
            return self.clock.mtime()
        return self.cpu.read(key)

    def write_reg(self, name: str, value: int) -> None:
        self.state_writes += 1
        self.cpu.write(name.lower().lstrip("$"), value)

    def register_names(self) -> list[str]:
        return self.cpu.register_names()

    def peek(self, addr: int, length: int) -> bytes:
        """Memory as the debugger sees it: RAM, or device registers whose reads have no side
        effect; BusError naming the register (and the command that shows it) otherwise."""
        from emu.devices.peek import peek

        if self._in_mrom(addr, length):
            return self.read_mem(addr, length)
        return peek(self.bus, addr, length)

    def read_mem(self, addr: int, length: int) -> bytes:
        """RAM or mask-ROM contents (BusError elsewhere: device registers are not read behind the
        guest's back)."""
        if self._in_mrom(addr, length):
            return bytes(self.uc.mem_read(addr, length))
        return self.ram.read(addr, length)

    def _in_mrom(self, addr: int, length: int) -> bool:
        """Inside the mask ROM that holds QEMU's reset stub (mapped once a boot layout is loaded)."""
        mrom = board.region("mrom")
        return self.layout is not None and length >= 0 and mrom.base <= addr and addr + length <= mrom.base + mrom.size

    def write_mem(self, addr: int, data: bytes) -> None:
        self.ram.write(addr, data)  # drops translated code there (Ram.on_write)
        self.state_writes += 1

    def invalidate_code(self, addr: int, length: int) -> None:
        """Drop translated code for guest memory written behind the CPU's back (debugger, gdb,
        NPU DMA, semihosting reads, snapshot restore): the next fetch there decodes the new bytes."""
        self.uc.ctl_remove_cache(addr, addr + max(length, 1))

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

    def _on_counting(self) -> None:
        """cycle/instret switch from time-derived to exact counts without jumping."""
        state = self.clock.state
        if not state.counting:
            derived = max(self.clock.now_ns(), 0) // self.clock.ns_per_insn
            for which in (0, 1):
                state.offset[which] += derived - self.counter.count
            state.counting = 1

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
        self.hart.progress()
        self._sync_irqs(force=True)

    def reset(self, keep_time: bool = False) -> None:
        """Back to the state right after loading the ELF (the debugger's `run`).  ``keep_time``
        (a guest-requested reset) restarts everything but virtual time and the instruction count,
        which go on: a reset loop still meets --max-insns and time never runs backwards."""
        count, now = self.counter.count, self.clock.now_ns()
        self.ram.clear()
        self._write_blobs()
        self.restore(self._boot)
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

        The counter's exact stop, or the pacer's ``uc_emu_stop`` (which npuemu's Unicorn patch 0009
        makes take effect only at a translated block's start), ends the slice between two
        instructions, even from inside an MMIO callback: the access is never replayed."""
        self._stop_requested = True
        if self.counter.enabled:
            self.counter.stop_now()
        if self.pacer is not None:
            self.pacer.stop_soon()

    def request_debug_stop(self, message: str) -> None:
        """A debugger observer on a device (an NPU breakpoint) asks for a clean stop after the
        current instruction; the run returns a StopReason.NPU stop carrying ``message`` (the
        messages of every request before the stop, one per line)."""
        self._debug_stop = message if self._debug_stop is None else f"{self._debug_stop}\n{message}"
        self.request_stop()

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
        self._debug_stop = None
        self._fatal = None
        self.hart.progress()
        limit = self.counter.count + max_insns if max_insns is not None else None
        host_deadline = time.monotonic() + timeout if timeout is not None else None
        self._host_deadline = host_deadline
        self.debug.skip_once = self.cpu.pc  # resuming from a breakpoint executes its instruction
        self.clock.resume()
        try:
            return self._loop(limit, host_deadline, stepping)
        finally:
            self.flush_console()
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
            if self._stop_requested and self._debug_stop is not None:
                message, self._debug_stop = self._debug_stop, None
                return Stop(StopReason.NPU, self.cpu.pc, message)
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
            outcome = self._run_slice(limit, host_deadline)
            self.flush_console()
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
        if self.counter.enabled:
            budget = DETERMINISTIC_QUANTUM if self.deterministic else 1 << 40
            if limit is not None:
                budget = min(budget, limit - self.counter.count)
            if deadline is not None and self.deterministic:
                wait_ns = deadline - self.clock.now_ns()
                budget = min(budget, max(1, -(-wait_ns // self.clock.ns_per_insn)))
            self.counter.limit = self.counter.count + max(budget, 0)
        paced_stops = 0
        if self.pacer is not None:
            budget_ns = REALTIME_SLICE_US * 1000
            if deadline is not None:
                budget_ns = min(budget_ns, deadline - self.clock.now_ns())
            host_stop = Pacer.now_ns() + max(budget_ns, 0)
            if host_deadline is not None:
                host_stop = min(host_stop, int(host_deadline * 1e9))
            paced_stops = self.pacer.stops
            self.pacer.arm(host_stop)
        pc = self.cpu.pc
        self._in_slice = True
        try:
            self.uc.emu_start(pc, NEVER)
        except UcError as e:
            self._end_slice()
            return self._on_uc_error(e)
        except Exception as e:  # noqa: BLE001 - an exception raised inside one of our hooks
            self._end_slice()
            self._stop_fatal(f"internal error: {e!r}")
            return "done"
        self._end_slice()
        stopped = self.counter.at_limit or (self.pacer is not None and self.pacer.stops != paced_stops)
        if self._break_hit is None and not stopped and not self._stop_requested:
            try:
                if self.cpu.pc >= 4 and self.ram.contains(self.cpu.pc - 4, 4) and \
                        self.ram.read_int(self.cpu.pc - 4, 4) == WFI:
                    return "wfi"
            except BusError:
                pass
        return "done"

    def _end_slice(self) -> None:
        self._in_slice = False
        if self.pacer is not None:
            self.pacer.disarm()

    def _kick(self) -> None:
        """A device needs the run loop now (exit, reset, an earlier event): end the slice between
        two instructions (the counter's exact stop, or the pacer's at the next block)."""
        if not self._in_slice:
            return
        if self.counter.enabled:
            self.counter.stop_now()
        if self.pacer is not None:
            self.pacer.stop_soon()

    def _on_new_deadline(self, when_ns: int) -> None:
        if self._slice_deadline_ns is None or when_ns < self._slice_deadline_ns:
            self._slice_deadline_ns = when_ns
            if self.deterministic:
                wait = max(0, -(-(when_ns - self.clock.now_ns()) // self.clock.ns_per_insn))
                self.counter.limit = min(self.counter.limit, self.counter.count + wait)
            elif self.pacer is not None and self._in_slice:
                self.pacer.tighten(Pacer.now_ns() + max(0, when_ns - self.clock.now_ns()))

    # -- sleeping in wfi ------------------------------------------------------------------------
    def _sleep(self) -> str | None:
        """The CPU executed wfi: skip virtual time to the next event (or wait for input)."""
        while True:
            if self._stop_requested or self.exited:
                return None
            if self._interrupt_waiting():
                return None
            self._feed_uart()
            if self._interrupt_waiting():
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

    def _interrupt_waiting(self) -> bool:
        """wfi wakes up on any pending interrupt enabled in mie, whatever mstatus says."""
        return bool(self.cpu.read("mip") & self.cpu.read("mie"))

    # -- interrupts ------------------------------------------------------------------------------
    def hart_line(self, bit: int) -> IrqLine:
        """An interrupt wire into the hart's ``mip`` bit(s) ``bit`` (the board wires CLINT and PLIC)."""
        return IrqLine(lambda level: self._irq_changed(bit, level))

    def _irq_changed(self, bit: int, level: bool) -> None:
        """A device's interrupt output changed (CLINT msip/mtip, PLIC context): the hart's mip bit
        follows at once, and the CPU takes the interrupt natively once it is enabled."""
        self._irq_levels = (self._irq_levels | bit) if level else (self._irq_levels & ~bit)
        self._sync_irqs()

    def hold_interrupt(self, bit: int, held: bool) -> None:
        """Keep mip bit ``bit`` low whatever its device drives (fault injection delays an interrupt)."""
        self.held_interrupts = (self.held_interrupts | 1 << bit) if held else (self.held_interrupts & ~(1 << bit))
        self._sync_irqs()

    def _sync_irqs(self, force: bool = False) -> None:
        """Push the device lines into the hart again (``force``: after a CPU context restore,
        which restores ``mip`` too)."""
        self.hart.set_irqs(self._irq_levels & ~self.held_interrupts, DRIVEN_MIP, force)

    # -- traps -----------------------------------------------------------------------------------
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
            self.hart.raise_exception(CAUSE_FETCH_ACCESS, pc)
        elif code in (UC_ERR_READ_UNMAPPED, UC_ERR_READ_PROT):
            self.hart.raise_exception(CAUSE_LOAD_ACCESS, self._unmapped_addr)
        elif code in (UC_ERR_WRITE_UNMAPPED, UC_ERR_WRITE_PROT):
            self.hart.raise_exception(CAUSE_STORE_ACCESS, self._unmapped_addr)
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
            self.hart.progress()
            return
        if insn is None or insn in (EBREAK, 0x9002):
            self.hart.raise_exception(CAUSE_BREAKPOINT, 0)
        else:
            self.hart.raise_exception(CAUSE_ILLEGAL, insn)

    def _is_semihosting_call(self, pc: int) -> bool:
        if self.semihost is None or pc % 4 or (pc & 0xFFF) in (0, 0xFFC):
            return False
        try:
            return (self.ram.read_int(pc - 4, 4) == SEMIHOST_PRE
                    and self.ram.read_int(pc + 4, 4) == SEMIHOST_POST)
        except BusError:
            return False

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
        self.flush_console()  # the prompt the user answers
        return self.host_input.read(n, abort=self._waiting_must_end)

    def _waiting_must_end(self) -> bool:
        return self._stop_requested or (self._host_deadline is not None
                                        and time.monotonic() >= self._host_deadline)

    def _console_out(self, data: bytes) -> None:
        """Console output is buffered (one write per line, not per byte) and flushed at a newline,
        when the buffer fills, at the end of every CPU slice, before input is read and when a run
        ends (exit, Ctrl-C, breakpoint): nothing the user should see waits longer than a slice."""
        if not self.output_muted:
            self.uart.flush_tx()  # UART bytes buffered natively were written before these
            self._console_buf += data
            if not self.buffer_console or b"\n" in data or len(self._console_buf) >= CONSOLE_BUFFER:
                self.flush_console()

    def _console_err(self, data: bytes) -> None:
        if not self.output_muted:
            self.flush_console()  # keep stdout and stderr in the order the firmware wrote them
            self.stderr_sink(data)

    def flush_console(self) -> None:
        self.uart.flush_tx()  # bytes waiting in the UART's native buffer come first
        if self._console_buf:
            data = bytes(self._console_buf)
            self._console_buf.clear()
            self.stdout_sink(data)

    def _exit(self, code: int) -> None:
        if not self.exited:
            self.exited = True
            self.exit_code = code
        self._kick()

    def _guest_reset(self) -> None:
        """Finisher 0x7777: restart the machine, between slices (not inside the store's callback)."""
        self._reset_requested = True
        self._kick()

    def _stop_fatal(self, message: str) -> None:
        """End the slice now and the run with ``message`` (a device bug, a trap storm)."""
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
