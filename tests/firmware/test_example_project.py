"""examples/firmware-project: a separate firmware repo that only has the installed plugin, under xdist."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "firmware-project"


def test_example_project_tests_pass_on_two_workers():
    npuemu = Path(sys.executable).with_name("npuemu")  # the SDK of this environment's npuemu
    build = subprocess.run(["make", "-s", "-C", str(EXAMPLE), f"NPUEMU={npuemu}"], capture_output=True, text=True,
                           timeout=300, check=False)
    if build.returncode != 0:
        pytest.fail(f"building {EXAMPLE} failed:\n{build.stdout}{build.stderr}", pytrace=False)
    run = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider",
                          "examples/firmware-project/tests"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "9 passed" in run.stdout
    assert f"rootdir: {EXAMPLE}" in run.stdout  # its own pytest.ini, nothing from this repo's tests/


def test_plugin_import_does_not_load_the_emulator():
    """Every pytest run in an environment with npuemu installed imports the plugin: it must be cheap."""
    probe = "import sys, emu.pytest_plugin; print(sorted(m for m in ('unicorn', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
