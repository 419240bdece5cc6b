"""A .tflite flatbuffer as plain Python data, through the ``tflite`` package's generated readers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emu.compiler.errors import CompileError

try:
    import tflite
    from tflite.BuiltinOperator import BuiltinOperator
    from tflite.TensorType import TensorType
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise CompileError("the compiler needs the 'tflite' package: pip install tflite") from exc

OP_NAMES = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}
TYPE_NAMES = {v: k for k, v in vars(TensorType).items() if not k.startswith("_")}
NUMPY_TYPES = {TensorType.INT8: np.int8, TensorType.INT32: np.int32, TensorType.UINT8: np.uint8,
               TensorType.INT16: np.int16, TensorType.FLOAT32: np.float32, TensorType.INT64: np.int64}
OPTION_CLASSES = {
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions", "ADD": "AddOptions", "SOFTMAX": "SoftmaxOptions",
}
MAX_MODEL_BYTES = 64 << 20


@dataclass
class Tensor:
    index: int
    name: str
    type: int
    shape: tuple[int, ...]
    scale: np.ndarray  # float32 scales (per-tensor: one)
    zero_point: np.ndarray
    data: np.ndarray | None  # constant tensors (weights, bias)

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, str(self.type))

    @property
    def zp(self) -> int:
        return int(self.zero_point[0]) if self.zero_point.size else 0

    @property
    def qscale(self) -> float:
        return float(self.scale[0]) if self.scale.size else 0.0


@dataclass
class Operator:
    index: int
    name: str
    inputs: list[int]
    outputs: list[int]
    options: Any = None

    def where(self) -> str:
        return f"operator {self.index} ({self.name})"


@dataclass
class Model:
    path: Path
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    producers: dict[int, int] = field(default_factory=dict)


def load(path: str | Path) -> Model:
    """Parse ``path``; anything that is not a readable single-subgraph model is a CompileError."""
    path = Path(path)
    try:
        if not path.is_file():
            raise CompileError(f"{path}: not a regular file")
        if path.stat().st_size > MAX_MODEL_BYTES:
            raise CompileError(f"{path}: larger than {MAX_MODEL_BYTES >> 20} MiB")
        buf = path.read_bytes()
    except OSError as exc:
        raise CompileError(f"{path}: {exc.strerror or exc}") from exc
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise CompileError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        return _parse(path, buf)
    except CompileError:
        raise
    except Exception as exc:  # a corrupt flatbuffer raises anything from struct/IndexError upward
        raise CompileError(f"{path}: corrupt TFLite flatbuffer ({type(exc).__name__})") from exc


def _parse(path: Path, buf: bytes) -> Model:
    m = tflite.Model.GetRootAsModel(buf, 0)
    if m.SubgraphsLength() != 1:
        raise CompileError(f"{path}: {m.SubgraphsLength()} subgraphs; only single-subgraph models are supported")
    g = m.Subgraphs(0)
    tensors = []
    for i in range(g.TensorsLength()):
        t = g.Tensors(i)
        q = t.Quantization()
        scale = q.ScaleAsNumpy() if q is not None and not q.ScaleIsNone() else np.zeros(0)
        zps = q.ZeroPointAsNumpy() if q is not None and not q.ZeroPointIsNone() else np.zeros(0)
        data = None
        b = m.Buffers(t.Buffer())
        if b is not None and b.DataLength() > 0:
            dtype = NUMPY_TYPES.get(t.Type())
            if dtype is not None:
                data = np.frombuffer(b.DataAsNumpy().tobytes(), dtype=dtype)
                shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
                data = data.reshape(shape) if shape else data
        shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        tensors.append(Tensor(i, (t.Name() or b"").decode(errors="replace"), t.Type(), shape,
                              np.asarray(scale, dtype=np.float32), np.asarray(zps, dtype=np.int64), data))
    ops = []
    producers = {}
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        code = m.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = OP_NAMES.get(builtin, f"BUILTIN_{builtin}")
        if builtin == BuiltinOperator.CUSTOM:
            name = f"CUSTOM:{(code.CustomCode() or b'').decode(errors='replace')}"
        options = None
        cls = OPTION_CLASSES.get(name)
        raw = op.BuiltinOptions()
        if cls and raw is not None:
            options = getattr(tflite, cls)()
            options.Init(raw.Bytes, raw.Pos)
        ins = [int(x) for x in op.InputsAsNumpy()] if op.InputsLength() else []
        outs = [int(x) for x in op.OutputsAsNumpy()] if op.OutputsLength() else []
        ops.append(Operator(i, name, ins, outs, options))
        for o in outs:
            producers[o] = i
    return Model(path, tensors, ops, [int(x) for x in g.InputsAsNumpy()], [int(x) for x in g.OutputsAsNumpy()],
                 producers)
