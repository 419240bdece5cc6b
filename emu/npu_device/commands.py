"""Executing one decoded descriptor: the functional effect plus its modeled :class:`Cost`.

Each handler validates every field before it writes anything, so an aborted
command (an :class:`NpuFault`) leaves DRAM, the scratchpad, the accumulator
and the tiles untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from emu.memory import Ram
from emu.npu_device import dma, postproc
from emu.npu_device.fault import NpuFault
from emu.npu_device.regs import FLAGS, OPCODES
from emu.npu_device.tiles import TileStore, unpack_int4
from emu.npu_device.timing import Cost, CostModel

F_ACC = FLAGS["ACC"]
F_TRANSPOSE = FLAGS["TRANSPOSE"]
F_INT4 = FLAGS["INT4"]
F_STOCHASTIC = FLAGS["STOCHASTIC"]


class Executor:
    """The NPU datapath: on-chip memories, tiles, and one handler per opcode."""

    def __init__(self, ram: Ram, tiles: TileStore, spad: np.ndarray, acc: np.ndarray, costs: CostModel) -> None:
        self.ram = ram
        self.tiles = tiles
        self.spad = spad  # uint8 bytes of the scratchpad
        self.spad8 = spad.view(np.int8)
        self.acc = acc  # int32 accumulator entries
        self.acc_bytes = acc.view(np.uint8)
        self.costs = costs
        self.grad_saturated = False  # sticky: a WEIGHT_UPDATE gradient hit training.grad_bits (STATUS.GRAD_SAT)
        self.handlers: dict[int, Callable[[Any], Cost]] = {
            OPCODES[name]: getattr(self, name.lower()) for name in OPCODES
        }
        # Opcodes whose checks can be done once per distinct descriptor (see prepare).
        self.preparers: dict[int, Callable[[Any], Callable[[], Cost]]] = {
            OPCODES["DMA_IN"]: self._prepare_dma_in,
            OPCODES["DMA_OUT"]: self._prepare_dma_out,
            OPCODES["MVM"]: lambda d: self._prepare_product(d, transposed=False),
            OPCODES["MVM_T"]: lambda d: self._prepare_product(d, transposed=True),
        }

    def execute(self, opcode: int, d: Any) -> Cost:
        return self.handlers[opcode](d)

    def prepare(self, opcode: int, d: Any) -> Callable[[], Cost]:
        """A function executing the decoded descriptor ``d`` and returning its cost.

        It may be called again for the same descriptor bytes while ``tiles.version`` is
        unchanged.  DMA_IN, DMA_OUT, MVM and MVM_T are checked here, once (raising
        :class:`NpuFault` as their handlers would); for the other opcodes every call runs the
        handler, which checks every time.
        """
        preparer = self.preparers.get(opcode)
        if preparer is not None:
            return preparer(d)
        return partial(self.handlers[opcode], d)

    # -- data movement ---------------------------------------------------------------------
    def _onchip(self, d: Any) -> tuple[np.ndarray, int]:
        """The on-chip byte array a DMA targets and its alignment (4 for the accumulator)."""
        return (self.acc_bytes, 4) if d.flags & F_ACC else (self.spad, 1)

    # A DMA's checks and views depend only on its fields and the fixed memory sizes: prepared
    # once, the copy itself (reading its source when it runs) is the whole command.
    def _prepare_dma_in(self, d: Any) -> Callable[[], Cost]:
        base, align = self._onchip(d)
        src = dma.dram(self.ram, d.dram_addr, d.rows, d.row_bytes, d.dram_stride, align=align)
        dst = dma.sram(base, d.sram_addr, d.rows, d.row_bytes, d.sram_stride, dest=True, align=align)
        return _copier(dst, src, self.costs.dma(d.rows, d.row_bytes, inbound=True))

    def _prepare_dma_out(self, d: Any) -> Callable[[], Cost]:
        base, align = self._onchip(d)
        src = dma.sram(base, d.sram_addr, d.rows, d.row_bytes, d.sram_stride, align=align)
        dst = dma.dram(self.ram, d.dram_addr, d.rows, d.row_bytes, d.dram_stride, align=align, dest=True)
        copy = _copier(dst, src, self.costs.dma(d.rows, d.row_bytes, inbound=False))
        addr, length, written = d.dram_addr, dma.span(d.rows, d.row_bytes, d.dram_stride), self.ram.written

        def run() -> Cost:
            cost = copy()
            written(addr, length)  # the CPU must not run stale translations of what DMA overwrote
            return cost

        return run

    def dma_in(self, d: Any) -> Cost:
        return self._prepare_dma_in(d)()

    def dma_out(self, d: Any) -> Cost:
        return self._prepare_dma_out(d)()

    def load_weights(self, d: Any) -> Cost:
        int4 = bool(d.flags & F_INT4)
        rows, cols = (d.n, d.k) if d.flags & F_TRANSPOSE else (d.k, d.n)
        row_bytes = (cols + 1) // 2 if int4 else cols
        self.tiles.grid(d.tile, d.k, d.n)
        raw = dma.dram(self.ram, d.dram_addr, rows, row_bytes, d.dram_stride)
        w = unpack_int4(raw, cols) if int4 else raw.view(np.int8)
        self.tiles.store(d.tile, w.T if d.flags & F_TRANSPOSE else w, int4)
        return self.costs.load_weights(rows, row_bytes, d.k * d.n, int4)

    # -- matrix products -------------------------------------------------------------------
    def _prepare_product(self, d: Any, transposed: bool) -> Callable[[], Cost]:
        """Check an MVM/MVM_T and decide everything about it; the returned function applies it.

        Nothing the checks or the cost depend on changes until the tiles are next written
        (the views are of the fixed on-chip memories), so the device may run it again for an
        identical descriptor while ``tiles.version`` is unchanged.
        """
        depth, width = (d.n, d.k) if transposed else (d.k, d.n)
        self.tiles.grid(d.tile, d.k, d.n)
        act = dma.sram(self.spad8, d.act_addr, d.m, depth, d.act_stride)
        out = dma.sram(self.acc, d.acc_addr, d.m, width, d.acc_stride, dest=True)
        accumulate = bool(d.flags & F_ACC)
        int4 = self.tiles.bound(d.tile, d.k, d.n) == 8
        costs, m, k, n = self.costs, d.m, d.k, d.n
        if not (d.m and width):
            cost = costs.mvm(m, k, n, int4, transposed, accumulate, costs.activity(act))
            return lambda: cost
        product = self.tiles.product(d.tile, act, k, n, transposed, out, accumulate)
        cycles, macs, base, per_one, per_plane = costs.mvm_terms(m, k, n, int4, transposed, accumulate)
        activity = costs.activity

        def run() -> Cost:  # the energy depends on the activation bits read when it runs
            product()
            ones, planes = activity(act)
            return Cost(cycles, macs, 0, 0, 0, base + ones * per_one + planes * per_plane)

        return run

    def mvm(self, d: Any) -> Cost:
        return self._prepare_product(d, transposed=False)()

    def mvm_t(self, d: Any) -> Cost:
        return self._prepare_product(d, transposed=True)()

    def weight_update(self, d: Any) -> Cost:
        if d.shift > postproc.MAX_SHIFT:
            raise NpuFault("BAD_ARG", f"weight update shift {d.shift} > {postproc.MAX_SHIFT}")
        self.tiles.grid(d.tile, d.k, d.n)
        x = dma.sram(self.spad8, d.x_addr, d.m, d.k, d.x_stride)
        delta = dma.sram(self.spad8, d.d_addr, d.m, d.n, d.d_stride)
        int4 = self.tiles.bound(d.tile, d.k, d.n) == 8
        if d.k and d.n and self.tiles.update(d.tile, x, delta, d.shift, bool(d.flags & F_STOCHASTIC), d.seed,
                                             self.costs.config.training.grad_bits):
            self.grad_saturated = True
        return self.costs.weight_update(d.m, d.k, d.n, int4, self.costs.activity(x.T))

    # -- post-processing -------------------------------------------------------------------
    def _int32_array(self, addr: int, count: int) -> np.ndarray:
        """``count`` int32 read from DRAM (4-byte aligned)."""
        return dma.dram(self.ram, addr, 1, 4 * count, 0, align=4).view(np.int32)[0]

    def postproc(self, d: Any) -> Cost:
        lo, hi = postproc.activation_bounds(d.act, d.zero_point, d.clamp_min, d.clamp_max)
        acc = dma.sram(self.acc, d.acc_addr, d.m, d.n, d.acc_stride)
        out = dma.sram(self.spad8, d.out_addr, d.m, d.n, d.out_stride, dest=True)
        dram_in = 0
        bias: np.ndarray | int = 0  # no per-channel array before n is validated (issue 17 N2)
        if d.bias_addr:
            bias = self._int32_array(d.bias_addr, d.n)
            dram_in += 4 * d.n
        if d.quant_addr:
            quant = self._int32_array(d.quant_addr, 2 * d.n).reshape(d.n, 2)
            mult, shift = quant[:, 0], quant[:, 1]
            dram_in += 8 * d.n
        else:
            mult, shift = d.multiplier, d.shift
        postproc.check_shift(shift)
        if d.m and d.n:
            y = postproc.requantize(acc + bias, mult, shift)  # acc + bias wraps in int32
            out[...] = postproc.finish(y, d.zero_point, lo, hi)
        return self.costs.vector(d.m * d.n, d.m * d.n * 5, dram_in=dram_in)

    def eltwise(self, d: Any) -> Cost:
        lo, hi = postproc.activation_bounds(d.act, d.zero_point, d.clamp_min, d.clamp_max)
        postproc.check_shift(d.shift)
        a = dma.sram(self.spad8, d.a_addr, d.m, d.n, d.a_stride)
        b = dma.sram(self.spad8, d.b_addr, d.m, d.n, d.b_stride)
        out = dma.sram(self.spad8, d.out_addr, d.m, d.n, d.out_stride, dest=True)
        t = postproc.eltwise(d.op, a, b, d.a_offset, d.b_offset)
        out[...] = postproc.finish(postproc.requantize(t, d.multiplier, d.shift), d.zero_point, lo, hi)
        return self.costs.vector(d.m * d.n, d.m * d.n * 3)

    def pool(self, d: Any) -> Cost:
        oh, ow = postproc.pool_shape(d.h, d.w, d.kh, d.kw, d.sh, d.sw)
        x = dma.sram(self.spad8, d.in_addr, 1, d.h * d.w * d.c, 0)
        out = dma.sram(self.spad8, d.out_addr, 1, oh * ow * d.c, 0, dest=True)
        if d.op not in (0, 1):
            raise NpuFault("BAD_ARG", f"unknown pooling op {d.op}")
        if d.c:
            out[...] = postproc.pool(d.op, x.reshape(d.h, d.w, d.c), d.kh, d.kw, d.sh, d.sw).reshape(1, -1)
        reads = oh * ow * d.c * d.kh * d.kw
        return self.costs.vector(reads, reads + oh * ow * d.c)

    def argmax(self, d: Any) -> Cost:
        if d.n == 0 and d.m:
            raise NpuFault("BAD_ARG", "argmax of an empty row")
        src = dma.sram(self.acc if d.flags & F_ACC else self.spad8,
                       d.src_addr, d.m, d.n, d.src_stride)
        dst = dma.dram(self.ram, d.dram_addr, 1, 4 * d.m, 0, align=4, dest=True)
        if d.m:
            dst.view(np.int32)[0] = np.argmax(src, axis=1)
            self.ram.written(d.dram_addr, 4 * d.m)
        return self.costs.vector(d.m * d.n, d.m * d.n * src.itemsize, dram_out=4 * d.m)

    def fence(self, d: Any) -> Cost:
        return self.costs.fence()

    def dwconv(self, d: Any) -> Cost:
        oh, ow = postproc.pool_shape(d.h, d.w, d.kh, d.kw, d.sh, d.sw)
        if d.kh * d.kw > postproc.MAX_DW_TAPS:
            raise NpuFault("BAD_ARG", f"{d.kh}x{d.kw} kernel: more than {postproc.MAX_DW_TAPS} taps")
        x = dma.sram(self.spad8, d.in_addr, 1, d.h * d.w * d.c, 0)
        w = dma.sram(self.spad8, d.w_addr, 1, d.kh * d.kw * d.c, 0)
        out = dma.sram(self.acc, d.acc_addr, 1, oh * ow * d.c, 0, dest=True)
        if d.c:
            y = postproc.depthwise(x.reshape(d.h, d.w, d.c), w.reshape(d.kh, d.kw, d.c), d.sh, d.sw)
            if d.flags & F_ACC:
                y += out.reshape(oh, ow, d.c)
            out[...] = y.astype(np.int32).reshape(1, -1)  # int64 -> int32 wraps like the adder
        return self.costs.depthwise(oh * ow * d.c, d.kh * d.kw, (d.h * d.w + d.kh * d.kw) * d.c,
                                    bool(d.flags & F_ACC))

    def qadd(self, d: Any) -> Cost:
        postproc.check_shift(np.array([d.a_shift, d.b_shift, d.out_shift]))
        if d.left_shift > postproc.MAX_SHIFT:
            raise NpuFault("BAD_ARG", f"left shift {d.left_shift} > {postproc.MAX_SHIFT}")
        lo, hi = postproc.activation_bounds(postproc.ACTIVATIONS["CLAMP"], d.zero_point, d.clamp_min, d.clamp_max)
        a = dma.sram(self.spad8, d.a_addr, 1, d.count, 0)
        b = dma.sram(self.spad8, d.b_addr, 1, d.count, 0)
        out = dma.sram(self.spad8, d.out_addr, 1, d.count, 0, dest=True)
        if d.count:
            y = postproc.qadd(a, b, d.a_offset, d.b_offset, d.left_shift, (d.a_multiplier, d.a_shift),
                              (d.b_multiplier, d.b_shift), (d.out_multiplier, d.out_shift))
            out[...] = postproc.finish(y, d.zero_point, lo, hi)
        return self.costs.vector(d.count, 3 * d.count)


def _copier(dst: np.ndarray, src: np.ndarray, cost: Cost) -> Callable[[], Cost]:
    """A prepared DMA: ``dst[...] = src`` when called, returning ``cost``."""

    def run() -> Cost:
        dst[...] = src
        return cost

    return run
