"""The one exception inside the NPU model: a command that must be aborted with an error code.

It never leaves the device: :class:`~emu.npu_device.device.NpuDevice` catches
it, latches the code and the descriptor address and raises the error
interrupt, because nothing firmware writes may raise into the machine.
"""

from __future__ import annotations

from emu.npu_device.encoding import ERRORS


class NpuFault(Exception):
    """Abort the current command with ``ERRORS[name]``."""

    def __init__(self, name: str, detail: str = "") -> None:
        super().__init__(f"{name}: {detail}" if detail else name)
        self.code = ERRORS[name][0]
        self.detail = detail
