"""The D-IMC macros: T tiles of R x C int8 weights, and the exact integer matrix products.

A K x N weight matrix starting at tile ``t0`` occupies a ``ceil(K/R) x
ceil(N/C)`` grid of tiles in row-major order: tile ``t0 + i*tn + j`` holds
``W[i*R:(i+1)*R, j*C:(j+1)*C]``, zero-padded.  Products use float BLAS where
it is provably exact (see :func:`exact_matmul`), because numpy's integer
matmul is about 100x slower.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from emu.npu_device.fault import NpuFault

F32_EXACT = 1 << 24  # every integer of magnitude <= 2^24 is a float32
INT8_BOUND = 128  # max |x| of an int8
INT4_BOUND = 8
MASK64 = (1 << 64) - 1


def exact_matmul(a: np.ndarray, b: np.ndarray, bound_a: int, bound_b: int) -> np.ndarray:
    """int32 ``a @ b`` (wrapping), through float32 or float64 BLAS whichever is exact.

    Every partial sum of a depth-L dot product of values bounded by bound_a and
    bound_b is an integer of magnitude <= L*bound_a*bound_b, so float32 is exact
    (in any summation order, with or without FMA) while that is <= 2^24 and float64
    while it is <= 2^53 (a depth of 2^39: more than any on-chip operand can hold).
    """
    depth = a.shape[1]
    worst = depth * bound_a * bound_b
    dtype = np.float32 if worst <= F32_EXACT else np.float64
    return as_int32(np.matmul(a.astype(dtype), b.astype(dtype)), worst)


def as_int32(x: np.ndarray, worst: int) -> np.ndarray:
    """Exact-integer floats -> int32, wrapping modulo 2^32 when ``worst`` may not fit."""
    if worst < 1 << 31:
        return x.astype(np.int32)
    return x.astype(np.int64).astype(np.int32)


def exact_gradient(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``x^T d`` of int8 matrices as exact int64 (no int32 wrap, whatever M is).

    Each partial sum is bounded by M * 2^14, so float64 BLAS is exact while M < 2^39.
    """
    return np.matmul(x.T.astype(np.float64), d.astype(np.float64)).astype(np.int64)


def unpack_int4(packed: np.ndarray, count: int) -> np.ndarray:
    """(rows, bytes) uint8 -> (rows, count) int8: element 2i in the low nibble of byte i, sign-extended."""
    nib = np.empty((packed.shape[0], packed.shape[1] * 2), dtype=np.int8)
    signed = packed.view(np.int8)
    nib[:, 0::2] = np.left_shift(signed, 4) >> 4
    nib[:, 1::2] = signed >> 4
    return nib[:, :count]


def splitmix_bits(seed: int, shape: tuple[int, int], bits: int) -> np.ndarray:
    """Top ``bits`` bits of splitmix64((seed << 32) + i) for the row-major index i (docs/npu.md)."""
    idx = np.arange(shape[0] * shape[1], dtype=np.uint64).reshape(shape)
    z = idx + np.uint64(((seed << 32) + 0x9E3779B97F4A7C15) & MASK64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(64 - bits)).astype(np.int64)


