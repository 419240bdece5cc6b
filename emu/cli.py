"""`npuemu`: boot firmware (`run`), debug it (`debug`), or serve gdb (`run --gdb`).

Every user error ends as one line ``npuemu: ...`` on stderr and a non-zero
status; the firmware's own exit status is passed through.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path

from emu.errors import ConfigError, EmuError
from emu.memory import parse_size

EXIT_USAGE = 2
EXIT_TIMEOUT = 124
EXIT_INSN_LIMIT = 125
EXIT_FATAL = 126
EXIT_INTERRUPTED = 130

EPILOG = """exit status:
  the firmware's own (test finisher, semihosting or HTIF exit), or
  2 bad usage or unloadable ELF, 124 --timeout expired, 125 --max-insns reached,
  126 the firmware cannot go on (trap storm, sleeps forever, internal error), 130 Ctrl-C.
"""


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0 or value > 1e9:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    argv: list[str] = []  # the command line being parsed (set by main), for hints

    def error(self, message: str) -> None:  # one line, no usage dump
        help_for = " ".join(self.prog.split()[:2])
        if help_for == "npuemu" and _Parser.argv and _Parser.argv[0] in _subcommands(self):
            help_for = f"npuemu {_Parser.argv[0]}"  # an unknown option is reported by the top parser
        hint = _usage_hint(message, _Parser.argv)
        sys.stderr.write(f"npuemu: {message}{hint} (see {help_for} --help)\n")
        raise SystemExit(EXIT_USAGE)


# QEMU options a user types from habit, and what npuemu does instead.
QEMU_HINTS = {
    "-s": "QEMU's -s -S is --gdb PORT here: npuemu run --gdb 1234 ELF (stops at the entry point)",
    "-S": "QEMU's -s -S is --gdb PORT here: npuemu run --gdb 1234 ELF (stops at the entry point)",
    "-kernel": "the firmware ELF is the positional argument: npuemu run ELF (QEMU's -bios none -kernel ELF)",
    "-bios": "no -bios: npuemu loads the ELF given, like QEMU's -bios none -kernel ELF",
    "-serial": "the UART is on stdio by default; --serial pty|tcp:HOST:PORT|stdio moves it",
    "-m": "--ram SIZE sets the DRAM size (QEMU's -m)",
    "-nographic": "not needed: npuemu has no graphics, the console is on stdio",
    "-M": "not needed: npuemu is always QEMU's virt machine",
    "-machine": "not needed: npuemu is always QEMU's virt machine",
    "-append": "arguments for the firmware follow the ELF after --: npuemu run ELF -- a b",
    "-gdb": "--gdb [HOST:]PORT serves gdb (QEMU's -gdb tcp::PORT)",
    "-d": "--trace insn|mmio traces instructions or device registers (QEMU's -d in_asm)",
}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return {name: sub for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for name, sub in action.choices.items()}


def _all_options(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string of the parser and its subcommands (for "did you mean")."""
    names = list(parser._option_string_actions)
    for sub in _subcommands(parser).values():
        names += _all_options(sub)
    return names


def _usage_hint(message: str, argv: list[str]) -> str:
    """"; did you mean --timeout?" for a misspelt option or command, a QEMU translation for QEMU's."""
    import difflib

    qemu = [QEMU_HINTS[word] for word in dict.fromkeys(argv) if word in QEMU_HINTS]
    if qemu:
        return "; " + "; ".join(dict.fromkeys(qemu))
    unknown = re.search(r"unrecognized arguments: (.*)", message)
    if unknown:
        parser = build_parser()
        options = sorted(set(_all_options(parser)))
        for word in unknown[1].split():
            close = difflib.get_close_matches(word.split("=")[0], options, n=1, cutoff=0.6)
            if close and close[0] == word.split("=")[0]:  # right name, wrong command
                owners = [name for name, sub in _subcommands(parser).items() if close[0] in _all_options(sub)]
                return f"; {close[0]} is an option of npuemu {', '.join(owners)}"
            if close:
                return f"; did you mean {close[0]}?"
    choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if choice:
        close = difflib.get_close_matches(choice[1], re.findall(r"[\w-]+", choice[2]), n=1)
        if close:
            return f"; did you mean {close[0]}?"
    return ""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("npuemu")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


