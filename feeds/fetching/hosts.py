"""Per-host politeness: how many requests a host gets at once, and how far apart.

Each host has a gate: at most ``concurrency`` requests in flight, request starts at
least ``delay`` seconds apart, and none before a time the host asked for (Retry-After).
A global semaphore bounds the requests in flight over all hosts. Waiting is interruptible
through a shared ``Stop``, so a service can stop without waiting out a long delay.
Waiters sleep until a slot frees or the stop is set, never polling: a run of many feeds
has a hundred threads waiting for their hosts, and waking each ten times a second cost
more CPU than their requests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

from feeds.fetching.clock import SYSTEM_CLOCK, MonotonicClock


class StoppedError(Exception):
    """The fetcher was stopped while a request waited for its turn."""


class GatesUnavailableError(Exception):
    """The shared record of the hosts' politeness could not be reached in time."""


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


class Stop:
    """A stop signal (an event) that also wakes every ``Slots`` waiting under it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._watched: list[Slots] = []
        self._lock = threading.Lock()

    def set(self) -> None:
        """Stop: every waiter gives up."""
        self._event.set()
        with self._lock:
            watched = list(self._watched)
        for slots in watched:
            slots.wake()

    def is_set(self) -> bool:
        """Whether ``set`` was called."""
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for the stop; whether it came."""
        return self._event.wait(timeout)

    def watch(self, slots: Slots) -> None:
        """Wake ``slots``'s waiters when the stop is set."""
        with self._lock:
            self._watched.append(slots)


class Slots:
    """A counting semaphore whose waiters give up when ``stop`` is set."""

    def __init__(self, count: int, stop: Stop) -> None:
        self._free = count
        self._stop = stop
        self.waiting = 0
        """Acquirers waiting for a slot now."""
        self._condition = threading.Condition(threading.Lock())
        stop.watch(self)

    def acquire(self) -> bool:
        """Take a slot, waiting for one; False (and no slot) if the stop comes first."""
        with self._condition:
            self.waiting += 1
            while not self._free and not self._stop.is_set():
                self._condition.wait()
            self.waiting -= 1
            if self._stop.is_set():
                return False
            self._free -= 1
            return True

    def release(self) -> None:
        """Give a slot back."""
        with self._condition:
            self._free += 1
            self._condition.notify()

    def wake(self) -> None:
        """Wake every waiter, to look at the stop."""
        with self._condition:
            self._condition.notify_all()


class HostGate:
    """The turnstile of one host.

    Starts are serialised: a request waits for its slot, then for its turn to start, and
    the next start is spaced ``delay`` from the moment this one went (by ``clock``).
    """

    def __init__(
        self, concurrency: int, delay: float, stop: Stop, clock: MonotonicClock = SYSTEM_CLOCK
    ) -> None:
        self.delay = delay
        self._stop = stop
        self._clock = clock
        self._slots = Slots(concurrency, stop)
        self._lock = threading.Lock()
        self._starting = Slots(1, stop)
        self._next_start = 0.0
        self._not_before = 0.0

    @property
    def waiting(self) -> int:
        """Requests waiting for one of the host's slots."""
        return self._slots.waiting

    def slow_down(self, delay: float) -> None:
        """Space requests at least ``delay`` apart from now on (robots.txt Crawl-delay)."""
        with self._lock:
            self.delay = max(self.delay, delay)

    def pause_for(self, seconds: float) -> None:
        """Start no request for ``seconds`` from now (Retry-After)."""
        with self._lock:
            self._not_before = max(self._not_before, self._clock.now() + seconds)

    def wait_needed(self) -> float:
        """Seconds until this host may be contacted again, as far as it asked."""
        with self._lock:
            return max(0.0, self._not_before - self._clock.now())

    def sending(self) -> None:
        """The request whose turn it is goes now: spacing counts from now."""
        with self._lock:
            self._next_start = max(self._next_start, self._clock.now() + self.delay)

    @contextmanager
    def turn(self, max_wait: float, shared: Slots | None = None) -> Iterator[None]:
        """Hold one of the host's slots (and one of ``shared``, the global limit), started
        no sooner than the host's spacing allows."""
        if not self._slots.acquire():
            raise StoppedError()
        try:
            self._wait_to_start(max_wait, shared)
            try:
                yield
            finally:
                if shared is not None:
                    shared.release()
        finally:
            self._slots.release()

    def _wait_to_start(self, max_wait: float, shared: Slots | None) -> None:
        if not self._starting.acquire():
            raise StoppedError()
        try:
            while True:
                with self._lock:
                    now = self._clock.now()
                    if self._not_before - now > max_wait:
                        raise TooEarlyError(self._not_before - now)
                    wait = max(self._next_start, self._not_before) - now
                if wait > 0:
                    # Retry-After or Crawl-delay may change meanwhile: look again after
                    if self._clock.wait(self._stop, wait):
                        raise StoppedError()
                    continue
                # the global slot is taken before the start is stamped, so that waiting
                # for it cannot bring this start closer to the next one
                if shared is not None and not shared.acquire():
                    raise StoppedError()
                with self._lock:
                    self._next_start = self._clock.now() + self.delay
                return
        finally:
            self._starting.release()


class Gate(Protocol):
    """What the fetcher tells a host's gate, and asks of it."""

    def slow_down(self, delay: float) -> None:
        """Space requests at least ``delay`` apart from now on (robots.txt Crawl-delay)."""
        ...

    def pause_for(self, seconds: float) -> None:
        """Start no request for ``seconds`` from now (Retry-After)."""
        ...

    def wait_needed(self) -> float:
        """Seconds until this host may be contacted again, as far as it asked."""
        ...

    def sending(self) -> None:
        """The request whose turn it is goes now: the next one starts no sooner than the
        host's delay from now (a turn granted under load may be sent late)."""
        ...


class Gates(Protocol):
    """Every host's gate and the limit over all hosts: ``HostGates`` in one process,
    ``feeds.cluster.politeness.SharedGates`` across the workers of a cluster."""

    politeness: Politeness
    stop: Stop

    def gate(self, host: str) -> Gate:
        """The gate of ``host`` (``name:port``)."""
        ...

    def turn(self, host: str) -> AbstractContextManager[None]:
        """Wait for a turn at ``host`` and a global slot (``StoppedError``, ``TooEarlyError``)."""
        ...

    def close(self) -> None:
        """Stop every waiter, and give up what the gates hold."""
        ...


class HostGates:
    """The gates of every host seen, created on first use, plus the global limit."""

    def __init__(self, politeness: Politeness, clock: MonotonicClock = SYSTEM_CLOCK) -> None:
        self.politeness = politeness
        self.clock = clock
        self.stop = Stop()
        self._gates: dict[str, HostGate] = {}
        self._lock = threading.Lock()
        self._global = Slots(politeness.concurrency, self.stop)

    def gate(self, host: str) -> HostGate:
        """The gate of ``host`` (``name:port``)."""
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = HostGate(
                    self.politeness.per_host_concurrency,
                    self.politeness.per_host_delay,
                    self.stop,
                    self.clock,
                )
                self._gates[host] = gate
            return gate

    @contextmanager
    def turn(self, host: str) -> Iterator[None]:
        """Wait for a turn at ``host`` and a global slot (``StoppedError``, ``TooEarlyError``)."""
        with self.gate(host).turn(self.politeness.max_wait, self._global):
            yield

    def close(self) -> None:
        """Stop every waiter (nothing else is held)."""
        self.stop.set()
