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

from emu.errors import ConfigError, HostFileError
from emu.host_files import read_regular_file

MAX_CONFIG_BYTES = 1 << 20  # a --npu-config TOML file


@dataclass(frozen=True)
class Macro:
    """The D-IMC macro's datapath: precisions, bit-serial input, adder-tree and accumulator widths."""

    name: str
    node_nm: int
    input_bits: int
    input_bits_per_cycle: int
    weight_bits: int
    int4_packing: bool
    adder_tree_bits: int
    accumulator_bits: int
    skip_zero_planes: bool


@dataclass(frozen=True)
class Timing:
    """Cycle costs of the timing model (NPU clock cycles)."""

    command_overhead: int
    descriptor_fetch: int
    dma_latency: int
    dma_bytes_per_cycle: int
    dma_burst_bytes: int
    dma_burst_cycles: int
    dma_row_cycles: int
    weight_bytes_per_cycle: int
    accumulate_latency: int
    transpose_cycles_factor: int
    weight_rmw_cycles_per_row: int
    vector_lanes: int
    vector_latency: int


@dataclass(frozen=True)
class Energy:
    """Energy per action in pJ (leakage in mW)."""

    cell_bit: float
    input_driver: float
    adder_bit: float
    accumulator_bit: float
    output: float
    transposed_factor: float
    weight_write_bit: float
    sram_byte: float
    dram_byte: float
    vector_op: float
    leakage_mw: float


@dataclass(frozen=True)
class Training:
    """On-device learning: the gradient accumulator of WEIGHT_UPDATE."""

    grad_bits: int


POSITIVE = {"dma_bytes_per_cycle", "weight_bytes_per_cycle", "vector_lanes", "dma_burst_bytes",
            "transpose_cycles_factor", "input_bits", "input_bits_per_cycle", "weight_bits",
            "adder_tree_bits", "accumulator_bits", "node_nm"}


@dataclass(frozen=True)
class NpuConfig:
    """Everything that varies between NPU instances."""

    tiles: int
    rows: int
    cols: int
    scratchpad_bytes: int
    accumulator_bytes: int
    npu_mhz: float
    macro: Macro
    timing: Timing
    energy: Energy
    training: Training

    @classmethod
    def load(cls, path: str | None = None) -> NpuConfig:
        """The packaged defaults, overridden by the TOML file at ``path`` (ConfigError if bad).

        ``path`` may also name a packaged preset (``chih2021_22nm``...; :func:`presets` lists them).
        """
        data = tomllib.loads(_packaged("default.toml"))
        if path is not None:
            if path in presets():
                user = tomllib.loads(_packaged(f"presets/{path}.toml"))
            else:
                try:  # a regular file of at most 1 MiB: a FIFO or /dev/zero must not hang the start
                    user = tomllib.loads(read_regular_file(path, MAX_CONFIG_BYTES).decode())
                except HostFileError as exc:
                    hint = "" if "/" in path or path.endswith(".toml") else f" (presets: {', '.join(presets())})"
                    raise ConfigError(f"cannot read NPU config {str(exc).rstrip('.')}{hint}") from None
                except UnicodeDecodeError:
                    raise ConfigError(f"NPU config {path}: not UTF-8 text") from None
                except tomllib.TOMLDecodeError as exc:
                    raise ConfigError(f"NPU config {path}: {exc}") from None
            _merge(data, user, path)
        return cls.from_dict(data, path or "default.toml")

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> NpuConfig:
        """Build and validate from the TOML structure (all sections present)."""
        geo = data["geometry"]
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
        if geo["tiles"] * geo["rows"] * geo["cols"] > 1 << 31:
            raise ConfigError(f"{where}: the tiles hold tiles x rows x cols int8 weights: limited to 2 GiB")
        mhz = data["clock"]["npu_mhz"]
        if not isinstance(mhz, int | float) or isinstance(mhz, bool) or not 0 < mhz <= 100_000:
            raise ConfigError(f"{where}: clock.npu_mhz must be a number in (0, 100000], not {mhz!r}")
        sections = {name: _section(data, name, kind, where) for name, kind in
                    (("macro", Macro), ("timing", Timing), ("energy", Energy), ("training", Training))}
        if not 2 <= sections["training"].grad_bits <= 64:
            raise ConfigError(f"{where}: training.grad_bits must be in [2, 64]")
        if sections["macro"].input_bits > 8 or sections["macro"].weight_bits > 8:
            raise ConfigError(f"{where}: macro.input_bits and macro.weight_bits are at most 8 (int8 data)")
        return cls(
            tiles=geo["tiles"], rows=geo["rows"], cols=geo["cols"],
            scratchpad_bytes=geo["scratchpad_bytes"], accumulator_bytes=geo["accumulator_bytes"],
            npu_mhz=float(mhz), **sections,
        )

    def as_dict(self) -> dict[str, Any]:
        """The TOML structure of this configuration (:meth:`from_dict` inverts it)."""
        return {
            "geometry": {"tiles": self.tiles, "rows": self.rows, "cols": self.cols,
                         "scratchpad_bytes": self.scratchpad_bytes, "accumulator_bytes": self.accumulator_bytes},
            "clock": {"npu_mhz": self.npu_mhz},
            **{name: {f.name: getattr(getattr(self, name), f.name) for f in fields(getattr(self, name))}
               for name in ("macro", "timing", "energy", "training")},
        }

    def replace(self, **geometry: int) -> NpuConfig:
        """A copy with some geometry keys changed (tests and benches use small or large NPUs)."""
        data = self.as_dict()
        data["geometry"].update(geometry)
        return NpuConfig.from_dict(data)


def presets() -> list[str]:
    """Names of the packaged presets (emu/npu_device/presets/*.toml), each fitted to a published macro."""
    folder = resources.files("emu.npu_device").joinpath("presets")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _packaged(name: str) -> str:
    return resources.files("emu.npu_device").joinpath(name).read_text()


def _section(data: dict[str, Any], name: str, kind: type, where: str) -> Any:
    """Validate one section against the dataclass ``kind``: ints, floats, bools and strings by annotation."""
    values = data[name]
    out: dict[str, Any] = {}
    for f in fields(kind):
        value = values[f.name]
        key = f"{name}.{f.name}"
        if f.type == "str":
            if not isinstance(value, str) or len(value) > 200:
                raise ConfigError(f"{where}: {key} must be a string (at most 200 characters)")
        elif f.type == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: {key} must be true or false, not {value!r}")
        elif f.type == "int":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{where}: {key} must be a non-negative integer, not {value!r}")
            if f.name in POSITIVE and value == 0:
                raise ConfigError(f"{where}: {key} must be positive")
            if value > 1 << 32:
                raise ConfigError(f"{where}: {key} is too large ({value})")
        else:
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 1e9:
                raise ConfigError(f"{where}: {key} must be a non-negative number, not {value!r}")
            value = float(value)
        out[f.name] = value
    return kind(**out)


def _merge(base: dict[str, Any], user: dict[str, Any], where: str) -> None:
    """Override ``base`` with ``user``; unknown sections or keys are errors (typos must not pass)."""
    for section, values in user.items():
        if section not in base or not isinstance(values, dict):
            raise ConfigError(f"{where}: unknown section [{section}] (known: {', '.join(base)})")
        for key, value in values.items():
            if key not in base[section]:
                raise ConfigError(f"{where}: unknown key {section}.{key}")
            base[section][key] = value
