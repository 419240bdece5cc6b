#!/usr/bin/env python3
"""Find (and on Debian/Ubuntu install) the tools npuemu's firmware build and tests need.

Checks, in order: what the Python venv needs (venv, a host C compiler, Python.h), the RISC-V GCC (``$RISCV_PREFIX``gcc, default ``riscv64-unknown-elf-gcc``),
its binutils, picolibc (``--specs=picolibc.specs`` links for rv32 and rv64), qemu-system-riscv32
and -riscv64, gdb-multiarch, tmux, dtc and Debian's OpenSBI and U-Boot builds for QEMU virt (booted
by the fidelity tests). Whatever is missing is installed with apt-get (as root, or
through sudo); otherwise one line per problem says what to run, and the exit status is 1.
When everything is present the script only runs the version probes (well under a second).

Usage: python3 toolchain/ensure_toolchain.py [--check] [--quiet]
  --check   never install anything, only report (exit 1 when something is missing)
  --quiet   print only problems
Stdlib only: it runs before the project's virtual environment exists.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PREFIX = "riscv64-unknown-elf-"
MIN_GCC = (10, 0)
MIN_QEMU = (7, 0)
MIN_GDB = (10, 0)
MIN_PYTHON = (3, 11)

# Flags the firmware build uses (see firmware/Makefile); `_zicsr` would break GCC 12's multilib choice.
ARCH_FLAGS = {
    "rv32": ["-march=rv32imac", "-mabi=ilp32", "-misa-spec=2.2", "-mcmodel=medany"],
    "rv64": ["-march=rv64imac", "-mabi=lp64", "-misa-spec=2.2", "-mcmodel=medany"],
}

APT_PACKAGES = {
    "venv": "python3-venv",
    "cc": "gcc",
    "python-dev": "python3-dev",
    "gcc": "gcc-riscv64-unknown-elf",
    "binutils": "binutils-riscv64-unknown-elf",
    "picolibc": "picolibc-riscv64-unknown-elf",
    "qemu": "qemu-system-misc",
    "gdb": "gdb-multiarch",
    "tmux": "tmux",
    "dtc": "device-tree-compiler",
    "lcov": "lcov",
    "cmake": "cmake",   # npuemu's patched Unicorn (toolchain/unicorn/build.py)
    "make": "make",
    "patch": "patch",
    "opensbi": "opensbi",
    "u-boot": "u-boot-qemu",
}

# Third-party firmware the fidelity tests boot (tests/platform/test_opensbi_uboot.py), as Debian ships it.
FIRMWARE_FILES = {
    "opensbi": Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf"),
    "u-boot": Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"),
}


@dataclass
class Report:
    """Result of one probe round: versions found, problems, and the apt packages that would fix them."""

    found: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    unfixable: list[str] = field(default_factory=list)

    def missing(self, problem: str, package: str | None) -> None:
        self.problems.append(problem)
        if package is None:
            self.unfixable.append(problem)
        elif package not in self.packages:
            self.packages.append(package)


def _run(cmd: list[str], timeout: float = 20) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _version(text: str) -> tuple[int, ...] | None:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "error" in line or "cannot find" in line or "No such file" in line:
            return line
    return lines[0] if lines else "?"


def _fmt(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def _probe_version(tool: str, args: list[str], line_re: str | None = None) -> tuple[str | None, str | None]:
    """(path, version string) of a tool, or (None, None) when not on PATH / not runnable."""
    path = shutil.which(tool)
    if path is None:
        return None, None
    proc = _run([path, *args])
    if proc is None or proc.returncode != 0:
        return path, None
    lines = (proc.stdout or proc.stderr).splitlines()
    if line_re:
        lines = [line for line in lines if re.search(line_re, line)] or lines
    head = lines[0] if lines else ""
    version = _version(head)
    return path, _fmt(version) if version else None


def check_gcc(prefix: str, report: Report, own_prefix: bool) -> str | None:
    gcc = f"{prefix}gcc"
    path, version = _probe_version(gcc, ["-dumpfullversion"])
    if path is None:
        if own_prefix:
            report.missing(f"{gcc} not found (RISCV_PREFIX={prefix!r}): fix RISCV_PREFIX or PATH", None)
        else:  # the whole cross toolchain comes together
            report.missing(f"{gcc} not found", APT_PACKAGES["gcc"])
            for extra in ("binutils", "picolibc"):
                if APT_PACKAGES[extra] not in report.packages:
                    report.packages.append(APT_PACKAGES[extra])
        return None
    if version is None:
        report.missing(f"{gcc} ({path}) does not run", None if own_prefix else APT_PACKAGES["gcc"])
        return None
    if _version(version) < MIN_GCC:
        report.missing(f"{gcc} {version} is too old: need GCC >= {_fmt(MIN_GCC)}", None)
        return None
    report.found["gcc"] = f"{gcc} {version} ({path})"
    for tool in ("objcopy", "objdump", "as", "ld"):
        if shutil.which(f"{prefix}{tool}") is None:
            report.missing(f"{prefix}{tool} not found", None if own_prefix else APT_PACKAGES["binutils"])
            return None
    return path


def check_picolibc(gcc: str, report: Report, own_prefix: bool) -> None:
    """Link a tiny program with picolibc's semihosting crt0 for rv32 and rv64."""
    source = '#include <stdio.h>\nint main(void) { printf("ok\\n"); return 0; }\n'
    with tempfile.TemporaryDirectory(prefix="npuemu-tc-") as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text(source)
        for arch, flags in ARCH_FLAGS.items():
            out = Path(tmp) / f"probe-{arch}.elf"
            cmd = [gcc, *flags, "--specs=picolibc.specs", "--crt0=semihost", "--oslib=semihost",
                   "-Wl,--defsym=__flash=0x80000000", "-Wl,--defsym=__flash_size=0x200000",
                   "-Wl,--defsym=__ram=0x80200000", "-Wl,--defsym=__ram_size=0x200000",
                   str(src), "-o", str(out)]
            proc = _run(cmd, timeout=60)
            if proc is None or proc.returncode != 0:
                err = _first_error(proc.stderr) if proc else "did not run"
                report.missing(f"picolibc does not link for {arch} with --specs=picolibc.specs: {err}",
                               None if own_prefix else APT_PACKAGES["picolibc"])
                return
    report.found["picolibc"] = "picolibc (--specs=picolibc.specs links for rv32 and rv64)"


