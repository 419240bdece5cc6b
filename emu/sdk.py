"""Where the firmware SDK is, and the compiler flags to build against it (``npuemu sdk``).

A wheel carries the SDK as ``emu/sdk_files`` (setup.py copies firmware/ there); a source
checkout or an editable install uses ``firmware/`` next to ``emu/``.  The flags are read from
the SDK's own Makefile, the one place that defines them, so ``npuemu sdk --cflags``, the
Makefile include and the CMake toolchain file cannot drift from ``make firmware``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from emu.errors import ConfigError

ARCHES = ("rv32", "rv64")
BUILD_SUPPORT = Path(__file__).resolve().parent / "sdk_build"
MAKEFILE_INCLUDE = BUILD_SUPPORT / "npuemu.mk"
CMAKE_TOOLCHAIN = BUILD_SUPPORT / "npuemu-toolchain.cmake"


def sdk_root() -> Path:
    """The SDK directory: the installed copy, else the source tree's firmware/."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "sdk_files", here.parent / "firmware"):
        if (candidate / "Makefile").is_file() and (candidate / "include").is_dir():
            return candidate
    raise ConfigError(f"no firmware SDK found next to {here} (a broken installation?)")


@dataclass(frozen=True)
class SdkFlags:
    """What a build system needs for one architecture (paths absolute)."""

    cflags: list[str]
    ldflags: list[str]
    libs: list[str]
    sources: list[Path]


def _makefile_vars(makefile: Path) -> dict[str, str]:
    """The simple ``NAME := value`` assignments of a Makefile (continuation lines joined)."""
    text = makefile.read_text().replace("\\\n", " ")
    return {m[1]: " ".join(m[2].split()) for m in re.finditer(r"^([A-Za-z_0-9]+)\s*:=\s*(.*)$", text, re.MULTILINE)}


def flags(arch: str = "rv32", root: Path | None = None) -> SdkFlags:
    """Compiler, linker flags, libraries and SDK sources for ``arch`` (rv32 or rv64)."""
    if arch not in ARCHES:
        raise ConfigError(f"unknown architecture {arch!r} (rv32 or rv64)")
    root = sdk_root() if root is None else root
    found = _makefile_vars(root / "Makefile")

    def var(name: str) -> list[str]:
        if name not in found:
            raise ConfigError(f"{root / 'Makefile'}: no {name} := ... line")
        return found[name].replace("$(FW_DIR)", str(root)).split()

    # -mcmodel is part of the ABI of the SDK objects; the rest of BASE_FLAGS (-g -Og -Werror...) is taste.
    model = [flag for flag in var("BASE_FLAGS") if flag.startswith("-mcmodel=")]
    sources = []
    for pattern in re.findall(r"\$\(FW_DIR\)/([^\s)]+)", found.get("SDK_SRCS", "")):
        sources += sorted(root.glob(pattern))
    return SdkFlags(cflags=var(f"ARCH_FLAGS_{arch}") + model + var("SDK_FLAGS"), ldflags=var("SDK_LDFLAGS"),
                    libs=var("SDK_LDLIBS"), sources=sources)
