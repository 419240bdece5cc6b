"""`npuemu run` as a user drives it: options, exit statuses, runaway firmware."""

from __future__ import annotations

import re

import pytest
from npuemu_cli import run_npuemu

from emu.cli import EXIT_FATAL, EXIT_INSN_LIMIT, EXIT_TIMEOUT


def test_help_documents_every_run_option():
    out = run_npuemu("run", "--help").output.decode()
    for option in ("--max-insns", "--timeout", "--stats", "--deterministic", "--semihost-root",
                   "--npu-trace", "--gdb", "--ram", "exit status"):
        assert option in out


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_hello_exits_zero_with_its_console(firmware, arch):
    result = run_npuemu("run", firmware("hello", arch))
    assert result.status == 0
    assert f"Hello from npuemu firmware ({arch})" in result.output.decode()


def test_max_insns_stops_a_spinning_firmware(firmware):
    result = run_npuemu("run", "--max-insns", "100000", firmware("spin", "rv32"))
    assert result.status == EXIT_INSN_LIMIT
    assert re.search(r"npuemu: stopped after 100000 instructions \(--max-insns\) at 0x[0-9a-f]+ <",
                     result.output.decode())


def test_timeout_stops_a_spinning_firmware(firmware):
    result = run_npuemu("run", "--timeout", "0.3", firmware("spin", "rv64"))
    assert result.status == EXIT_TIMEOUT
    assert "stopped by --timeout" in result.output.decode()


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_trap_storm_is_reported_not_a_hang(firmware, arch):
    result = run_npuemu("run", "--timeout", "20", firmware("runaway", arch))
    text = result.output.decode()
    assert result.status == EXIT_FATAL
    assert "trap storm" in text
    assert "last trap: exception 1 (instruction access fault)" in text
    assert re.search(r"\bmcause=0x1\b", text) and " sp=" in text and "Traceback" not in text


def test_stats_reports_instructions_time_and_speed(firmware):
    result = run_npuemu("run", "--stats", firmware("hello", "rv32"), merge=False)
    err = result.stderr.decode()
    assert result.status == 0
    insns = int(re.search(r"instructions\s+(\d+)", err).group(1))
    assert insns > 100
    for field in ("virtual time", "host time", "MIPS"):
        assert field in err


@pytest.mark.parametrize("bad", [["--max-insns", "-5"], ["--timeout", "soon"], ["--ram", "lots"], ["--bogus"]])
def test_bad_options_are_one_line(firmware, bad):
    result = run_npuemu("run", *bad, firmware("hello", "rv32"))
    lines = result.output.decode().strip().splitlines()
    assert result.status == 2 and len(lines) == 1 and lines[0].startswith("npuemu: ")


def test_semihost_root_must_exist(firmware, tmp_path):
    result = run_npuemu("run", "--semihost-root", tmp_path / "nope", firmware("hello", "rv32"))
    assert result.status == 2 and "not a directory" in result.output.decode()


def test_ctrl_c_stops_a_run_cleanly(firmware):
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "emu.cli", "run", str(firmware("spin", "rv32"))],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert out.decode().strip().splitlines()[-1] == "npuemu: interrupted"
    assert b"Traceback" not in out


def test_bad_npu_config_is_one_line(firmware, tmp_path):
    bad = tmp_path / "npu.toml"
    bad.write_text("this is = = not toml")
    result = run_npuemu("run", "--npu-config", bad, firmware("hello", "rv32"))
    lines = result.output.decode().strip().splitlines()
    assert result.status == 2 and len(lines) == 1 and lines[0].startswith("npuemu: ")


@pytest.mark.parametrize(("flags", "mode"), [((), "deterministic"), (("--realtime",), "realtime")])
def test_debug_defaults_to_deterministic_time(firmware, tmp_path, flags, mode):
    script = tmp_path / "empty.gdb"
    script.write_text("\n")
    result = run_npuemu("debug", *flags, "-ex", "info time", "--batch", script, firmware("hello", "rv32"))
    assert result.status == 0
    assert re.search(rf"virtual time .*\[{mode}", result.output.decode())