def check_qemu(report: Report) -> None:
    for xlen in ("32", "64"):
        tool = f"qemu-system-riscv{xlen}"
        path, version = _probe_version(tool, ["--version"])
        if path is None or version is None:
            report.missing(f"{tool} not found", APT_PACKAGES["qemu"])
        elif _version(version) < MIN_QEMU:
            report.missing(f"{tool} {version} is too old: need QEMU >= {_fmt(MIN_QEMU)}", None)
        else:
            report.found[tool] = f"{tool} {version} ({path})"


def check_gdb(prefix: str, report: Report) -> None:
    for tool in ("gdb-multiarch", f"{prefix}gdb"):
        path, version = _probe_version(tool, ["--version"])
        if path is not None and version is not None:
            if _version(version) < MIN_GDB:
                report.missing(f"{tool} {version} is too old: need GDB >= {_fmt(MIN_GDB)}", None)
            else:
                report.found["gdb"] = f"{tool} {version} ({path})"
            return
    report.missing("gdb-multiarch not found", APT_PACKAGES["gdb"])


def _check_tool(report: Report, key: str, tool: str, flag: str, missing: str) -> None:
    """A tool needed as it is (no minimum version): found with its version, or its apt package wanted."""
    path, version = _probe_version(tool, [flag])
    if path is None:
        report.missing(missing, APT_PACKAGES[key])
    else:
        report.found[key] = f"{tool} {version or '?'} ({path})"


def check_tmux(report: Report) -> None:
    _check_tool(report, "tmux", "tmux", "-V", "tmux not found")


def check_dtc(report: Report) -> None:
    _check_tool(report, "dtc", "dtc", "--version", "dtc (device-tree-compiler) not found")


def check_lcov(report: Report) -> None:
    """genhtml renders the firmware coverage npuemu writes (lcov .info)."""
    _check_tool(report, "lcov", "genhtml", "--version", "genhtml (lcov) not found")


def check_boot_firmware(report: Report) -> None:
    """Debian's OpenSBI and U-Boot builds for QEMU virt: data files, no version to probe."""
    for name, path in FIRMWARE_FILES.items():
        if path.is_file():
            report.found[name] = str(path)
        else:
            report.missing(f"{path} not found", APT_PACKAGES[name])


