"""A cluster on this machine, against the real PostgreSQL and Redis: one scheduler, three
workers and two servers as separate OS processes, over simulated sites on several
127.0.0.x hosts. Each test is bounded: it waits for what it expects for a fixed time,
then fails with the processes' logs; every process is stopped on the way out."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.cli import main
from feeds.errors import ConfigError, FeedBusyError
from feeds.service.runtime import Runtime
from feeds.service.server import content_type
from feeds.storage.advisory import advisory_lock
from feeds.storage.database import DatabaseStore
from tests.cluster import Cluster, cluster, cluster_config, healthz, http_get, slow_article
from tests.conftest import WriteConfig
from tests.newssite import numbered_articles, serve_news
from tests.services import REDIS, postgres_schema, rabbitmq_prefix, redis_prefix, unavailable
from tests.sitesim import SiteSim

HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
FEEDS = 40
ARTICLES = 2
WAIT = 90.0
"""Longest a test waits for the cluster to do what it expects (seconds)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def services() -> Iterator[tuple[str, str, str]]:
    """A PostgreSQL schema and a Redis prefix: (database URL, Redis URL, prefix)."""
    with postgres_schema() as database, redis_prefix() as (broker, prefix):
        yield database, broker, prefix


def test_a_cluster_runs_each_feed_once_and_serves_it_from_every_server(
    tmp_path: Path, services: tuple[str, str, str]
) -> None:
    database, broker, prefix = services
    sites = [SiteSim(host) for host in HOSTS]
    feeds = {}
    for n in range(FEEDS):
        site = sites[n % len(sites)]
        listing = f"/f{n}/"
        serve_news(site, numbered_articles(ARTICLES, prefix=f"f{n}"), listing=listing)
        feeds[f"f{n}"] = site.url(listing)
    config = cluster_config(
        tmp_path,
        database=database,
        broker=broker,
        prefix=prefix,
        feeds=feeds,
        settings="per_host_delay: 0.02s\nper_host_concurrency: 1\n",
    )
    ports = [free_port(), free_port()]
    with sites[0], sites[1], sites[2], sites[3], cluster(config, database) as running:
        for _ in range(3):
            running.start("worker", "--threads", "4")
        running.start("run", "--no-serve")
        for port in ports:
            running.start("serve", port=port)

        def all_published() -> bool:
            done = running.query("SELECT count(DISTINCT feed) FROM due_runs")[0][0]
            return bool(done == FEEDS)

        running.wait(all_published, what="40 feeds run", seconds=WAIT)
        running.wait(
            lambda: all(healthz(port) is not None for port in ports),
            what="the servers",
            seconds=WAIT,
        )

        # every feed ran exactly once (its one due time: run_at_start; interval 1 h)
        runs = dict(running.query("SELECT feed, count(*) FROM runs GROUP BY feed"))
        assert runs == {f"f{n}": 1 for n in range(FEEDS)}
        # every item once
        items = running.query("SELECT feed, url FROM items")
        assert len(items) == len(set(items)) == FEEDS * ARTICLES
        # the runs were shared out among the workers
        ran_by = [worker for worker in running.workers() if ": 2 new" in worker.output()]
        assert len(ran_by) >= 2, running.logs()
        # no host ever had two requests at once, whichever worker sent them
        assert all(site.max_in_flight == 1 for site in sites)

        for name in ("f0.xml", "f17.atom", "f39.json", "f5.html", "index.html"):
            answers = [http_get(f"http://127.0.0.1:{port}/{name}") for port in ports]
            (status, headers, body), (status2, headers2, body2) = answers
            assert status == status2 == 200
            assert body == body2 and body
            assert headers["ETag"] == headers2["ETag"]
            assert headers["Last-Modified"] == headers2["Last-Modified"]
            assert headers["Content-Type"] == content_type(name)
            # half the feed's interval (1 h), as `feeds run` sends; 5 min for the rest
            lifetime = 300 if name.endswith(".html") else 1800
            assert f"max-age={lifetime}" in headers["Cache-Control"]
            for port in ports:  # revalidation against either server
                again = http_get(
                    f"http://127.0.0.1:{port}/{name}", **{"If-None-Match": headers["ETag"]}
                )
                assert again[0] == 304
        assert not (tmp_path / "output" / "f0.xml").exists()  # nothing on a shared disk
        health = healthz(ports[1])
        assert health is not None and health["status"] == "ok"


