"""Per-host politeness: how many requests a host gets at once, and how far apart.

Each host has a gate: at most ``concurrency`` requests in flight, request starts at
least ``delay`` seconds apart, and none before a time the host asked for (Retry-After).
A global semaphore bounds the requests in flight over all hosts. Waiting is interruptible
through a shared stop event, so a service can stop without waiting out a long delay.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


class StoppedError(Exception):
    """The fetcher was stopped while a request waited for its turn."""


class TooEarlyError(Exception):
    """The host asked not to be contacted until later than the caller may wait."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        super().__init__(f"{wait:.0f}s")


@dataclass(frozen=True, slots=True)
class Politeness:
    """Limits for every host, and over all hosts."""

    per_host_concurrency: int = 2
    per_host_delay: float = 1.0
    concurrency: int = 8
    max_wait: float = 60.0
    """Longest a request waits for a host's Retry-After before giving up (``TooEarlyError``)."""


class HostGate:
    """The turnstile of one host."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self.delay = delay
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._next_start = 0.0
        self._not_before = 0.0

    def slow_down(self, delay: float) -> None:
        """Space requests at least ``delay`` apart from now on (robots.txt Crawl-delay)."""
        with self._lock:
            self.delay = max(self.delay, delay)

    def pause_until(self, when: float) -> None:
        """Start no request before ``when`` (a ``time.monotonic()`` value)."""
        with self._lock:
            self._not_before = max(self._not_before, when)

    def wait_needed(self) -> float:
        """Seconds until this host may be contacted again, as far as it asked."""
        with self._lock:
            return max(0.0, self._not_before - time.monotonic())

    @contextmanager
    def turn(self, stop: threading.Event, max_wait: float) -> Iterator[None]:
        """Hold one of the host's slots, started no sooner than its spacing allows."""
        if not self._acquire(stop):
            raise StoppedError()
        try:
            with self._lock:
                now = time.monotonic()
                if self._not_before - now > max_wait:
                    raise TooEarlyError(self._not_before - now)
                start = max(now, self._next_start, self._not_before)
                self._next_start = start + self.delay
            if start > now and stop.wait(start - now):
                raise StoppedError()
            yield
        finally:
            self._slots.release()

    def _acquire(self, stop: threading.Event) -> bool:
        while not self._slots.acquire(timeout=0.1):
            if stop.is_set():
                return False
        if stop.is_set():
            self._slots.release()
            return False
        return True


class HostGates:
    """The gates of every host seen, created on first use, plus the global limit."""

    def __init__(self, politeness: Politeness) -> None:
        self.politeness = politeness
        self.stop = threading.Event()
        self._gates: dict[str, HostGate] = {}
        self._lock = threading.Lock()
        self._global = threading.BoundedSemaphore(politeness.concurrency)

    def gate(self, host: str) -> HostGate:
        """The gate of ``host`` (``name:port``)."""
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = HostGate(
                    self.politeness.per_host_concurrency, self.politeness.per_host_delay
                )
                self._gates[host] = gate
            return gate

    @contextmanager
    def turn(self, host: str) -> Iterator[None]:
        """Wait for a turn at ``host`` and a global slot (``StoppedError``, ``TooEarlyError``)."""
        with self.gate(host).turn(self.stop, self.politeness.max_wait):
            while not self._global.acquire(timeout=0.1):
                if self.stop.is_set():
                    raise StoppedError()
            try:
                yield
            finally:
                self._global.release()