class _VersionAction(argparse.Action):
    """``--version``, looked up only when asked: importlib.metadata scans every installed
    distribution (~90 ms), which every other command would pay at start-up."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"npuemu {_version()}")
        parser.exit()


def check_output_path(option: str, path: str) -> None:
    """Fail before the firmware runs when an output file cannot be created (not after minutes of run)."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ConfigError(f"{option} {path}: is a directory")
    if not os.path.isdir(directory):
        raise ConfigError(f"{option} {path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise ConfigError(f"{option} {path}: directory {directory} is not writable")


def _machine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("firmware", nargs="?", help="RISC-V ELF (rv32 or rv64, bare metal); or use --bios/--kernel")
    p.add_argument("args", nargs="*", help="after --: arguments for the firmware (semihosting argv)")
    p.add_argument("--bios", metavar="FILE|none", help="firmware at 0x80000000 (ELF or raw), started through "
                   "QEMU's reset stub (a0 = hartid, a1 = device tree, a2 = fw_dynamic_info), as QEMU -bios")
    p.add_argument("--kernel", metavar="FILE", help="next stage (ELF or raw), as QEMU -kernel: raw images at "
                   "the first 2 MiB (rv64) / 4 MiB (rv32) boundary after the firmware")
    p.add_argument("--initrd", metavar="FILE", help="initial RAM disk, as QEMU -initrd (listed in /chosen)")
    p.add_argument("--append", metavar="CMDLINE", help="kernel command line: /chosen/bootargs")
    p.add_argument("--xlen", type=int, choices=(32, 64), help="rv32 or rv64 hart when --bios/--kernel are raw "
                   "images (default 64, as qemu-system-riscv64); ELFs carry their own")
    p.add_argument("--ram", type=_size, default=128 << 20, metavar="SIZE",
                   help="DRAM size at 0x80000000 (default 128M)")
    p.add_argument("--semihost-root", metavar="DIR",
                   help="let semihosting OPEN host files below DIR (default: no host files)")
    p.add_argument("--npu-config", metavar="TOML", help="NPU geometry/timing/energy: a TOML file or a preset "
                   "(chih2021_22nm, fujiwara2022_5nm, transposable_28nm; default: built in)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="npuemu", description="RISC-V + D-IMC NPU full-system emulator "
                     "(QEMU virt memory map). `npuemu run --help` and `npuemu debug --help` list the "
                     "options; docs/ in the source tree has the details.", epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_VersionAction, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="boot a firmware ELF: console on stdout, exit status = firmware's",
                         epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _machine_options(run)
    run.add_argument("--deterministic", action="store_true",
                     help="virtual time from the instruction count (10 ns each): identical output and "
                          "final mtime on every run; the CPU runs at ~200 MIPS instead of 1000+")
    run.add_argument("--max-insns", type=_positive_int, metavar="N",
                     help="stop after N instructions (exit 125)")
    run.add_argument("--timeout", type=_positive_float, metavar="S",
                     help="stop after S seconds of host time (exit 124)")
    run.add_argument("--stats", action="store_true",
                     help="print instructions, virtual/host time, MIPS and NPU counters at exit (stderr)")
    run.add_argument("--npu-trace", metavar="FILE", help="write a Chrome/Perfetto trace of NPU commands")
    run.add_argument("--npu-strict", action="store_true",
                     help="NPU outputs land at modelled completion; warn about CPU accesses racing a "
                          "pending command (reliable with --deterministic; always on in `npuemu debug`, "
                          "where they stop)")
    run.add_argument("--gdb", metavar="[HOST:]PORT",
                     help="stop at the entry point and wait for gdb (binds 127.0.0.1 unless HOST given); "
                          "with --deterministic gdb can also run backwards (reverse-step, reverse-continue)")
    run.add_argument("--gdb-allow-host-files", action="store_true",
                     help="let gdb's `monitor` commands read and write host files (source, npu trace); "
                          "off by default: whoever reaches the port could otherwise use them")
    _run_io_options(run)
    debug = sub.add_parser("debug", help="interactive debugger shell (prompt_toolkit)")
    _machine_options(debug)
    # Debugging defaults to deterministic time: a session replays identically and reverse-stepi
    # works; --realtime gives QEMU-like host-clock time instead.
    debug.set_defaults(deterministic=True)
    debug.add_argument("--realtime", dest="deterministic", action="store_false",
                       help="virtual time from the host clock instead of the instruction count")
    debug.add_argument("--batch", metavar="FILE", help="run the commands in FILE and exit")
    debug.add_argument("-ex", dest="ex", action="append", default=[], metavar="CMD",
                       help="run CMD (repeatable) before the prompt, or with --batch")
    dtb = sub.add_parser("dtb", help="write the machine's flattened device tree (what firmware gets in a1)")
    dtb.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the .dtb")
    dtb.add_argument("--xlen", type=int, choices=(32, 64), default=64, help="rv32 or rv64 hart (default 64)")
    dtb.add_argument("--ram", type=_size, default=128 << 20, metavar="SIZE", help="DRAM size (default 128M)")
    dtb.add_argument("--npu-config", metavar="TOML", help="NPU geometry (default: built in)")
    dtb.add_argument("--append", metavar="CMDLINE", help="/chosen/bootargs")
    from emu.compiler.cli import add_arguments  # argparse only: the compiler loads on use

    add_arguments(sub.add_parser("compile", help="compile an int8 .tflite model into C for the firmware "
                                 "model runtime (docs/compiler.md)"))
    _sdk_parser(sub)
    sub.add_parser("build-unicorn", help="build (once per machine, cached) and install the patched Unicorn "
                   "npuemu runs on, into this Python environment (make setup does it in a checkout)")
    _sweep_parser(sub)
    report = sub.add_parser("report", help="NPU time and energy breakdown of an --npu-trace file (+ PNG charts)")
    report.add_argument("trace", help="a trace written by npuemu run --npu-trace FILE")
    report.add_argument("--charts", metavar="DIR", help="write npu_utilization.png and npu_energy_by_op.png "
                                                        "into DIR (needs matplotlib: npuemu[plot])")
    return parser


def cmd_report(opts: argparse.Namespace) -> int:
    from emu import report

    if opts.charts and not os.path.isdir(opts.charts):
        raise ConfigError(f"--charts {opts.charts}: not a directory")
    summary = report.load_trace(opts.trace)
    print(report.format_report(summary))
    if opts.charts:
        for path in report.write_charts(summary, opts.charts):
            print(f"wrote {path}")
    return 0


def _sweep_parser(sub) -> None:
    sweep = sub.add_parser("sweep", help="run a grid of firmware x NPU configurations into one table (+ Pareto plot)",
                           description="Every FIRMWARE runs with every combination of the --npu values, "
                           "deterministically; the table has one row per case in grid order, identical "
                           "whatever the number of workers.")
    sweep.add_argument("firmware", nargs="+", help="firmware ELF files")
    sweep.add_argument("--npu", action="append", default=[], metavar="SECTION.KEY=V1,V2",
                       help="an NPU configuration axis, e.g. geometry.tiles=4,16 or clock.npu_mhz=250,500 "
                            "(repeatable; keys as in --npu-config files)")
    sweep.add_argument("--option", action="append", default=[], metavar="KEY=V1,V2",
                       help="a machine-option axis: ram=64M,128M, ns_per_insn=5,10 or args='a b,c' "
                            "(semihosting argv per value; repeatable)")
    sweep.add_argument("-o", "--output", default="sweep.csv", metavar="FILE",
                       help="the table: .csv, or .parquet with pyarrow (default sweep.csv)")
    sweep.add_argument("--plot", metavar="PNG", help="write a Pareto plot of virtual time vs NPU energy "
                                                     "(needs matplotlib: npuemu[plot])")
    sweep.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1, metavar="N",
                       help="local worker processes (default: all cores)")
    sweep.add_argument("--ray", metavar="ADDRESS", default=os.environ.get("RAY_ADDRESS"),
                       help="run on the Ray cluster at ADDRESS (default: $RAY_ADDRESS if set; npuemu[ray])")
    sweep.add_argument("--max-insns", type=_positive_int, default=200_000_000, metavar="N",
                       help="instruction budget per case (default 200000000)")
    sweep.add_argument("--timeout", type=_positive_float, default=60.0, metavar="S",
                       help="virtual-time budget per case in seconds (default 60)")


def cmd_sweep(opts: argparse.Namespace) -> int:
    from emu import sweep

    check_output_path("--output", opts.output)
    if opts.plot:
        check_output_path("--plot", opts.plot)
    axes = [sweep.parse_axis(text) for text in opts.npu]
    option_axes = [sweep.parse_axis(text, machine=True) for text in opts.option]
    cases = sweep.build_grid(opts.firmware, axes, max_insns=opts.max_insns, timeout=opts.timeout,
                             option_axes=option_axes)
    where = f"Ray at {opts.ray}" if opts.ray else f"{min(opts.workers, len(cases))} local worker(s)"
    sys.stderr.write(f"npuemu: sweep: {len(cases)} cases on {where}\n")
    start = time.perf_counter()
    cpu = time.process_time()
    rows = sweep.run_ray(cases, opts.ray) if opts.ray else sweep.run_local(cases, min(opts.workers, len(cases)))
    sweep.write_table(rows, opts.output)
    if opts.plot:
        sweep.plot_pareto(rows, opts.plot)
    failed = sum(row["status"] != "exited" or row["exit_code"] != 0 for row in rows)
    sys.stderr.write(f"npuemu: sweep: {len(rows)} rows -> {opts.output}"
                     f"{f' and {opts.plot}' if opts.plot else ''}; {failed} case(s) did not exit 0; "
                     f"{time.perf_counter() - start:.1f} s wall, {time.process_time() - cpu:.1f} s CPU here\n")
    return 0


def _run_io_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--serial", default="stdio", metavar="stdio|pty|tcp:HOST:PORT",
                     help="where the console goes: the terminal (default), a new pseudo-terminal (its path is "
                          "printed), or a TCP port that waits for one client (binds 127.0.0.1 unless HOST given)")
    run.add_argument("--trace", action="append", default=[], metavar="mmio|insn",
                     help="log device-register accesses by name (mmio) and/or executed instructions (insn); "
                          "repeatable or comma-separated")
    run.add_argument("--trace-file", metavar="FILE", help="write --trace there (default: stderr)")
    run.add_argument("--trace-limit", type=_positive_int, default=1_000_000, metavar="N",
                     help="stop tracing after N lines (default 1000000)")


