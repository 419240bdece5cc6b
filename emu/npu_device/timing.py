"""The cost model: what each command costs in NPU cycles and pJ, derived from the macro's datapath.

Cycles depend only on the command's shape; the MAC energy also depends on the activations
(bit-serial inputs: a 1 bit pulses a word line and switches its cells; an all-zero bit-plane
is skipped when the macro does), so it is computed from the data the command reads.  Both are
functions of guest behaviour only.  Formulas: docs/npu.md ("Cost model").
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from emu.npu_device.config import NpuConfig

SMALL_ROWS, SMALL_BYTES = 4, 1024  # activations this small are counted without numpy


class Cost(NamedTuple):
    """What one command adds to the performance counters when it completes."""

    cycles: int
    macs: int = 0
    dma_in: int = 0
    dma_out: int = 0
    weight_bytes: int = 0
    energy_pj: float = 0.0


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class MacroActivity(NamedTuple):
    """Data-dependent activity of one MVM's input bit-planes."""

    ones: int  # input bits that are 1 (word-line pulses), over all rows
    planes: int  # bit-planes driven (all-zero planes excluded when the macro skips them)


class CostModel:
    """Turns command shapes (and, for the macro, the activation bits) into :class:`Cost`."""

    def __init__(self, config: NpuConfig) -> None:
        self.config = config
        self.t = config.timing
        self.e = config.energy
        self.m = config.macro
        self.mhz = config.npu_mhz
        self.planes_per_row = _ceil_div(self.m.input_bits, self.m.input_bits_per_cycle)
        self.adder_latency = max(1, math.ceil(math.log2(config.rows))) if config.rows > 1 else 1
        # Static energy per busy cycle in pJ: mW * 1e-3 W x 1 / (MHz * 1e6) s x 1e12 pJ/J.
        self.leakage_per_cycle = self.e.leakage_mw * 1e3 / self.mhz
        self.descriptor_pj = 64 * self.e.dram_byte
        self._tree_bits: dict[tuple[int, int], int] = {}
        self.tree_group = max(1, self.m.adder_tree_bits - self.adder_latency)  # product bits per tree

    def ns(self, cycles: int) -> int:
        """Duration of ``cycles`` NPU cycles in ns, rounded up so a command with cycles never takes 0 ns."""
        return math.ceil(cycles * 1000 / self.mhz)

    def cycles_in(self, ns: int) -> int:
        """Whole NPU cycles in ``ns`` nanoseconds."""
        return int(ns * self.mhz // 1000)

    def static_pj(self, busy_cycles: int) -> float:
        """Leakage over ``busy_cycles`` (the NPU is power-gated when idle, so idle time costs nothing)."""
        return busy_cycles * self.leakage_per_cycle

    # -- building blocks --------------------------------------------------------------------
    def _issue(self) -> int:
        return self.t.descriptor_fetch + self.t.command_overhead

    def dram_cycles(self, rows: int, row_bytes: int) -> int:
        """A strided DRAM transfer: latency, per-row address generation, per-burst overhead, bandwidth."""
        if not rows or not row_bytes:
            return 0
        bursts = rows * _ceil_div(row_bytes, self.t.dma_burst_bytes)
        return (self.t.dma_latency + rows * self.t.dma_row_cycles + bursts * self.t.dma_burst_cycles
                + _ceil_div(rows * row_bytes, self.t.dma_bytes_per_cycle))

    def _vector(self, elements: int) -> int:
        return self.t.vector_latency + _ceil_div(elements, self.t.vector_lanes) if elements else 0

    def activity(self, act: np.ndarray) -> MacroActivity:
        """Word-line pulses and driven bit-planes of the M x depth int8 activations ``act``."""
        if act.size == 0:
            return MacroActivity(0, 0)
        if act.shape[0] <= SMALL_ROWS and act.size <= SMALL_BYTES and self.m.input_bits_per_cycle == 1:
            return self._activity_small(act)
        raw = act.view(np.uint8) if act.dtype == np.int8 else act.astype(np.int8).view(np.uint8)
        ones = int(np.bitwise_count(raw).sum(dtype=np.int64))  # SIMD popcount: 5x a table lookup
        if not self.m.skip_zero_planes:
            return MacroActivity(ones, act.shape[0] * self.planes_per_row)
        per_row = np.bitwise_or.reduce(raw, axis=1)
        if self.m.input_bits_per_cycle == 1:
            return MacroActivity(ones, int(np.bitwise_count(per_row).sum(dtype=np.int64)))
        mask = (1 << self.m.input_bits_per_cycle) - 1
        planes = sum(int(((per_row >> shift) & mask).astype(bool).sum())
                     for shift in range(0, self.m.input_bits, self.m.input_bits_per_cycle))
        return MacroActivity(ones, planes)

    def assumed_activity(self, rows: int, depth: int) -> MacroActivity:
        """The activity assumed when the data is not known (the compiler's static estimate): every
        bit-plane of every row driven and half the input bits 1."""
        return MacroActivity(ones=rows * depth * self.m.input_bits // 2, planes=rows * self.planes_per_row)

    def _activity_small(self, act: np.ndarray) -> MacroActivity:
        """:meth:`activity` of a few short rows with Python integers: no numpy call overhead
        (tiny MVMs are where the per-command cost shows)."""
        data = act.astype(np.int8, copy=False).tobytes()
        ones = int.from_bytes(data, "little").bit_count()
        if not self.m.skip_zero_planes:
            return MacroActivity(ones, act.shape[0] * self.planes_per_row)
        depth = act.shape[1]
        planes = 0
        for start in range(0, len(data), depth):
            x, n = int.from_bytes(data[start : start + depth], "little"), depth
            while n > 1:  # fold the row's bytes onto its low byte with OR
                half = (n + 1) // 2
                x = (x | (x >> (8 * half))) & ((1 << (8 * half)) - 1)
                n = half
            planes += (x & ((1 << self.m.input_bits) - 1)).bit_count()
        return MacroActivity(ones, planes)

    def tree_bits(self, depth: int, weight_bits: int) -> int:
        """Full-adder bits summing one column over ``depth`` rows of ``weight_bits``-bit weights.

        A tree of ``adder_tree_bits`` output bits over the macro's R rows adds products of
        G = adder_tree_bits - ceil(log2 R) bits (the cell group a tree serves: 4 bits for a 12-bit
        tree over 256 rows); a wider weight uses ceil(weight_bits / G) trees, shifted and added
        by the accumulator.  Level l of a tree has ceil(depth / 2^l) adders of G + l bits.
        """
        key = (depth, weight_bits)
        bits = self._tree_bits.get(key)
        if bits is None:
            group = self.tree_group
            one, n, level = 0, depth, 0
            while n > 1:
                n, level = -(-n // 2), level + 1
                one += n * (group + level)
            bits = self._tree_bits[key] = one * -(-weight_bits // group)
        return bits

    def plane_pj(self, depth: int, width: int, weight_bits: int) -> float:
        """Energy of one driven bit-plane: every column's adder tree and shift-and-add accumulator."""
        e = self.e
        return width * (self.tree_bits(depth, weight_bits) * e.adder_bit + self.m.accumulator_bits * e.accumulator_bit)

    def macro_pj(self, activity: MacroActivity, depth: int, width: int, weight_bits: int) -> float:
        """Energy of the macro proper for ``depth`` word lines x ``width`` weight columns.

        Per 1 input bit: its word-line driver and the AND of every weight bit on that line; per
        driven bit-plane: the adder tree of each column and its shift-and-add accumulator.
        """
        per_one, per_plane = self.macro_terms(depth, width, weight_bits)
        return activity.ones * per_one + activity.planes * per_plane

    def macro_terms(self, depth: int, width: int, weight_bits: int) -> tuple[float, float]:
        """(pJ per input 1 bit, pJ per driven bit-plane) of :meth:`macro_pj`."""
        e = self.e
        return e.input_driver + width * weight_bits * e.cell_bit, self.plane_pj(depth, width, weight_bits)

    def weight_bits(self, int4: bool) -> int:
        return 4 if int4 and self.m.int4_packing else self.m.weight_bits

    # -- commands --------------------------------------------------------------------------
    def fence(self) -> Cost:
        return Cost(self._issue(), energy_pj=self.descriptor_pj)

    def dma(self, rows: int, row_bytes: int, inbound: bool) -> Cost:
        nbytes = rows * row_bytes
        cycles = self._issue() + self.dram_cycles(rows, row_bytes)
        energy = self.descriptor_pj + nbytes * (self.e.dram_byte + self.e.sram_byte)
        return Cost(cycles, dma_in=nbytes if inbound else 0, dma_out=0 if inbound else nbytes, energy_pj=energy)

    def load_weights(self, rows: int, row_bytes: int, weights: int, int4: bool) -> Cost:
        dram_bytes = rows * row_bytes
        cycles = (self._issue() + self.dram_cycles(rows, row_bytes)
                  + _ceil_div(dram_bytes, self.t.weight_bytes_per_cycle))
        energy = (self.descriptor_pj + dram_bytes * self.e.dram_byte
                  + weights * self.weight_bits(int4) * self.e.weight_write_bit)
        return Cost(cycles, dma_in=dram_bytes, weight_bytes=dram_bytes, energy_pj=energy)

    def mvm_cycles(self, m: int, transposed: bool) -> int:
        """Bit-serial rows through the pipelined tree: one cycle per input bit-plane per row."""
        if not m:
            return self._issue()
        per_row = self.planes_per_row * (self.t.transpose_cycles_factor if transposed else 1)
        return self._issue() + m * per_row + self.adder_latency + self.t.accumulate_latency

    def mvm_terms(self, m: int, k: int, n: int, int4: bool, transposed: bool,
                  accumulate: bool) -> tuple[int, int, float, float, float]:
        """(cycles, MACs, energy independent of the data, pJ per input 1 bit, pJ per driven bit-plane)
        of an MVM/MVM_T: the energy is ``base + ones * per_one + planes * per_plane``."""
        depth, width = (n, k) if transposed else (k, n)
        e = self.e
        scale = e.transposed_factor if transposed else 1.0
        per_one, per_plane = self.macro_terms(depth, width, self.weight_bits(int4))
        per_one, per_plane = per_one * scale, per_plane * scale
        sram = m * depth + m * width * 4 * (2 if accumulate else 1)
        base = self.descriptor_pj + m * width * e.output + sram * e.sram_byte
        return self.mvm_cycles(m, transposed), m * k * n, base, per_one, per_plane

    def mvm(self, m: int, k: int, n: int, int4: bool, transposed: bool, accumulate: bool,
            activity: MacroActivity) -> Cost:
        cycles, macs, base, per_one, per_plane = self.mvm_terms(m, k, n, int4, transposed, accumulate)
        return Cost(cycles, macs=macs, energy_pj=base + activity.ones * per_one + activity.planes * per_plane)

    def weight_update(self, m: int, k: int, n: int, int4: bool, activity: MacroActivity) -> Cost:
        """Row-wise read-modify-write: weight row i gets its gradient row x[:, i]^T d (the M
        values of x's column i driven bit-serially against d, an M x N operand, in the macro's
        transposable MAC circuits; ``activity`` is that of x^T), then is read, updated and
        written back: K rows, each a bit-serial pass over M inputs plus a read and a write."""
        if m and k:
            cycles = (self._issue() + k * (self.planes_per_row * self.t.transpose_cycles_factor
                                           + self.t.weight_rmw_cycles_per_row)
                      + self.adder_latency + self.t.accumulate_latency)
        else:
            cycles = self._issue()
        wbits = self.weight_bits(int4)
        macro = self.macro_pj(activity, m, n, self.m.weight_bits) * self.e.transposed_factor
        energy = (self.descriptor_pj + macro + k * n * wbits * self.e.weight_write_bit
                  + (m * (k + n) + 2 * k * n) * self.e.sram_byte)
        return Cost(cycles, macs=m * k * n, weight_bytes=k * n, energy_pj=energy)

    def vector(self, elements: int, sram_bytes: int, dram_in: int = 0, dram_out: int = 0) -> Cost:
        cycles = (self._issue() + self._vector(elements) + self.dram_cycles(1, dram_in)
                  + self.dram_cycles(1, dram_out))
        energy = (self.descriptor_pj + elements * self.e.vector_op + sram_bytes * self.e.sram_byte
                  + (dram_in + dram_out) * self.e.dram_byte)
        return Cost(cycles, dma_in=dram_in, dma_out=dram_out, energy_pj=energy)

    def depthwise(self, outputs: int, taps: int, sram_in: int, accumulate: bool) -> Cost:
        """DWCONV: the vector lanes do ``taps`` MACs per output (not the tiles), one vector
        operation each; ``sram_in`` = input + weight bytes read once, plus the int32 outputs (read
        too with F_ACC)."""
        macs = outputs * taps
        cycles = self._issue() + self._vector(macs)
        sram = sram_in + outputs * 4 * (2 if accumulate else 1)
        return Cost(cycles, macs=macs,
                    energy_pj=self.descriptor_pj + macs * self.e.vector_op + sram * self.e.sram_byte)
