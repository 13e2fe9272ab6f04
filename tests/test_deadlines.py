"""The deadlines thread: actions run once, at their time, unless cancelled."""

from __future__ import annotations

import threading
import time

from feeds.fetching.deadlines import Deadlines
from tests.fakes import FakeClock


def test_actions_run_in_deadline_order_and_cancelled_ones_never() -> None:
    deadlines = Deadlines()
    ran: list[str] = []
    done = threading.Event()
    now = time.monotonic()
    deadlines.call_at(now + 0.3, lambda: (ran.append("late"), done.set()))
    cancelled = deadlines.call_at(now + 0.1, lambda: ran.append("cancelled"))
    deadlines.call_at(now + 0.05, lambda: ran.append("soon"))  # sooner than the thread waits
    deadlines.call_at(now - 1, lambda: ran.append("past"))
    deadlines.cancel(cancelled)
    assert done.wait(5)
    deadlines.close()
    assert ran == ["past", "soon", "late"]


def test_one_thread_watches_every_deadline() -> None:
    deadlines = Deadlines(name="test-deadlines")
    before = threading.active_count()
    numbers = [deadlines.call_at(time.monotonic() + 60, lambda: None) for _ in range(200)]
    assert threading.active_count() == before + 1
    for number in numbers:
        deadlines.cancel(number)
    deadlines.close()
    assert not any(thread.name == "test-deadlines" for thread in threading.enumerate())


def test_a_failing_action_does_not_stop_the_others() -> None:
    deadlines = Deadlines()
    done = threading.Event()

    def broken() -> None:
        raise ValueError("broken action")

    now = time.monotonic()
    deadlines.call_at(now, broken)
    deadlines.call_at(now + 0.05, done.set)
    assert done.wait(5)
    deadlines.close()


def test_after_close_every_deadline_has_passed() -> None:
    deadlines = Deadlines()
    deadlines.close()
    ran: list[int] = []
    deadlines.call_at(time.monotonic() + 3600, lambda: ran.append(1))
    assert ran == [1]


def test_deadlines_follow_the_clock_they_are_given() -> None:
    """On a fake clock, an action runs when the clock reaches its deadline, not before,
    however long that takes in real time."""
    clock = FakeClock()
    deadlines = Deadlines(clock=clock.now)
    minute, hour = threading.Event(), threading.Event()
    deadlines.call_at(clock.now() + 3600, hour.set)
    deadlines.call_at(clock.now() + 60, minute.set)
    deadlines.poke()
    assert not minute.wait(0.05) and not hour.is_set()
    clock.advance(60)
    deadlines.poke()
    assert minute.wait(5) and not hour.is_set()
    clock.advance(3540)
    deadlines.poke()
    assert hour.wait(5)
    deadlines.close()
