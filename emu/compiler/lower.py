"""Lowering TFLite int8 operators to NPU descriptor programs and a DRAM memory plan.

Memory model (docs/compiler.md): every activation tensor has its own buffer in one DRAM arena,
stored H x W x C with a border of its zero point wide enough for every convolution that reads it
(so SAME padding needs no device support: a padded value contributes (zp - zp) * w = 0). Each
layer DMAs its operands into the scratchpad, computes, and DMAs its result into the interior of
its output buffer. The input zero point of a convolution or fully-connected layer is folded into
its bias at compile time: sum((x - zp) * w) + b = sum(x * w) + (b - zp * sum(w)), exact in int32.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emu.compiler import quant
from emu.compiler.errors import CompileError
from emu.compiler.layer_table import INPUT_INDEX, MAX_OPERATORS, PRELOAD_INDEX, tag
from emu.compiler.model import Model, Operator, Tensor, load
from emu.npu_device.config import NpuConfig
from emu.npu_device.postproc import MAX_DW_TAPS
from emu.npu_device.regs import ACTIVATIONS, FLAGS, POOL_OPS

BASE_NONE, BASE_WEIGHTS, BASE_ARENA, BASE_INPUT = 0, 1, 2, 3  # BASE_INPUT: npu_model_run's input
ALIGN = 16
TYPE_INT8, TYPE_INT16, TYPE_FLOAT32 = 9, 7, 0
SAME, VALID = 0, 1
# What a structurally broken (but parsable) model raises while being lowered: reported in one line.
MALFORMED = (IndexError, KeyError, ValueError, TypeError, AttributeError, ZeroDivisionError, OverflowError)
SUPPORTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "AVERAGE_POOL_2D", "MAX_POOL_2D",
             "RESHAPE", "SOFTMAX")


@dataclass
class Desc:
    """One descriptor: layout name, field values, and which DRAM base its u64 fields at 8/16 add."""

    op: str
    fields: dict[str, int]
    reloc8: int = BASE_NONE
    reloc16: int = BASE_NONE


@dataclass
class Layer:
    name: str
    kind: str  # "npu", "softmax" (CPU), "alias" (no work)
    descs: list[Desc] = field(default_factory=list)
    macs: int = 0
    tiles_used: int = 0
    tile_util: float = 0.0  # weight cells used / cells of the tiles the layer occupies
    cpu: dict[str, int] = field(default_factory=dict)


@dataclass
class Buffer:
    """An activation tensor in the arena: H x W x C int8 with a zero-point border."""

    offset: int
    h: int
    w: int
    c: int
    zp: int
    pt: int = 0
    pb: int = 0
    pl: int = 0
    pr: int = 0

    @property
    def wp(self) -> int:
        return self.w + self.pl + self.pr

    @property
    def size(self) -> int:
        return (self.h + self.pt + self.pb) * self.wp * self.c

    @property
    def row_stride(self) -> int:
        return self.wp * self.c

    def at(self, y: int, x: int) -> int:
        """Arena offset of pixel (y, x) of the interior (negative y/x reach into the border)."""
        return self.offset + ((y + self.pt) * self.wp + x + self.pl) * self.c

    @property
    def padded(self) -> bool:
        return bool(self.pt or self.pb or self.pl or self.pr)


@dataclass
class CompiledModel:
    name: str
    source: Path
    config: NpuConfig
    layers: list[Layer]
    weights: bytearray
    arena_bytes: int
    buffers: dict[int, Buffer]
    input: Buffer
    output: Buffer
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    spad_peak: int = 0
    acc_peak: int = 0
    tiles_peak: int = 0
    preload: list[Desc] = field(default_factory=list)  # run once before the first inference

    @property
    def descriptors(self) -> list[Desc]:
        return [d for layer in self.layers for d in layer.descs]


def _hwc(t: Tensor, op: Operator | None = None) -> tuple[int, int, int]:
    """An activation shape as (H, W, C) with batch 1: [1,H,W,C], [1,W,C], [B,K] -> (1,B,K), [K]."""
    s = t.shape
    if len(s) == 4:
        if s[0] != 1:
            raise CompileError(f"{op.where() if op else 'tensor'}: batch {s[0]} (only batch 1 is supported)")
        return s[1], s[2], s[3]
    if len(s) == 3:
        if s[0] != 1:
            raise CompileError(f"{op.where() if op else 'tensor'}: batch {s[0]} (only batch 1 is supported)")
        return 1, s[1], s[2]
    if len(s) == 2:
        return 1, s[0], s[1]
    if len(s) == 1:
        return 1, 1, s[0]
    raise CompileError(f"{op.where() if op else 'tensor'} '{t.name}': rank {len(s)} is not supported")


def _same_padding(in_size: int, out_size: int, k: int, stride: int, padding: int) -> int:
    """Leading padding (top/left) as ComputePaddingHeightWidth: total // 2 for SAME, 0 for VALID."""
    if padding == VALID:
        return 0
    total = max(0, (out_size - 1) * stride + k - in_size)
    return total // 2


