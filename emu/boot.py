"""QEMU-compatible loading: ``--bios``, ``--kernel``, ``--initrd``, ``--append`` and plain ELFs.

What QEMU 7.2's ``virt`` does at reset (hw/riscv/boot.c, hw/riscv/virt.c), and
so what this module lays out:

- the firmware (``--bios``, ELF or raw) at DRAM base (0x8000_0000);
- the kernel (ELF: at its physical addresses, entry = its lowest address; raw:
  at the first 2 MiB (rv64) / 4 MiB (rv32) boundary after the firmware's end:
  0x8020_0000 behind OpenSBI fw_jump);
- the initrd at kernel + min(RAM / 2, 128 MiB), announced in /chosen;
- the device tree (emu/fdt.py) at the 2 MiB boundary below min(DRAM end, 3 GiB) - 1 MiB;
- the reset stub in the mask ROM at 0x1000: ``a0 = mhartid``, ``a1 = FDT``,
  ``a2 = &fw_dynamic_info`` (OpenSBI's fw_dynamic reads the next stage's address
  and mode from it), then a jump to DRAM base.

With ``--bios`` the hart starts at 0x1000 and runs that stub, as on QEMU.  A plain
ELF (``npuemu run app.elf``, the same as ``--bios none --kernel app.elf``)
starts at its entry point with the registers the stub would have set, which
keeps the debugger's "stopped at the entry point" behaviour.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from emu import board
from emu.elf_loader import ElfImage, parse_elf, read_image_file
from emu.errors import ElfError
from emu.fdt import FdtOptions, build_dtb, fdt_address
from emu.npu_device import NpuConfig

FW_DYNAMIC_MAGIC = 0x4942534F  # "OSBI"
FW_DYNAMIC_VERSION = 2
NEXT_MODE_S = 1
FW_DYNAMIC_OFFSET = 0x28       # fw_dynamic_info follows the 10-word reset vector


@dataclass(frozen=True)
class BootFiles:
    """What the user named: a plain ELF, or QEMU's -bios/-kernel/-initrd/-append."""

    firmware: str | os.PathLike | None = None
    bios: str | os.PathLike | None = None   # "none" = no firmware (the kernel starts in M-mode)
    kernel: str | os.PathLike | None = None
    initrd: str | os.PathLike | None = None
    append: str | None = None
    xlen: int | None = None                 # for raw images only (QEMU: qemu-system-riscv32 or -riscv64)


@dataclass(frozen=True)
class Blob:
    """Bytes put in RAM at reset: ``data`` at ``addr``, then zeros up to ``memsz``."""

    name: str
    addr: int
    data: bytes
    memsz: int
    executable: bool

    @property
    def end(self) -> int:
        return self.addr + self.memsz


@dataclass
class Image:
    """A file given on the command line: a parsed ELF or raw bytes."""

    path: Path
    raw: bytes
    elf: ElfImage | None

    @property
    def xlen(self) -> int | None:
        return self.elf.xlen if self.elf else None


@dataclass
class BootLayout:
    """Everything the machine writes and sets at reset."""

    xlen: int
    blobs: list[Blob]
    rom: bytes
    pc: int
    regs: dict[int, int]
    elf: ElfImage  # whose symbols the debugger shows (firmware, bios, kernel; symbol-less for raw images)
    fdt_addr: int | None = None

    def executable_ranges(self) -> list[tuple[int, int]]:
        return [(b.addr, b.addr + len(b.data)) for b in self.blobs if b.executable and b.data]

    @property
    def top(self) -> int:
        """End of the loaded program images (the semihosting heap starts above it)."""
        ends = [b.end for b in self.blobs if b.name not in ("fdt", "initrd")]
        return max(ends) if ends else board.region("dram").base


def open_image(path: str | os.PathLike, what: str) -> Image:
    p = Path(path)
    raw = read_image_file(p, what)
    elf = parse_elf(p, raw) if raw[:4] == b"\x7fELF" else None
    return Image(p, raw, elf)


