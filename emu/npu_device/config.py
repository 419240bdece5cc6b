"""NPU configuration: geometry, clock, timing and energy parameters from a TOML file.

The packaged ``default.toml`` holds every key; a user file overrides any
subset, so an experiment states only what it changes.  Firmware discovers the
geometry from read-only registers, so one driver adapts to any file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from typing import Any

from emu.errors import ConfigError


@dataclass(frozen=True)
class Timing:
    """Cycle costs of the timing model (NPU clock cycles)."""

    command_overhead: int
    dma_latency: int
    dma_bytes_per_cycle: int
    mvm_cycles_per_row: int
    mvm_t_cycles_per_row: int
    mvm_latency: int
    weight_bytes_per_cycle: int
    vector_lanes: int
    vector_latency: int


@dataclass(frozen=True)
class Energy:
    """Energy per action in pJ."""

    mac_int8: float
    mac_int4: float
    mac_transposed: float
    dram_byte: float
    sram_byte: float
    weight_write: float
    idle_cycle: float


@dataclass(frozen=True)
class NpuConfig:
    """Everything that varies between NPU instances."""

    tiles: int
    rows: int
    cols: int
    scratchpad_bytes: int
    accumulator_bytes: int
    npu_mhz: float
    timing: Timing
    energy: Energy

    @classmethod
    def load(cls, path: str | None = None) -> NpuConfig:
        """The packaged defaults, overridden by the TOML file at ``path`` (ConfigError if bad)."""
        text = resources.files("emu.npu_device").joinpath("default.toml").read_text()
        data = tomllib.loads(text)
        if path is not None:
            try:
                with open(path, "rb") as fh:
                    user = tomllib.load(fh)
            except OSError as exc:
                raise ConfigError(f"cannot read NPU config {path}: {exc.strerror}") from None
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"NPU config {path}: {exc}") from None
            _merge(data, user, path)
        return cls.from_dict(data, path or "default.toml")

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> NpuConfig:
        """Build and validate from the TOML structure (all sections present)."""
        geo, timing, energy = data["geometry"], data["timing"], data["energy"]
        for key in ("tiles", "rows", "cols", "scratchpad_bytes", "accumulator_bytes"):
            value = geo[key]
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{where}: geometry.{key} must be a positive integer, not {value!r}")
        if geo["tiles"] > 0xFFFF or geo["rows"] > 1 << 16 or geo["cols"] > 1 << 16:
            raise ConfigError(f"{where}: geometry too large (tiles <= 65535, rows/cols <= 65536)")
        if geo["accumulator_bytes"] % 4:
            raise ConfigError(f"{where}: geometry.accumulator_bytes must be a multiple of 4")
        if geo["scratchpad_bytes"] > 1 << 31 or geo["accumulator_bytes"] > 1 << 31:
            raise ConfigError(f"{where}: on-chip memories are limited to 2 GiB")
        mhz = data["clock"]["npu_mhz"]
        if not isinstance(mhz, int | float) or isinstance(mhz, bool) or not 0 < mhz <= 100_000:
            raise ConfigError(f"{where}: clock.npu_mhz must be a number in (0, 100000], not {mhz!r}")
        for f in fields(Timing):
            value = timing[f.name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{where}: timing.{f.name} must be a non-negative integer, not {value!r}")
        for key in ("dma_bytes_per_cycle", "weight_bytes_per_cycle", "vector_lanes"):
            if timing[key] == 0:
                raise ConfigError(f"{where}: timing.{key} must be positive")
        for f in fields(Energy):
            value = energy[f.name]
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{where}: energy.{f.name} must be a non-negative number, not {value!r}")
        return cls(
            tiles=geo["tiles"], rows=geo["rows"], cols=geo["cols"],
            scratchpad_bytes=geo["scratchpad_bytes"], accumulator_bytes=geo["accumulator_bytes"],
            npu_mhz=float(mhz),
            timing=Timing(**{f.name: timing[f.name] for f in fields(Timing)}),
            energy=Energy(**{f.name: float(energy[f.name]) for f in fields(Energy)}),
        )

    def replace(self, **geometry: int) -> NpuConfig:
        """A copy with some geometry keys changed (tests and benches use small or large NPUs)."""
        data = {
            "geometry": {"tiles": self.tiles, "rows": self.rows, "cols": self.cols,
                         "scratchpad_bytes": self.scratchpad_bytes,
                         "accumulator_bytes": self.accumulator_bytes, **geometry},
            "clock": {"npu_mhz": self.npu_mhz},
            "timing": {f.name: getattr(self.timing, f.name) for f in fields(Timing)},
            "energy": {f.name: getattr(self.energy, f.name) for f in fields(Energy)},
        }
        return NpuConfig.from_dict(data)


def _merge(base: dict[str, Any], user: dict[str, Any], where: str) -> None:
    """Override ``base`` with ``user``; unknown sections or keys are errors (typos must not pass)."""
    for section, values in user.items():
        if section not in base or not isinstance(values, dict):
            raise ConfigError(f"{where}: unknown section [{section}] (known: {', '.join(base)})")
        for key, value in values.items():
            if key not in base[section]:
                raise ConfigError(f"{where}: unknown key {section}.{key}")
            base[section][key] = value
