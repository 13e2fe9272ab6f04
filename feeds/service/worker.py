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
from datetime import datetime
from pathlib import Path

from feeds.cluster.queue import RunOutcome, serve_runs, worker_name
from feeds.config import Config, load_config
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

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
"""How often a worker says in the database that it is there (``feeds status``)."""


class ClusterWorker:
    """Runs queued feed runs with one runtime."""

    def __init__(self, config: Config, runtime: Runtime) -> None:
        self.runtime = runtime
        self._watch = ConfigWatch(config.file, config)
        self._lock = threading.Lock()

    @property
    def config(self) -> Config:
        """The config as last read."""
        return self._watch.config

    def run_due(self, feed_id: str, due: datetime) -> RunOutcome:
        """Run ``feed_id`` for the run due at ``due``: "busy" when the feed is running
        elsewhere, "unavailable" when the database is away (both to be tried again
        later). A failed run is logged and recorded, and counts as done: its next due
        time will try again."""
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
        worker = ClusterWorker(config, runtime)
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
