"""Politeness held across the workers of a cluster (``feeds.cluster.politeness``), on the
real Redis: several gates, as several workers have, share one fake clock, so every
spacing is asserted exactly, by that clock, never by the wall's."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from feeds.cluster.politeness import HostRuns, SharedGates
from feeds.fetching.hosts import GatesUnavailableError, Politeness, TooEarlyError
from tests.fakes import FakeClock
from tests.services import redis_prefix

HOST = "news.example:80"


@pytest.fixture()
def workers() -> Iterator[tuple[FakeClock, list[SharedGates]]]:
    """Three workers' gates on one Redis prefix and one fake clock."""
    clock = FakeClock(start=1_800_000_000.0)
    politeness = Politeness(per_host_concurrency=1, per_host_delay=0.5, max_wait=60)
    with redis_prefix() as (url, prefix):
        gates = [
            SharedGates(url, politeness, lease=20, prefix=prefix, clock=clock) for _ in range(3)
        ]
        yield clock, gates
        for gate in gates:
            gate.close()


def test_starts_are_spaced_by_the_delay_whichever_worker_makes_them(
    workers: tuple[FakeClock, list[SharedGates]],
) -> None:
    clock, gates = workers
    starts = []
    for turn in range(6):
        with gates[turn % 3].turn(HOST):
            starts.append(clock.now())
    gaps = [round(later - earlier, 6) for earlier, later in itertools.pairwise(starts)]
    assert gaps == [0.5] * 5
    with gates[0].turn("other.example:80"):  # another host is not held back
        assert clock.now() == starts[-1]


def test_a_crawl_delay_one_worker_read_spaces_every_worker(
    workers: tuple[FakeClock, list[SharedGates]],
) -> None:
    clock, gates = workers
    gates[0].gate(HOST).slow_down(3.0)
    gates[1].gate(HOST).slow_down(1.0)  # never lowers it
    with gates[1].turn(HOST):
        first = clock.now()
    with gates[2].turn(HOST):
        assert round(clock.now() - first, 6) == 3.0


def test_a_retry_after_pause_holds_every_worker_and_a_long_one_refuses(
    workers: tuple[FakeClock, list[SharedGates]],
) -> None:
    clock, gates = workers
    paused_at = clock.now()
    gates[0].gate(HOST).pause_for(10)
    assert gates[1].gate(HOST).wait_needed() == pytest.approx(10)
    with gates[1].turn(HOST):
        assert round(clock.now() - paused_at, 6) == 10.0
    gates[2].gate(HOST).pause_for(600)  # longer than max_wait (60 s)
    with pytest.raises(TooEarlyError) as refused, gates[0].turn(HOST):
        pass
    assert refused.value.wait == pytest.approx(600)


def test_a_host_slot_is_held_across_workers_and_a_dead_holders_lease_runs_out(
    workers: tuple[FakeClock, list[SharedGates]],
) -> None:
    clock, gates = workers
    with gates[0].turn(HOST):  # held, as by a worker killed in the middle of a request
        taken_at = clock.now()
        with gates[1].turn(HOST):
            # the other worker waited for the lease (20 s) to run out, polling
            assert clock.now() - taken_at >= 20
            assert clock.now() - taken_at < 21
    with gates[2].turn(HOST):  # both slots were given back: no wait beyond the delay
        assert round(clock.now() - taken_at, 1) <= 21.5


def test_an_unreachable_redis_fails_the_request_after_max_wait() -> None:
    clock = FakeClock()
    politeness = Politeness(max_wait=5)
    gates = SharedGates("redis://127.0.0.1:1/0", politeness, lease=5, clock=clock)
    started = clock.now()
    with pytest.raises(GatesUnavailableError), gates.turn(HOST):
        pass
    assert 5 <= clock.now() - started <= 15
    gates.close()


def test_spacing_counts_from_the_send_whichever_worker_sends(
    workers: tuple[FakeClock, list[SharedGates]],
) -> None:
    clock, gates = workers
    with gates[0].turn(HOST):
        granted = clock.now()
        clock.advance(0.3)  # sent late
        gates[0].gate(HOST).sending()
    with gates[1].turn(HOST):
        assert round(clock.now() - granted, 6) == 0.8


def test_a_host_busy_with_other_runs_is_not_taken_until_one_ends(
    workers: tuple[FakeClock, list[SharedGates]],
) -> None:
    clock, gates = workers  # per_host_concurrency 1
    first, second = HostRuns(gates[0], lease=60), HostRuns(gates[1], lease=60)
    token = first.take([HOST])
    assert token is not None
    assert second.take([HOST]) is None  # busy: another worker's run holds it
    assert second.take([HOST, "other.example:80"]) is not None  # one of its hosts is free
    first.release([HOST], token)
    assert second.take([HOST]) is not None
    assert second.take([]) is not None  # a feed of local files holds no host
    clock.advance(61)  # a killed worker's lease ends by itself
    assert first.take([HOST]) is not None
