"""A cluster's schedule, kept in the state: what a scheduler sends at each tick, after a
restart or a failover, when the broker refuses a run and when a sent run is lost. On the
memory store with a fake clock and a fake queue; the same store methods run on SQLite and
PostgreSQL in the storage contract, and with real processes in ``test_cluster_faults``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from feeds.config import Config
from feeds.service.cluster_schedule import ClusterSchedule
from feeds.storage.memory import MemoryState
from tests.conftest import WriteConfig

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def cluster_config(write_config: WriteConfig, feeds: str = "a b", settings: str = "") -> Config:
    entries = "".join(
        f"  {feed}:\n    interval: 10m\n    sources: [{{url: 'https://{feed}.example/'}}]\n"
        for feed in feeds.split()
    )
    return write_config(
        f"settings:\n  database: postgresql://db/feeds\n  jitter: 0s\n{settings}"
        "  cluster:\n    broker: redis://127.0.0.1:6379/0\n    resend_after: 5m\n"
        f"feeds:\n{entries}"
    )


class Queue:
    """A broker that keeps what it is sent, or refuses while ``down``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, datetime]] = []
        self.down = False

    def send(self, feed: str, due: datetime) -> None:
        if self.down:
            raise ConnectionError("broker away")
        self.sent.append((feed, due))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def names(runs: tuple[tuple[str, datetime], ...]) -> tuple[str, ...]:
    return tuple(feed for feed, _ in runs)


def scheduler(config: Config, state: MemoryState, queue: Queue, clock: Clock) -> ClusterSchedule:
    return ClusterSchedule(config, state.connect, queue.send, clock)


def test_each_due_run_is_sent_once_even_by_two_schedulers(write_config: WriteConfig) -> None:
    config, state, queue, clock = cluster_config(write_config), MemoryState(), Queue(), Clock()
    first, second = scheduler(config, state, queue, clock), scheduler(config, state, queue, clock)
    first.resume()
    assert names(first.tick().sent) == ("a", "b")  # run_at_start: new feeds are due now
    assert names(second.tick().sent) == () and queue.sent == [("a", T0), ("b", T0)]
    assert first.next_runs() == {"a": T0 + timedelta(minutes=10), "b": T0 + timedelta(minutes=10)}
    clock.now = T0 + timedelta(minutes=10)
    assert names(second.tick().sent) == ("a", "b")  # whoever ticks first sends them
    assert names(first.tick().sent) == ()
    assert len(queue.sent) == 4


def test_a_restart_resumes_the_schedule_without_a_burst(write_config: WriteConfig) -> None:
    config, state, queue, clock = cluster_config(write_config), MemoryState(), Queue(), Clock()
    old = scheduler(config, state, queue, clock)
    old.resume()
    old.tick()
    clock.now = T0 + timedelta(minutes=5)  # the scheduler restarts half way through
    grown = cluster_config(write_config, "a b c")
    new = scheduler(grown, state, queue, clock)
    new.resume()
    assert names(new.tick().sent) == ("c",)  # only the new feed; a and b are not due yet
    clock.now = T0 + timedelta(minutes=25)  # two intervals on: each overdue run once
    assert names(new.tick().sent) == ("a", "b", "c")
    assert new.next_runs()["a"] == T0 + timedelta(minutes=30)


def test_without_run_at_start_overdue_runs_wait_for_their_next_time(
    write_config: WriteConfig,
) -> None:
    state, queue, clock = MemoryState(), Queue(), Clock()
    first = scheduler(cluster_config(write_config), state, queue, clock)
    first.resume()
    first.tick()
    clock.now = T0 + timedelta(minutes=25)
    quiet = cluster_config(write_config, "a b c", settings="  run_at_start: false\n")
    later = scheduler(quiet, state, queue, clock)
    later.resume()
    assert names(later.tick().sent) == ()
    assert later.next_runs() == {
        "a": T0 + timedelta(minutes=30),  # on their interval's grid
        "b": T0 + timedelta(minutes=30),
        "c": T0 + timedelta(minutes=35),  # new: one interval from now
    }


