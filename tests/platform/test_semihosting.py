"""Semihosting: picolibc programs run unmodified; host files only below --semihost-root."""

from __future__ import annotations

import pytest
from npuemu_cli import run_npuemu


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_stdout_stderr_argv_and_exit_code(firmware, arch):
    result = run_npuemu("run", firmware("semihost", arch), "--", "one", "exit=7", merge=False)
    out, err = result.output.decode(), result.stderr.decode()
    assert result.status == 7
    assert f"semihost: hello from picolibc (rv{arch[2:]})" in out
    assert 'argv[1] = "semihost.elf"' in out and 'argv[3] = "exit=7"' in out  # picolibc: argv[0] is its own
    # picolibc's stdio writes stdout *and* stderr with SYS_WRITEC (no stream): both are console output.
    assert "semihost: this line goes to stderr" in out and err == ""


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_files_only_below_the_root(firmware, tmp_path, arch):
    root = tmp_path / "root"
    root.mkdir()
    (root / "input.txt").write_text("hello from the host\n")
    (root / "link").symlink_to(tmp_path)  # a symlink out of the root is no way out
    result = run_npuemu("run", "--semihost-root", root, firmware("semihost_files", arch))
    out = result.output.decode()
    assert result.status == 0
    assert "input.txt says: hello from the host" in out
    assert (root / "output.txt").read_text() == "written by the firmware\n"
    assert "open ../escape.txt (w): denied" in out and "open /etc/hostname (r): denied" in out
    assert not (tmp_path / "escape.txt").exists()


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_write_to_handle_2_goes_to_stderr(firmware, arch):
    result = run_npuemu("run", firmware("semihost_files", arch), merge=False)
    assert result.stderr.decode() == "semihost_files: to stderr through write(2)\n"
    assert "through write(2)" not in result.output.decode()


def test_no_host_files_without_a_root(firmware, tmp_path):
    result = run_npuemu("run", firmware("semihost_files", "rv32"))
    out = result.output.decode()
    assert "input.txt: cannot open" in out and "output.txt: cannot open" in out


def test_symlink_escape_is_refused(tmp_path):
    """The path check resolves symlinks: a link inside the root that points out is refused."""
    from emu.clock import VirtualClock
    from emu.devices.semihosting import Semihosting
    from emu.memory import Ram

    root = tmp_path / "root"
    root.mkdir()
    (root / "out").symlink_to(tmp_path)
    host = Semihosting(Ram(1 << 16), 32, VirtualClock(), argv=[], root=root, stdout=print, stderr=print,
                       read_stdin=lambda n: b"", on_exit=lambda code: None, heap=(0, 0, 0, 0))
    assert host._host_path(b"out/secret") is None
    assert host._host_path(b"inside.txt") == (root / "inside.txt").resolve()
