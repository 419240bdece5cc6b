"""Deep equality of declared device state, shared by the device-state tests and the fuzzers."""

from __future__ import annotations

import numpy as np


def state_equal(a, b) -> bool:
    """Deep equality of declared device state (dicts, lists, tuples, numpy arrays)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(state_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(state_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b