def test_version_names_the_installed_package():
    from importlib.metadata import version

    result = run_npuemu("--version")
    assert result.status == 0 and result.output.decode().strip() == f"npuemu {version('npuemu')}"


@pytest.mark.parametrize(("args", "hint"), [
    (("run", "--timout", "5", "x.elf"), "unrecognized arguments: --timout; did you mean --timeout? "
                                        "(see npuemu run --help)"),
    (("rn", "x.elf"), "invalid choice: 'rn' (choose from 'run', 'debug', "),
    (("rn", "x.elf"), "; did you mean run? (see npuemu --help)"),
    (("debug", "--bach", "f", "x.elf"), "did you mean --batch?"),
    (("run", "-s", "-S", "x.elf"), "QEMU's -s -S is --gdb PORT here: npuemu run --gdb 1234 ELF"),
    (("run", "-bios", "none", "-kernel", "x.elf"), "no -bios: npuemu loads the ELF given"),
    (("run", "-serial", "stdio", "x.elf"), "--serial pty|tcp:HOST:PORT|stdio"),
])
def test_misspelt_and_qemu_options_get_a_hint(args, hint):
    result = run_npuemu(*args)
    lines = result.output.decode().splitlines()
    assert result.status == 2 and len(lines) == 1 and lines[0].startswith("npuemu: ")
    assert hint in lines[0]


def test_output_paths_are_checked_before_the_firmware_runs(firmware, tmp_path):
    spin = firmware("spin", "rv32")  # never exits: a late check would hang here
    result = run_npuemu("run", "--npu-trace", "/missing/dir/t.json", spin, timeout=20)
    assert result.status == 2
    assert result.output.decode() == "npuemu: --npu-trace /missing/dir/t.json: directory /missing/dir does not exist\n"
    result = run_npuemu("run", "--npu-trace", str(tmp_path), spin, timeout=20)
    assert result.status == 2 and "is a directory" in result.output.decode()