def check_host(report: Report) -> None:
    """What `pip install -e .` needs: venv/ensurepip, a host C compiler and Python.h (emu/_icount.c)."""
    if sys.version_info < MIN_PYTHON:
        report.missing(f"python {sys.version.split()[0]} is too old: npuemu needs Python >= "
                       f"{_fmt(MIN_PYTHON)} (set PYTHON=python3.11 for make)", None)
    if importlib.util.find_spec("ensurepip") is None or importlib.util.find_spec("venv") is None:
        report.missing(f"python{sys.version_info.major}.{sys.version_info.minor} has no venv/ensurepip",
                       APT_PACKAGES["venv"])
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        report.missing("no host C compiler (cc) for the emu._icount extension", APT_PACKAGES["cc"])
    for tool in ("cmake", "make", "patch"):  # toolchain/unicorn/build.py builds Unicorn from source
        if shutil.which(tool) is None:
            report.missing(f"{tool} not found (needed to build npuemu's patched Unicorn)", APT_PACKAGES[tool])
    header = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not header.is_file():
        report.missing(f"{header} is missing (Python development headers)", APT_PACKAGES["python-dev"])
    if not report.problems:
        report.found["host"] = f"python {sys.version.split()[0]} with venv, Python.h and {cc}"


def probe(prefix: str, own_prefix: bool) -> Report:
    report = Report()
    check_host(report)
    gcc = check_gcc(prefix, report, own_prefix)
    if gcc is not None:
        check_picolibc(gcc, report, own_prefix)
    check_qemu(report)
    check_gdb(prefix, report)
    check_tmux(report)
    check_dtc(report)
    check_boot_firmware(report)
    check_lcov(report)
    return report


def apt_command(packages: list[str]) -> list[list[str]] | None:
    """The commands that install ``packages``, with sudo when needed; None when we cannot run them."""
    if shutil.which("apt-get") is None:
        return None
    sudo: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            return None
        # Non-interactive sudo works, or we have a terminal to ask for the password on.
        probe_sudo = _run(["sudo", "-n", "true"])
        if not (probe_sudo is not None and probe_sudo.returncode == 0) and not sys.stdin.isatty():
            return None
        sudo = ["sudo"]  # the plain command a restricted sudoers entry for apt-get allows
    else:
        sudo = ["env", "DEBIAN_FRONTEND=noninteractive"]
    return [
        [*sudo, "apt-get", "update"],
        [*sudo, "apt-get", "install", "-y", "--no-install-recommends", *packages],
    ]


def manual_hint(packages: list[str]) -> str:
    if shutil.which("apt-get") is None:
        return f"install these (Debian/Ubuntu package names): {' '.join(packages)}"
    return f"run: sudo apt-get update && sudo apt-get install -y --no-install-recommends {' '.join(packages)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report only, never install")
    parser.add_argument("--quiet", action="store_true", help="print only problems")
    args = parser.parse_args(argv)

    own_prefix = "RISCV_PREFIX" in os.environ
    prefix = os.environ.get("RISCV_PREFIX", DEFAULT_PREFIX)
    report = probe(prefix, own_prefix)

    if report.packages and not args.check:
        commands = apt_command(report.packages)
        if commands is None:
            for problem in report.problems:
                print(f"toolchain: {problem}", file=sys.stderr)
            print(f"toolchain: cannot install automatically; {manual_hint(report.packages)}", file=sys.stderr)
            return 1
        print(f"toolchain: installing {' '.join(report.packages)}", file=sys.stderr)
        for cmd in commands:
            proc = subprocess.run(cmd, check=False)
            if proc.returncode != 0:
                print(f"toolchain: `{' '.join(cmd)}` failed with status {proc.returncode}; "
                      f"{manual_hint(report.packages)}", file=sys.stderr)
                return 1
        report = probe(prefix, own_prefix)

    for problem in report.problems:
        print(f"toolchain: {problem}", file=sys.stderr)
    if report.problems:
        if report.packages:
            print(f"toolchain: {manual_hint(report.packages)}", file=sys.stderr)
        return 1
    if not args.quiet:
        for line in report.found.values():
            print(f"toolchain: ok  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
