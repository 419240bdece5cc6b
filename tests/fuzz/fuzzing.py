"""The fuzz harness: hypothesis profiles and time-bounded campaigns that report inputs tried.

Two profiles, chosen with the NPUEMU_FUZZ environment variable:

* ``fuzz-quick`` (default, part of ``make test``): one round of a few dozen examples per
  fuzzer, derandomized so the suite is reproducible, seconds in all.
* ``fuzz-long`` (``make fuzz``): fresh random rounds until NPUEMU_FUZZ_SECONDS (default 60) have
  passed for each campaign.

A fuzzer is a ``@given`` function decorated with :data:`FUZZ` (the profile's settings) that
calls ``campaign.tried()`` once per input; the test hands it to ``campaign.run``.  Every
campaign prints, and appends to build/fuzz-report.txt, its name, inputs tried and seconds.
Each example runs under :func:`no_hang`: a host call that blocks fails the example instead
of hanging the suite.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("NPUEMU_FUZZ", "fuzz-quick")
SECONDS = float(os.environ.get("NPUEMU_FUZZ_SECONDS", "60")) if PROFILE == "fuzz-long" else 0.0
REPORT = Path(__file__).resolve().parents[2] / "build" / "fuzz-report.txt"
_COMMON = {"deadline": None, "database": None, "print_blob": True,
           "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much]}
settings.register_profile("fuzz-quick", max_examples=40, derandomize=True, **_COMMON)
settings.register_profile("fuzz-long", max_examples=200, **_COMMON)
if PROFILE not in ("fuzz-quick", "fuzz-long"):
    raise SystemExit(f"NPUEMU_FUZZ={PROFILE!r}: use fuzz-quick or fuzz-long")
FUZZ = settings(settings.get_profile(PROFILE))
MIN_ROUND = 20  # examples per fuzz-long round at least (see Campaign.run)


class HangError(AssertionError):
    """An example did not return within its time limit."""


@contextlib.contextmanager
def no_hang(seconds: float = 5.0) -> Iterator[None]:
    """Fail (instead of hanging) when the body takes longer than ``seconds`` (main thread only)."""
    def expired(signum, frame):
        raise HangError(f"no answer within {seconds} s: a host call blocks")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Campaign:
    def __init__(self, name: str) -> None:
        self.name = name
        self.inputs = 0

    def tried(self) -> None:
        self.inputs += 1

    def run(self, fuzzer: Callable[[], None]) -> None:
        """Rounds of ``fuzzer`` until the profile's time is spent (one round in fuzz-quick).

        hypothesis has no time budget, so in fuzz-long each round's size is chosen to fit: at
        most the fuzzer's own ``max_examples``, about half the time left at the rate measured so
        far, and at least MIN_ROUND examples (the first examples of a round are hypothesis's
        simplest).  A campaign so ends within about MIN_ROUND examples of its time.
        """
        start = time.monotonic()
        own = fuzzer._hypothesis_internal_use_settings  # type: ignore[attr-defined]
        rounds = 0
        while True:
            elapsed = time.monotonic() - start
            if PROFILE == "fuzz-long":
                rate = self.inputs / elapsed if self.inputs else 0.0
                size = max(MIN_ROUND, int(rate * (SECONDS - elapsed) / 2))
                # the attribute @given reads at each call: a round size without re-decorating
                fuzzer._hypothesis_internal_use_settings = settings(  # type: ignore[attr-defined]
                    own, max_examples=min(own.max_examples, size))
            fuzzer()
            rounds += 1
            if time.monotonic() - start >= SECONDS:
                break
        line = (f"fuzz campaign {self.name}: {self.inputs} inputs in {time.monotonic() - start:.1f} s "
                f"({rounds} round(s), profile {PROFILE})")
        print(line)
        with contextlib.suppress(OSError):
            REPORT.parent.mkdir(parents=True, exist_ok=True)
            with REPORT.open("a") as f:
                f.write(line + "\n")
