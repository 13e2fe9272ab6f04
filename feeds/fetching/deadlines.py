"""Deadlines: actions run by one thread when their time comes, unless cancelled first.

The fetcher bounds each download in time by shutting its socket when the time is up. A
thread per download (``threading.Timer``) cost more than reading most pages; one thread
watching every download's deadline costs a heap push and a pop.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Deadlines:
    """Runs each action at its deadline (``clock`` seconds, ``time.monotonic`` unless
    given) on one daemon thread, started on first use; ``cancel`` takes an action back.
    Thread-safe.

    Actions must be quick: they run one after another on the watching thread. Once
    closed, every deadline counts as passed: ``call_at`` runs its action at once."""

    def __init__(
        self, name: str = "deadlines", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._name = name
        self._clock = clock
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._pending: set[int] = set()
        self._numbers = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def call_at(self, deadline: float, action: Callable[[], None]) -> int:
        """Run ``action`` at ``deadline``; returns the number that cancels it."""
        with self._condition:
            number = next(self._numbers)
            closed = self._closed
            if not closed:
                heapq.heappush(self._heap, (deadline, number, action))
                self._pending.add(number)
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._watch, name=self._name, daemon=True
                    )
                    self._thread.start()
                elif self._heap[0][1] == number:
                    self._condition.notify()  # sooner than what the thread waits for
        if closed:
            _run(action)
        return number

    def cancel(self, number: int) -> None:
        """Take back the action ``number`` if it has not run (its heap entry is dropped
        when it comes up)."""
        with self._condition:
            self._pending.discard(number)

    def poke(self) -> None:
        """Read the clock again now (for a clock that jumps, like the tests' fake one)."""
        with self._condition:
            self._condition.notify()

    def close(self) -> None:
        """Stop the thread; pending actions never run."""
        with self._condition:
            self._closed = True
            self._pending.clear()
            self._condition.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _watch(self) -> None:
        with self._condition:
            while not self._closed:
                while self._heap and self._heap[0][1] not in self._pending:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._condition.wait()
                    continue
                wait = self._heap[0][0] - self._clock()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                _, number, action = heapq.heappop(self._heap)
                self._pending.discard(number)
                self._condition.release()
                try:
                    _run(action)
                finally:
                    self._condition.acquire()


def _run(action: Callable[[], None]) -> None:
    try:
        action()
    except Exception:  # the watching thread must outlive a broken action
        log.exception("deadline action %r failed", action)
