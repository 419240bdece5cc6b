"""Drive an NpuDevice the way firmware does: descriptors in RAM, MMIO register accesses, virtual time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from emu.clock import VirtualClock
from emu.devices.base import IrqLine
from emu.memory import Ram
from emu.npu_device import NpuConfig, NpuDevice
from emu.npu_device.regs import BITS, DESC_BYTES, FLAGS, LAYOUT, REG
from emu.npu_device.strict import AccessHooks

RAM_BASE = 0x8000_0000
RING = RAM_BASE + 0x1000  # 64 slots of 64 bytes
RING_SLOTS = 64
DATA = RAM_BASE + 0x10000  # free DRAM for operands


class Harness:
    """A device on a small RAM, a deterministic clock moved by hand, and a recorded IRQ line."""

    def __init__(self, config: NpuConfig | None = None, ram_size: int = 8 << 20, ring_slots: int = RING_SLOTS) -> None:
        self.insns = 0
        self.clock = VirtualClock(deterministic=True, ns_per_insn=1, insn_count=lambda: self.insns)
        self.ram = Ram(ram_size)
        self.irq_edges: list[bool] = []
        self.irq = IrqLine(self.irq_edges.append)
        self.npu = NpuDevice(self.ram, self.clock, self.irq, config or NpuConfig.load(None))
        self.ring_slots = ring_slots
        self.w32(REG["RING_BASE_LO"], RING & 0xFFFF_FFFF)
        self.w32(REG["RING_BASE_HI"], RING >> 32)
        self.w32(REG["RING_SIZE"], ring_slots)
        self.w32(REG["INT_ENABLE"], BITS["INT_DONE"] | BITS["INT_ERROR"])
        self.w32(REG["CTRL"], BITS["CTRL_ENABLE"])

    # registers
    def r32(self, off: int) -> int:
        return self.npu.read(off, 4)

    def w32(self, off: int, value: int) -> None:
        self.npu.write(off, 4, value)

    def reg(self, name: str) -> int:
        return self.r32(REG[name])

    def counter(self, name: str) -> int:
        return self.r32(REG[f"{name}_LO"]) | self.r32(REG[f"{name}_HI"]) << 32

    # time
    def advance(self, ns: int) -> None:
        self.insns += ns
        self.clock.run_due()

    def wait_idle(self) -> None:
        """Jump to the next event until nothing is pending, as wfi does."""
        while (deadline := self.clock.next_deadline()) is not None:
            self.clock.skip_to(deadline)
            self.clock.run_due()
        self.clock.skip_to(self.npu.last_end_ns)

    # commands
    def desc(self, name: str, /, **fields: Any) -> bytes:
        return LAYOUT[name].pack(**fields)

    def submit(self, *descs: bytes, wait: bool = True) -> None:
        """Queue descriptors at the tail, ring the doorbell, and by default wait for completion."""
        tail = self.reg("RING_TAIL")
        for i, d in enumerate(descs):
            self.ram.write(RING + ((tail + i) % self.ring_slots) * DESC_BYTES, d)
        self.w32(REG["RING_TAIL"], (tail + len(descs)) & 0xFFFF_FFFF)
        self.w32(REG["DOORBELL"], 1)
        if wait:
            self.wait_idle()

    def error(self) -> int:
        return self.reg("ERR_CODE")

    # data
    def put(self, addr: int, data: np.ndarray) -> None:
        self.ram.write(addr, np.ascontiguousarray(data).tobytes())

    def get(self, addr: int, n: int, dtype: Any = np.int8) -> np.ndarray:
        return np.frombuffer(self.ram.read(addr, n * np.dtype(dtype).itemsize), dtype=dtype).copy()

    def spad_put(self, addr: int, data: np.ndarray) -> None:
        raw = np.ascontiguousarray(data).view(np.uint8).ravel()
        self.npu.scratchpad[addr : addr + raw.size] = raw


class FakeHooks(AccessHooks):
    """The CPU side played by the test: ``access`` runs the hooks covering an address."""

    def __init__(self) -> None:
        self.hooks: dict[int, tuple[int, int, bool, Callable[[int, bool], None]]] = {}
        self.next = 0

    def add(self, lo: int, hi: int, stores_only: bool, callback: Callable[[int, bool], None]) -> Any:
        self.next += 1
        self.hooks[self.next] = (lo, hi, stores_only, callback)
        return self.next

    def remove(self, handle: Any) -> None:
        del self.hooks[handle]

    def where(self) -> str:
        return "0x80000100 <test>"

    def access(self, addr: int, write: bool) -> None:
        for lo, hi, stores_only, callback in list(self.hooks.values()):
            if lo <= addr < hi and (write or not stores_only):
                callback(addr, write)


IRQ = FLAGS["IRQ"]
ACC = FLAGS["ACC"]