def _serial_session(firmware, spec: str):
    """`npuemu run --serial SPEC uart_irq.elf`, and the line where it says how to connect."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "emu.cli", "run", "--serial", spec, firmware("uart_irq", "rv64")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc, proc.stderr.readline().decode()


def _read_until(read, marker: bytes, limit: float = 30.0) -> bytes:
    import time

    data, deadline = b"", time.monotonic() + limit
    while marker not in data and time.monotonic() < deadline:
        data += read()
    return data


def test_serial_on_tcp_binds_loopback_and_carries_the_console(firmware):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc, line = _serial_session(firmware, f"tcp::{port}")
    try:
        assert line == f"npuemu: UART waiting for a connection on tcp:127.0.0.1:{port}\n"
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            assert b"'q' to quit" in _read_until(lambda: conn.recv(4096), b"'q' to quit")
            conn.sendall(b"ping")
            assert b"ping" in _read_until(lambda: conn.recv(4096), b"ping")
            conn.sendall(b"q")
            assert proc.wait(timeout=60) == 0
        assert proc.stdout.read() == b""          # nothing of the console on stdout
    finally:
        proc.kill()
        proc.wait()


def test_serial_on_a_pty(firmware):
    import os
    import tty

    proc, line = _serial_session(firmware, "pty")
    try:
        assert line.startswith("npuemu: UART on /dev/pts/")
        fd = os.open(line.split(" on ")[1].strip(), os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd)
            assert b"'q' to quit" in _read_until(lambda: os.read(fd, 4096), b"'q' to quit")
            os.write(fd, b"q")
            assert proc.wait(timeout=60) == 0
        finally:
            os.close(fd)
    finally:
        proc.kill()
        proc.wait()


def test_trace_mmio_names_device_registers(firmware, tmp_path):
    log = tmp_path / "mmio.log"
    result = run_npuemu("run", "--deterministic", "--trace", "mmio", "--trace-file", log, firmware("npu_drvtest", "rv32"))
    assert result.status == 0
    text = log.read_text()
    assert re.search(r"W uart0\.THR +\[0x10000000\] <- 0x50 \(1 B\)", text)        # 'P' of the first PASS
    assert re.search(r"R npu\.ID +\[0x18000000\] -> 0x4e505531 \(4 B\)", text)
    assert re.search(r"W npu\.RING_TAIL +\[0x18", text) and "R plic.claim[0]" in text
    assert "W test-finisher.FINISHER" in text


def test_trace_insn_is_bounded(firmware, tmp_path):
    log = tmp_path / "insn.log"
    result = run_npuemu("run", "--trace", "insn", "--trace-limit", "3", "--trace-file", log, firmware("hello", "rv64"))
    assert result.status == 0 and b"Hello from npuemu" in result.output
    assert log.read_text().splitlines() == [
        "0x80000000 <_start>              00003197  auipc gp, 3",
        "0x80000004 <_start+4>            80018193  addi gp, gp, -0x800",
        "0x80000008 <_start+8>            30401073  csrw mie, zero",
        "(trace stopped after 3 lines: --trace-limit)"]
    bad = run_npuemu("run", "--trace", "bogus", firmware("hello", "rv64"))
    assert bad.status == 2 and bad.output == b"npuemu: --trace bogus: expected mmio or insn\n"


def test_report_breaks_down_an_npu_trace(firmware, tmp_path):
    trace = tmp_path / "t.json"
    assert run_npuemu("run", "--deterministic", "--npu-trace", trace, firmware("npu_drvtest", "rv32")).status == 0
    result = run_npuemu("report", trace, "--charts", tmp_path)
    out = result.output.decode()
    assert result.status == 0
    assert re.search(r"NPU trace: 184 commands over [\d.]+ us \(busy [\d.]+ us, [\d.]+% utilization\)", out)
    assert re.search(r"^MVM +2 +[\d.]+ +9\d\.\d% +[\d.]+ +\d+\.\d% +32768 +0$", out, re.MULTILINE)
    for chart in ("npu_utilization.png", "npu_energy_by_op.png"):
        assert (tmp_path / chart).read_bytes()[:4] == b"\x89PNG"
    bad = run_npuemu("report", firmware("hello", "rv32"))
    assert bad.status == 2 and bad.output.decode().startswith("npuemu: ") and b"not JSON" in bad.output


def test_setup_announces_the_long_pip_step_before_it_starts():
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    plan = subprocess.run(["make", "-n", "-W", "pyproject.toml", "venv"], cwd=root, capture_output=True, text=True,
                          timeout=120, check=True).stdout.splitlines()
    pip = next(i for i, line in enumerate(plan) if "pip install" in line)
    assert plan[pip - 1].startswith('echo "npuemu: installing npuemu and its test tools into .venv with pip')


def test_sdk_answers_from_the_sdk_makefile():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    assert run_npuemu("sdk", "--path").output.decode().strip() == str(root / "firmware")
    cflags = run_npuemu("sdk", "--cflags", "--arch", "rv64").output.decode().split()
    assert cflags[:3] == ["-march=rv64imac", "-mabi=lp64", "-misa-spec=2.2"]
    assert "-mcmodel=medany" in cflags and f"-I{root / 'firmware' / 'include'}" in cflags
    sources = run_npuemu("sdk", "--sources").output.decode().split()
    assert str(root / "firmware" / "crt0.S") in sources and str(root / "firmware" / "drivers" / "npu.c") in sources
    assert Path(run_npuemu("sdk", "--cmake").output.decode().strip()).is_file()
    missing = run_npuemu("sdk")
    assert missing.status == 2 and missing.output.decode().startswith("npuemu: one of the arguments --path")