# npuemu sdk --<query>: what each one prints
SDK_QUERIES = {
    "path": "the SDK directory (include/, crt0.S, link.ld, hal/, drivers/, Makefile)",
    "cflags": "compiler flags (-march/-mabi, -mcmodel, -ffreestanding, -I...)",
    "ldflags": "link flags (-nostdlib -T link.ld ...)",
    "libs": "libraries (-lgcc)",
    "sources": "SDK sources every firmware links (crt0.S, HAL, drivers)",
    "makefile": "path of the Makefile include: include $(shell npuemu sdk --makefile)",
    "cmake": "path of the CMake toolchain file (-DCMAKE_TOOLCHAIN_FILE=...)",
}


def _sdk_parser(sub) -> None:
    sdk = sub.add_parser("sdk", help="where the installed firmware SDK is and how to build against it")
    what = sdk.add_mutually_exclusive_group(required=True)
    for query, help_text in SDK_QUERIES.items():
        what.add_argument(f"--{query}", dest="sdk_what", action="store_const", const=query, help=help_text)
    sdk.add_argument("--arch", choices=("rv32", "rv64"), default="rv32", help="target (default rv32)")


def unicorn_build_script() -> Path:
    """toolchain/unicorn/build.py: shipped in the wheel as emu/unicorn_build/, else the checkout's."""
    packaged = Path(__file__).resolve().parent / "unicorn_build" / "build.py"
    return packaged if packaged.is_file() else Path(__file__).resolve().parents[1] / "toolchain" / "unicorn" / "build.py"