def test_a_refused_run_is_sent_at_the_next_tick(write_config: WriteConfig) -> None:
    config, state, queue, clock = cluster_config(write_config), MemoryState(), Queue(), Clock()
    schedule = scheduler(config, state, queue, clock)
    schedule.resume()
    queue.down = True
    tick = schedule.tick()
    assert tick.sent == () and tick.refused == "broker away"
    queue.down = False
    clock.now += timedelta(seconds=1)
    tick = schedule.tick()  # a again (its due time, not a later one), b for the first time
    assert (tick.resent, tick.sent) == ((("a", T0),), (("b", T0),))
    assert sorted(queue.sent) == [("a", T0), ("b", T0)]


def test_a_lost_run_is_sent_again_after_the_grace_and_a_done_one_is_not(
    write_config: WriteConfig,
) -> None:
    config, state, queue, clock = cluster_config(write_config), MemoryState(), Queue(), Clock()
    schedule = scheduler(config, state, queue, clock)
    schedule.resume()
    schedule.tick()
    with state.connect() as store:
        store.record_due_run("a", T0, T0 + timedelta(seconds=30))  # a ran; b's message lost
    clock.now = T0 + timedelta(minutes=4)
    tick = schedule.tick()
    assert (tick.settled, tick.resent) == (1, ())  # a is done; b within resend_after (5m)
    clock.now = T0 + timedelta(minutes=5, seconds=1)
    assert names(schedule.tick().resent) == ("b",)
    assert queue.sent[-1] == ("b", T0)
    clock.now = T0 + timedelta(minutes=6)
    assert names(schedule.tick().resent) == ()  # sent again once per grace, not every tick


def test_a_reloaded_config_moves_the_schedule(write_config: WriteConfig) -> None:
    config, state, queue, clock = cluster_config(write_config), MemoryState(), Queue(), Clock()
    schedule = scheduler(config, state, queue, clock)
    schedule.resume()
    schedule.tick()
    new = cluster_config(write_config, "b c")
    schedule.follow(new, [new.feeds["c"]], ["a"], [])
    assert set(schedule.next_runs()) == {"b", "c"}
    assert names(schedule.tick().sent) == ("c",)
    assert schedule.run_now("b") and not schedule.run_now("a")
    assert names(schedule.tick().sent) == ("b",)


class BusyHosts:
    """Every host busy with other runs."""

    def __init__(self) -> None:
        self.asked: list[set[str]] = []

    def take(self, hosts: set[str]) -> str | None:
        self.asked.append(set(hosts))
        return None

    def release(self, hosts: set[str], token: str) -> None:
        raise AssertionError("nothing was taken")


class Ran:
    """A runtime that records the runs asked of it."""

    metrics = None

    def __init__(self) -> None:
        self.runs: list[str] = []

    def run_due(self, feed: object, due: datetime) -> None:
        self.runs.append(feed.id)  # type: ignore[attr-defined]
        return None  # "done already": nothing to publish

    def follow(self, config: Config) -> None:
        pass


def test_a_run_whose_hosts_are_busy_is_put_back_then_runs_after_enough_tries(
    write_config: WriteConfig,
) -> None:
    from feeds.service.worker import MAX_DEFERRALS, ClusterWorker

    config = cluster_config(write_config)
    runtime, hosts = Ran(), BusyHosts()
    worker = ClusterWorker(config, runtime, hosts, lambda: True)  # type: ignore[arg-type]
    assert worker.run_due("a", T0, 0) == "deferred" and runtime.runs == []
    assert hosts.asked == [{"a.example"}]
    assert worker.run_due("a", T0, MAX_DEFERRALS) == "done" and runtime.runs == ["a"]
    # with nothing else waiting in the queue, a run is not put back: it runs
    idle = ClusterWorker(config, runtime, BusyHosts(), lambda: False)  # type: ignore[arg-type]
    assert idle.run_due("b", T0, 0) == "done" and runtime.runs == ["a", "b"]
