"""TFLite int8 -> NPU compiler (docs/compiler.md).

``compile_model(path)`` reads a ``.tflite`` flatbuffer with the ``tflite`` package, lowers every
operator to NPU descriptors (or a CPU fallback for SOFTMAX), plans the DRAM arena and emits C for
the generic firmware runtime in ``firmware/runtime/``.  It lives in the ``emu`` package (not in
``toolchain/``) so that ``npuemu compile`` works from an installed npuemu.
"""

from emu.compiler.errors import CompileError
from emu.compiler.lower import CompiledModel, compile_model

__all__ = ["CompileError", "CompiledModel", "compile_model"]
