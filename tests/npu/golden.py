"""Plain golden models of every NPU operation: Python integers and loops, clarity over speed.

Each function restates a formula of docs/npu.md literally; the property tests
assert the vectorized device equals these bit for bit.
"""

from __future__ import annotations

import numpy as np

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
M64 = 2**64 - 1


def wrap32(x: int) -> int:
    return (x + 2**31) % 2**32 - 2**31


def sat(x: int, lo: int, hi: int) -> int:
    return min(max(x, lo), hi)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact integer a @ b with Python ints, wrapped to int32."""
    m, k = a.shape
    n = b.shape[1]
    out = np.zeros((m, n), dtype=np.int64)
    for i in range(m):
        for j in range(n):
            out[i, j] = wrap32(sum(int(a[i, x]) * int(b[x, j]) for x in range(k)))
    return out.astype(np.int32)


def int4_unpack_row(data: bytes, count: int) -> list[int]:
    """Element 2i = low nibble of byte i, 2i+1 = high nibble; 4-bit two's complement."""
    out = []
    for i in range(count):
        nib = (data[i // 2] >> (4 * (i % 2))) & 0xF
        out.append(nib - 16 if nib >= 8 else nib)
    return out


def int4_pack(values: np.ndarray) -> bytes:
    """Pack a row of int4 values (inverse of int4_unpack_row); odd length padded with 0."""
    vals = [int(v) & 0xF for v in values] + [0]
    return bytes(vals[i] | vals[i + 1] << 4 for i in range(0, len(values), 2))


def srdhm(a: int, b: int) -> int:
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = 2**30 if ab >= 0 else 1 - 2**30
    q = abs(ab + nudge) // 2**31
    return q if ab + nudge >= 0 else -q


def rdbpot(x: int, e: int) -> int:
    mask = 2**e - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if remainder > threshold else 0)


def requant(x: int, mult: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return rdbpot(srdhm(sat(x * 2**left, INT32_MIN, INT32_MAX), mult), right)


def act_bounds(act: int, zp: int, cmin: int, cmax: int) -> tuple[int, int]:
    return {0: (-128, 127), 1: (max(zp, -128), 127), 2: (max(zp, -128), cmax), 3: (cmin, cmax)}[act]


def postproc(acc: np.ndarray, bias: list[int], mult: list[int], shift: list[int], zp: int,
             lo: int, hi: int) -> np.ndarray:
    m, n = acc.shape
    out = np.zeros((m, n), dtype=np.int8)
    for i in range(m):
        for j in range(n):
            y = requant(wrap32(int(acc[i, j]) + bias[j]), mult[j], shift[j])
            out[i, j] = sat(y + zp, lo, hi)
    return out


def eltwise(op: int, a: np.ndarray, b: np.ndarray, a_off: int, b_off: int, mult: int, shift: int,
            zp: int, lo: int, hi: int) -> np.ndarray:
    out = np.zeros(a.shape, dtype=np.int8)
    for idx in np.ndindex(a.shape):
        x, y = int(a[idx]) + a_off, int(b[idx]) + b_off
        t = x + y if op == 0 else x * y if op == 1 else max(x, y)
        out[idx] = sat(requant(t, mult, shift) + zp, lo, hi)
    return out


def pool(op: int, x: np.ndarray, kh: int, kw: int, sh: int, sw: int) -> np.ndarray:
    h, w, c = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((oh, ow, c), dtype=np.int8)
    for i in range(oh):
        for j in range(ow):
            for ch in range(c):
                vals = [int(x[i * sh + u, j * sw + v, ch]) for u in range(kh) for v in range(kw)]
                if op == 0:
                    out[i, j, ch] = max(vals)
                else:
                    s, cnt = sum(vals), len(vals)
                    q = (abs(s) + cnt // 2) // cnt  # round half away from zero
                    out[i, j, ch] = q if s >= 0 else -q
    return out


def argmax(rows: np.ndarray) -> list[int]:
    out = []
    for row in rows:
        best = 0
        for i, v in enumerate(row):
            if v > row[best]:
                best = i
        out.append(best)
    return out


def splitmix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def weight_update(w: np.ndarray, x: np.ndarray, d: np.ndarray, shift: int, stochastic: bool, seed: int,
                  lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    k, n = w.shape
    out = w.copy()
    for a in range(k):
        for b in range(n):
            p = sum(int(x[i, a]) * int(d[i, b]) for i in range(x.shape[0]))
            if shift:
                r = splitmix64(((seed << 32) + a * n + b) & M64) >> (64 - shift) if stochastic else 2 ** (shift - 1)
                p = (p + r) >> shift
            out[a, b] = sat(int(w[a, b]) + p, int(lo[a, b]), int(hi[a, b]))
    return out