def open_files(files: BootFiles) -> tuple[int, dict[str, Image]]:
    """Read every file named (one-line ElfError for any problem) and pick the hart's XLEN: the
    ELFs' class (firmware, bios, kernel), else ``files.xlen``, else rv64 (qemu-system-riscv64)."""
    if files.firmware is not None and (files.bios is not None or files.kernel is not None):
        raise ElfError("give either a firmware ELF or --bios/--kernel, not both")
    if files.kernel is not None and files.bios is None:
        raise ElfError("--kernel needs --bios FW or --bios none (QEMU's default OpenSBI is not bundled)")
    if files.firmware is None and files.bios is None:
        raise ElfError("nothing to run: give a firmware ELF or --bios")
    if files.bios is not None and str(files.bios) == "none" and files.kernel is None:
        raise ElfError("--bios none needs --kernel")
    if files.initrd is not None and files.kernel is None:
        raise ElfError("--initrd needs --kernel")
    if files.append is not None and files.bios is not None and files.kernel is None:
        raise ElfError("--append needs --kernel (or a plain firmware ELF), as QEMU's -append")
    images: dict[str, Image] = {}
    if files.firmware is not None:
        images["firmware"] = open_image(files.firmware, "firmware")
        if images["firmware"].elf is None:
            raise ElfError(f"{files.firmware}: not an ELF file (raw images go with --bios or --kernel)")
    if files.bios is not None and str(files.bios) != "none":
        images["bios"] = open_image(files.bios, "--bios")
    if files.kernel is not None:
        images["kernel"] = open_image(files.kernel, "--kernel")
    if files.initrd is not None:
        images["initrd"] = open_image(files.initrd, "--initrd")
    xlens = {name: img.xlen for name, img in images.items() if img.xlen is not None and name != "initrd"}
    if len(set(xlens.values())) > 1:
        raise ElfError("the ELFs mix rv32 and rv64: " + ", ".join(f"{n} rv{x}" for n, x in xlens.items()))
    xlen = next(iter(xlens.values()), files.xlen or 64)
    if files.xlen is not None and xlen != files.xlen:
        raise ElfError(f"--xlen {files.xlen} does not match the rv{xlen} ELF")
    return xlen, images


def _elf_blobs(name: str, elf: ElfImage, ram_base: int, ram_end: int) -> list[Blob]:
    """PT_LOAD segments by physical address, whatever their flags (as QEMU's load_elf).  The part
    of a segment outside RAM is dropped, as QEMU drops ROM bytes that land on no memory (an ELF
    linked with -Ttext=0x80000000 has a first segment starting at 0x7ffff000 that holds only its
    headers there); a segment with no byte in RAM is refused: it is always a link error."""
    out = []
    for seg in elf.segments:
        start, end = seg.paddr, seg.paddr + seg.memsz
        if end <= ram_base or start >= ram_end:
            where = _device_at(start, end)
            raise ElfError(f"{elf.path}: segment {start:#x}..{end:#x} "
                           + (f"lies on top of the {where} device" if where else
                              f"is outside RAM {ram_base:#x}..{ram_end:#x}"))
        lo, hi = max(start, ram_base), min(end, ram_end)
        data = seg.data[lo - start : max(lo - start, min(len(seg.data), hi - start))]
        out.append(Blob(name, lo, data, hi - lo, seg.executable))
    return out


def _device_at(start: int, end: int) -> str | None:
    for row in board.BOARD:
        if row.make is not None and start < row.base + row.size and row.base < end:
            return row.name
    return None


def _raw_blob(name: str, image: Image, addr: int, ram_end: int, executable: bool) -> Blob:
    if addr + len(image.raw) > ram_end:
        raise ElfError(f"{image.path}: {len(image.raw)} bytes at {addr:#x} do not fit in RAM (ends {ram_end:#x})")
    return Blob(name, addr, image.raw, len(image.raw), executable)


def _check_entry(elf: ElfImage, blobs: list[Blob]) -> None:
    if not any(b.addr <= elf.entry < b.addr + max(len(b.data), 1) for b in blobs):
        raise ElfError(f"{elf.path}: entry point {elf.entry:#x} is not in a loaded segment")


def _check_overlaps(blobs: list[Blob]) -> None:
    """QEMU refuses images that overlap ("rom: requested regions overlap"): so do we."""
    ordered = sorted((b for b in blobs if b.memsz), key=lambda b: b.addr)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.addr < a.end and a.name != b.name:
            raise ElfError(f"the {a.name} ({a.addr:#x}..{a.end:#x}) and the {b.name} ({b.addr:#x}..{b.end:#x}) "
                           "overlap")


