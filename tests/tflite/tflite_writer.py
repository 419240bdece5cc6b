"""Write small int8 .tflite models with the `tflite` package's generated flatbuffer builders.

Enough of the schema for the test models: tensors with (per-channel) quantization and constant
buffers, builtin operators with their options, one subgraph.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import flatbuffers
import numpy as np
import tflite  # noqa: F401  (loads the generated modules into sys.modules)
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions
from tflite.TensorType import TensorType


def _mod(name: str):
    """The generated module (the package re-exports the class under the same name)."""
    __import__(f"tflite.{name}")
    return sys.modules[f"tflite.{name}"]


@dataclass
class _Tensor:
    name: str
    shape: tuple[int, ...]
    type: int
    scale: np.ndarray | None
    zero_point: np.ndarray | None
    buffer: int
    qdim: int


@dataclass
class _Op:
    code: int
    inputs: list[int]
    outputs: list[int]
    options_type: int
    options: dict


OPTION_TABLES = {
    BuiltinOptions.Conv2DOptions: "Conv2DOptions",
    BuiltinOptions.DepthwiseConv2DOptions: "DepthwiseConv2DOptions",
    BuiltinOptions.Pool2DOptions: "Pool2DOptions",
    BuiltinOptions.FullyConnectedOptions: "FullyConnectedOptions",
    BuiltinOptions.SoftmaxOptions: "SoftmaxOptions",
    BuiltinOptions.AddOptions: "AddOptions",
    BuiltinOptions.ReshapeOptions: "ReshapeOptions",
}


class ModelWriter:
    def __init__(self) -> None:
        self.buffers: list[bytes] = [b""]
        self.tensors: list[_Tensor] = []
        self.ops: list[_Op] = []

    def tensor(self, name: str, shape: tuple[int, ...], ttype: int = TensorType.INT8,
               scale: float | np.ndarray | None = None, zero_point: int | np.ndarray | None = None,
               data: np.ndarray | None = None, qdim: int = 0) -> int:
        buf = 0
        if data is not None:
            self.buffers.append(np.ascontiguousarray(data).tobytes())
            buf = len(self.buffers) - 1
        sc = None if scale is None else np.atleast_1d(np.asarray(scale, dtype=np.float32))
        zp = None
        if sc is not None:
            zp = np.atleast_1d(np.asarray(0 if zero_point is None else zero_point, dtype=np.int64))
            zp = np.broadcast_to(zp, sc.shape).copy()
        self.tensors.append(_Tensor(name, tuple(shape), ttype, sc, zp, buf, qdim))
        return len(self.tensors) - 1

    def op(self, code: int, inputs: list[int], outputs: list[int], options_type: int = 0, **options: int) -> None:
        self.ops.append(_Op(code, inputs, outputs, options_type, options))

    def build(self, inputs: list[int], outputs: list[int]) -> bytes:
        b = flatbuffers.Builder(1024)
        buffers = []
        for data in self.buffers:
            vec = b.CreateNumpyVector(np.frombuffer(data, dtype=np.uint8)) if data else None
            m = _mod("Buffer")
            m.BufferStart(b)
            if vec is not None:
                m.BufferAddData(b, vec)
            buffers.append(m.BufferEnd(b))
        tensors = []
        for t in self.tensors:
            name = b.CreateString(t.name)
            shape = b.CreateNumpyVector(np.asarray(t.shape, dtype=np.int32))
            quant = None
            if t.scale is not None:
                qm = _mod("QuantizationParameters")
                sv = b.CreateNumpyVector(t.scale)
                zv = b.CreateNumpyVector(t.zero_point)
                qm.QuantizationParametersStart(b)
                qm.QuantizationParametersAddScale(b, sv)
                qm.QuantizationParametersAddZeroPoint(b, zv)
                qm.QuantizationParametersAddQuantizedDimension(b, t.qdim)
                quant = qm.QuantizationParametersEnd(b)
            tm = _mod("Tensor")
            tm.TensorStart(b)
            tm.TensorAddShape(b, shape)
            tm.TensorAddType(b, t.type)
            tm.TensorAddBuffer(b, t.buffer)
            tm.TensorAddName(b, name)
            if quant is not None:
                tm.TensorAddQuantization(b, quant)
            tensors.append(tm.TensorEnd(b))
        codes = sorted({op.code for op in self.ops})
        code_index = {c: i for i, c in enumerate(codes)}
        op_codes = []
        for c in codes:
            cm = _mod("OperatorCode")
            cm.OperatorCodeStart(b)
            cm.OperatorCodeAddDeprecatedBuiltinCode(b, min(c, 127))
            cm.OperatorCodeAddBuiltinCode(b, c)
            cm.OperatorCodeAddVersion(b, 1)
            op_codes.append(cm.OperatorCodeEnd(b))
        ops = []
        for op in self.ops:
            ins = b.CreateNumpyVector(np.asarray(op.inputs, dtype=np.int32))
            outs = b.CreateNumpyVector(np.asarray(op.outputs, dtype=np.int32))
            opt = None
            if op.options_type:
                table = OPTION_TABLES[op.options_type]
                om = _mod(table)
                getattr(om, f"{table}Start")(b)
                for key, value in op.options.items():
                    getattr(om, f"{table}Add{key}")(b, value)
                opt = getattr(om, f"{table}End")(b)
            om = _mod("Operator")
            om.OperatorStart(b)
            om.OperatorAddOpcodeIndex(b, code_index[op.code])
            om.OperatorAddInputs(b, ins)
            om.OperatorAddOutputs(b, outs)
            if opt is not None:
                om.OperatorAddBuiltinOptionsType(b, op.options_type)
                om.OperatorAddBuiltinOptions(b, opt)
            ops.append(om.OperatorEnd(b))

        def offsets(items: list[int]) -> int:
            b.StartVector(4, len(items), 4)
            for item in reversed(items):
                b.PrependUOffsetTRelative(item)
            return b.EndVector()

        sg = _mod("SubGraph")
        tvec, ovec = offsets(tensors), offsets(ops)
        ivec = b.CreateNumpyVector(np.asarray(inputs, dtype=np.int32))
        outvec = b.CreateNumpyVector(np.asarray(outputs, dtype=np.int32))
        sg.SubGraphStart(b)
        sg.SubGraphAddTensors(b, tvec)
        sg.SubGraphAddInputs(b, ivec)
        sg.SubGraphAddOutputs(b, outvec)
        sg.SubGraphAddOperators(b, ovec)
        subgraph = sg.SubGraphEnd(b)
        codes_vec, sg_vec, buf_vec = offsets(op_codes), offsets([subgraph]), offsets(buffers)
        mm = _mod("Model")
        mm.ModelStart(b)
        mm.ModelAddVersion(b, 3)
        mm.ModelAddOperatorCodes(b, codes_vec)
        mm.ModelAddSubgraphs(b, sg_vec)
        mm.ModelAddBuffers(b, buf_vec)
        b.Finish(mm.ModelEnd(b), file_identifier=b"TFL3")
        return bytes(b.Output())


OPS = BuiltinOperator
OPTS = BuiltinOptions
TYPES = TensorType
