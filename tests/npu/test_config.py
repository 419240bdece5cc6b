"""NpuConfig: packaged defaults, partial overrides, one-line errors; geometry visible to firmware."""

from __future__ import annotations

import pytest

from emu.errors import ConfigError
from emu.npu_device import NpuConfig
from emu.npu_device.regs import REG

from .harness import Harness


def test_defaults() -> None:
    cfg = NpuConfig.load(None)
    assert (cfg.tiles, cfg.rows, cfg.cols) == (16, 256, 256)
    assert cfg.npu_mhz == 500


def test_override_subset_and_registers(tmp_path) -> None:
    path = tmp_path / "npu.toml"
    path.write_text("[geometry]\ntiles = 4\nrows = 64\n[clock]\nnpu_mhz = 250\n")
    cfg = NpuConfig.load(str(path))
    assert (cfg.tiles, cfg.rows, cfg.cols) == (4, 64, 256)
    h = Harness(cfg)
    assert [h.r32(REG[n]) for n in ("TILES", "TILE_ROWS", "TILE_COLS", "CLOCK_KHZ", "DESC_SIZE")] == [4, 64, 256, 250000, 64]
    assert h.r32(REG["SPAD_BYTES"]) == cfg.scratchpad_bytes
    assert h.r32(REG["ACC_BYTES"]) == cfg.accumulator_bytes


@pytest.mark.parametrize("text, words", [
    ("[geometry]\ntiles = 0\n", "geometry.tiles"),
    ("[geometry]\nrows = 'x'\n", "geometry.rows"),
    ("[geometry]\naccumulator_bytes = 6\n", "multiple of 4"),
    ("[geometry]\ntilez = 3\n", "unknown key geometry.tilez"),
    ("[gemoetry]\ntiles = 3\n", "unknown section"),
    ("[clock]\nnpu_mhz = -1\n", "npu_mhz"),
    ("[timing]\ndma_bytes_per_cycle = 0\n", "dma_bytes_per_cycle"),
    ("[energy]\nmac_int8 = -1\n", "energy.mac_int8"),
    ("this is not toml", "npu.toml"),
])
def test_bad_files(tmp_path, text, words) -> None:
    path = tmp_path / "npu.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        NpuConfig.load(str(path))
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        NpuConfig.load("/nonexistent/npu.toml")
