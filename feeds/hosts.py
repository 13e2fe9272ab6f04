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
    """The turnstile of one host.

    Starts are serialised: a request waits for its slot, then for its turn to start, and
    the next start is spaced from the moment this one actually went, plus a small margin
    (10% of the delay, at most 100 ms) for the time between the gate and the wire, so that
    the server never sees two requests closer than the delay.
    """

    def __init__(self, concurrency: int, delay: float) -> None:
        self.delay = delay
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._starting = threading.Lock()
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
    def turn(
        self,
        stop: threading.Event,
        max_wait: float,
        shared: threading.BoundedSemaphore | None = None,
    ) -> Iterator[None]:
        """Hold one of the host's slots (and one of ``shared``, the global limit), started
        no sooner than the host's spacing allows."""
        if not _acquire(self._slots, stop):
            raise StoppedError()
        try:
            self._wait_to_start(stop, max_wait, shared)
            try:
                yield
            finally:
                if shared is not None:
                    shared.release()
        finally:
            self._slots.release()

    def _wait_to_start(
        self, stop: threading.Event, max_wait: float, shared: threading.BoundedSemaphore | None
    ) -> None:
        if not _acquire(self._starting, stop):
            raise StoppedError()
        try:
            while True:
                with self._lock:
                    now = time.monotonic()
                    if self._not_before - now > max_wait:
                        raise TooEarlyError(self._not_before - now)
                    wait = max(self._next_start, self._not_before) - now
                if wait > 0:
                    if stop.wait(wait):  # Retry-After or Crawl-delay may change meanwhile
                        raise StoppedError()
                    continue
                # the global slot is taken before the start is stamped, so that waiting
                # for it cannot bring this start closer to the next one
                if shared is not None and not _acquire(shared, stop):
                    raise StoppedError()
                with self._lock:
                    self._next_start = time.monotonic() + self.delay + _margin(self.delay)
                return
        finally:
            self._starting.release()


def _margin(delay: float) -> float:
    """Extra spacing for the time between the gate and the wire: 10%, at most 100 ms."""
    return min(0.1 * delay, 0.1)


def _acquire(lock: threading.BoundedSemaphore | threading.Lock, stop: threading.Event) -> bool:
    """Acquire ``lock`` unless ``stop`` is set first (checked every 0.1 s)."""
    while not lock.acquire(timeout=0.1):
        if stop.is_set():
            return False
    if stop.is_set():
        lock.release()
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
        with self.gate(host).turn(self.stop, self.politeness.max_wait, self._global):
            yield