def lock_holder(running: Cluster, feed: str) -> int:
    """The pid of the process holding the feed's run lock (from its connection's name)."""
    rows = running.query(
        "SELECT application_name FROM pg_stat_activity WHERE application_name = ANY(%s)",
        [f"feeds pid {worker.popen.pid} runs {feed}" for worker in running.workers()],
    )
    assert len(rows) == 1, rows
    return int(rows[0][0].split()[2])


@pytest.mark.parametrize("broker_kind", ["redis", "rabbitmq"])
def test_a_worker_killed_mid_run_leaves_the_run_to_another_without_duplicates(
    tmp_path: Path, services: tuple[str, str, str], broker_kind: str
) -> None:
    """With Redis, the run comes back when its visibility timeout ends (3 s here); with
    RabbitMQ, as soon as the dead worker's connection drops (no timeout is set)."""
    database, broker, prefix = services
    with ExitStack() as stack:
        if broker_kind == "rabbitmq":
            broker, prefix = stack.enter_context(rabbitmq_prefix())
            extra = f"politeness: '{REDIS}'\n"
        else:
            extra = "visibility_timeout: 3s\n"
        killed_with(tmp_path, database, broker, prefix, extra)


def killed_with(tmp_path: Path, database: str, broker: str, prefix: str, extra: str) -> None:
    """A worker SIGKILLed in the middle of a run: the other redoes it, nothing twice."""
    articles = numbered_articles(4, prefix="kill")
    release = threading.Event()
    with SiteSim("127.0.0.2") as site:
        serve_news(site, articles)
        reached = slow_article(site, articles[2].path, release)
        config = cluster_config(
            tmp_path,
            database=database,
            broker=broker,
            prefix=prefix,
            feeds={"news": site.url("/news/")},
            settings="per_host_delay: 0\n",
            cluster_settings=extra,
        )
        with cluster(config, database) as running:
            for _ in range(2):
                running.start("worker")
            running.start("run", "--no-serve")
            running.wait(reached.is_set, what="the slow article", seconds=WAIT)
            victim = lock_holder(running, "news")
            running.kill(victim)
            release.set()
            running.wait(
                lambda: bool(running.query("SELECT count(*) FROM due_runs")[0][0]),
                what="the run redone by the other worker",
                seconds=WAIT,
            )
            survivor = next(w for w in running.workers() if w.popen.pid != victim)
            assert "news: 4 new" in survivor.output(), running.logs()
            items = running.query("SELECT url FROM items WHERE feed = 'news'")
            assert sorted(url for (url,) in items) == sorted(site.url(a.path) for a in articles)
            assert running.query("SELECT count(*) FROM runs")[0][0] == 1
            with running.store() as store:
                wanted = {"news.xml", "news.atom", "index.html"}
                assert store.document_names(wanted) == wanted


def test_the_cluster_recovers_by_itself_when_redis_restarts_mid_run(
    tmp_path: Path, services: tuple[str, str, str]
) -> None:
    database, _, prefix = services
    server = shutil.which("redis-server")
    if server is None:
        unavailable("Redis", "no redis-server program to start one of the test's own")
    assert server is not None
    port = free_port()
    command = [
        server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]

    def start_redis() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return process
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    articles = numbered_articles(3, prefix="restart")
    release = threading.Event()
    redis = start_redis()
    try:
        with SiteSim("127.0.0.3") as site:
            serve_news(site, articles)
            reached = slow_article(site, articles[1].path, release)
            config = cluster_config(
                tmp_path,
                database=database,
                broker=f"redis://127.0.0.1:{port}/0",
                prefix=prefix,
                feeds={"news": site.url("/news/")},
                settings="per_host_delay: 0\n",
            )
            with cluster(config, database) as running:
                running.start("worker")
                running.start("run", "--no-serve")
                running.wait(reached.is_set, what="the slow article", seconds=WAIT)
                redis.terminate()
                redis.wait(10)
                redis = start_redis()
                release.set()
                running.wait(
                    lambda: running.query("SELECT count(*) FROM runs")[0][0] == 1,
                    what="the run that went on through the restart",
                    seconds=WAIT,
                )
                # the restarted Redis is empty: a new run is queued and taken as usual
                refreshed = subprocess.run(
                    [*running.cli(), "refresh", "news"], capture_output=True, text=True
                )
                assert refreshed.returncode == 0, refreshed.stderr
                running.wait(
                    lambda: running.query("SELECT count(*) FROM runs")[0][0] == 2,
                    what="a run queued after the restart",
                    seconds=WAIT,
                )
                items = running.query("SELECT url FROM items")
                assert len(items) == len(set(items)) == 3
    finally:
        redis.terminate()
        redis.wait(10)


