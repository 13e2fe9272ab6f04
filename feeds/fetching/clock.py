"""The fetcher's clock: monotonic seconds, and waits that a stop cuts short. It is passed
in (host gates, retries, robots.txt lifetimes, download deadlines), so that tests run
politeness and retries on a fake clock, without waiting and without timing anything."""

from __future__ import annotations

import time
from typing import Protocol


class Interrupt(Protocol):
    """What a wait can be cut short by (a ``threading.Event``, ``hosts.Stop``)."""

    def wait(self, timeout: float | None = None) -> bool: ...


class MonotonicClock(Protocol):
    """Seconds that only go forward, and interruptible waits."""

    def now(self) -> float:
        """The current time, in seconds from an arbitrary start."""
        ...

    def wait(self, interrupt: Interrupt, seconds: float) -> bool:
        """Wait ``seconds``, or until ``interrupt`` comes; returns whether it came."""
        ...


class SystemClock:
    """``time.monotonic``, and real waits."""

    def now(self) -> float:
        return time.monotonic()

    def wait(self, interrupt: Interrupt, seconds: float) -> bool:
        return interrupt.wait(seconds)


SYSTEM_CLOCK = SystemClock()


class WallClock(SystemClock):
    """``time.time``: seconds that several machines agree on (within their NTP sync), for
    politeness shared by the workers of a cluster. Waits are real ones."""

    def now(self) -> float:
        return time.time()


WALL_CLOCK = WallClock()
