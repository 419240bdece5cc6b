"""The device tree: generated from the board table, decoded by dtc, matching QEMU 7.2's `virt`
tree node for node, and handed over in a1 where QEMU puts it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import fdt as libfdt
import pytest
from npuemu_cli import run_npuemu

from emu import Machine, board
from emu.boot import BootFiles
from emu.fdt import NPU_COMPATIBLE

needs_dtc = pytest.mark.skipif(shutil.which("dtc") is None, reason="dtc (device-tree-compiler) not installed")

# Properties whose values differ from QEMU's on purpose (docs/platform.md "Device tree").
DIFFERENT = {
    ("/cpus/cpu@0", "riscv,isa"): "the hart Unicorn 2.1.4 implements: no H, Zba/Zbb/Zbc/Zbs, Zihintpause, Sstc",
    ("/soc/plic@c000000", "reg"): "QEMU sizes the PLIC for 512 harts (0x600000); ours covers 0x400000",
    ("/chosen", "rng-seed"): "random on every QEMU boot",
}


def _dts(path) -> str:
    result = subprocess.run(["dtc", "-I", "dtb", "-O", "dts", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


@needs_dtc
def test_npuemu_dtb_decodes_with_dtc(tmp_path) -> None:
    config = tmp_path / "npu.toml"
    config.write_text("[geometry]\ntiles = 4\nrows = 64\ncols = 32\n")
    out = tmp_path / "virt.dtb"
    result = run_npuemu("dtb", "--npu-config", config, "--append", "console=ttyS0 quiet", "--ram", "256M",
                        "-o", out)
    assert result.status == 0, result.output
    text = _dts(out)
    npu = board.region("npu")
    node = re.search(r"npu@18000000 \{(.*?)\};", text, re.S).group(1)
    assert f'compatible = "{NPU_COMPATIBLE}";' in node
    assert f"reg = <0x00 {npu.base:#x} 0x00 {npu.size:#x}>;" in node
    assert f"interrupts = <{npu.irq:#04x}>;" in node and "interrupt-parent = <0x03>;" in node
    assert "npuemu,tiles = <0x04>;" in node and "npuemu,rows = <0x40>;" in node and "npuemu,cols = <0x20>;" in node
    assert 'bootargs = "console=ttyS0 quiet";' in text
    assert "reg = <0x00 0x80000000 0x00 0x10000000>;" in text  # 256 MiB
    assert 'stdout-path = "/soc/serial@10000000";' in text


def test_npuemu_dtb_bad_output_is_one_line(tmp_path) -> None:
    result = run_npuemu("dtb", "-o", tmp_path / "no" / "such" / "dir.dtb")
    assert result.status == 2
    assert result.output.decode().count("\n") == 1 and result.output.startswith(b"npuemu: cannot write")


def _props(tree: libfdt.FDT) -> dict[tuple[str, str], object]:
    out = {}
    for path, _nodes, props in tree.walk():
        for p in props:
            value = list(p.data) if hasattr(p, "data") else None
            out[(path.rstrip("/") or "/", p.name)] = value
    return out


@pytest.mark.qemu
@pytest.mark.parametrize("xlen", [32, 64])
def test_every_node_matches_qemus_tree(tmp_path, xlen) -> None:
    """Each property npuemu shares with QEMU's dumped tree has QEMU's value (except DIFFERENT)."""
    qemu_dtb = tmp_path / "q.dtb"
    subprocess.run([f"qemu-system-riscv{xlen}", "-M", f"virt,dumpdtb={qemu_dtb}", "-m", "128M", "-nographic",
                    "-bios", "none"],
                   capture_output=True, timeout=30, check=True)
    ours = tmp_path / "n.dtb"
    assert run_npuemu("dtb", "--xlen", str(xlen), "-o", ours).status == 0
    q = _props(libfdt.parse_dtb(qemu_dtb.read_bytes()))
    n = _props(libfdt.parse_dtb(ours.read_bytes()))
    shared = [key for key in n if key in q and key not in DIFFERENT]
    assert len(shared) > 45
    mismatched = {key: (n[key], q[key]) for key in shared if n[key] != q[key]}
    assert not mismatched
    # every node of ours is QEMU's, but for the NPU
    q_nodes = {path for path, _ in q}
    assert {path for path, _ in n} - q_nodes == {"/soc/npu@18000000"}


def _qemu_boot_registers(xlen: int, ram: str, elf) -> dict[str, int]:
    """a0, a1, a2 at the first instruction of the firmware under qemu -d cpu."""
    log = elf.parent / f"qemu-{xlen}-{ram}.log"
    subprocess.run([f"qemu-system-riscv{xlen}", "-M", "virt", "-m", ram, "-nographic", "-bios", "none",
                    "-kernel", str(elf), "-d", "cpu", "-D", str(log)], capture_output=True, timeout=30)
    text = log.read_text()
    block = text[text.index(f"pc       {0x80000000:0{xlen // 4}x}"):]
    return {r: int(re.search(rf"x1[012]/{r}\s+([0-9a-f]+)", block).group(1), 16) for r in ("a0", "a1", "a2")}


@pytest.mark.qemu
@pytest.mark.parametrize(("xlen", "ram"), [(64, "128M"), (64, "16M"), (64, "3G"), (32, "128M"), (32, "6M")])
def test_a0_a1_a2_at_entry_are_qemus(tmp_path, firmware, xlen, ram) -> None:
    elf = tmp_path / "hello.elf"
    elf.write_bytes(firmware("hello", f"rv{xlen}").read_bytes())
    expected = _qemu_boot_registers(xlen, ram, elf)
    m = Machine.from_elf(elf, ram_size={"128M": 128 << 20, "16M": 16 << 20, "3G": 3 << 30, "6M": 6 << 20}[ram])
    assert {r: m.read_reg(r) for r in ("a0", "a1", "a2")} == expected
    blob = m.read_mem(expected["a1"], 64 << 10)
    tree = libfdt.parse_dtb(blob)
    memory = tree.get_node(f"memory@{m.ram.base:x}").get_property("reg")
    assert list(memory.data) == [0, m.ram.base, m.ram.size >> 32, m.ram.size & 0xFFFFFFFF]


def test_fdt_survives_reset_and_initrd_is_announced(tmp_path, firmware) -> None:
    initrd = tmp_path / "initrd.img"
    initrd.write_bytes(b"initrd!" * 100)
    kernel = tmp_path / "kernel.bin"
    kernel.write_bytes(b"\x73\x00\x50\x10" * 4)  # wfi loop; never run here
    m = Machine.from_files(BootFiles(bios=str(firmware("hello", "rv64")), kernel=str(kernel), initrd=str(initrd),
                                     append="root=/dev/ram"))
    fdt_addr = m.layout.fdt_addr
    tree = libfdt.parse_dtb(m.read_mem(fdt_addr, 64 << 10))
    chosen = tree.get_node("chosen")
    start = chosen.get_property("linux,initrd-start").data[0]
    end = chosen.get_property("linux,initrd-end").data[0]
    # QEMU: kernel at the 2 MiB boundary after the firmware, initrd at kernel + min(RAM/2, 128 MiB)
    assert start == 0x80200000 + (64 << 20) and end - start == 700
    assert m.read_mem(start, 7) == b"initrd!"
    assert chosen.get_property("bootargs").value == "root=/dev/ram"
    m.write_mem(fdt_addr, b"\0" * 64)
    m.reset()
    assert libfdt.parse_dtb(m.read_mem(fdt_addr, 64 << 10)).get_node("chosen") is not None


OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf"
UBOOT_S = "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"


@pytest.mark.qemu
@pytest.mark.skipif(not (Path(OPENSBI).exists() and Path(UBOOT_S).exists()), reason="Debian opensbi/u-boot-qemu")
def test_chosen_with_initrd_and_append_equals_qemus(tmp_path):
    initrd = tmp_path / "initrd.img"
    initrd.write_bytes(bytes(range(256)) * 3)
    qemu_dtb = tmp_path / "q.dtb"
    subprocess.run(["qemu-system-riscv64", "-M", f"virt,dumpdtb={qemu_dtb}", "-m", "128M", "-nographic", "-bios", OPENSBI,
                    "-kernel", UBOOT_S, "-initrd", str(initrd), "-append", "root=/dev/ram console=ttyS0"],
                   capture_output=True, timeout=30, check=True)
    m = Machine.from_files(BootFiles(bios=OPENSBI, kernel=UBOOT_S, initrd=str(initrd),
                                     append="root=/dev/ram console=ttyS0"))
    ours = _props(libfdt.parse_dtb(m.read_mem(m.layout.fdt_addr, 64 << 10)))
    theirs = _props(libfdt.parse_dtb(qemu_dtb.read_bytes()))
    chosen = {k: v for k, v in theirs.items() if k[0] == "/chosen" and k not in DIFFERENT}
    assert len(chosen) == 4  # stdout-path, bootargs, linux,initrd-start, linux,initrd-end
    assert {k: ours.get(k) for k in chosen} == chosen
