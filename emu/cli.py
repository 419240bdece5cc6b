"""`npuemu`: boot firmware (`run`), debug it (`debug`), or serve gdb (`run --gdb`).

Every user error ends as one line ``npuemu: ...`` on stderr and a non-zero
status; the firmware's own exit status is passed through.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
from contextlib import contextmanager, suppress

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
    def error(self, message: str) -> None:  # one line, no usage dump
        sys.stderr.write(f"npuemu: {message} (see npuemu {self.prog.split()[-1]} --help)\n")
        raise SystemExit(EXIT_USAGE)


def _machine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("firmware", help="RISC-V ELF (rv32 or rv64, bare metal)")
    p.add_argument("args", nargs="*", help="after --: arguments for the firmware (semihosting argv)")
    p.add_argument("--ram", type=_size, default=128 << 20, metavar="SIZE",
                   help="DRAM size at 0x80000000 (default 128M)")
    p.add_argument("--semihost-root", metavar="DIR",
                   help="let semihosting OPEN host files below DIR (default: no host files)")
    p.add_argument("--npu-config", metavar="TOML", help="NPU geometry/timing/energy (default: built in)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="npuemu", description="RISC-V + D-IMC NPU full-system emulator "
                     "(QEMU virt memory map). `npuemu run --help` and `npuemu debug --help` list the "
                     "options; docs/ in the source tree has the details.", epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
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
    run.add_argument("--gdb", metavar="[HOST:]PORT",
                     help="stop at the entry point and wait for gdb (binds 127.0.0.1 unless HOST given)")
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
    return parser


def _make_machine(opts: argparse.Namespace, *, stdin=None, count_insns: bool = False):
    from emu.machine import Machine

    out = _Console(1)
    err = _Console(2)
    return Machine.from_elf(opts.firmware, ram_size=opts.ram, deterministic=opts.deterministic,
                            count_insns=count_insns, args=opts.args, semihost_root=opts.semihost_root,
                            npu_config=opts.npu_config, stdout=out, stderr=err, stdin=stdin,
                            buffer_console=getattr(opts, "command", None) == "run")


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
    machine = _make_machine(opts, stdin=_stdin_stream(), count_insns=opts.stats or opts.max_insns is not None)
    if opts.npu_trace:
        machine.npu.enable_full_trace()  # every command, not just the recent history
    if opts.gdb:
        from emu.debugger.gdbstub import serve_gdb

        machine.start_input()
        return serve_gdb(machine, opts.gdb)
    previous = signal.signal(signal.SIGINT, lambda sig, frame: machine.request_stop())
    start = time.perf_counter()
    try:
        machine.start_input()
        with _terminal_for_console():
            stop = machine.run(max_insns=opts.max_insns, timeout=opts.timeout)
    finally:
        signal.signal(signal.SIGINT, previous)
        machine.close()
    host_s = time.perf_counter() - start
    if opts.npu_trace:
        try:
            machine.npu.write_trace(opts.npu_trace)
        except OSError as e:
            raise ConfigError(f"cannot write --npu-trace {opts.npu_trace}: {e.strerror}") from None
    if opts.stats:
        _print_stats(machine, host_s)
    status = {
        StopReason.EXITED: _process_status(stop.exit_code),
        StopReason.TIMEOUT: EXIT_TIMEOUT,
        StopReason.INSN_LIMIT: EXIT_INSN_LIMIT,
        StopReason.INTERRUPTED: EXIT_INTERRUPTED,
    }.get(stop.reason, EXIT_FATAL)
    if stop.reason is not StopReason.EXITED:
        sys.stderr.write(f"npuemu: {stop.message}\n")
    return status if status is not None else EXIT_FATAL


def _process_status(code: int | None) -> int | None:
    """A process status is 8 bits: a failure code like 256 would read as success, so it becomes 1."""
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    opts = build_parser().parse_args(argv)
    try:
        if opts.command == "run":
            return cmd_run(opts)
        return cmd_debug(opts)
    except EmuError as e:
        sys.stderr.write(f"npuemu: {e}\n")
        return e.exit_status
    except KeyboardInterrupt:
        sys.stderr.write("npuemu: interrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
