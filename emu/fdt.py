"""The flattened device tree of the machine, generated from the board table (emu/board.py).

Firmware that discovers its platform (OpenSBI, U-Boot, Linux) reads this blob
from ``a1`` at reset, as on QEMU's ``virt``.  Node names, compatible strings,
phandles and properties follow QEMU 7.2's ``create_fdt`` (hw/riscv/virt.c):
compare with ``qemu-system-riscv64 -M virt,dumpdtb=q.dtb``.  Devices QEMU has
and npuemu has not (virtio, PCI, flash, RTC, fw-cfg, the PMU node) are absent;
the NPU node is added (docs/npu.md, "Device tree").

The blob is built with the ``fdt`` package (pure Python, no compiled part).
"""

from __future__ import annotations

from dataclasses import dataclass

import fdt as libfdt

from emu import board
from emu.npu_device import NpuConfig

PHANDLE_CPU, PHANDLE_INTC, PHANDLE_PLIC, PHANDLE_TEST = 1, 2, 3, 4  # as QEMU 7.2 numbers them
IRQ_S_SOFT, IRQ_M_SOFT, IRQ_S_TIMER, IRQ_M_TIMER, IRQ_S_EXT, IRQ_M_EXT = 1, 3, 5, 7, 9, 11
SINGLE_LETTER_ORDER = "IEMAFDQCPVH"  # QEMU's riscv_isa_string order (S and U are not listed)
NPU_COMPATIBLE = "npuemu,dimc-npu"
FINISHER_PASS, FINISHER_RESET = 0x5555, 0x7777


@dataclass(frozen=True)
class FdtOptions:
    """What varies between runs: the hart, RAM, the NPU and what --append/--initrd ask for."""

    xlen: int
    misa: int
    ram_base: int
    ram_size: int
    npu: NpuConfig
    bootargs: str | None = None
    initrd: tuple[int, int] | None = None  # [start, end) in guest physical memory


def isa_string(xlen: int, misa: int) -> str:
    """``rv64imafdc_zicsr_zifencei`` from the hart's misa: what it really implements."""
    letters = "".join(c.lower() for c in SINGLE_LETTER_ORDER if misa >> (ord(c) - ord("A")) & 1)
    return f"rv{xlen}{letters}_zicsr_zifencei"


def _cells(*values: int) -> list[int]:
    """64-bit addresses and sizes as (high, low) cell pairs (#address-cells = #size-cells = 2)."""
    out = []
    for v in values:
        out += [v >> 32, v & 0xFFFFFFFF]
    return out


def _node(name: str, *props: libfdt.Property) -> libfdt.Node:
    node = libfdt.Node(name)
    for p in props:
        node.append(p)
    return node


def _words(name: str, *values: int) -> libfdt.PropWords:
    return libfdt.PropWords(name, *values)


def _strings(name: str, *values: str) -> libfdt.PropStrings:
    return libfdt.PropStrings(name, *values)


def _empty(name: str) -> libfdt.Property:
    return libfdt.Property(name)


def _reg(row: board.Region, size: int | None = None) -> libfdt.PropWords:
    return _words("reg", *_cells(row.base, row.size if size is None else size))


def _cpus(opts: FdtOptions) -> libfdt.Node:
    intc = _node("interrupt-controller", _words("#interrupt-cells", 1), _empty("interrupt-controller"),
                 _strings("compatible", "riscv,cpu-intc"), _words("phandle", PHANDLE_INTC))
    cpu = _node("cpu@0", _words("phandle", PHANDLE_CPU), _strings("device_type", "cpu"), _words("reg", 0),
                _strings("status", "okay"), _strings("compatible", "riscv"),
                _strings("riscv,isa", isa_string(opts.xlen, opts.misa)),
                _strings("mmu-type", "riscv,sv48" if opts.xlen == 64 else "riscv,sv32"))  # Sv48: priv_spec checks
    cpu.append(intc)
    cpu_map = _node("cpu-map")
    cluster = _node("cluster0")
    cluster.append(_node("core0", _words("cpu", PHANDLE_CPU)))
    cpu_map.append(cluster)
    cpus = _node("cpus", _words("#address-cells", 1), _words("#size-cells", 0),
                 _words("timebase-frequency", board.TIMEBASE_HZ))
    cpus.append(cpu)
    cpus.append(cpu_map)
    return cpus