class TileStore:
    """The weights of every tile, their precision, and float copies cached for BLAS."""

    def __init__(self, tiles: int, rows: int, cols: int) -> None:
        self.count, self.rows, self.cols = tiles, rows, cols
        self.weights = np.zeros((tiles, rows, cols), dtype=np.int8)
        self.int4 = np.zeros(tiles, dtype=bool)
        self.row_writes = np.zeros(tiles, dtype=np.int64)  # endurance: row writes per tile since power-on
        self._cache: dict[tuple[int, int, int, type], np.ndarray] = {}
        self._workspace: dict[str, np.ndarray] = {}
        # Bumped on every write through this class: anything derived from the weights or their
        # precision (the float copies, the device's prepared commands) is stale once it changes.
        self.version = 0

    def reset(self) -> None:
        self.weights[:] = 0
        self.int4[:] = False
        self.row_writes[:] = 0
        self.invalidate()

    def invalidate(self) -> None:
        """Forget the float copies (after any write to :attr:`weights` or :attr:`int4`)."""
        self._cache.clear()
        self.version += 1

    def grid(self, tile: int, k: int, n: int) -> tuple[int, int]:
        """Tile-grid shape of a K x N matrix at ``tile``; TILE_RANGE if it does not fit.

        K and N are bounded by the whole tile array even when the other is 0 (an empty matrix
        needs no tiles): no command may name more weight rows or columns than the NPU has,
        which also bounds the host work of one command (issue 17).
        """
        tk, tn = -(-k // self.rows), -(-n // self.cols)
        if tk > self.count or tn > self.count or tile >= self.count or tile + tk * tn > self.count:
            raise NpuFault("TILE_RANGE", f"{k}x{n} at tile {tile} needs {tk * tn} of {self.count} tiles")
        return tk, tn

    def _full(self, tile: int, tk: int, tn: int) -> np.ndarray:
        """The whole (tk*R, tn*C) grid at ``tile`` as one matrix (a view when the layout allows)."""
        blocks = self.weights[tile : tile + tk * tn].reshape(tk, tn, self.rows, self.cols)
        return blocks.transpose(0, 2, 1, 3).reshape(tk * self.rows, tn * self.cols)

    def _write(self, tile: int, full: np.ndarray) -> None:
        tk, tn = full.shape[0] // self.rows, full.shape[1] // self.cols
        blocks = full.reshape(tk, self.rows, tn, self.cols).transpose(0, 2, 1, 3)
        self.weights[tile : tile + tk * tn] = blocks.reshape(tk * tn, self.rows, self.cols)
        self.invalidate()

    def store(self, tile: int, w: np.ndarray, int4: bool) -> None:
        """LOAD_WEIGHTS: write the K x N int8 matrix ``w`` at ``tile``, zero-filling the rest of its tiles."""
        k, n = w.shape
        tk, tn = self.grid(tile, k, n)
        full = np.zeros((tk * self.rows, tn * self.cols), dtype=np.int8)
        full[:k, :n] = w
        self.int4[tile : tile + tk * tn] = int4
        self._write(tile, full)
        self.count_row_writes(tile, tk, tn, self.rows * tk)

    def matrix(self, tile: int, k: int, n: int) -> np.ndarray:
        """The K x N int8 matrix held at ``tile``."""
        tk, tn = self.grid(tile, k, n)
        return self._full(tile, tk, tn)[:k, :n]

    def bound(self, tile: int, k: int, n: int) -> int:
        """Largest |w| the matrix can hold: 8 if every tile it uses is int4, else 128."""
        tk, tn = self.grid(tile, k, n)
        return INT4_BOUND if self.int4[tile : tile + tk * tn].all() else INT8_BOUND

    def matrix_float(self, tile: int, k: int, n: int, dtype: type) -> np.ndarray:
        """The matrix as float32/float64 for BLAS, cached until the tiles are next written."""
        key = (tile, k, n, dtype)
        mat = self._cache.get(key)
        if mat is None:
            mat = self._cache[key] = np.ascontiguousarray(self.matrix(tile, k, n), dtype=dtype)
        return mat

    def _work(self, name: str, shape: tuple[int, int], dtype: type) -> np.ndarray:
        """A reusable contiguous buffer: fresh multi-MB arrays per command cost page faults that
        would double the time of a 256x256 product."""
        size = shape[0] * shape[1]
        buf = self._workspace.get(name)
        if buf is None or buf.dtype != dtype or buf.size < size:
            buf = self._workspace[name] = np.empty(max(size, 1), dtype=dtype)
        return buf[:size].reshape(shape)

    def product(self, tile: int, act: np.ndarray, k: int, n: int, transposed: bool, out: np.ndarray,
                accumulate: bool, result: Any = None) -> Callable[[], Any]:
        """Prepare ``out (=|+=) act @ W`` (act: M x K) or ``act @ W^T`` (act: M x N), exactly
        (see exact_matmul), int32 wrapping; returns the function that does it and returns ``result``
        (the caller's cost: the prepared command is then a single call).

        ``act`` and ``out`` are live views, read and written only when the function runs, so it
        may run again as long as the weights are unchanged (:attr:`version`).  Everything else
        (the float weights, the workspace buffers, the conversions) is decided here, once.
        """
        bound_w = self.bound(tile, k, n)
        worst = (n if transposed else k) * INT8_BOUND * bound_w
        dtype = np.float32 if worst <= F32_EXACT else np.float64
        w = self.matrix_float(tile, k, n, dtype)
        w = w.T if transposed else w
        a = self._work("act", act.shape, dtype)
        prod = self._work("prod", out.shape, dtype)
        # One row is a BLAS gemv either way; np.dot gets there with less call overhead than the
        # matmul ufunc.  Several rows stay on matmul (as exact, and its BLAS/threading choices
        # for degenerate shapes are the well-trodden ones).  Assignments cast (int8 -> float,
        # exact float -> int32) as np.copyto(casting="unsafe") does, with less overhead.
        dot = np.dot if act.shape[0] == 1 else np.matmul
        if worst >= 1 << 31:  # the float result may not fit int32: wrap through int64

            def run_wide() -> Any:
                a[...] = act
                dot(a, w, out=prod)
                if accumulate:
                    out[...] += as_int32(prod, worst)
                else:
                    out[...] = as_int32(prod, worst)
                return result

            return run_wide
        if not accumulate:

            def run() -> Any:
                a[...] = act
                dot(a, w, out=prod)  # exact in any summation order
                out[...] = prod
                return result

            return run
        wrapped = self._work("out", out.shape, np.int32)
        add = np.add

        def run_acc() -> Any:
            a[...] = act
            dot(a, w, out=prod)
            wrapped[...] = prod
            add(out, wrapped, out=out)  # int32 wrap-around, as the hardware adder
            return result

        return run_acc

    def update(self, tile: int, x: np.ndarray, d: np.ndarray, shift: int, stochastic: bool, seed: int,
               grad_bits: int = 64) -> bool:
        """W <- clamp(W + round(sat(x^T d) >> shift), lo, hi), lo/hi from each tile's precision.

        The gradient ``x^T d`` is exact (int64: float64 BLAS is exact for any depth below 2^39),
        then saturated to a signed ``grad_bits``-bit accumulator as the macro's gradient adders
        would; returns True if any element saturated (the device's sticky GRAD_SAT flag).
        """
        k, n = x.shape[1], d.shape[1]
        tk, tn = self.grid(tile, k, n)
        prod = exact_gradient(x, d)
        limit = (1 << (grad_bits - 1)) - 1 if grad_bits < 64 else None
        saturated = False
        if limit is not None and prod.size and (prod.max() > limit or prod.min() < -limit - 1):
            saturated = True
            np.clip(prod, -limit - 1, limit, out=prod)
        if shift:
            prod += splitmix_bits(seed, (k, n), shift) if stochastic else 1 << (shift - 1)
            prod >>= shift
        int4 = self.int4[tile : tile + tk * tn].reshape(tk, tn)
        int4 = np.repeat(np.repeat(int4, self.rows, 0), self.cols, 1)[:k, :n]
        full = self._full(tile, tk, tn)
        new = full[:k, :n].astype(np.int64) + prod
        full[:k, :n] = np.clip(new, np.where(int4, -INT4_BOUND, -INT8_BOUND),
                               np.where(int4, INT4_BOUND - 1, INT8_BOUND - 1))
        self._write(tile, full)
        self.count_row_writes(tile, tk, tn, k)
        return saturated

    def count_row_writes(self, tile: int, tk: int, tn: int, k: int) -> None:
        """Endurance bookkeeping: every tile of the grid gets one write per weight row it holds."""
        grid = self.row_writes[tile : tile + tk * tn].reshape(tk, tn)
        for i in range(tk):
            grid[i] += min(self.rows, k - i * self.rows)
