"""Run a compiled model on an NpuDevice from the host, without firmware: the compiler's own check.

The descriptors go through the device exactly as the firmware runtime submits them (same
relocation, one layer per doorbell); SOFTMAX runs :func:`softmax_int8`, a Python transcription of
the firmware's C (firmware/runtime/npu_softmax.c). Tests use it to find a lowering bug without
booting firmware; the acceptance tests run the real firmware.
"""

from __future__ import annotations

import numpy as np

from emu.clock import VirtualClock
from emu.compiler.lower import BASE_ARENA, BASE_INPUT, BASE_WEIGHTS, CompiledModel
from emu.devices.base import IrqLine
from emu.memory import Ram
from emu.npu_device import NpuDevice
from emu.npu_device.regs import BITS, DESC_BYTES, LAYOUT, REG

RAM_BASE = 0x8000_0000
RING = RAM_BASE + 0x1000
INPUT = RAM_BASE + 0x8_0000  # the caller's input (npu_model_run's pointer)
WEIGHTS = RAM_BASE + 0x10_0000
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _srdhm(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    q = abs(ab + nudge) >> 31
    return q if ab + nudge >= 0 else -q


def _rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    return (x >> e) + ((x & mask) > (mask >> 1) + (x < 0))


def _wrap(x: int) -> int:
    return ((x + (1 << 31)) & 0xFFFF_FFFF) - (1 << 31)


def _sat_shl(x: int, e: int) -> int:
    threshold = (1 << (31 - e)) - 1
    return INT32_MAX if x > threshold else INT32_MIN if x < -threshold else x << e


def _exp_on_negative_values(a: int) -> int:
    """gemmlowp exp_on_negative_values for FixedPoint<int32, 5> -> FixedPoint<int32, 0>."""
    one_quarter = 1 << 24
    a_mod = _wrap((a & (one_quarter - 1)) - one_quarter)
    x = _wrap(_sat_shl(a_mod, 5) + (1 << 28))
    x2 = _srdhm(x, x)
    x3 = _srdhm(x2, x)
    x4 = _srdhm(x2, x2)
    x4_4 = _rdbpot(x4, 2)
    t = _rdbpot(_wrap(_srdhm(_wrap(x4_4 + x3), 715827883) + x2), 1)
    result = _wrap(1895147668 + _srdhm(1895147668, _wrap(x + t)))
    remainder = _wrap(a_mod - a)
    for exponent, mult in ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535),
                           (3, 720401), (4, 242)):
        if remainder & (1 << (26 + exponent)):
            result = _srdhm(result, mult)
    return INT32_MAX if a == 0 else result


def _one_over_one_plus_x(a: int) -> int:
    """gemmlowp one_over_one_plus_x_for_x_in_0_1, FixedPoint<int32, 0>."""
    s = a + INT32_MAX
    half_denominator = (s + (1 if s >= 0 else -1)) // 2 if s >= 0 else -((-s + 1) // 2)
    x = _wrap(1515870810 + _srdhm(half_denominator, -1010580540))
    for _ in range(3):
        one_minus = _wrap((1 << 29) - _srdhm(half_denominator, x))
        x = _wrap(x + _sat_shl(_srdhm(x, one_minus), 2))
    return _sat_shl(x, 1)


def softmax_int8(x: np.ndarray, mult: int, shift: int, diff_min: int) -> np.ndarray:
    """TFLM's int8 -> int8 softmax (reference_ops::Softmax), one row."""
    mx = int(x.max())
    exps = []
    total = 0
    for v in x.tolist():
        diff = v - mx
        if diff >= diff_min:
            e = _exp_on_negative_values(_srdhm(diff * (1 << shift), mult))
            total = _wrap(total + _rdbpot(e, 12))
            exps.append(e)
        else:
            exps.append(None)
    headroom = 32 - total.bit_length() if total > 0 else 32  # CountLeadingZeros of a positive int32
    bits_over_unit = 12 - headroom
    shifted_minus_one = _wrap(((total << headroom) & 0xFFFF_FFFF) - (1 << 31))
    scale = _one_over_one_plus_x(shifted_minus_one)
    exponent = bits_over_unit + 31 - 8
    out = [max(-128, min(127, _rdbpot(_srdhm(scale, e), exponent) - 128)) if e is not None else -128 for e in exps]
    return np.array(out, dtype=np.int8)


class HostRunner:
    """One NpuDevice on a host RAM holding the model's weights and arena."""

    def __init__(self, model: CompiledModel) -> None:
        self.model = model
        self.insns = 0
        self.clock = VirtualClock(deterministic=True, ns_per_insn=1, insn_count=lambda: self.insns)
        arena_at = WEIGHTS + (-(-len(model.weights) // 64) * 64)
        self.arena = arena_at
        self.ram = Ram(max(16 << 20, 1 << (arena_at + model.arena_bytes - RAM_BASE + 1).bit_length()))
        self.npu = NpuDevice(self.ram, self.clock, IrqLine(lambda level: None), model.config)
        self.ram.write(WEIGHTS, bytes(model.weights))
        self.npu.write(REG["RING_BASE_LO"], 4, RING & 0xFFFF_FFFF)
        self.npu.write(REG["RING_BASE_HI"], 4, RING >> 32)
        self.npu.write(REG["RING_SIZE"], 4, 4096)
        self.npu.write(REG["CTRL"], 4, BITS["CTRL_ENABLE"])
        self.tail = 0
        if model.preload:  # resident weights: loaded once
            self._submit(model.preload)

    def _submit(self, layer_descs: list) -> None:
        bases = {BASE_WEIGHTS: WEIGHTS, BASE_ARENA: self.arena, BASE_INPUT: INPUT}
        for d in layer_descs:
            fields = dict(d.fields)
            for off, base in ((8, d.reloc8), (16, d.reloc16)):
                if base:
                    name = next(f.name for f in LAYOUT[d.op].fields if f.offset == off)
                    fields[name] = fields.get(name, 0) + bases[base]
            self.ram.write(RING + (self.tail % 4096) * DESC_BYTES, LAYOUT[d.op].pack(**fields))
            self.tail += 1
        self.npu.write(REG["RING_TAIL"], 4, self.tail)
        self.npu.write(REG["DOORBELL"], 4, 1)
        while (deadline := self.clock.next_deadline()) is not None:
            self.clock.skip_to(deadline)
            self.clock.run_due()
        self.clock.skip_to(self.npu.last_end_ns)
        if self.npu.read(REG["ERR_CODE"], 4):
            raise RuntimeError(f"NPU error {self.npu.read(REG['ERR_CODE'], 4)}")

    def run(self, x: np.ndarray) -> np.ndarray:
        m = self.model
        self.ram.write(INPUT, np.asarray(x, dtype=np.int8).tobytes())
        for layer in m.layers:
            if layer.kind == "npu":
                self._submit(layer.descs)
            elif layer.kind == "softmax":
                c = layer.cpu
                src = np.frombuffer(self.ram.read(self.arena + c["in_off"], c["rows"] * c["depth"]), np.int8)
                out = np.concatenate([softmax_int8(r, c["mult"], c["shift"], c["diff_min"])
                                      for r in src.reshape(c["rows"], c["depth"])])
                self.ram.write(self.arena + c["out_off"], out.tobytes())
        size = m.output.h * m.output.w * m.output.c
        return np.frombuffer(self.ram.read(self.arena + m.output.offset, size), np.int8).reshape(m.output_shape)
