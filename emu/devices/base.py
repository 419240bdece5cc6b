"""What every memory-mapped device implements: registers, declared state, interrupt lines.

A device knows nothing of the CPU, the debugger or Unicorn: the bus calls
``read``/``write`` with an offset inside the device's window, and the device
talks back only through the collaborators it was built with (RAM, the clock,
an :class:`IrqLine`).

State is declared once, as QEMU's ``VMStateDescription`` does: a device lists
the attributes that make up its state (:attr:`Stateful.state_fields`), the
clock events it may have pending (:attr:`Stateful.state_events`, saved as
(name, time) and re-armed on load) and a :attr:`Stateful.state_version`.
Snapshot, restore and reset all go through that one list; reset is "load the
power-on state", captured when the device is built.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emu.devices.regs import RegisterMap


class StateVersionError(ValueError):
    """A saved state from another version of the device model."""


class Stateful:
    """Generic get/set/reset from a declared field list.

    ``state_events`` maps an attribute holding a clock ``Event`` (or None) to the name of the
    method the event calls: the event is saved as its time and re-scheduled on load, so a
    restored device wakes up exactly when the saved one would have.  :meth:`post_load` lets a
    device recompute derived outputs (interrupt lines) after its fields changed.
    """

    name: str = "device"
    state_version: int = 1
    state_fields: tuple[str, ...] = ()
    state_events: dict[str, str] = {}
    _power_on: dict[str, Any] | None = None

    def capture_power_on(self) -> None:
        """Remember the current state as the one :meth:`reset` returns to (end of ``__init__``)."""
        self._power_on = self.get_state()

    def get_state(self) -> dict[str, Any]:
        """The declared fields (deep-copied) and pending events; picklable."""
        fields = {name: copy.deepcopy(getattr(self, name)) for name in self.state_fields}
        events = {}
        for attr in self.state_events:
            event = getattr(self, attr)
            events[attr] = event.when_ns if event is not None and not event.cancelled else None
        return {"version": self.state_version, "fields": fields, "events": events}

    def check_version(self, state: dict[str, Any]) -> None:
        """Refuse a saved state from another version of this model (also for own set_state)."""
        if state.get("version") != self.state_version:
            raise StateVersionError(f"{self.name}: saved state version {state.get('version')} "
                                    f"!= device state version {self.state_version}")

    def set_state(self, state: dict[str, Any]) -> None:
        self.check_version(state)
        for name in self.state_fields:
            setattr(self, name, copy.deepcopy(state["fields"][name]))
        clock = getattr(self, "clock", None)
        for attr, method in self.state_events.items():
            old = getattr(self, attr)
            if old is not None and clock is not None:
                clock.cancel(old)
            when = state["events"].get(attr)
            setattr(self, attr, None if when is None else
                    clock.schedule(when, getattr(self, method), f"{self.name}.{method.lstrip('_')}"))
        self.post_load()

    def post_load(self) -> None:  # noqa: B027 - devices without derived outputs keep this default
        """Recompute what follows from the fields (interrupt lines) after a load."""

    def reset(self) -> None:
        """Return to the power-on state."""
        if self._power_on is not None:
            self.set_state(self._power_on)


class MmioDevice(Stateful, ABC):
    """A register block of ``size`` bytes; accesses never raise, whatever the guest writes."""

    size: int = 0x1000
    registers: RegisterMap | None = None  # declared registers: names in traces, safe debugger reads

    @abstractmethod
    def read(self, offset: int, width: int) -> int:
        """Value of a ``width``-byte (1, 2, 4 or 8) read at ``offset``."""

    @abstractmethod
    def write(self, offset: int, width: int, value: int) -> None:
        """Apply a ``width``-byte write of ``value`` at ``offset``."""


class IrqLine:
    """A level-sensitive interrupt wire from a device output to a sink (a controller input or
    the hart's pending bits); the sink hears only changes of level."""

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
