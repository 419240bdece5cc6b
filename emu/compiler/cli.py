"""Command line of the compiler: `npuemu compile` and `python -m emu.compiler`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emu.errors import EmuError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="int8-quantized .tflite file")
    p.add_argument("-o", "--output", metavar="DIR", help="write <name>_model.c/.h here (for firmware/runtime)")
    p.add_argument("--name", help="C name of the model (default: the file's stem)")
    p.add_argument("--estimate", action="store_true", help="print the static per-layer cost estimate")
    p.add_argument("--npu-config", metavar="TOML", help="NPU geometry/timing to compile for (as npuemu run)")


def run(args: argparse.Namespace) -> int:
    from emu.compiler import emit_c
    from emu.compiler.errors import CompileError
    from emu.compiler.estimate import estimate, table
    from emu.compiler.lower import compile_model
    from emu.npu_device.config import NpuConfig

    config = NpuConfig.load(args.npu_config)
    model = compile_model(args.model, config, args.name)
    print(f"{model.name}: {len(model.layers)} layers, {len(model.descriptors)} NPU descriptors"
          f"{f' (+{len(model.preload)} loading resident weights once)' if model.preload else ''}, weights "
          f"{len(model.weights)} B, arena {model.arena_bytes} B, peak scratchpad {model.spad_peak}/"
          f"{config.scratchpad_bytes} B, peak accumulator {model.acc_peak}/{config.accumulator_bytes} B, "
          f"tiles {model.tiles_peak}/{config.tiles}")
    if args.output:
        try:
            written = emit_c.write(model, Path(args.output))
        except OSError as exc:
            raise CompileError(f"cannot write to {args.output}: {exc.strerror or exc}") from exc
        for path in written:
            print(f"wrote {path}")
    if args.estimate:
        print(table(model, estimate(model)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emu.compiler", description="TFLite int8 -> NPU firmware C")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except EmuError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
