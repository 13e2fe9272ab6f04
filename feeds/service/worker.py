"""``feeds worker``: one process of a cluster that runs the feed runs the scheduler queued.

It starts what ``feeds once`` starts (``Runtime``: its own extraction pool, its own
fetcher with the cluster's shared politeness) and takes runs from the queue,
``settings.cluster.worker_threads`` at a time. Each run holds its feed's lock in
PostgreSQL, so a feed never runs twice at once anywhere in the cluster. A changed config
file is taken up before the next run (feeds added, changed, removed).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from feeds.cluster.politeness import HostRuns, SharedGates
from feeds.cluster.queue import Dispatcher, RunOutcome, serve_runs, worker_name
from feeds.config import Config, Feed, load_config
from feeds.errors import (
    ConfigError,
    DatabaseUnavailableError,
    FeedBusyError,
    FeedsError,
    StorageError,
)
from feeds.run.feed import utc_now
from feeds.service.metrics import Metrics
from feeds.service.reload import ConfigWatch
from feeds.service.runtime import Runtime, log_report
from feeds.storage.interface import WorkerSeen
from feeds.urls import host_key

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
"""How often a worker says in the database that it is there (``feeds status``)."""
MAX_DEFERRALS = 10
"""How many times a run is put back for its busy hosts before it runs anyway."""


class ClusterWorker:
    """Runs queued feed runs with one runtime."""

    def __init__(
        self,
        config: Config,
        runtime: Runtime,
        host_runs: HostRuns | None = None,
        others_waiting: Callable[[], bool] = lambda: True,
    ) -> None:
        """``host_runs`` (a cluster's) says which hosts other runs keep busy;
        ``others_waiting`` whether other runs wait in the queue (a run is put back for
        busy hosts only then)."""
        self.runtime = runtime
        self.host_runs = host_runs
        self.others_waiting = others_waiting
        self._watch = ConfigWatch(config.file, config)
        self._lock = threading.Lock()

    @property
    def config(self) -> Config:
        """The config as last read."""
        return self._watch.config

    def run_due(self, feed_id: str, due: datetime, put_back: int = 0) -> RunOutcome:
        """Run ``feed_id`` for the run due at ``due`` (put back ``put_back`` times so
        far): "busy" when the feed is running elsewhere, "unavailable" when the database
        is away, "deferred" when every host of it is busy with other runs (each to be
        tried again later). A failed run is logged and recorded, and counts as done: its
        next due time will try again."""
        with self._lock:
            changed = self._watch.changed()
            if changed is not None:
                self.runtime.follow(changed)
                log.info("config reloaded: %d feeds", len(changed.feeds))
        feed = self.config.feeds.get(feed_id)
        if feed is None:
            log.warning(
                "feed %s was asked for but is not in %s: skipped", feed_id, self.config.file
            )
            return "done"
        hosts = {host_key(url) for url in feed.source_urls}
        token = None
        if self.host_runs is not None:
            token = self.host_runs.take(hosts)
            if token is None and put_back < MAX_DEFERRALS and self.others_waiting():
                log.info("feed %s: its hosts are busy with other runs: put back", feed_id)
                self._count_retry("hosts busy")
                return "deferred"
        try:
            return self._run_due(feed, due)
        finally:
            if self.host_runs is not None and token is not None:
                self.host_runs.release(hosts, token)

    def _run_due(self, feed: Feed, due: datetime) -> RunOutcome:
        feed_id = feed.id
        try:
            report = self.runtime.run_due(feed, due)
        except FeedBusyError:
            log.info("feed %s: running on another worker; its run due at %s waits", feed_id, due)
            self._count_retry("busy")
            return "busy"
        except DatabaseUnavailableError as exc:
            log.error("feed %s: its run due at %s waits for the database: %s", feed_id, due, exc)
            self._count_retry("database")
            return "unavailable"
        except FeedsError as exc:  # a storage or publishing problem, recorded
            log.error("feed %s: run failed: %s", feed_id, exc)
            return "done"
        except Exception:  # a bug, recorded; the worker goes on with other feeds
            log.exception("feed %s: internal error", feed_id)
            return "done"
        if report is None:
            log.info("feed %s: its run due at %s is done already", feed_id, due)
            return "done"
        log_report(report)
        try:
            self.runtime.publish_index()
        except FeedsError as exc:
            log.error("cannot write the index: %s", exc)
        return "done"

    def say_seen(self, name: str, now: datetime) -> None:
        """Keep in the state that this worker is there, and how it is doing."""
        seen = WorkerSeen(name, now, self.runtime.running, self.runtime.unrecorded)
        with self.runtime.connect() as store:
            store.worker_seen(seen)

    def _count_retry(self, reason: str) -> None:
        if self.runtime.metrics is not None:
            self.runtime.metrics.retried.labels(reason).inc()


def run_worker(
    config_path: Path, *, threads: int | None = None, metrics_port: int | None = None
) -> int:
    """Run a worker until SIGTERM or SIGINT; returns the exit status. ``/metrics`` is
    served on ``metrics_port`` (by default ``settings.cluster.metrics_port``)."""
    config = load_config(config_path)
    cluster = config.settings.cluster
    if cluster is None:
        raise ConfigError(
            config.file,
            None,
            "settings.cluster",
            "is not set: a worker takes its runs from a cluster's queue "
            "(settings.cluster.broker: redis://host:6379/0)",
        )
    for warning in config.warnings:
        log.warning("%s", warning)
    metrics = Metrics()
    metrics_port = cluster.metrics_port if metrics_port is None else metrics_port
    if metrics_port is not None:
        port = metrics.serve(config.settings.serve.host, metrics_port)
        log.info("metrics served on http://%s:%d/metrics", config.settings.serve.host, port)
    with Runtime(config, metrics=metrics) as runtime:
        runtime.status_page = config.settings.publishes_to_database  # served by feeds serve
        gates = runtime.fetcher.gates if runtime.fetcher is not None else None
        lease = cluster.visibility_timeout.total_seconds()
        host_runs = HostRuns(gates, lease) if isinstance(gates, SharedGates) else None
        queue = Dispatcher(config.settings)
        worker = ClusterWorker(config, runtime, host_runs, lambda: bool(queue.queue_length() or 0))
        log.info("feeds worker started: %d feeds in the config", len(config.feeds))
        stopped = threading.Event()
        heartbeat = threading.Thread(
            target=_heartbeat, args=(worker, stopped), name="heartbeat", daemon=True
        )
        heartbeat.start()
        try:
            return serve_runs(
                config.settings,
                worker.run_due,
                threads=threads or cluster.worker_threads,
                on_stop=runtime.stop,
            )
        finally:
            stopped.set()
            queue.close()


def _heartbeat(worker: ClusterWorker, stopped: threading.Event) -> None:
    """Say the worker is there now, then every ``HEARTBEAT_SECONDS`` until ``stopped``."""
    name = worker_name()
    while True:
        try:
            worker.say_seen(name, utc_now())
        except StorageError as exc:  # the database away: said again at the next beat
            log.debug("heartbeat not kept: %s", exc)
        if stopped.wait(HEARTBEAT_SECONDS):
            return
