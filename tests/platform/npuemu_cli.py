"""Running `npuemu` as a user does: a subprocess, merged console, exit status."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class CliResult:
    output: bytes
    stderr: bytes
    status: int


def run_npuemu(*args: str | Path, stdin: bytes = b"", timeout: float = 60, merge: bool = True) -> CliResult:
    """``npuemu ARGS`` with ``stdin``; stdout and stderr merged (as QEMU's console) unless ``merge=False``."""
    proc = subprocess.run(
        [sys.executable, "-m", "emu.cli", *map(str, args)], input=stdin, timeout=timeout,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merge else subprocess.PIPE, check=False)
    return CliResult(proc.stdout, proc.stderr or b"", proc.returncode)
