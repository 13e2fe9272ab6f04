"""Throughput of a cluster with 1, 2 and 4 workers on network-bound feeds, and what each
article costs the machines (CPU, database writes, Redis commands).

    python bench/cluster.py [--feeds 48] [--hosts 48] [--articles 5] [--latency 0.2]
                            [--delay 0.5] [--threads 4] [--workers 1,2,4]

Needs the PostgreSQL and Redis of tests/services.py (FEEDS_TEST_POSTGRES,
FEEDS_TEST_REDIS). The feeds read ``--hosts`` simulated sites (one per 127.0.x.y host,
``--latency`` seconds per response; each feed its own listing, the feeds shared out among
the sites: as many hosts as feeds by default, fewer to see feeds of one host queue behind
each other) with politeness on (``--delay`` between requests to a host, two at once).
For each number of workers, a fresh state: the workers (``feeds worker --threads``,
separate processes, extraction in their feeds' threads so that their CPU time is all
theirs) are started and ready before the scheduler (``feeds run``), and
the time is taken from the scheduler's start until every feed has run once. Prints feeds
and articles per second, the speedup over one worker, the closest two requests to one
host came (by the sites' clocks), the most requests a host had at once, and per article:
CPU seconds of the workers, database transactions and rows written, Redis commands.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402

from tests.cluster import Cluster, cluster, cluster_config  # noqa: E402
from tests.newssite import numbered_articles, serve_news  # noqa: E402
from tests.services import POSTGRES, postgres_schema, redis_prefix  # noqa: E402
from tests.sitesim import SiteSim  # noqa: E402

TICKS = 100  # clock ticks per second in /proc/<pid>/stat (USER_HZ)


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def database_writes() -> tuple[int, int]:
    """Transactions committed and rows written in the tests' database so far."""
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute("SELECT pg_stat_clear_snapshot()")
        row = connection.execute(
            "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted "
            "FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


POLITENESS_CALLS = {"evalsha", "eval"}
"""What SharedGates sends for a request: its Lua scripts (a slot's release, ZREM, is
shared with the queue's bookkeeping and counted there)."""


def redis_commands(client: redis.Redis) -> tuple[int, int]:
    """Commands Redis has processed so far: script calls (politeness round trips), and
    every command (the commands run inside scripts included)."""
    stats = client.info("commandstats")
    scripts = sum(
        int(values["calls"])
        for name, values in stats.items()
        if name.removeprefix("cmdstat_") in POLITENESS_CALLS
    )
    return scripts, sum(int(values["calls"]) for values in stats.values())


def wait_ready(running: Cluster, workers: int) -> None:
    running.wait(
        lambda: sum("ready." in w.output() for w in running.workers()) == workers,
        what="the workers",
        seconds=60,
    )


def one_round(
    args: argparse.Namespace, workers: int, sites: list[SiteSim], listings: list[str]
) -> dict[str, float]:
    feeds = {f"f{n}": listing for n, listing in enumerate(listings)}
    for site in sites:
        site.hits.clear()
        site.max_in_flight = 0
    with (
        tempfile.TemporaryDirectory() as directory,
        postgres_schema() as database,
        redis_prefix() as (broker, prefix),
    ):
        config = cluster_config(
            Path(directory),
            database=database,
            broker=broker,
            prefix=prefix,
            feeds=feeds,
            settings=f"per_host_delay: {args.delay}s\nper_host_concurrency: 2\n",
        )
        client = redis.Redis.from_url(broker)
        with cluster(config, database) as running:
            for _ in range(workers):
                running.start("worker", "--threads", str(args.threads))
            wait_ready(running, workers)
            cpu_before = {w.popen.pid: cpu_seconds(w.popen.pid) for w in running.workers()}
            commits_before, rows_before = database_writes()
            commands_before = redis_commands(client)
            started = time.perf_counter()
            running.start("run", "--no-serve")
            running.wait(
                lambda: running.query("SELECT count(*) FROM due_runs")[0][0] == len(feeds),
                what="every feed run",
                seconds=600,
            )
            seconds = time.perf_counter() - started
            cpu = sum(cpu_seconds(pid) - before for pid, before in cpu_before.items())
            time.sleep(1.0)  # PostgreSQL publishes its counters within a second
            commits, rows = database_writes()
            politeness, queue = redis_commands(client)
            politeness -= commands_before[0]
            queue -= commands_before[1]
            articles = running.query("SELECT count(*) FROM items")[0][0]
        client.close()
    requests = sum(len(site.hits) for site in sites)
    gaps = [
        later.start - earlier.start
        for site in sites
        for earlier, later in itertools.pairwise(site.ordered())
    ]
    return {
        "seconds": seconds,
        "articles": articles,
        "requests": requests,
        "cpu": cpu,
        "commits": commits - commits_before,
        "rows": rows - rows_before,
        "politeness": politeness,
        "queue": queue,
        "min_gap": min(gaps, default=0.0),
        "max_in_flight": max(site.max_in_flight for site in sites),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=48)
    parser.add_argument("--hosts", type=int, help="(default: as many as feeds)")
    parser.add_argument("--articles", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    counts = [int(count) for count in args.workers.split(",")]
    hosts = min(args.hosts or args.feeds, args.feeds)
    print(
        f"{args.feeds} feeds on {hosts} hosts, {args.articles} articles each; "
        f"{args.latency * 1000:.0f} ms per response; {args.delay}s between requests to a host, "
        f"2 at once; {args.threads} feeds at once per worker"
    )
    with ExitStack() as stack:
        sites = []
        for n in range(hosts):
            site = stack.enter_context(SiteSim(f"127.0.{1 + n // 250}.{2 + n % 250}"))
            site.latency = args.latency
            sites.append(site)
        listings = []
        for n in range(args.feeds):  # feed n on host n mod hosts, queued in that order
            site = sites[n % hosts]
            serve_news(site, numbered_articles(args.articles, prefix=f"f{n}"), f"/f{n}/")
            listings.append(site.url(f"/f{n}/"))
        first = None
        for workers in counts:
            result = one_round(args, workers, sites, listings)
            rate = args.feeds / result["seconds"]
            first = first or rate
            articles = max(1, int(result["articles"]))
            print(
                f"{workers} worker{'s' if workers > 1 else ' '}: {result['seconds']:6.1f} s, "
                f"{rate:5.2f} feeds/s, {articles / result['seconds']:5.1f} articles/s, "
                f"speedup {rate / first:4.2f}x; closest requests to one host "
                f"{result['min_gap'] * 1000:.0f} ms apart, at most "
                f"{result['max_in_flight']:.0f} at once"
            )
            requests = max(1, int(result["requests"]))
            print(
                f"           per article: {result['cpu'] / articles * 1000:5.1f} ms CPU of the "
                f"workers, {result['rows'] / articles:4.1f} rows written, "
                f"{result['commits'] / articles:4.1f} transactions (reads included); "
                f"Redis: {result['politeness'] / requests:4.1f} politeness scripts per request "
                f"({requests} requests), {result['queue'] / result['seconds']:5.0f} commands "
                "per second in all"
            )


if __name__ == "__main__":
    main()
