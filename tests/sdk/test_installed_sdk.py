"""The SDK a firmware team gets from `pip install npuemu`: a built wheel in a fresh venv, used from a
copy of examples/firmware-project outside this repository (Makefile include, CMake toolchain file,
the README's by-hand compile line, the pytest plugin under xdist).

About 30 s: the wheel builds in ~6 s, the venv installs from pip's cache in ~11 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "firmware-project"


def _run(command: list[str] | str, cwd: Path, env: dict[str, str], timeout: float = 300,
         stdin: str = "") -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, env=env, input=stdin, capture_output=True, text=True,
                            timeout=timeout, check=False, shell=isinstance(command, str))
    if result.returncode not in (0,) and not stdin:
        pytest.fail(f"{command} failed ({result.returncode}):\n{result.stdout}{result.stderr}", pytrace=False)
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh venv with the wheel built from this tree, pytest and pytest-xdist; its environment."""
    where = tmp_path_factory.mktemp("installed")
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(where / "dist"), str(ROOT)],
         where, env)
    wheel = next((where / "dist").glob("npuemu-*.whl"))
    venv = where / "venv"
    _run([shutil.which("python3") or sys.executable, "-m", "venv", str(venv)], where, env)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel), "pytest", "pytest-xdist"],
         where, env)
    # npuemu runs on its patched Unicorn (toolchain/unicorn/README.md): the once-per-machine build
    # step a user runs after pip, shipped in the wheel (cached by `make setup`: here it only installs).
    _run([str(venv / "bin" / "npuemu"), "build-unicorn"], where, env)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return venv, env


def test_example_project_builds_and_passes_outside_the_repository(installed, tmp_path):
    venv, env = installed
    project = tmp_path / "firmware-project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("build", ".pytest_cache", "__pycache__"))
    sdk = _run(["npuemu", "sdk", "--path"], project, env).stdout.strip()
    assert sdk.startswith(str(venv)) and Path(sdk, "include", "npu.h").is_file()

    result = _run(["make", "-s", "test", "PYTEST=pytest -p no:cacheprovider"], project, env)
    assert "9 passed" in result.stdout, result.stdout
    assert f"rootdir: {project}" in result.stdout

    _run(["make", "-s", "cmake"], project, env)
    booted = _run(["npuemu", "run", "build/cmake-rv32/thermostat.elf"], project, env, timeout=60, stdin="quit\n")
    assert booted.returncode == 0 and "thermostat ready, target 20" in booted.stdout


def test_readme_by_hand_line_links_an_npu_app(installed, tmp_path):
    venv, env = installed
    shutil.copy(ROOT / "firmware" / "apps" / "npu_drvtest" / "main.c", tmp_path / "main.c")
    _run("riscv64-unknown-elf-gcc $(npuemu sdk --cflags --arch rv64) -g -Og -Wall -Wextra "
         "$(npuemu sdk --ldflags) main.c $(npuemu sdk --sources --arch rv64) $(npuemu sdk --libs) -o app.elf",
         tmp_path, env)
    ran = _run(["npuemu", "run", "--deterministic", "app.elf"], tmp_path, env, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
