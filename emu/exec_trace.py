"""``npuemu run --trace mmio,insn``: device-register accesses by name, and executed instructions.

``mmio`` logs every load and store that reaches a device, named from the register maps
(``uart0.THR``, ``plic.claim[0]``, ``npu.RING_TAIL``...), like Renode's ``LogPeripheralAccess``;
``insn`` logs every executed instruction with its symbol and disassembly (what QEMU's
``-d exec,in_asm`` gives together).  Both write to ``--trace-file`` (default stderr) and stop
after ``--trace-limit`` lines, so a long run cannot fill the disk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from emu.devices.base import MmioDevice
    from emu.machine import Machine

KINDS = ("mmio", "insn")
DEFAULT_LIMIT = 1_000_000
UART_READ = ("RBR", "IER", "IIR", "LCR", "MCR", "LSR", "MSR", "SCR")
UART_WRITE = ("THR", "IER", "FCR", "LCR", "MCR", "LSR", "MSR", "SCR")


def register_name(device: MmioDevice, offset: int, write: bool) -> str:
    """``offset``'s register in ``device``, from its register map (the device's own
    ``register_name`` when it has one), else the hex offset."""
    own = getattr(device, "register_name", None)
    if callable(own):
        found = own(offset)
        if found:
            return str(found)
    name = device.name
    if name == "npu":
        from emu.npu_device.regs import REG_BY_OFFSET

        reg = REG_BY_OFFSET.get(offset & ~3)
        if reg is not None:
            return reg.name + (f"+{offset & 3}" if offset & 3 else "")
    elif name.startswith("uart") and offset < 8:
        return (UART_WRITE if write else UART_READ)[offset]
    elif name == "clint":
        if offset < 0x4000:
            return f"msip[{offset // 4}]"
        if offset < 0xBFF8:
            hart, part = divmod(offset - 0x4000, 8)
            return f"mtimecmp[{hart}]" + ("_hi" if part >= 4 else "")
        return "mtime" + ("_hi" if offset >= 0xBFFC else "")
    elif name == "plic":
        if offset < 0x1000:
            return f"priority[{offset // 4}]"
        if offset < 0x2000:
            return f"pending[{(offset - 0x1000) // 4}]"
        if offset < 0x200000:
            ctx, word = divmod(offset - 0x2000, 0x80)
            return f"enable[{ctx}][{word // 4}]"
        ctx, reg = divmod(offset - 0x200000, 0x1000)
        return {0: f"threshold[{ctx}]", 4: f"claim[{ctx}]"}.get(reg, f"{offset:#x}")
    elif name == "test-finisher":
        return "FINISHER"
    return f"{offset:#x}"


class ExecTrace:
    """Attaches the requested traces to ``machine``; :meth:`close` flushes and detaches."""

    def __init__(self, machine: Machine, kinds: set[str], out: TextIO, limit: int = DEFAULT_LIMIT) -> None:
        self.machine = machine
        self.out = out
        self.limit = limit
        self.lines = 0
        self._insn_hook: int | None = None
        if "mmio" in kinds:
            machine.bus.observer = self._on_mmio
        if "insn" in kinds:
            from unicorn import UC_HOOK_CODE

            from emu.debugger.disasm import Disassembler

            self._disasm = Disassembler(machine.xlen)
            self._insn_hook = machine.uc.hook_add(UC_HOOK_CODE, self._on_insn, begin=1, end=0)

    def _emit(self, line: str) -> bool:
        if self.lines >= self.limit:
            return False
        self.lines += 1
        self.out.write(line + "\n")
        if self.lines == self.limit:
            self.out.write(f"(trace stopped after {self.limit} lines: --trace-limit)\n")
            self.machine.bus.observer = None
            if self._insn_hook is not None:  # not from inside the hook itself: between slices
                hook, self._insn_hook = self._insn_hook, None
                clock = self.machine.clock
                clock.schedule(clock.now_ns(), lambda: self.machine.uc.hook_del(hook), "trace: stop")
        return True

    def _on_mmio(self, kind: str, addr: int, width: int, value: int, device: MmioDevice, offset: int) -> None:
        name = register_name(device, offset, kind == "W")
        arrow = "<-" if kind == "W" else "->"
        self._emit(f"{self.machine.clock.now_ns():>12} ns  {kind} {device.name}.{name:<14} [{addr:#010x}] "
                   f"{arrow} {value:#x} ({width} B)")

    def _on_insn(self, _uc: object, addr: int, size: int, _user: object) -> None:
        if self.lines >= self.limit:
            return
        code = self.machine.read_mem(addr, size)
        insn = self._disasm.decode(code, addr, 1)
        text = f"{insn[0].mnemonic} {insn[0].operands}".strip() if insn else "?"
        self._emit(f"{self.machine.symbol_name(addr):<32} {code[::-1].hex():>8}  {text}")

    def close(self) -> None:
        self.machine.bus.observer = None
        self.out.flush()