def _soc(opts: FdtOptions) -> libfdt.Node:
    soc = _node("soc", _words("#address-cells", 2), _words("#size-cells", 2),
                _strings("compatible", "simple-bus"), _empty("ranges"))
    clint, plic = board.region("clint"), board.region("plic")
    uart, finisher, npu = board.region("uart0"), board.region("finisher"), board.region("npu")
    soc.append(_node(f"clint@{clint.base:x}",
                     _words("interrupts-extended", PHANDLE_INTC, IRQ_M_SOFT, PHANDLE_INTC, IRQ_M_TIMER),
                     _reg(clint), _strings("compatible", "sifive,clint0", "riscv,clint0")))
    soc.append(_node(f"plic@{plic.base:x}", _words("phandle", PHANDLE_PLIC),
                     _words("riscv,ndev", board.PLIC_SOURCES), _reg(plic),
                     _words("interrupts-extended", PHANDLE_INTC, IRQ_M_EXT, PHANDLE_INTC, IRQ_S_EXT),
                     _empty("interrupt-controller"), _strings("compatible", "sifive,plic-1.0.0", "riscv,plic0"),
                     _words("#address-cells", 0), _words("#interrupt-cells", 1)))
    soc.append(_node(f"test@{finisher.base:x}", _words("phandle", PHANDLE_TEST), _reg(finisher),
                     _strings("compatible", "sifive,test1", "sifive,test0", "syscon")))
    soc.append(_node(f"serial@{uart.base:x}", _words("interrupts", uart.irq),
                     _words("interrupt-parent", PHANDLE_PLIC), _words("clock-frequency", board.UART_CLOCK_HZ),
                     _reg(uart), _strings("compatible", "ns16550a")))
    geo = opts.npu
    soc.append(_node(f"npu@{npu.base:x}", _words("interrupts", npu.irq), _words("interrupt-parent", PHANDLE_PLIC),
                     _reg(npu), _strings("compatible", NPU_COMPATIBLE),
                     _words("clock-frequency", int(geo.npu_mhz * 1_000_000)),
                     _words("npuemu,tiles", geo.tiles), _words("npuemu,rows", geo.rows),
                     _words("npuemu,cols", geo.cols), _words("npuemu,scratchpad-bytes", geo.scratchpad_bytes),
                     _words("npuemu,accumulator-bytes", geo.accumulator_bytes)))
    return soc


def build_tree(opts: FdtOptions) -> libfdt.FDT:
    """The device tree as an object (tests and ``npuemu dtb`` walk it)."""
    tree = libfdt.FDT(entries=[])
    root = tree.root
    for p in (_words("#address-cells", 2), _words("#size-cells", 2), _strings("compatible", "riscv-virtio"),
              _strings("model", "riscv-virtio,qemu")):
        root.append(p)
    uart = board.region("uart0")
    chosen = _node("chosen", _strings("stdout-path", f"/soc/serial@{uart.base:x}"))
    if opts.bootargs is not None:
        chosen.append(_strings("bootargs", opts.bootargs))
    if opts.initrd is not None:
        chosen.append(_words("linux,initrd-start", opts.initrd[0] & 0xFFFFFFFF))
        chosen.append(_words("linux,initrd-end", opts.initrd[1] & 0xFFFFFFFF))
    root.append(chosen)
    root.append(_node("poweroff", _words("value", FINISHER_PASS), _words("offset", 0),
                      _words("regmap", PHANDLE_TEST), _strings("compatible", "syscon-poweroff")))
    root.append(_node("reboot", _words("value", FINISHER_RESET), _words("offset", 0),
                      _words("regmap", PHANDLE_TEST), _strings("compatible", "syscon-reboot")))
    root.append(_node(f"memory@{opts.ram_base:x}", _strings("device_type", "memory"),
                      _words("reg", *_cells(opts.ram_base, opts.ram_size))))
    root.append(_cpus(opts))
    root.append(_soc(opts))
    return tree


def build_dtb(opts: FdtOptions) -> bytes:
    """The flattened blob (version 17, as dtc and QEMU write it)."""
    return build_tree(opts).to_dtb(version=17, last_comp_version=16, boot_cpuid_phys=0)


QEMU_FDT_BYTES = 1 << 20  # QEMU's create_device_tree() blob size (fdt_totalsize of an unpacked tree)


def fdt_address(ram_base: int, ram_size: int) -> int:
    """Where QEMU 7.2 puts the FDT (hw/riscv/boot.c riscv_load_fdt): the 2 MiB boundary below
    min(DRAM end, 3 GiB) - its 1 MiB blob (DRAM above 3 GiB: below DRAM end).  Measured on
    Debian's qemu-system-riscv64 7.2: a1 = 0x87e00000 with -m 128M, 0x80e00000 with -m 16M,
    0xbfe00000 with -m 3G."""
    end = ram_base + ram_size
    top = min(end, 3 << 30) if ram_base < 3 << 30 else end
    return (top - QEMU_FDT_BYTES) & ~((2 << 20) - 1)
