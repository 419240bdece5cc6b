"""tests/fuzz: one fuzzer per boundary where guest or host data enters (see fuzzing.py)."""

from __future__ import annotations

import pytest
from fuzzing import Campaign


@pytest.fixture
def campaign(request: pytest.FixtureRequest) -> Campaign:
    """A time-bounded campaign named after the test; it reports the inputs it tried."""
    return Campaign(request.node.name)