@dataclass(frozen=True)
class Window:
    """A convolution's geometry: input/output HWC, weights (n, kh, kw, wc), strides, top/left
    padding, and the input and output buffers."""

    x: Tensor
    w: Tensor
    y: Tensor
    ih: int
    iw: int
    ic: int
    oh: int
    ow: int
    oc: int
    n: int
    kh: int
    kw: int
    wc: int
    sh: int
    sw: int
    pt: int
    pl: int
    src: Buffer
    dst: Buffer


class Compiler:
    def __init__(self, model: Model, config: NpuConfig, name: str) -> None:
        self.m = model
        self.cfg = config
        self.name = name
        self.weights = bytearray()
        self.buffers: dict[int, Buffer] = {}
        self.alias: dict[int, int] = {}
        self.first_write: dict[int, int] = {}  # root buffer -> index of the operator writing it
        self.preload: list[Desc] = []  # LOAD_WEIGHTS run once at init when every layer's weights fit
        self.resident = False
        self.next_tile = 0
        self.spad_peak = self.acc_peak = self.tiles_peak = 0

    # -- checks ------------------------------------------------------------------------------
    def check(self) -> None:
        if len(self.m.operators) > MAX_OPERATORS:
            raise CompileError(f"{len(self.m.operators)} operators: at most {MAX_OPERATORS} fit in the descriptor tag")
        for i in self.m.inputs:
            t = self.m.tensors[i]
            if t.type == TYPE_FLOAT32:
                raise CompileError(f"float model: input tensor '{t.name}' is FLOAT32; npuemu compiles "
                                   "int8-quantized models (full-integer quantization)")
        for op in self.m.operators:
            if op.name not in SUPPORTED:
                raise CompileError(f"{op.where()}: operator not supported (supported: {', '.join(SUPPORTED)})")
            for ti in op.inputs[:1] + op.outputs:
                t = self.m.tensors[ti]
                if t.type != TYPE_INT8:
                    kind = "int16 activations" if t.type == TYPE_INT16 else f"{t.type_name} tensor"
                    raise CompileError(f"{op.where()}: {kind} '{t.name}' (only int8 activations are supported)")
                if not (-128 <= t.zp <= 127 and np.isfinite(t.qscale) and t.qscale > 0):
                    raise CompileError(f"{op.where()}: tensor '{t.name}' has no valid int8 quantization "
                                       f"(scale {t.qscale}, zero point {t.zp})")

    # -- weights blob --------------------------------------------------------------------------
    def blob(self, data: np.ndarray, align: int = ALIGN) -> int:
        """Append constant data to the weights blob; returns its offset."""
        pad = -len(self.weights) % align
        self.weights += b"\0" * pad
        off = len(self.weights)
        self.weights += np.ascontiguousarray(data).tobytes()
        return off

    # -- memory plan ---------------------------------------------------------------------------
    def plan(self) -> int:
        """Assign a buffer (with its border) to every activation tensor; returns the arena size."""
        need: dict[int, list[int]] = {}  # tensor -> [pt, pb, pl, pr]
        for op in self.m.operators:
            if op.name == "RESHAPE":
                self.alias[op.outputs[0]] = self.root(op.inputs[0])
            if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                x, w, y = (self.m.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
                ih, iw, _ = _hwc(x, op)
                oh, ow, _ = _hwc(y, op)
                kh, kw = w.shape[1], w.shape[2]
                o = op.options
                pt = _same_padding(ih, oh, kh, o.StrideH(), o.Padding())
                pl = _same_padding(iw, ow, kw, o.StrideW(), o.Padding())
                pb = max(0, (oh - 1) * o.StrideH() + kh - pt - ih)
                pr = max(0, (ow - 1) * o.StrideW() + kw - pl - iw)
                cur = need.setdefault(self.root(op.inputs[0]), [0, 0, 0, 0])
                for j, v in enumerate((pt, pb, pl, pr)):
                    cur[j] = max(cur[j], v)
        # Lifetimes (operator indices) of each root buffer: from its producer (-1: the model input)
        # to its last reader (len(ops): the model output). Buffers whose lifetimes overlap never
        # share bytes; the others may (greedy first fit, largest first).
        n_ops = len(self.m.operators)
        start: dict[int, int] = {self.root(i): -1 for i in self.m.inputs}
        end: dict[int, int] = {}
        for op in self.m.operators:
            for o in op.outputs:
                start.setdefault(self.root(o), op.index)
            for i in op.inputs:
                if i >= 0 and self.m.tensors[i].data is None:
                    end[self.root(i)] = max(end.get(self.root(i), -1), op.index)
        for o in self.m.outputs:
            end[self.root(o)] = n_ops
        placed: list[tuple[int, int, int, int]] = []  # (offset, size, start, end)
        offset_of: dict[int, int] = {}
        roots = sorted(start, key=lambda ti: (-self._size(ti, need), ti))
        for ti in roots:
            size = -(-self._size(ti, need) // ALIGN) * ALIGN
            life = (start[ti], end.get(ti, start[ti]))
            at = 0
            for off, sz, s0, e0 in sorted(placed):
                if s0 <= life[1] and life[0] <= e0 and off < at + size and at < off + sz:
                    at = -(-(off + sz) // ALIGN) * ALIGN
            placed.append((at, size, *life))
            offset_of[ti] = at
        for ti in roots:
            t = self.m.tensors[ti]
            self.buffers[ti] = Buffer(offset_of[ti], *_hwc(t), t.zp, *need.get(ti, [0, 0, 0, 0]))
            self.first_write[ti] = start[ti]
        offset = max((off + sz for off, sz, _, _ in placed), default=0)
        for out, root in self.alias.items():
            rb = self.buffers[root]
            if rb.padded:
                raise CompileError(f"tensor '{self.m.tensors[out].name}': a reshaped tensor that is also "
                                   "convolved with padding is not supported")
            h, w, c = _hwc(self.m.tensors[out])
            if h * w * c != rb.h * rb.w * rb.c:
                raise CompileError(f"tensor '{self.m.tensors[out].name}': reshape changes the element count")
            self.buffers[out] = Buffer(rb.offset, h, w, c, self.m.tensors[out].zp)
        return offset

    def _size(self, ti: int, need: dict[int, list[int]]) -> int:
        h, w, c = _hwc(self.m.tensors[ti])
        pt, pb, pl, pr = need.get(ti, [0, 0, 0, 0])
        return (h + pt + pb) * (w + pl + pr) * c

    def border_fill(self, ti: int, op: Operator) -> list[Desc]:
        """DMAs that write the zero-point border of a padded buffer (its bytes may have held another
        tensor earlier in the inference): a zero-point row from the weights blob into the scratchpad,
        then strided DMA_OUTs from it (source stride 0) over the top, bottom, left and right borders."""
        b = self.buffers[ti]
        if not b.padded:
            return []
        row = b.row_stride
        self.use(op, row)
        zrow = self.blob(np.full(row, b.zp, dtype=np.int8))
        return [self.dma_in(zrow, 0, 1, row, 0, 0, base=BASE_WEIGHTS), *self._border_outs(b)]

    def _border_outs(self, b: Buffer) -> list[Desc]:
        """DMA_OUTs of a zero-point row at scratchpad 0 (source stride 0) over the four borders."""
        row = b.row_stride
        descs = []
        if b.pt:
            descs.append(self.dma_out(b.at(-b.pt, -b.pl), 0, b.pt, row, row, 0))
        if b.pb:
            descs.append(self.dma_out(b.at(b.h, -b.pl), 0, b.pb, row, row, 0))
        if b.pl:
            descs.append(self.dma_out(b.at(0, -b.pl), 0, b.h, b.pl * b.c, row, 0))
        if b.pr:
            descs.append(self.dma_out(b.at(0, b.w), 0, b.h, b.pr * b.c, row, 0))
        return descs

    def root(self, ti: int) -> int:
        while ti in self.alias:
            ti = self.alias[ti]
        return ti

    # -- resource accounting -----------------------------------------------------------------------
    def use(self, op: Operator, spad: int, acc: int = 0) -> None:
        if spad > self.cfg.scratchpad_bytes or acc > self.cfg.accumulator_bytes:
            raise CompileError(f"{op.where()}: needs {spad} B of scratchpad and {acc} B of accumulator for one "
                               f"row of output; the NPU has {self.cfg.scratchpad_bytes} B and "
                               f"{self.cfg.accumulator_bytes} B (shape beyond the scratchpad)")
        self.spad_peak = max(self.spad_peak, spad)
        self.acc_peak = max(self.acc_peak, acc)

    # -- emitters ------------------------------------------------------------------------------------
    @staticmethod
    def dma_in(dram: int, sram: int, rows: int, row_bytes: int, dram_stride: int, sram_stride: int,
               base: int = BASE_ARENA) -> Desc:
        return Desc("DMA_IN", {"dram_addr": dram, "sram_addr": sram, "rows": rows, "row_bytes": row_bytes,
                               "dram_stride": dram_stride, "sram_stride": sram_stride}, reloc8=base)

    @staticmethod
    def dma_out(dram: int, sram: int, rows: int, row_bytes: int, dram_stride: int, sram_stride: int) -> Desc:
        return Desc("DMA_OUT", {"dram_addr": dram, "sram_addr": sram, "rows": rows, "row_bytes": row_bytes,
                                "dram_stride": dram_stride, "sram_stride": sram_stride}, reloc8=BASE_ARENA)

    def postproc(self, m: int, n: int, bias_off: int, quant_off: int, out_addr: int, zp: int,
                 lo: int, hi: int) -> Desc:
        return Desc("POSTPROC", {"bias_addr": bias_off, "quant_addr": quant_off, "m": m, "n": n, "acc_addr": 0,
                                 "acc_stride": 4 * n, "out_addr": out_addr, "out_stride": n,
                                 "act": ACTIVATIONS["CLAMP"], "zero_point": zp, "clamp_min": lo, "clamp_max": hi},
                    reloc8=BASE_WEIGHTS, reloc16=BASE_WEIGHTS)

    def weights_fit(self) -> bool:
        """True when every matrix layer's weights fit the tiles at once (one block each, all
        layers together): they then stay in the tiles for every inference (weights stationary,
        the point of in-memory compute); otherwise each layer loads (or streams) its own."""
        r, c = self.cfg.rows, self.cfg.cols
        total = 0
        for op in self.m.operators:
            if op.name in ("CONV_2D", "FULLY_CONNECTED"):
                w = self.m.tensors[op.inputs[1]]
                n, k = w.shape[0], int(np.prod(w.shape[1:]))
                if len(self.weight_blocks(k, n)) > 1:
                    return False
                total += -(-k // r) * -(-n // c)
        return total <= self.cfg.tiles

    def weight_blocks(self, k: int, n: int) -> list[tuple[int, int, int, int]]:
        """(k0, k1, n0, n1) blocks that each fit the tiles; one block when the whole matrix fits."""
        t, r, c = self.cfg.tiles, self.cfg.rows, self.cfg.cols
        tk, tn = -(-k // r), -(-n // c)
        if tk * tn <= t:
            return [(0, k, 0, n)]
        if tk <= t:
            group = c * (t // tk)
            return [(0, k, n0, min(n, n0 + group)) for n0 in range(0, n, group)]
        kc = t * r
        return [(k0, min(k, k0 + kc), n0, min(n, n0 + c)) for n0 in range(0, n, c) for k0 in range(0, k, kc)]

    def matmul(self, op: Operator, layer: Layer, *, rows: int, px_per_row: int, k: int, n: int,
               wt: np.ndarray, bias: np.ndarray, qm: np.ndarray, x: Tensor, y: Tensor, act: int,
               fill: Callable[[int, int, int], list[Desc]], out: Buffer) -> None:
        """out = requant(A @ W + bias) for ``rows`` image rows of ``px_per_row`` pixels.

        ``wt`` is W^T (N x K, TFLite's filter layout, loaded with F_TRANSPOSE); ``fill(r0, r1, base)``
        returns the DMAs that write image rows [r0, r1) of A (one K-byte row per pixel) at
        scratchpad ``base``.
        """
        folded = bias.astype(np.int64) - x.zp * wt.astype(np.int64).sum(axis=1)
        if np.any(np.abs(folded) >= 1 << 31):
            raise CompileError(f"{op.where()}: folded bias overflows int32")
        w_off = self.blob(wt.astype(np.int8))
        b_off = self.blob(folded.astype(np.int32))
        q_off = self.blob(qm.astype(np.int32))
        lo, hi = quant.activation_range(act, y.qscale, y.zp)
        per_row = px_per_row * (k + n)
        chunk = min(rows, self.cfg.scratchpad_bytes // max(per_row, 1),
                    self.cfg.accumulator_bytes // max(px_per_row * n * 4, 1))
        self.use(op, px_per_row * (k + n), px_per_row * n * 4)
        chunk = max(chunk, 1)
        blocks = self.weight_blocks(k, n)
        r, c = self.cfg.rows, self.cfg.cols
        layer.tiles_used = max(-(-(k1 - k0) // r) * -(-(n1 - n0) // c) for k0, k1, n0, n1 in blocks)
        layer.tile_util = k * n / (sum(-(-(k1 - k0) // r) * -(-(n1 - n0) // c) for k0, k1, n0, n1 in blocks) * r * c)
        self.tiles_peak = max(self.tiles_peak, layer.tiles_used)

        tile = 0
        if self.resident:  # weights stationary: this layer's own tiles, loaded once at init
            tile = self.next_tile
            self.next_tile += layer.tiles_used
            self.tiles_peak = max(self.tiles_peak, self.next_tile)

        def load(k0: int, k1: int, n0: int, n1: int) -> Desc:
            return Desc("LOAD_WEIGHTS", {"flags": FLAGS["TRANSPOSE"], "dram_addr": w_off + n0 * k + k0, "tile": tile,
                                         "k": k1 - k0, "n": n1 - n0, "dram_stride": k}, reloc8=BASE_WEIGHTS)

        if self.resident:
            self.preload.append(load(*blocks[0]))
        elif len(blocks) == 1:
            layer.descs.append(load(*blocks[0]))
        for r0 in range(0, rows, chunk):
            r1 = min(rows, r0 + chunk)
            m = (r1 - r0) * px_per_row
            a_base, o_base = 0, chunk * px_per_row * k
            self.use(op, o_base + m * n, m * n * 4)
            layer.descs += fill(r0, r1, a_base)
            for k0, k1, n0, n1 in blocks:
                if len(blocks) > 1:
                    layer.descs.append(load(k0, k1, n0, n1))  # streamed: reloaded per chunk
                layer.descs.append(Desc("MVM", {"flags": FLAGS["ACC"] if k0 else 0, "tile": tile, "m": m,
                                                "k": k1 - k0, "n": n1 - n0, "act_addr": a_base + k0,
                                                "act_stride": k, "acc_addr": 4 * n0, "acc_stride": 4 * n}))
            layer.descs.append(self.postproc(m, n, b_off, q_off, o_base, y.zp, lo, hi))
            layer.descs.append(self.dma_out(out.at(r0, 0) if out.h > 1 else out.at(0, 0) + r0 * px_per_row * n,
                                            o_base, r1 - r0, px_per_row * n,
                                            out.row_stride if out.h > 1 else px_per_row * n, px_per_row * n))
        layer.macs += rows * px_per_row * k * n

    # -- operators -------------------------------------------------------------------------------
    def window(self, op: Operator) -> Window:
        """What CONV_2D and DEPTHWISE_CONV_2D read alike: tensors, shapes, strides, padding, buffers."""
        x, w, y = (self.m.tensors[i] for i in op.inputs[:2] + op.outputs[:1])
        o = op.options
        if o.DilationHFactor() != 1 or o.DilationWFactor() != 1:
            raise CompileError(f"{op.where()}: dilated convolution is not supported")
        ih, iw, ic = _hwc(x, op)
        oh, ow, oc = _hwc(y, op)
        n, kh, kw, wc = w.shape
        sh, sw = o.StrideH(), o.StrideW()
        return Window(x, w, y, ih, iw, ic, oh, ow, oc, n, kh, kw, wc, sh, sw,
                      _same_padding(ih, oh, kh, sh, o.Padding()), _same_padding(iw, ow, kw, sw, o.Padding()),
                      self.buffers[op.inputs[0]], self.buffers[op.outputs[0]])

    def conv(self, op: Operator, layer: Layer) -> None:
        g = self.window(op)
        x, w, y, o = g.x, g.w, g.y, op.options
        iw, ic, oh, ow, n, kh, kw = g.iw, g.ic, g.oh, g.ow, g.n, g.kh, g.kw
        sh, sw, pt, pl, src, dst = g.sh, g.sw, g.pt, g.pl, g.src, g.dst
        if g.wc != ic or n != g.oc:
            raise CompileError(f"{op.where()}: grouped convolution is not supported")
        k = kh * kw * ic
        bias = self.bias(op, n)
        qm = quant.conv_multipliers(x.qscale, w.scale, y.qscale, n)

        def fill(r0: int, r1: int, base: int) -> list[Desc]:
            if kh == kw == sh == sw == 1 and pt == pl == 0:  # 1x1: the rows are the matrix
                return [self.dma_in(src.at(r0, 0), base, r1 - r0, iw * ic, src.row_stride, ow * k)]
            descs = []
            if ow < r1 - r0:  # fewer columns than rows: one DMA per (output column, kernel row)
                for xx in range(ow):
                    for ky in range(kh):
                        descs.append(self.dma_in(src.at(r0 * sh + ky - pt, xx * sw - pl), base + xx * k + ky * kw * ic,
                                                 r1 - r0, kw * ic, sh * src.row_stride, ow * k))
                return descs
            for yy in range(r0, r1):  # one DMA per (output row, kernel row)
                for ky in range(kh):
                    descs.append(self.dma_in(src.at(yy * sh + ky - pt, -pl), base + (yy - r0) * ow * k + ky * kw * ic,
                                             ow, kw * ic, sw * ic, k))
            return descs

        self.matmul(op, layer, rows=oh, px_per_row=ow, k=k, n=n, wt=w.data.reshape(n, k), bias=bias, qm=qm,
                    x=x, y=y, act=o.FusedActivationFunction(), fill=fill, out=dst)

    def fully_connected(self, op: Operator, layer: Layer) -> None:
        x, w, y = (self.m.tensors[i] for i in op.inputs[:2] + op.outputs[:1])
        n, k = w.shape
        xh, xw, xc = _hwc(x, op)
        if (xh * xw * xc) % k:
            raise CompileError(f"{op.where()}: input size {xh * xw * xc} is not a multiple of {k}")
        rows = xh * xw * xc // k
        if len(w.scale) > 1:
            qm = quant.conv_multipliers(x.qscale, w.scale, y.qscale, n)
        else:
            qm = np.array([quant.fc_multiplier(x.qscale, w.qscale, y.qscale)] * n, dtype=np.int32)
        src, dst = self.buffers[op.inputs[0]], self.buffers[op.outputs[0]]
        if src.padded:
            raise CompileError(f"{op.where()}: padded input buffer")

        def fill(r0: int, r1: int, base: int) -> list[Desc]:
            return [self.dma_in(src.offset + r0 * k, base, 1, (r1 - r0) * k, 0, 0)]

        flat_out = Buffer(dst.offset, 1, rows * n, 1, dst.zp)
        self.matmul(op, layer, rows=rows, px_per_row=1, k=k, n=n, wt=w.data, bias=self.bias(op, n), qm=qm, x=x,
                    y=y, act=op.options.FusedActivationFunction() if op.options else 0, fill=fill, out=flat_out)

    def bias(self, op: Operator, n: int) -> np.ndarray:
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            b = self.m.tensors[op.inputs[2]]
            if b.data is None or b.type != 2:
                raise CompileError(f"{op.where()}: bias must be a constant int32 tensor")
            return b.data.astype(np.int64).reshape(n)
        return np.zeros(n, dtype=np.int64)

    def depthwise(self, op: Operator, layer: Layer) -> None:
        g = self.window(op)
        x, w, y, o = g.x, g.w, g.y, op.options
        c, oh, ow, kh, kw, sh, sw, pt, pl, src, dst = g.ic, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.src, g.dst
        if g.wc != c or g.oc != c:
            raise CompileError(f"{op.where()}: depth multiplier {o.DepthMultiplier()} is not supported (only 1)")
        if kh * kw > MAX_DW_TAPS:
            raise CompileError(f"{op.where()}: {kh}x{kw} depthwise kernel: DWCONV holds at most {MAX_DW_TAPS} taps")
        wk = w.data.reshape(kh, kw, c)
        folded = self.bias(op, c) - x.zp * wk.astype(np.int64).sum(axis=(0, 1))
        w_off = self.blob(wk)
        b_off = self.blob(folded.astype(np.int32))
        q_off = self.blob(quant.conv_multipliers(x.qscale, w.scale, y.qscale, c))
        lo, hi = quant.activation_range(o.FusedActivationFunction(), y.qscale, y.zp)
        cols = (ow - 1) * sw + kw
        w_bytes = -(-kh * kw * c // ALIGN) * ALIGN

        def needs(rows: int) -> tuple[int, int]:
            in_bytes = ((rows - 1) * sh + kh) * cols * c
            return w_bytes + -(-in_bytes // ALIGN) * ALIGN + rows * ow * c, rows * ow * c * 4

        self.use(op, *needs(1))
        chunk = 1
        while chunk < oh and all(a <= b for a, b in zip(needs(chunk + 1), (self.cfg.scratchpad_bytes,
                                                                            self.cfg.accumulator_bytes), strict=True)):
            chunk += 1
        layer.descs.append(self.dma_in(w_off, 0, 1, kh * kw * c, 0, 0, base=BASE_WEIGHTS))
        for r0 in range(0, oh, chunk):
            r1 = min(oh, r0 + chunk)
            rows_in = (r1 - r0 - 1) * sh + kh
            in_base = w_bytes
            out_base = w_bytes + -(-rows_in * cols * c // ALIGN) * ALIGN
            self.use(op, *needs(r1 - r0))
            layer.descs.append(self.dma_in(src.at(r0 * sh - pt, -pl), in_base, rows_in, cols * c, src.row_stride,
                                           cols * c))
            layer.descs.append(Desc("DWCONV", {"in_addr": in_base, "w_addr": 0, "acc_addr": 0, "h": rows_in,
                                               "w": cols, "c": c, "kh": kh, "kw": kw, "sh": sh, "sw": sw}))
            m = (r1 - r0) * ow
            layer.descs.append(self.postproc(m, c, b_off, q_off, out_base, y.zp, lo, hi))
            layer.descs.append(self.dma_out(dst.at(r0, 0), out_base, r1 - r0, ow * c, dst.row_stride, ow * c))
        layer.macs += oh * ow * c * kh * kw

    def pool(self, op: Operator, layer: Layer) -> None:
        x, y = self.m.tensors[op.inputs[0]], self.m.tensors[op.outputs[0]]
        o = op.options
        ih, iw, c = _hwc(x, op)
        oh, ow, _ = _hwc(y, op)
        kh, kw, sh, sw = o.FilterHeight(), o.FilterWidth(), o.StrideH(), o.StrideW()
        if (_same_padding(ih, oh, kh, sh, o.Padding()) or _same_padding(iw, ow, kw, sw, o.Padding())
                or (oh - 1) * sh + kh > ih or (ow - 1) * sw + kw > iw):
            raise CompileError(f"{op.where()}: pooling windows that cross the border are not supported")
        if x.zp != y.zp or x.qscale != y.qscale:
            raise CompileError(f"{op.where()}: pooling with different input and output quantization")
        if quant.activation_range(o.FusedActivationFunction(), y.qscale, y.zp) != (-128, 127):
            raise CompileError(f"{op.where()}: fused activation on pooling is not supported")
        if max(kh, kw, sh, sw) > 255 or max(ih, iw, c) > 65535:
            raise CompileError(f"{op.where()}: pooling window or shape beyond the POOL command's fields")
        src, dst = self.buffers[op.inputs[0]], self.buffers[op.outputs[0]]
        in_bytes = -(-ih * iw * c // ALIGN) * ALIGN
        self.use(op, in_bytes + oh * ow * c)
        layer.descs.append(self.dma_in(src.at(0, 0), 0, ih, iw * c, src.row_stride, iw * c))
        layer.descs.append(Desc("POOL", {"in_addr": 0, "out_addr": in_bytes, "h": ih, "w": iw, "c": c, "kh": kh,
                                         "kw": kw, "sh": sh, "sw": sw,
                                         "op": POOL_OPS["AVG" if op.name == "AVERAGE_POOL_2D" else "MAX"]}))
        layer.descs.append(self.dma_out(dst.at(0, 0), in_bytes, oh, ow * c, dst.row_stride, ow * c))

    def add(self, op: Operator, layer: Layer) -> None:
        a, b, y = (self.m.tensors[i] for i in op.inputs[:2] + op.outputs[:1])
        if a.shape != b.shape or a.shape != y.shape:
            raise CompileError(f"{op.where()}: broadcasting ADD is not supported ({a.shape} + {b.shape})")
        p = quant.add_params(a.qscale, b.qscale, y.qscale)
        lo, hi = quant.activation_range(op.options.FusedActivationFunction() if op.options else 0, y.qscale, y.zp)
        ba, bb, bo = (self.buffers[i] for i in op.inputs[:2] + op.outputs[:1])
        row = ba.w * ba.c
        chunk = max(1, min(ba.h, self.cfg.scratchpad_bytes // (2 * -(-row // ALIGN) * ALIGN)))
        self.use(op, 2 * -(-row // ALIGN) * ALIGN)
        for r0 in range(0, ba.h, chunk):
            r1 = min(ba.h, r0 + chunk)
            size = (r1 - r0) * row
            b_base = -(-size // ALIGN) * ALIGN
            self.use(op, 2 * b_base)
            layer.descs.append(self.dma_in(ba.at(r0, 0), 0, r1 - r0, row, ba.row_stride, row))
            layer.descs.append(self.dma_in(bb.at(r0, 0), b_base, r1 - r0, row, bb.row_stride, row))
            layer.descs.append(Desc("QADD", {"a_addr": 0, "b_addr": b_base, "out_addr": 0, "count": size,
                                             "a_offset": -a.zp, "b_offset": -b.zp, "zero_point": y.zp,
                                             "clamp_min": lo, "clamp_max": hi, **p}))
            layer.descs.append(self.dma_out(bo.at(r0, 0), 0, r1 - r0, row, bo.row_stride, row))

    def softmax(self, op: Operator, layer: Layer) -> None:
        x, y = self.m.tensors[op.inputs[0]], self.m.tensors[op.outputs[0]]
        if y.zp != -128 or abs(y.qscale - 1 / 256) > 1e-9:
            raise CompileError(f"{op.where()}: int8 softmax output must have scale 1/256 and zero point -128")
        src, dst = self.buffers[op.inputs[0]], self.buffers[op.outputs[0]]
        if src.padded or dst.padded:
            raise CompileError(f"{op.where()}: padded softmax buffers")
        depth = x.shape[-1]
        total = int(np.prod(x.shape))
        mult, shift, diff_min = quant.softmax_params(op.options.Beta(), x.qscale)
        layer.kind = "softmax"
        layer.cpu = {"in_off": src.offset, "out_off": dst.offset, "rows": total // depth, "depth": depth,
                     "mult": mult, "shift": shift, "diff_min": diff_min}

    def input_layer(self) -> Layer:
        """The NPU moves the caller's dense input into its (padded) buffer: DMA_IN from the input
        pointer (relocated per run) into the scratchpad, strided DMA_OUT into the interior; the
        border first (the buffer's bytes are shared with later tensors)."""
        ti = self.m.inputs[0]
        b = self.buffers[ti]
        layer = Layer("input", "npu")
        if b.padded:
            row = b.row_stride
            zrow = self.blob(np.full(row, b.zp, dtype=np.int8))
            layer.descs.append(self.dma_in(zrow, 0, 1, row, 0, 0, base=BASE_WEIGHTS))
            layer.descs += [d for d in self._border_outs(b)]
        row = b.w * b.c
        chunk = max(1, min(b.h, self.cfg.scratchpad_bytes // max(row, 1)))
        if row > self.cfg.scratchpad_bytes:
            raise CompileError(f"input tensor '{self.m.tensors[ti].name}': a row of {row} B is larger than the "
                               f"{self.cfg.scratchpad_bytes} B scratchpad (shape beyond the scratchpad)")
        self.spad_peak = max(self.spad_peak, chunk * row)
        for r0 in range(0, b.h, chunk):
            r1 = min(b.h, r0 + chunk)
            layer.descs.append(self.dma_in(r0 * row, 0, 1, (r1 - r0) * row, 0, 0, base=BASE_INPUT))
            layer.descs.append(self.dma_out(b.at(r0, 0), 0, r1 - r0, row, b.row_stride, row))
        return layer

    def run(self) -> CompiledModel:
        try:
            self.check()
            arena = self.plan()
            self.resident = self.weights_fit()
        except MALFORMED as exc:
            raise CompileError(f"{self.m.path}: malformed model ({type(exc).__name__}: {exc})") from exc
        layers = []
        handlers = {"CONV_2D": self.conv, "DEPTHWISE_CONV_2D": self.depthwise, "FULLY_CONNECTED": self.fully_connected,
                    "ADD": self.add, "AVERAGE_POOL_2D": self.pool, "MAX_POOL_2D": self.pool,
                    "SOFTMAX": self.softmax}
        try:
            layers.append(self.input_layer())
            for d in layers[0].descs:
                d.fields["tag"] = tag(self.name, INPUT_INDEX)
        except MALFORMED as exc:
            raise CompileError(f"{self.m.path}: malformed model input ({type(exc).__name__}: {exc})") from exc
        for op in self.m.operators:
            layer = Layer(f"{op.index}:{op.name}", "npu")
            if op.name == "RESHAPE":
                layer.kind = "alias"
            else:
                try:
                    # borders of the buffers this operator writes, first: the bytes may be shared
                    layer.descs += [d for o in op.outputs if self.first_write.get(o) == op.index
                                    for d in self.border_fill(o, op)]
                    handlers[op.name](op, layer)
                except MALFORMED as exc:  # missing tensors, wrong ranks, inconsistent shapes
                    raise CompileError(f"{op.where()}: malformed operator ({type(exc).__name__}: {exc})") from exc
            for d in layer.descs:  # the descriptor tag names the operator (layer_table.tag)
                d.fields["tag"] = tag(self.name, op.index)
            layers.append(layer)
        for d in self.preload:
            d.fields["tag"] = tag(self.name, PRELOAD_INDEX)
        if len(self.m.inputs) != 1 or len(self.m.outputs) != 1:
            raise CompileError("models with more than one input or output are not supported")
        ti, to = self.m.inputs[0], self.m.outputs[0]
        return CompiledModel(self.name, self.m.path, self.cfg, layers, self.weights, arena, self.buffers,
                             self.buffers[ti], self.buffers[self.root(to)] if to in self.alias else self.buffers[to],
                             self.m.tensors[ti].shape, self.m.tensors[to].shape,
                             self.spad_peak, self.acc_peak, self.tiles_peak, self.preload)


def c_identifier(text: str) -> str:
    ident = "".join(ch if ch.isalnum() else "_" for ch in text)
    return ident if ident and not ident[0].isdigit() else f"m_{ident}"


def compile_model(path: str | Path, config: NpuConfig | None = None, name: str | None = None) -> CompiledModel:
    """Compile a .tflite file (CompileError with a one-line message for anything unsupported)."""
    model = load(path)
    try:
        return Compiler(model, config or NpuConfig.load(None), c_identifier(name or Path(path).stem)).run()
    except MALFORMED as exc:  # the last resort: the per-operator handlers name the operator first
        raise CompileError(f"{path}: malformed model ({type(exc).__name__}: {exc})") from exc
