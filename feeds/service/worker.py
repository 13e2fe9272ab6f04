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

from feeds.cluster.queue import serve_runs
from feeds.config import Config, load_config
from feeds.errors import ConfigError, FeedBusyError, FeedsError
from feeds.service.reload import ConfigWatch
from feeds.service.runtime import Runtime, log_report

log = logging.getLogger(__name__)


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

    def run_due(self, feed_id: str, due: datetime) -> bool:
        """Run ``feed_id`` for the run due at ``due``; False when the feed is running
        elsewhere (to be tried again later). A failed run is logged and recorded, and
        counts as done: its next due time will try again."""
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
            return True
        try:
            report = self.runtime.run_due(feed, due)
        except FeedBusyError:
            log.info("feed %s: running on another worker; its run due at %s waits", feed_id, due)
            return False
        except FeedsError as exc:  # a storage or publishing problem, recorded
            log.error("feed %s: run failed: %s", feed_id, exc)
            return True
        except Exception:  # a bug, recorded; the worker goes on with other feeds
            log.exception("feed %s: internal error", feed_id)
            return True
        if report is None:
            log.info("feed %s: its run due at %s is done already", feed_id, due)
            return True
        log_report(report)
        try:
            self.runtime.publish_index()
        except FeedsError as exc:
            log.error("cannot write the index: %s", exc)
        return True


def run_worker(config_path: Path, *, threads: int | None = None) -> int:
    """Run a worker until SIGTERM or SIGINT; returns the exit status."""
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
    with Runtime(config) as runtime:
        worker = ClusterWorker(config, runtime)
        log.info("feeds worker started: %d feeds in the config", len(config.feeds))
        return serve_runs(
            config.settings,
            worker.run_due,
            threads=threads or cluster.worker_threads,
            on_stop=runtime.stop,
        )
