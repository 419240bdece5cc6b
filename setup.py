"""Build hook only (the project is declared in pyproject.toml): ship the firmware SDK and the
patched-Unicorn build in the wheel.

Everything under firmware/ except apps/ (the repository's own apps) is copied to
emu/sdk_files/ in the build, so a new SDK directory (drivers, runtime, ...) ships without a
change here; `npuemu sdk --path` points at it.  toolchain/unicorn/ (the build script and its
patches) is copied to emu/unicorn_build/, so `npuemu build-unicorn` works from an installed wheel.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SDK_SOURCE = Path(__file__).resolve().parent / "firmware"
UNICORN_SOURCE = Path(__file__).resolve().parent / "toolchain" / "unicorn"
SKIPPED = shutil.ignore_patterns("apps", "*.o", "*.d", "*.elf", "*.map")


class BuildPyWithSdk(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode:  # editable installs use firmware/ in the source tree
            target = Path(self.build_lib) / "emu" / "sdk_files"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(SDK_SOURCE, target, ignore=SKIPPED)
            target = Path(self.build_lib) / "emu" / "unicorn_build"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(UNICORN_SOURCE, target)


setup(cmdclass={"build_py": BuildPyWithSdk})
