"""The digital in-memory-compute NPU (docs/npu.md): ``NpuDevice`` and its ``NpuConfig``."""

from emu.npu_device.config import NpuConfig
from emu.npu_device.device import NpuDevice

__all__ = ["NpuConfig", "NpuDevice"]
