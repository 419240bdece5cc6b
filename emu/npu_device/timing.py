"""The timing and energy model: what each command costs in NPU cycles and pJ.

Costs depend only on the command's shape, never on data, so firmware timing is
reproducible.  Formulas are in docs/npu.md ("Timing model", "Energy").
"""

from __future__ import annotations

import math
from typing import NamedTuple

from emu.npu_device.config import NpuConfig


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


class CostModel:
    """Turns command shapes into :class:`Cost` using a config's timing and energy tables."""

    def __init__(self, config: NpuConfig) -> None:
        self.t = config.timing
        self.e = config.energy
        self.mhz = config.npu_mhz

    def ns(self, cycles: int) -> int:
        """Duration of ``cycles`` NPU cycles in ns, rounded up so a command with cycles never takes 0 ns."""
        return math.ceil(cycles * 1000 / self.mhz)

    def cycles_in(self, ns: int) -> int:
        """Whole NPU cycles in ``ns`` nanoseconds."""
        return int(ns * self.mhz // 1000)

    def _dram(self, nbytes: int) -> int:
        return self.t.dma_latency + _ceil_div(nbytes, self.t.dma_bytes_per_cycle) if nbytes else 0

    def _vector(self, elements: int) -> int:
        return self.t.vector_latency + _ceil_div(elements, self.t.vector_lanes) if elements else 0

    def fence(self) -> Cost:
        return Cost(self.t.command_overhead)

    def dma(self, nbytes: int, inbound: bool) -> Cost:
        cycles = self.t.command_overhead + self._dram(nbytes)
        energy = nbytes * (self.e.dram_byte + self.e.sram_byte)
        return Cost(cycles, dma_in=nbytes if inbound else 0, dma_out=0 if inbound else nbytes, energy_pj=energy)

    def load_weights(self, dram_bytes: int, weights: int) -> Cost:
        cycles = (self.t.command_overhead + self._dram(dram_bytes)
                  + _ceil_div(dram_bytes, self.t.weight_bytes_per_cycle))
        energy = dram_bytes * self.e.dram_byte + weights * self.e.weight_write
        return Cost(cycles, dma_in=dram_bytes, weight_bytes=dram_bytes, energy_pj=energy)

    def mvm(self, m: int, k: int, n: int, int4: bool, transposed: bool, accumulate: bool) -> Cost:
        per_row = self.t.mvm_t_cycles_per_row if transposed else self.t.mvm_cycles_per_row
        cycles = self.t.command_overhead + (m * per_row + self.t.mvm_latency if m else 0)
        macs = m * k * n
        mac_pj = self.e.mac_transposed if transposed else self.e.mac_int4 if int4 else self.e.mac_int8
        depth, width = (n, k) if transposed else (k, n)
        sram = m * depth + m * width * 4 * (2 if accumulate else 1)
        return Cost(cycles, macs=macs, energy_pj=macs * mac_pj + sram * self.e.sram_byte)

    def weight_update(self, m: int, k: int, n: int, weight_bytes: int) -> Cost:
        cycles = (self.t.command_overhead + (m * self.t.mvm_t_cycles_per_row + self.t.mvm_latency if m else 0)
                  + _ceil_div(weight_bytes, self.t.weight_bytes_per_cycle))
        macs = m * k * n
        energy = macs * self.e.mac_transposed + k * n * self.e.weight_write + m * (k + n) * self.e.sram_byte
        return Cost(cycles, macs=macs, weight_bytes=weight_bytes, energy_pj=energy)

    def vector(self, elements: int, sram_bytes: int, dram_in: int = 0, dram_out: int = 0) -> Cost:
        cycles = self.t.command_overhead + self._vector(elements) + self._dram(dram_in) + self._dram(dram_out)
        energy = sram_bytes * self.e.sram_byte + (dram_in + dram_out) * self.e.dram_byte
        return Cost(cycles, dma_in=dram_in, dma_out=dram_out, energy_pj=energy)

    def depthwise(self, outputs: int, taps: int, sram_in: int, accumulate: bool) -> Cost:
        """DWCONV: the vector lanes do ``taps`` MACs per output (not the tiles), int8 MAC energy;
        ``sram_in`` = input + weight bytes read once, plus the int32 outputs (read too with F_ACC)."""
        macs = outputs * taps
        cycles = self.t.command_overhead + self._vector(macs)
        sram = sram_in + outputs * 4 * (2 if accumulate else 1)
        return Cost(cycles, macs=macs, energy_pj=macs * self.e.mac_int8 + sram * self.e.sram_byte)
