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
    run.add_argument("--npu-strict", action="store_true",
                     help="NPU outputs land at modelled completion; warn about CPU accesses racing a "
                          "pending command (always on in `npuemu debug`, where they stop)")
    run.add_argument("--gdb", metavar="[HOST:]PORT",
                     help="stop at the entry point and wait for gdb (binds 127.0.0.1 unless HOST given); "
                          "with --deterministic gdb can also run backwards (reverse-step, reverse-continue)")
    run.add_argument("--gdb-allow-host-files", action="store_true",
                     help="let gdb's `monitor` commands read and write host files (source, npu trace); "
                          "off by default: whoever reaches the port could otherwise use them")
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
    return parser


def _make_machine(opts: argparse.Namespace, *, stdin=None, count_insns: bool = False):
    from emu.machine import Machine

    out = _Console(1)
    err = _Console(2)
    from emu.boot import BootFiles

    boot = {name: getattr(opts, name, None) for name in ("bios", "kernel", "initrd", "append", "xlen")}
    files = BootFiles(firmware=opts.firmware, **boot)  # callers may build opts without the boot options
    machine = Machine.from_files(files, ram_size=opts.ram, deterministic=opts.deterministic,
                                 count_insns=count_insns, args=opts.args, semihost_root=opts.semihost_root,
                                 npu_config=opts.npu_config, stdout=out, stderr=err, stdin=stdin)
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
    machine = _make_machine(opts, stdin=_stdin_stream(), count_insns=opts.stats or opts.max_insns is not None)
    if opts.npu_trace:
        try:  # every command, streamed to the file as the run goes
            machine.npu.enable_full_trace(opts.npu_trace)
        except OSError as e:
            raise ConfigError(f"cannot write --npu-trace {opts.npu_trace}: {e.strerror}") from None
    if opts.gdb:
        from emu.debugger.gdbstub import serve_gdb

        machine.start_input()
        return serve_gdb(machine, opts.gdb, allow_host_files=opts.gdb_allow_host_files)
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
        StopReason.EXITED: process_status(stop.exit_code),
        StopReason.TIMEOUT: EXIT_TIMEOUT,
        StopReason.INSN_LIMIT: EXIT_INSN_LIMIT,
        StopReason.INTERRUPTED: EXIT_INTERRUPTED,
    }.get(stop.reason, EXIT_FATAL)
    if stop.reason is not StopReason.EXITED:
        sys.stderr.write(f"npuemu: {stop.message}\n")
    return status if status is not None else EXIT_FATAL


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
    opts = build_parser().parse_args(argv)
    try:
        if opts.command == "run":
            return cmd_run(opts)
        if opts.command == "dtb":
            return cmd_dtb(opts)
        if opts.command == "compile":
            from emu.compiler.cli import run as cmd_compile

            return cmd_compile(opts)
        return cmd_debug(opts)
    except EmuError as e:
        sys.stderr.write(f"npuemu: {e}\n")
        return e.exit_status
    except KeyboardInterrupt:
        sys.stderr.write("npuemu: interrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
