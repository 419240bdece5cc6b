"""Per-machine debugger objects (time-travel engine, NPU watch, fault injector), one of each.

They are kept in the machine's own ``__dict__``, not in a ``WeakKeyDictionary`` keyed by the
machine: each of them references its machine, and a weak-keyed table whose value references its
key keeps the key alive for ever (every machine a debugger touched leaked, with its RAM, until
the process ran out of tracked RAM regions).  In the machine's dict the pair is an ordinary
reference cycle that the garbage collector frees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from emu.machine import Machine

T = TypeVar("T")
_ATTR = "_debugger_companions"


def companion(machine: Machine, kind: str, make: Callable[[], T]) -> T:
    """The machine's one ``kind`` object, made by ``make()`` on first use."""
    table = machine.__dict__.setdefault(_ATTR, {})
    found = table.get(kind)
    if found is None:
        found = table[kind] = make()
    return found