def cmd_build_unicorn() -> int:
    import subprocess

    return subprocess.run([sys.executable, str(unicorn_build_script()), "--python", sys.executable],
                          check=False).returncode


def cmd_sdk(opts: argparse.Namespace) -> int:
    from emu import sdk

    if opts.sdk_what in ("path", "makefile", "cmake"):
        path = {"path": sdk.sdk_root, "makefile": lambda: sdk.MAKEFILE_INCLUDE,
                "cmake": lambda: sdk.CMAKE_TOOLCHAIN}[opts.sdk_what]()
        print(path)
        return 0
    found = sdk.flags(opts.arch)
    words = {"cflags": found.cflags, "ldflags": found.ldflags, "libs": found.libs,
             "sources": [str(path) for path in found.sources]}[opts.sdk_what]
    print(" ".join(words))
    return 0


def _make_machine(opts: argparse.Namespace, *, stdin=None, count_insns: bool = False, stdout=None):
    from emu.machine import Machine

    out = stdout or _Console(1)
    err = _Console(2)
    from emu.boot import BootFiles

    boot = {name: getattr(opts, name, None) for name in ("bios", "kernel", "initrd", "append", "xlen")}
    files = BootFiles(firmware=opts.firmware, **boot)  # callers may build opts without the boot options
    machine = Machine.from_files(files, ram_size=opts.ram, deterministic=opts.deterministic,
                                 count_insns=count_insns, args=opts.args, semihost_root=opts.semihost_root,
                                 npu_config=opts.npu_config, stdout=out, stderr=err, stdin=stdin,
                                 buffer_console=getattr(opts, "command", None) == "run")
    strict = getattr(opts, "npu_strict", None)  # run: --npu-strict warns; debug (no such option): stops
    if strict is None or strict:
        machine.enable_npu_strict(stop=strict is None)
    return machine


