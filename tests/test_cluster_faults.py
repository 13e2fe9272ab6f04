"""The faults an operator meets, with real processes: a cluster (a scheduler, workers)
over simulated sites, its PostgreSQL or its broker a server of the test's own, stopped
and started by the test. After each fault: every due run is done exactly once, within
one interval of the fault's end; no item of a listing that was read is lost, none is
stored twice; no run is counted as failed for the fault; one scheduler sent each run; and
the logs and ``/metrics`` say what happened. Each test is bounded (about a minute)."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from tests.cluster import Cluster, cluster, cluster_config, http_get, slow_article
from tests.newssite import numbered_articles, serve_news
from tests.services import (
    REDIS,
    OwnPostgres,
    OwnRedis,
    free_port,
    postgres_schema,
    redis_prefix,
)
from tests.sitesim import SiteSim

INTERVAL = 15.0
"""Each feed's interval (seconds)."""
OUTAGE = 20.0
"""How long a server is away."""
FEEDS = 4
WAIT = 60.0


@dataclass
class Fixture:
    """A running cluster, its site and the articles each feed's listing shows."""

    running: Cluster
    site: SiteSim
    shown: dict[str, int]
    metrics_ports: list[int]

    def publish(self) -> None:
        """One more article on every feed's listing."""
        for n in range(FEEDS):
            self.shown[f"f{n}"] += 1
            serve_news(
                self.site,
                numbered_articles(self.shown[f"f{n}"], prefix=f"f{n}"),
                listing=f"/f{n}/",
            )

    def done(self) -> dict[str, list[datetime]]:
        """The due times each feed's runs were done for."""
        done: dict[str, list[datetime]] = {}
        for feed, due in self.running.query("SELECT feed, due FROM due_runs ORDER BY due"):
            done.setdefault(feed, []).append(due)
        return done

    def wait_all_run_since(self, moment: float, what: str) -> float:
        """Wait until every feed has a due run done for a due time at or after ``moment``
        (a Unix time) and every article shown is stored; returns when (a figure printed
        for the record, bounded by the wait, never asserted)."""

        def caught_up() -> bool:
            done = self.done()
            fresh = all(
                any(due.timestamp() >= moment for due in done.get(f"f{n}", []))
                for n in range(FEEDS)
            )
            return fresh and self.stored() == sum(self.shown.values())

        self.running.wait(caught_up, what=what, seconds=INTERVAL + WAIT)
        caught = time.time()
        if moment:
            print(f"{what}: caught up {caught - moment:.1f}s after {time.ctime(moment)}")
        return caught

    def stored(self) -> int:
        return int(self.running.query("SELECT count(*) FROM items")[0][0])

    def check(self) -> None:
        """What must hold after any fault."""
        running = self.running
        # every due run done once: one recorded run per due run, none failed
        runs = dict(running.query("SELECT feed, count(*) FROM runs GROUP BY feed"))
        due = dict(running.query("SELECT feed, count(*) FROM due_runs GROUP BY feed"))
        assert runs == due, running.logs()
        failed = running.query(
            "SELECT feed, errors FROM runs WHERE failed > 0 OR sources_failed > 0"
        )
        assert failed == [], failed
        # no item twice, none lost
        urls = running.query("SELECT feed, url FROM items")
        assert len(urls) == len(set(urls)) == sum(self.shown.values())
        # each (feed, due time) queued by one scheduler, once
        queued = re.findall(r"feed (\S+): run due at (\S+) queued", running.logs())
        assert len(queued) == len(set(queued)), queued

    def metrics(self) -> str:
        """The workers' /metrics, together."""
        return "\n".join(
            http_get(f"http://127.0.0.1:{port}/metrics")[2].decode() for port in self.metrics_ports
        )


@contextmanager
def running_cluster(
    tmp_path: Path, database: str, broker: str, prefix: str, *, politeness: str | None = None
) -> Iterator[Fixture]:
    """A scheduler and two workers (each serving /metrics) on four feeds of one site,
    each feed's first run done."""
    with SiteSim("127.0.0.6") as site:
        feeds = {f"f{n}": site.url(f"/f{n}/") for n in range(FEEDS)}
        extra = f"politeness: '{politeness}'\n" if politeness else ""
        config = cluster_config(
            tmp_path,
            database=database,
            broker=broker,
            prefix=prefix,
            feeds=feeds,
            settings=f"per_host_delay: 0\njitter: 0s\ninterval: {INTERVAL:g}s\n",
            cluster_settings=f"resend_after: 8s\nvisibility_timeout: 10s\n{extra}",
        )
        with cluster(config, database) as running:
            fixture = Fixture(running, site, dict.fromkeys(feeds, 0), [])
            fixture.publish()
            for _ in range(2):
                port = free_port()
                fixture.metrics_ports.append(port)
                running.start("worker", "--metrics-port", str(port))
            running.start("run", "--no-serve")
            fixture.wait_all_run_since(0, "the first runs")
            yield fixture


def outage(stop: Callable[[], None], start: Callable[[], None]) -> float:
    """Stop a server for ``OUTAGE`` seconds; returns when it was back (Unix time)."""
    stop()
    time.sleep(OUTAGE)  # the fault itself: a server away for this long
    start()
    return time.time()


