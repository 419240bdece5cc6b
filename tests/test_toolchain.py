"""toolchain/ensure_toolchain.py finds the installed tools; the firmware build is out of tree and
picks up new app directories and firmware/drivers/*.c with no Makefile change."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

ROOT = Path(__file__).resolve().parents[1]
ARCHES = ("rv32", "rv64")                 # as in tests/conftest.py (not imported: several conftest
FIRMWARE_DIR = ROOT / "build" / "firmware"  # modules share that name under pytest)
SCRIPT = ROOT / "toolchain" / "ensure_toolchain.py"
FIRMWARE_MAKEFILE = ROOT / "firmware" / "Makefile"


def run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=120, env=env, check=False)


def test_finds_the_installed_toolchain_and_reports_versions():
    proc = run_script("--check")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    gcc = re.search(r"^toolchain: ok  riscv64-unknown-elf-gcc (\d+)\.(\d+)\.(\d+) \(", out, re.M)
    assert gcc, out
    assert int(gcc.group(1)) >= 10
    assert "picolibc (--specs=picolibc.specs links for rv32 and rv64)" in out
    for tool in ("qemu-system-riscv32", "qemu-system-riscv64"):
        assert re.search(rf"^toolchain: ok  {tool} \d+\.\d+", out, re.M), out
    assert re.search(r"^toolchain: ok  (gdb-multiarch|\S+gdb) \d+\.\d+", out, re.M), out
    assert re.search(r"^toolchain: ok  tmux ", out, re.M), out


def test_quiet_prints_nothing_when_everything_is_there():
    proc = run_script("--check", "--quiet")
    assert proc.returncode == 0
    assert proc.stdout == "" and proc.stderr == ""


def test_bad_riscv_prefix_is_one_clear_line_and_no_install(tmp_path):
    env = {**os.environ, "RISCV_PREFIX": str(tmp_path / "nowhere-")}
    proc = run_script(env=env)  # not --check: a user prefix is never "fixed" with apt
    assert proc.returncode == 1
    problems = proc.stderr.strip().splitlines()
    assert problems == [f"toolchain: {tmp_path}/nowhere-gcc not found (RISCV_PREFIX='{tmp_path}/nowhere-'): "
                        "fix RISCV_PREFIX or PATH"]


def test_firmware_elfs_are_debuggable_for_both_arches():
    for arch in ARCHES:
        path = FIRMWARE_DIR / arch / "hello.elf"
        if not path.exists():
            pytest.fail(f"{path} is missing: run `make firmware` first", pytrace=False)
        with path.open("rb") as f:
            elf = ELFFile(f)
            assert elf.elfclass == (32 if arch == "rv32" else 64)
            assert elf["e_machine"] == "EM_RISCV"
            assert elf["e_entry"] == 0x8000_0000
            assert elf.has_dwarf_info()
            files = {Path(cu.get_top_DIE().get_full_path()).name for cu in elf.get_dwarf_info().iter_CUs()}
            assert {"main.c", "mathx.c", "crt0.S"} <= files
            symbols = elf.get_section_by_name(".symtab")
            assert symbols.get_symbol_by_name("global_var") and symbols.get_symbol_by_name("counter")


def _tree_snapshot() -> set[str]:
    """Files under the source directories the firmware build reads (git-ignored ones included)."""
    found = set()
    for top in ("firmware", "toolchain"):
        for dirpath, _, names in os.walk(ROOT / top):
            found.update(str(Path(dirpath, n).relative_to(ROOT)) for n in names)
    return found


def _git_status() -> str:
    proc = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", "firmware",
                           "toolchain", "Makefile"], cwd=ROOT, capture_output=True, text=True, check=True)
    return proc.stdout


def make_firmware(build_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", "-j4", "-f", str(FIRMWARE_MAKEFILE),
                           f"BUILD_DIR={build_dir}", *extra], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)


def test_firmware_build_is_out_of_tree(tmp_path):
    before_files, before_status = _tree_snapshot(), _git_status()
    proc = make_firmware(tmp_path / "fw")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "fw" / "rv32" / "hello.elf").is_file()
    assert (tmp_path / "fw" / "rv64" / "semihost.elf").is_file()
    assert _tree_snapshot() == before_files
    assert _git_status() == before_status
    # The default build directory is ignored by git.
    ignored = subprocess.run(["git", "check-ignore", "-q", "build/firmware/rv32/hello.elf"], cwd=ROOT, check=False)
    assert ignored.returncode == 0


def test_default_firmware_build_leaves_nothing_for_git():
    """`make firmware`'s build step into build/firmware: no build product shows up in git status."""
    proc = subprocess.run(["make", "-s", "--no-print-directory", "-f", str(FIRMWARE_MAKEFILE),
                           f"BUILD_DIR={FIRMWARE_DIR.relative_to(ROOT)}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    products = [line for line in status.splitlines() if re.search(r"\.(o|d|elf|map|bin)$", line)]
    assert products == []


def test_new_app_dirs_and_drivers_build_without_makefile_changes(tmp_path):
    """A copy of the SDK with a drivers/ file and an extra app: both arches link the driver in."""
    sdk = tmp_path / "sdk"
    shutil.copytree(ROOT / "firmware", sdk, ignore=shutil.ignore_patterns("apps", "drivers"))
    (sdk / "drivers").mkdir()
    (sdk / "drivers" / "extra_driver.c").write_text(
        '#include "sdk.h"\nint extra_driver_value(void);\nint extra_driver_value(void) { return 7; }\n')
    app = sdk / "apps" / "newapp"
    app.mkdir(parents=True)
    (app / "main.c").write_text(
        '#include "sdk.h"\nint extra_driver_value(void);\nvoid helper(void);\n'
        'int main(void) { helper(); printf("driver says %d\\n", extra_driver_value()); return 0; }\n')
    (app / "helper.S").write_text(".text\n.globl helper\nhelper:\n  ret\n")
    proc = subprocess.run(["make", "--no-print-directory", "-f", str(sdk / "Makefile"),
                           f"BUILD_DIR={tmp_path / 'out'}"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for arch in ARCHES:
        elf_path = tmp_path / "out" / arch / "newapp.elf"
        with elf_path.open("rb") as f:
            symbols = ELFFile(f).get_section_by_name(".symtab")
            assert symbols.get_symbol_by_name("extra_driver_value")
            assert symbols.get_symbol_by_name("helper")
    if shutil.which("qemu-system-riscv32"):
        run = subprocess.run(["qemu-system-riscv32", "-M", "virt", "-bios", "none", "-kernel",
                              str(tmp_path / "out" / "rv32" / "newapp.elf"), "-display", "none", "-serial",
                              "stdio", "-monitor", "none"], stdin=subprocess.DEVNULL, capture_output=True,
                             timeout=30, check=False)
        assert run.stdout == b"driver says 7\n" and run.returncode == 0


def test_compile_error_fails_the_build(tmp_path):
    apps = tmp_path / "apps"
    (apps / "broken").mkdir(parents=True)
    (apps / "broken" / "main.c").write_text("int main(void) { int unused; return 0; }\n")
    proc = make_firmware(tmp_path / "out", f"APPS_DIR={apps}", "ARCHES=rv32")
    assert proc.returncode != 0
    assert "unused" in proc.stderr  # -Wall -Wextra -Werror


def test_missing_tool_is_reported_with_the_install_command(tmp_path):
    """A PATH with everything but tmux: --check names it and prints the apt-get command."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wanted = ["cc", "gcc", "gdb-multiarch", "qemu-system-riscv32", "qemu-system-riscv64", "apt-get", "dtc", "genhtml",
              "cmake", "make", "patch"]
    wanted += [f"riscv64-unknown-elf-{t}" for t in ("gcc", "objcopy", "objdump", "as", "ld")]
    for name in wanted:
        real = shutil.which(name)
        if real is None:
            pytest.skip(f"{name} is not installed here")
        (bin_dir / name).symlink_to(real)
    env = {**os.environ, "PATH": str(bin_dir)}
    env.pop("RISCV_PREFIX", None)
    proc = run_script("--check", env=env)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "toolchain: tmux not found",
        "toolchain: run: sudo apt-get update && sudo apt-get install -y --no-install-recommends tmux",
    ]


def _load_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ensure_toolchain", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _missing_tmux_report(module):
    report = module.Report()
    report.missing("tmux not found", "tmux")
    return report


def test_installs_missing_packages_with_apt_when_root(monkeypatch, capsys):
    tc = _load_script()
    reports = iter([_missing_tmux_report(tc), tc.Report(found={"tmux": "tmux 3.3 (/usr/bin/tmux)"})])
    monkeypatch.setattr(tc, "probe", lambda prefix, own: next(reports))
    monkeypatch.setattr(tc.os, "geteuid", lambda: 0)
    monkeypatch.setattr(tc.shutil, "which", lambda name: f"/usr/bin/{name}")
    ran = []
    monkeypatch.setattr(tc.subprocess, "run", lambda cmd, check=False: ran.append(cmd) or
                        subprocess.CompletedProcess(cmd, 0))
    assert tc.main([]) == 0
    assert ran == [["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update"],
                   ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y",
                    "--no-install-recommends", "tmux"]]
    assert "toolchain: ok  tmux 3.3" in capsys.readouterr().out


def test_says_what_to_run_when_it_cannot_install(monkeypatch, capsys):
    tc = _load_script()
    monkeypatch.setattr(tc, "probe", lambda prefix, own: _missing_tmux_report(tc))
    monkeypatch.setattr(tc.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(tc.shutil, "which", lambda name: None if name == "sudo" else f"/usr/bin/{name}")
    monkeypatch.setattr(tc.subprocess, "run", lambda *a, **k: pytest.fail("must not run anything"))
    assert tc.main([]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "toolchain: tmux not found",
        "toolchain: cannot install automatically; run: sudo apt-get update && sudo apt-get install -y "
        "--no-install-recommends tmux",
    ]


def test_nothing_is_installed_when_nothing_is_missing(monkeypatch):
    tc = _load_script()
    monkeypatch.setattr(tc, "probe", lambda prefix, own: tc.Report(found={"gcc": "x"}))
    monkeypatch.setattr(tc.subprocess, "run", lambda *a, **k: pytest.fail("no apt-get when all is present"))
    assert tc.main(["--quiet"]) == 0
