"""What every memory-mapped device implements, and the interrupt line it drives.

A device knows nothing of the CPU, the debugger or Unicorn: the bus calls
``read``/``write`` with an offset inside the device's window, and the device
talks back only through the collaborators it was built with (RAM, the clock,
an :class:`IrqLine`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable


class MmioDevice(ABC):
    """A register block of ``size`` bytes; accesses never raise, whatever the guest writes."""

    name: str = "device"
    size: int = 0x1000

    @abstractmethod
    def read(self, offset: int, width: int) -> int:
        """Value of a ``width``-byte (1, 2, 4 or 8) read at ``offset``."""

    @abstractmethod
    def write(self, offset: int, width: int, value: int) -> None:
        """Apply a ``width``-byte write of ``value`` at ``offset``."""

    def reset(self) -> None:  # noqa: B027 - stateless devices keep this default
        """Return to the power-on state."""

    def get_state(self) -> object:
        """Everything needed to restore the device later (picklable, deep-copied)."""
        return None

    def set_state(self, state: object) -> None:  # noqa: B027 - stateless devices keep this default
        """Restore what :meth:`get_state` returned."""


class IrqLine:
    """A level-sensitive interrupt wire from a device to an interrupt controller input."""

    def __init__(self, sink: Callable[[bool], None]) -> None:
        self._sink = sink
        self.level = False

    def set(self, level: bool) -> None:
        level = bool(level)
        if level != self.level:
            self.level = level
            self._sink(level)

    def lower(self) -> None:
        self.set(False)
