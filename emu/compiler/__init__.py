"""TFLite int8 -> NPU compiler (docs/compiler.md).

``compile_model(path)`` reads a ``.tflite`` flatbuffer with the ``tflite`` package, lowers every
operator to NPU descriptors (or a CPU fallback for SOFTMAX), plans the DRAM arena and emits C for
the generic firmware runtime in ``firmware/runtime/``.  It lives in the ``emu`` package (not in
``toolchain/``) so that ``npuemu compile`` works from an installed npuemu.  The names below load
on first use: ``npuemu`` builds its argument parser from ``emu.compiler.cli`` on every start and
must not pay for numpy and the flatbuffer readers then.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CompileError", "CompiledModel", "compile_model"]


def __getattr__(name: str) -> Any:
    if name == "CompileError":
        from emu.compiler.errors import CompileError

        return CompileError
    if name in ("CompiledModel", "compile_model"):
        from emu.compiler import lower

        return getattr(lower, name)
    raise AttributeError(f"module 'emu.compiler' has no attribute {name!r}")