def test_a_second_scheduler_stands_by_and_no_feed_runs_twice(
    tmp_path: Path, services: tuple[str, str, str]
) -> None:
    database, broker, prefix = services
    with SiteSim("127.0.0.4") as site:
        feeds = {}
        for n in range(3):
            serve_news(site, numbered_articles(1, prefix=f"s{n}"), listing=f"/s{n}/")
            feeds[f"s{n}"] = site.url(f"/s{n}/")
        configs = []
        for machine in ("one", "two"):  # two machines: a state directory each
            (tmp_path / machine).mkdir()
            configs.append(
                cluster_config(
                    tmp_path / machine,
                    database=database,
                    broker=broker,
                    prefix=prefix,
                    feeds=feeds,
                    settings="per_host_delay: 0\n",
                )
            )
        with cluster(configs[0], database) as running:
            running.start("worker")
            schedulers = [running.start("run", "--no-serve", config=c) for c in configs]
            running.wait(
                lambda: running.query("SELECT count(*) FROM due_runs")[0][0] == 3,
                what="the three feeds run",
                seconds=WAIT,
            )
            running.wait(
                lambda: any("standing by" in s.output() for s in schedulers),
                what="a scheduler standing by",
                seconds=WAIT,
            )
            time.sleep(1)  # time for a second scheduler's runs, were it scheduling
            runs = dict(running.query("SELECT feed, count(*) FROM runs GROUP BY feed"))
            assert runs == {"s0": 1, "s1": 1, "s2": 1}
            assert sum(" queued" in s.output() for s in schedulers) == 1


# the pieces, in this process


def test_a_cluster_without_a_shared_database_is_a_mistake_named_in_the_config(
    write_config: WriteConfig,
) -> None:
    with pytest.raises(ConfigError) as mistake:
        write_config(
            "settings:\n  cluster:\n    broker: redis://127.0.0.1:6379/0\n"
            "feeds:\n  a:\n    sources: [{url: 'https://a.example/'}]\n"
        )
    assert mistake.value.field.startswith("settings")
    assert "settings.database" in str(mistake.value)
    with pytest.raises(ConfigError, match="is not a broker URL: Redis .* or RabbitMQ"):
        write_config(
            "settings:\n  database: postgresql://db/feeds\n  cluster:\n"
            "    broker: http://127.0.0.1:6379/0\n"
            "feeds:\n  a:\n    sources: [{url: 'https://a.example/'}]\n"
        )
    with pytest.raises(
        ConfigError, match="settings.cluster: with a RabbitMQ broker, set politeness"
    ):
        write_config(
            "settings:\n  database: postgresql://db/feeds\n  cluster:\n"
            "    broker: amqp://guest:guest@127.0.0.1:5672//\n"
            "feeds:\n  a:\n    sources: [{url: 'https://a.example/'}]\n"
        )


def test_feeds_worker_without_a_cluster_says_what_to_set(write_config: WriteConfig) -> None:
    config = write_config("feeds:\n  a:\n    sources: [{url: 'https://a.example/'}]\n")
    ran = CliRunner().invoke(main, ["--config", str(config.file), "worker"])
    assert ran.exit_code != 0
    assert "settings.cluster: is not set" in ran.output
    assert "Traceback" not in ran.output


def test_a_due_run_runs_once_and_never_beside_another_run_of_its_feed(
    site: SiteSim, write_config: WriteConfig, services: tuple[str, str, str]
) -> None:
    database, broker, prefix = services
    serve_news(site, numbered_articles(2))
    config = write_config(
        "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
        f"  extract_workers: 0\n  database: '{database}'\n"
        f"  cluster:\n    broker: '{broker}'\n    prefix: {prefix}\n"
        f"feeds:\n  news:\n    sources: [{{url: '{site.url('/news/')}'}}]\n"
    )
    feed = config.feeds["news"]
    due = datetime(2026, 1, 1, 12, tzinfo=UTC)
    with Runtime(config) as runtime:
        report = runtime.run_due(feed, due)
        assert report is not None and report.new == 2
        assert runtime.run_due(feed, due) is None  # redelivered: done already
        assert runtime.run_due(feed, due - timedelta(minutes=5)) is None  # overtaken
        with advisory_lock(database, "news", "another worker"):
            with pytest.raises(FeedBusyError):
                runtime.run_due(feed, due + timedelta(hours=1))
            with pytest.raises(FeedBusyError):
                runtime.run_and_record(feed)  # `feeds once` too
        later = runtime.run_due(feed, due + timedelta(hours=1))
        assert later is not None and later.new == 0
    with DatabaseStore.at(database) as store:
        assert len(store.recent_runs("news", 10)) == 2