def test_postgresql_down_20s_loses_no_run_and_fails_none(tmp_path: Path) -> None:
    with (
        OwnPostgres() as postgres,
        redis_prefix() as (broker, prefix),
        running_cluster(tmp_path, postgres.url, broker, prefix) as fixture,
    ):
        fixture.publish()
        # a run is in flight when the database goes: its new article answers late
        release = threading.Event()
        newest = numbered_articles(fixture.shown["f0"], prefix="f0")[-1]
        reached = slow_article(fixture.site, newest.path, release)
        fixture.running.wait(reached.is_set, what="a run in flight", seconds=WAIT)
        down = time.time()
        postgres.stop()
        release.set()
        time.sleep(OUTAGE)  # the fault itself: the database away this long
        postgres.start()
        back = time.time()
        fixture.wait_all_run_since(down, "runs due from the database's outage on")
        print(f"database back at +{back - down:.1f}s")
        fixture.check()
        [scheduler] = [p for p in fixture.running.processes if p.role == "run"]
        assert "lost the cluster's scheduler lock" in scheduler.output()
        assert scheduler.output().count("scheduling the cluster") == 2  # taken again
        metrics = fixture.metrics()
        assert re.search(r'feeds_runs_retried_total\{reason="database"\} [1-9]', metrics)
        assert re.search(r"feeds_runs_unrecorded_total [1-9]", metrics)

        def status() -> str:
            answer = subprocess.run(
                [*fixture.running.cli(), "status"], capture_output=True, text=True
            )
            return answer.stdout

        fixture.running.wait(
            lambda: "could not be recorded" in status(),
            what="status saying what happened",
            seconds=WAIT,
        )
        said = status()
        assert "runs queued; workers: feeds-" in said and "sent and not done" in said, said


def test_the_broker_down_20s_loses_no_run(tmp_path: Path) -> None:
    broker = OwnRedis()
    broker.start()
    try:
        with (
            postgres_schema() as database,
            redis_prefix() as (_, prefix),
            running_cluster(tmp_path, database, broker.url, prefix, politeness=REDIS) as fixture,
        ):
            fixture.publish()
            down = time.time()
            back = outage(broker.stop, broker.start)  # the queued messages are lost
            fixture.wait_all_run_since(down, "runs due from the broker's outage on")
            print(f"broker back at +{back - down:.1f}s")
            fixture.check()
            logs = fixture.running.logs()
            assert "is the broker running?" in logs
            assert "feeds_runs_in_progress" in fixture.metrics()
    finally:
        broker.stop()


def test_a_killed_scheduler_is_replaced_by_its_standby_without_a_burst(tmp_path: Path) -> None:
    with (
        postgres_schema() as database,
        redis_prefix() as (broker, prefix),
        running_cluster(tmp_path, database, broker, prefix) as fixture,
    ):
        running = fixture.running
        (standby_dir := tmp_path / "standby").mkdir()
        standby_config = standby_dir / "feeds.yaml"
        standby_config.write_text(
            running.config.read_text().replace("state_dir: state", "state_dir: standby-state")
        )
        standby = running.start("run", "--no-serve", config=standby_config)
        running.wait(lambda: "standing by" in standby.output(), what="the standby", seconds=WAIT)
        leader = next(p for p in running.processes if p.role == "run" and p is not standby)
        before = len(fixture.done()["f0"])
        running.kill(leader.popen.pid)
        killed = time.time()
        fixture.publish()
        running.wait(
            lambda: "scheduling the cluster" in standby.output(),
            what="the standby taking over",
            seconds=WAIT,
        )
        fixture.wait_all_run_since(killed, "runs scheduled by the standby")
        fixture.check()
        # resumed, not restarted: no feed ran more than once an interval meanwhile
        elapsed = time.time() - killed
        assert len(fixture.done()["f0"]) - before <= elapsed / INTERVAL + 1


@pytest.mark.parametrize("pause", [3.0])
def test_every_process_stopped_and_started_again_resumes_the_schedule(
    tmp_path: Path, pause: float
) -> None:
    with (
        postgres_schema() as database,
        redis_prefix() as (broker, prefix),
        running_cluster(tmp_path, database, broker, prefix) as fixture,
    ):
        running = fixture.running
        started = time.time()
        runs_before = int(running.query("SELECT count(*) FROM runs")[0][0])
        for process in running.processes:
            process.popen.send_signal(signal.SIGTERM)
        for process in running.processes:
            assert process.popen.wait(30) == 0, running.logs()
        running.processes.clear()
        time.sleep(pause)  # the cluster is down
        fixture.publish()
        for port in fixture.metrics_ports:
            running.start("worker", "--metrics-port", str(port))
        running.start("run", "--no-serve")
        # not every feed at once at the restart: nothing runs before its due time
        restarted = time.time()
        fixture.wait_all_run_since(restarted, "runs after the restart")
        fixture.check()
        runs_after = int(running.query("SELECT count(*) FROM runs")[0][0])
        intervals = (time.time() - started) / INTERVAL
        assert runs_after - runs_before <= FEEDS * (intervals + 1)
