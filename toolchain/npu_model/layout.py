"""Placing weight matrices on the NPU tiles and activations in the scratchpad.

The geometry comes from the NPU's packaged configuration (emu/npu_device/default.toml) -- the
same numbers the firmware reads from the TILES/TILE_ROWS/TILE_COLS/SPAD_BYTES/ACC_BYTES
registers -- so a model that does not fit fails at build time, not on the device.
"""

from __future__ import annotations

from dataclasses import dataclass

from emu.npu_device.config import NpuConfig


@dataclass(frozen=True)
class Geometry:
    tiles: int
    rows: int
    cols: int
    spad_bytes: int
    acc_bytes: int

    @classmethod
    def default(cls) -> Geometry:
        c = NpuConfig.load(None)
        return cls(c.tiles, c.rows, c.cols, c.scratchpad_bytes, c.accumulator_bytes)

    def tiles_for(self, k: int, n: int) -> int:
        """Tiles of a K x N matrix: the ceil(K/R) x ceil(N/C) grid (docs/npu.md, "Tiles")."""
        return -(-k // self.rows) * -(-n // self.cols)


def place_weights(shapes: list[tuple[int, int]], geometry: Geometry) -> list[int]:
    """First tile of each K x N matrix, packed one after the other; ValueError if they do not fit."""
    first, tile = [], 0
    for k, n in shapes:
        first.append(tile)
        tile += geometry.tiles_for(k, n)
    if tile > geometry.tiles:
        raise ValueError(f"the weights need {tile} tiles, the NPU has {geometry.tiles}")
    return first


def check_buffers(spad_end: int, acc_end: int, geometry: Geometry) -> None:
    """ValueError when the scratchpad or accumulator plan exceeds the on-chip memories."""
    if spad_end > geometry.spad_bytes or acc_end > geometry.acc_bytes:
        raise ValueError(f"buffers need {spad_end} B of scratchpad and {acc_end} B of accumulator; "
                         f"the NPU has {geometry.spad_bytes} and {geometry.acc_bytes}")
