"""Per-host gates: concurrency, spacing, pauses and stopping, without a network."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from feeds.fetching.hosts import (
    HostGate,
    HostGates,
    Politeness,
    Slots,
    Stop,
    StoppedError,
    TooEarlyError,
)
from tests.fakes import FakeClock


def run_threads(count: int, work: object) -> None:
    threads = [threading.Thread(target=work) for _ in range(count)]  # type: ignore[arg-type]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)


def test_gate_limits_concurrency_and_spaces_starts() -> None:
    clock = FakeClock()
    gate = HostGate(concurrency=2, delay=0.05, stop=Stop(), clock=clock)
    lock = threading.Lock()
    starts: list[float] = []
    in_flight = peak = 0

    def work() -> None:
        nonlocal in_flight, peak
        with gate.turn(max_wait=60):
            with lock:
                starts.append(clock.now())
                in_flight += 1
                peak = max(peak, in_flight)
            time.sleep(0.15)  # holds its slot while the others wait for one
            with lock:
                in_flight -= 1

    run_threads(6, work)
    starts.sort()
    assert peak == 2
    # spacing by the gate's own clock: exact (to the float), however busy the machine is
    assert min(b - a for a, b in itertools.pairwise(starts)) == pytest.approx(0.05)
    assert clock.waits and all(wait <= 0.05 for wait in clock.waits)


def test_pause_for_delays_and_too_long_a_pause_refuses() -> None:
    clock = FakeClock()
    gate = HostGate(concurrency=1, delay=0, stop=Stop(), clock=clock)
    started = clock.now()
    gate.pause_for(0.2)
    with gate.turn(max_wait=1):
        assert clock.now() - started >= 0.2
    gate.pause_for(30)
    with pytest.raises(TooEarlyError), gate.turn(max_wait=1):
        pass
    assert gate.wait_needed() == pytest.approx(30)
    clock.advance(29)
    assert gate.wait_needed() == pytest.approx(1)
    with gate.turn(max_wait=1):  # within what the caller may wait now
        assert gate.wait_needed() == 0


def test_slow_down_only_ever_raises_the_delay() -> None:
    gate = HostGate(concurrency=1, delay=1.0, stop=Stop())
    gate.slow_down(0.5)
    assert gate.delay == 1.0
    gate.slow_down(2.0)
    assert gate.delay == 2.0


def test_stop_releases_waiters() -> None:
    gates = HostGates(Politeness(per_host_concurrency=1, per_host_delay=0))
    holding = threading.Event()
    release = threading.Event()
    outcome: list[str] = []

    def hold() -> None:
        with gates.turn("a.example"):
            holding.set()
            release.wait(5)

    def wait_for_turn() -> None:
        try:
            with gates.turn("a.example"):
                outcome.append("got a turn")
        except StoppedError:
            outcome.append("stopped")

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    waiter = threading.Thread(target=wait_for_turn)
    waiter.start()
    deadline = time.monotonic() + 5
    while gates.gate("a.example").waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert gates.gate("a.example").waiting == 1  # the waiter is waiting for the slot
    gates.stop.set()
    waiter.join(timeout=2)
    release.set()
    holder.join(timeout=2)
    assert outcome == ["stopped"]


def test_hosts_do_not_share_gates() -> None:
    gates = HostGates(Politeness())
    assert gates.gate("a.example") is gates.gate("a.example")
    assert gates.gate("a.example") is not gates.gate("b.example")


def test_global_limit_holds_across_hosts() -> None:
    gates = HostGates(Politeness(per_host_concurrency=4, per_host_delay=0, concurrency=2))
    lock = threading.Lock()
    in_flight = peak = 0
    hosts = iter(["a", "b", "c", "d", "a", "b", "c", "d"])

    def work() -> None:
        nonlocal in_flight, peak
        with lock:
            host = next(hosts)
        with gates.turn(host):
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            time.sleep(0.05)
            with lock:
                in_flight -= 1

    run_threads(8, work)
    assert peak == 2


def test_slots_wake_a_waiter_on_release_and_every_waiter_on_stop() -> None:
    stop = Stop()
    slots = Slots(1, stop)
    assert slots.acquire()
    outcomes: list[bool] = []
    waiters = [threading.Thread(target=lambda: outcomes.append(slots.acquire())) for _ in range(3)]
    for waiter in waiters:
        waiter.start()
    slots.release()  # one waiter gets the slot, the others wait on
    deadline = time.monotonic() + 5
    while not outcomes and time.monotonic() < deadline:
        time.sleep(0.01)
    assert outcomes == [True]
    stop.set()
    for waiter in waiters:
        waiter.join(timeout=5)
    assert sorted(outcomes) == [False, False, True]
    assert not slots.acquire()  # stopped: no more slots, even a free one


def test_spacing_counts_from_when_a_request_is_sent_not_when_its_turn_came() -> None:
    """A turn granted under load may be sent late: the next start is a delay after the
    send, so two requests never arrive closer than the delay."""
    clock = FakeClock()
    gate = HostGate(concurrency=1, delay=1.0, stop=Stop(), clock=clock)
    with gate.turn(max_wait=60):
        granted = clock.now()
        clock.advance(0.4)  # the thread waited for the interpreter before sending
        gate.sending()
    with gate.turn(max_wait=60):
        assert round(clock.now() - granted, 6) == 1.4