class _Console:
    """Unbuffered writes to a file descriptor, so output interleaves as the firmware wrote it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __call__(self, data: bytes) -> None:
        with suppress(OSError):  # a closed pipe must not kill the firmware run
            os.write(self.fd, data)


@contextmanager
def _terminal_for_console():
    """Character-at-a-time stdin for an interactive console; Ctrl-C still signals."""
    if not sys.stdin.isatty():
        yield
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _stdin_stream():
    try:
        return os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
    except (OSError, ValueError):
        return None


def cmd_run(opts: argparse.Namespace) -> int:
    from emu.machine import StopReason

    if opts.semihost_root is not None and not os.path.isdir(opts.semihost_root):
        raise ConfigError(f"--semihost-root {opts.semihost_root}: not a directory")
    if opts.npu_trace:
        check_output_path("--npu-trace", opts.npu_trace)
    traces = _trace_kinds(opts)
    if opts.trace_file:
        check_output_path("--trace-file", opts.trace_file)
    from emu.serial_backends import open_serial, parse_serial, stderr_announce

    parse_serial(opts.serial)  # a bad spec fails before anything else happens
    serial = open_serial(opts.serial, stderr_announce)
    stdin = serial.stream if serial is not None else _stdin_stream()
    machine = _make_machine(opts, stdin=stdin, count_insns=opts.stats or opts.max_insns is not None,
                            stdout=serial.write if serial is not None else None)
    if opts.npu_trace:
        try:  # every command, streamed to the file as the run goes
            machine.npu.enable_full_trace(opts.npu_trace)
        except OSError as e:
            raise ConfigError(f"cannot write --npu-trace {opts.npu_trace}: {e.strerror}") from None
    tracer = None
    if traces:
        from emu.exec_trace import ExecTrace

        trace_out = open(opts.trace_file, "w") if opts.trace_file else sys.stderr  # noqa: SIM115 - closed below
        tracer = ExecTrace(machine, traces, trace_out, opts.trace_limit)
    if opts.gdb:
        from emu.debugger.gdbstub import serve_gdb

        machine.start_input()
        try:
            return serve_gdb(machine, opts.gdb, allow_host_files=opts.gdb_allow_host_files)
        finally:
            if opts.npu_trace:  # the streamed trace gets its end however the session ended
                machine.npu.write_trace(opts.npu_trace)
    previous = signal.signal(signal.SIGINT, lambda sig, frame: machine.request_stop())
    start = time.perf_counter()
    try:
        if serial is not None:
            machine.host_input.start(read_all_first=False)  # a live line: never wait for its end first
        else:
            machine.start_input()
        with _terminal_for_console():
            stop = machine.run(max_insns=opts.max_insns, timeout=opts.timeout)
    finally:
        signal.signal(signal.SIGINT, previous)
        machine.close()
        if tracer is not None:
            tracer.close()
            if opts.trace_file:
                tracer.out.close()
        if serial is not None:
            serial.close()
    host_s = time.perf_counter() - start
    if opts.npu_trace:
        try:
            machine.npu.write_trace(opts.npu_trace)
        except OSError as e:
            raise ConfigError(f"cannot write --npu-trace {opts.npu_trace}: {e.strerror}") from None
    if opts.stats:
        _print_stats(machine, host_s)
    status = {
        StopReason.EXITED: process_status(stop.exit_code),
        StopReason.TIMEOUT: EXIT_TIMEOUT,
        StopReason.INSN_LIMIT: EXIT_INSN_LIMIT,
        StopReason.INTERRUPTED: EXIT_INTERRUPTED,
    }.get(stop.reason, EXIT_FATAL)
    if stop.reason is not StopReason.EXITED:
        sys.stderr.write(f"npuemu: {stop.message}\n")
    return status if status is not None else EXIT_FATAL


def _trace_kinds(opts: argparse.Namespace) -> set[str]:
    from emu.exec_trace import KINDS

    kinds = {word.strip() for text in opts.trace for word in text.split(",") if word.strip()}
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise ConfigError(f"--trace {','.join(unknown)}: expected {' or '.join(KINDS)}")
    return kinds


def process_status(code: int | None) -> int | None:
    """A process status is 8 bits: a failure code like 256 would read as success, so it becomes 1.

    The one mapping for every way npuemu ends (run, run --gdb and its W reply, the shell's quit)."""
    if code is None or code == 0:
        return code
    return code & 0xFF or 1


def _print_stats(machine, host_s: float) -> None:
    insns = machine.insn_count or 0
    virt_s = machine.clock.now_ns() / 1e9
    lines = [
        f"instructions   {insns}",
        f"virtual time   {virt_s:.6f} s (mtime {machine.clock.mtime()})",
        f"host time      {host_s:.3f} s",
        f"speed          {insns / host_s / 1e6 if host_s > 0 else 0.0:.1f} MIPS",
    ]
    lines += machine.npu.stats_lines()
    sys.stderr.write("".join(f"npuemu: {line}\n" for line in lines))


def cmd_debug(opts: argparse.Namespace) -> int:
    from emu.debugger.repl import main_debug

    return main_debug(opts, _make_machine)


def cmd_dtb(opts: argparse.Namespace) -> int:
    from emu.cpu import Cpu
    from emu.fdt import FdtOptions, build_dtb
    from emu.memory import DRAM_BASE
    from emu.npu_device import NpuConfig

    blob = build_dtb(FdtOptions(opts.xlen, Cpu(opts.xlen).read("misa"), DRAM_BASE, opts.ram,
                                NpuConfig.load(opts.npu_config), bootargs=opts.append))
    try:
        with open(opts.output, "wb") as fh:
            fh.write(blob)
    except OSError as e:
        raise ConfigError(f"cannot write {opts.output}: {e.strerror}") from None
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _Parser.argv = list(argv)
    opts = build_parser().parse_args(argv)
    try:
        if opts.command == "run":
            return cmd_run(opts)
        if opts.command == "dtb":
            return cmd_dtb(opts)
        if opts.command == "compile":
            from emu.compiler.cli import run as cmd_compile

            return cmd_compile(opts)
        if opts.command == "sdk":
            return cmd_sdk(opts)
        if opts.command == "build-unicorn":
            return cmd_build_unicorn()
        if opts.command == "sweep":
            return cmd_sweep(opts)
        if opts.command == "report":
            return cmd_report(opts)
        return cmd_debug(opts)
    except EmuError as e:
        sys.stderr.write(f"npuemu: {e}\n")
        return e.exit_status
    except KeyboardInterrupt:
        sys.stderr.write("npuemu: interrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