def reset_rom(xlen: int, start: int, fdt_addr: int, kernel_entry: int) -> bytes:
    """QEMU 7.2's reset vector (riscv_setup_rom_reset_vec) followed by fw_dynamic_info
    (riscv_rom_copy_firmware_info), byte for byte."""
    load = (0x0202A583, 0x0182A283) if xlen == 32 else (0x0202B583, 0x0182B283)  # lw/ld a1, t0
    words = [0x00000297, 0x02828613, 0xF1402573, *load, 0x00028067,
             start & 0xFFFFFFFF, start >> 32, fdt_addr & 0xFFFFFFFF, fdt_addr >> 32]
    rom = b"".join(w.to_bytes(4, "little") for w in words)
    info = (FW_DYNAMIC_MAGIC, FW_DYNAMIC_VERSION, kernel_entry, NEXT_MODE_S, 0, 0)
    return rom + b"".join(v.to_bytes(xlen // 8, "little") for v in info)


def plan(files: BootFiles, images: dict[str, Image], xlen: int, *, ram_base: int, ram_size: int, misa: int,
         npu: NpuConfig) -> BootLayout:
    """Lay out RAM and the reset registers as QEMU 7.2 would for these files."""
    ram_end = ram_base + ram_size
    blobs: list[Blob] = []
    plain = images.get("firmware")
    bios, kernel, initrd = images.get("bios"), images.get("kernel"), images.get("initrd")
    if plain is None and bios is None and kernel is not None and kernel.elf is not None:
        plain = kernel  # --bios none --kernel app.elf: today's plain-ELF boot
        kernel = None
    firmware_end = ram_base
    if plain is not None:
        blobs += _elf_blobs("firmware", plain.elf, ram_base, ram_end)
        _check_entry(plain.elf, blobs)
    elif bios is not None:
        if bios.elf is not None:
            blobs += _elf_blobs("bios", bios.elf, ram_base, ram_end)
            firmware_end = max(s.paddr + s.memsz for s in bios.elf.segments)
        else:
            blobs.append(_raw_blob("bios", bios, ram_base, ram_end, executable=True))
            firmware_end = ram_base + len(bios.raw)
    kernel_entry = 0
    if kernel is not None:
        if kernel.elf is not None:
            kblobs = _elf_blobs("kernel", kernel.elf, ram_base, ram_end)
            kernel_entry = min(s.paddr for s in kernel.elf.segments)
        else:
            align = (2 << 20) if xlen == 64 else (4 << 20)
            kernel_entry = -(-firmware_end // align) * align
            kblobs = [_raw_blob("kernel", kernel, kernel_entry, ram_end, executable=True)]
        blobs += kblobs
    elif plain is not None:
        kernel_entry = min(s.paddr for s in plain.elf.segments)
    initrd_range = None
    if initrd is not None:
        start = kernel_entry + min(ram_size // 2, 128 << 20)
        blob = _raw_blob("initrd", initrd, start, ram_end, executable=False)
        blobs.append(blob)
        initrd_range = (blob.addr, blob.addr + len(initrd.raw))
    _check_overlaps(blobs)
    dtb = build_dtb(FdtOptions(xlen, misa, ram_base, ram_size, npu, bootargs=files.append or None,
                               initrd=initrd_range))
    fdt_addr: int | None = fdt_address(ram_base, ram_size)
    fdt_blob = Blob("fdt", fdt_addr, dtb, len(dtb), False)
    if fdt_addr < ram_base or any(fdt_blob.addr < b.end and b.addr < fdt_blob.end for b in blobs):
        if plain is None:
            raise ElfError(f"the device tree at {fdt_addr:#x} would overlap the loaded images "
                           f"(--ram {ram_size >> 20} MiB is too small)")
        fdt_addr = None  # a plain ELF in a tiny RAM runs as before, with a1 = 0 (QEMU refuses to start)
    else:
        blobs.append(fdt_blob)
    main_elf = next((img.elf for img in (plain, bios, kernel) if img is not None and img.elf is not None), None)
    if main_elf is None:  # raw images only: a symbol-less image, so the debuggers work unchanged
        first = bios or kernel
        main_elf = ElfImage(first.path, xlen, ram_base, [], [], b"", None, None)
    mrom = board.region("mrom")
    start = plain.elf.entry if plain is not None else ram_base
    rom = reset_rom(xlen, start, fdt_addr or 0, kernel_entry)
    if plain is None:  # the hart runs the stub at 0x1000, which sets a0, a1, a2 itself
        return BootLayout(xlen, blobs, rom, mrom.base, {}, main_elf, fdt_addr)
    regs = {10: 0, 11: fdt_addr or 0, 12: mrom.base + FW_DYNAMIC_OFFSET}  # what the stub would leave
    return BootLayout(xlen, blobs, rom, start, regs, main_elf, fdt_addr)
