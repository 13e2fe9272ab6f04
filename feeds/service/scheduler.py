"""The background service: every feed on its schedule, the output served, clean stops.

The only module that imports APScheduler. One job per feed (an interval with jitter, or a
cron expression); a feed never runs twice at once, and runs missed while busy or asleep
collapse into one. All feeds share one fetcher, so per-host politeness holds across feeds.

- SIGTERM or SIGINT: no new request is started, running feeds are given
  ``settings.stop_timeout`` to finish (what they stored is published; files are replaced
  atomically, so none is ever half-written), then the process exits with status 0.
- SIGHUP, or a change of the config file: the config is read again; feeds added, removed
  or rescheduled take effect at once. A config with a mistake is refused, its error logged,
  and the running config kept. Changed ``settings`` need a restart (logged).
- One process per state directory (a lock file).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from feeds.config import Config, Feed, Settings, load_config
from feeds.errors import FeedBusyError, FeedsError
from feeds.extras import require
from feeds.publishing.channel import file_name
from feeds.run.feed import utc_now
from feeds.run.publish import feed_formats, outlet_for, remove_feed_documents
from feeds.schedule import cron_trigger, interval_trigger
from feeds.service.lock import StateLock, take_refresh_requests
from feeds.service.metrics import Metrics
from feeds.service.reload import ConfigWatch
from feeds.service.runtime import Runtime, log_report
from feeds.service.server import DatabaseSource, DirectorySource, DocumentSource, FeedServer
from feeds.service.status import collect_status
from feeds.storage import cluster_lock, open_store

if TYPE_CHECKING:
    from feeds.cluster.queue import Dispatcher

log = logging.getLogger(__name__)

CONFIG_CHECK_SECONDS = 2.0
STANDBY_CHECK_SECONDS = 5.0
SCHEDULER_LOCK = " scheduler"
"""The cluster-wide lock a cluster's scheduler holds (no feed id has a space)."""
MAX_JITTER = timedelta(seconds=30)


class Service:
    """``feeds run``: schedules, serves, reloads and stops."""

    def __init__(self, config_path: Path, *, serve: bool = True) -> None:
        self.config_path = config_path
        self.config = load_config(config_path)
        self.serve = serve
        self.stopping = threading.Event()
        self._reload_requested = threading.Event()
        self._watch = ConfigWatch(config_path, self.config)
        self._running: set[str] = set()
        self._running_lock = threading.Condition()
        settings = self.config.settings
        self.metrics = Metrics()
        self.runtime = Runtime(self.config, metrics=self.metrics)
        """Shared by the feeds that run at once: one fetcher (politeness across feeds), as
        many extractions as cores, whatever the number of feeds. Not started in a
        cluster, whose workers run the feeds."""
        self.dispatcher: Dispatcher | None = None
        if settings.cluster is not None:
            require("cluster", "settings.cluster")
            from feeds.cluster.queue import Dispatcher  # Celery only for a cluster

            self.dispatcher = Dispatcher(settings)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(settings.parallel_feeds)},
            job_defaults={"max_instances": 1, "coalesce": True},
        )
        self.server: FeedServer | None = None

    # lifecycle

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; returns the exit status."""
        settings = self.config.settings
        with self._started():
            if self.stopping.is_set():  # stopped while standing by: nothing to schedule
                return 0
            for warning in self.config.warnings:
                log.warning("%s", warning)
            self._install_signal_handlers()
            if self.serve:
                self.server = FeedServer(
                    document_source(settings),
                    host=settings.serve.host,
                    port=settings.serve.port,
                    health=self.health,
                    max_age=self._max_age,
                    metrics=self.metrics.exposition,
                )
                self.server.start()
            self.scheduler.start()
            self._schedule(self.config.feeds.values(), first_run=settings.run_at_start)
            log.info("feeds service started: %d feeds", len(self.config.feeds))
            while not self.stopping.wait(CONFIG_CHECK_SECONDS):
                self._maybe_reload()
                self._take_refresh_requests()
            return self._shut_down()

    def stop(self) -> None:
        """Ask the service to stop (what SIGTERM does)."""
        self.stopping.set()

    @contextmanager
    def _started(self) -> Iterator[None]:
        """What scheduling needs: the runtime on one machine; in a cluster, the state
        directory's lock (``feeds refresh`` finds the service by it) and the cluster's
        scheduler lock: a second scheduler stands by until the first one stops."""
        if self.dispatcher is None:
            with self.runtime:
                yield
            return
        settings = self.config.settings
        assert settings.database is not None
        with StateLock(settings.state_dir), ExitStack() as stack:
            holder = f"feeds pid {os.getpid()} schedules"
            while True:
                try:
                    stack.enter_context(cluster_lock(settings.database, SCHEDULER_LOCK, holder))
                    break
                except FeedBusyError:
                    log.info("another scheduler runs this cluster; standing by")
                    if self.stopping.wait(STANDBY_CHECK_SECONDS):
                        break
            try:
                yield
            finally:
                self.dispatcher.close()

    def _shut_down(self) -> int:
        timeout = self.config.settings.stop_timeout.total_seconds()
        log.info("stopping: no new requests; waiting up to %.0fs for running feeds", timeout)
        self.runtime.stop()
        self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + timeout
        with self._running_lock:
            while self._running and time.monotonic() < deadline:
                self._running_lock.wait(deadline - time.monotonic())
            abandoned = sorted(self._running)
        if self.server is not None:
            self.server.stop()
        if abandoned:
            # their files are replaced atomically and their writes are transactions: the
            # previous files stay whole, and the state rolls an unfinished transaction back
            log.warning("stopped; abandoned running feeds: %s", ", ".join(abandoned))
            logging.shutdown()
            os._exit(0)
        log.info("stopped")
        return 0

    def _install_signal_handlers(self) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            log.info("received %s", signal.Signals(signum).name)
            self.stopping.set()

        def reload(signum: int, frame: FrameType | None) -> None:
            self._reload_requested.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    # scheduling

    def _schedule(self, feeds: Any, *, first_run: bool) -> None:
        now = datetime.now(UTC)
        for feed in feeds:
            try:
                trigger = self._trigger(feed)
            except ValueError as exc:
                log.error("feed %s: cannot schedule it: %s", feed.id, exc)
                continue
            self.scheduler.add_job(
                self._job,
                trigger,
                args=[feed.id],
                id=feed.id,
                name=f"feed {feed.id}",
                replace_existing=True,
                misfire_grace_time=None,  # a missed run is run (once: coalesce), never dropped
                **({"next_run_time": now} if first_run else {}),
            )

    def _trigger(self, feed: Feed) -> BaseTrigger:
        if feed.cron:
            return cron_trigger(feed.cron)
        jitter = self.config.settings.jitter
        if jitter is None:
            jitter = min(MAX_JITTER, feed.interval / 10)
        return interval_trigger(feed.interval, jitter)

    def _job(self, feed_id: str) -> None:
        """One run of one feed. The only place with a blanket ``except Exception``: one
        feed's bug must not stop the others."""
        feed = self.config.feeds.get(feed_id)
        if feed is None or self.stopping.is_set():
            return
        if self.dispatcher is not None:
            try:
                self.dispatcher.enqueue(feed_id, datetime.now(UTC))
                log.info("feed %s: run queued for the cluster's workers", feed_id)
            except Exception as exc:  # the broker is away; the next due time tries again
                log.error(
                    "feed %s: cannot queue its run (is the broker running?): %s", feed_id, exc
                )
            return
        with self._running_lock:
            self._running.add(feed_id)
        try:
            try:
                log_report(self.runtime.run_and_record(feed))
            except FeedsError as exc:  # a storage or publishing problem, recorded
                log.error("feed %s: run failed: %s", feed_id, exc)
            except Exception:  # a bug, recorded
                log.exception("feed %s: internal error", feed_id)
            self.runtime.publish_index()
        except Exception:
            log.exception("feed %s: cannot write the index", feed_id)
        finally:
            with self._running_lock:
                self._running.discard(feed_id)
                self._running_lock.notify_all()

    # reloading

    def _take_refresh_requests(self) -> None:
        """Run now the feeds `feeds refresh` asked for."""
        for feed_id in take_refresh_requests(self.config.settings.state_dir):
            job = self.scheduler.get_job(feed_id)
            if job is None:
                log.warning("refresh of %s asked for: no such feed in the config", feed_id)
                continue
            log.info("feed %s: refresh asked for: running it now", feed_id)
            job.modify(next_run_time=datetime.now(UTC))

    def _maybe_reload(self) -> None:
        asked = self._reload_requested.is_set()
        self._reload_requested.clear()
        new = self._watch.changed(asked=asked)
        if new is not None:
            self._apply(new)

    def _apply(self, new: Config) -> None:
        old = self.config
        removed = old.feeds.keys() - new.feeds.keys()
        added = [feed for feed_id, feed in new.feeds.items() if feed_id not in old.feeds]
        changed = [
            feed
            for feed_id, feed in new.feeds.items()
            if feed_id in old.feeds and old.feeds[feed_id] != feed
        ]
        self.config = new
        self.runtime.follow(new)
        for feed_id in removed:
            if self.scheduler.get_job(feed_id) is not None:
                self.scheduler.remove_job(feed_id)
            try:  # a feed taken out of the config is no longer served nor listed
                with self.runtime.connect() as store:
                    remove_feed_documents(outlet_for(new.settings, store), old.feeds[feed_id])
            except FeedsError as exc:
                log.error("feed %s removed: %s", feed_id, exc)
        if removed:
            try:
                self.runtime.publish_index()
            except Exception:
                log.exception("cannot write the index after feeds were removed")
        self._schedule(added, first_run=True)
        for feed in changed:
            job = self.scheduler.get_job(feed.id)
            if job is not None:
                job.reschedule(self._trigger(feed))
        log.info(
            "config reloaded: %d added, %d removed, %d changed",
            len(added),
            len(removed),
            len(changed),
        )

    # what the server shows

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Every feed's last run, result, items, next run and last error."""

        def next_run(feed_id: str) -> datetime | None:
            job = self.scheduler.get_job(feed_id) if self.scheduler.running else None
            return job.next_run_time if job is not None else None

        return feeds_health(self.config, next_run)

    def _max_age(self, name: str) -> int:
        """Cache lifetime of a served file: half its feed's interval (1 min to 1 h)."""
        for feed in self.config.feeds.values():
            if name in {file_name(feed.id, fmt) for fmt in feed_formats(feed)}:
                return int(min(max(feed.interval.total_seconds() / 2, 60), 3600))
        return 300


def feeds_health(
    config: Config, next_run: Callable[[str], datetime | None] | None = None
) -> tuple[bool, dict[str, Any]]:
    """Whether every feed is healthy (no more than ``unhealthy_after`` failed runs in a row,
    no broken source), and each feed's last run, result, items, next run, last error."""
    with open_store(config.settings.state_dir, config.settings.database) as store:
        statuses = collect_status(config, store, utc_now(), next_run)
    healthy = all(status.healthy for status in statuses)
    feeds = {status.feed: status.as_json() for status in statuses}
    return healthy, {"status": "ok" if healthy else "failing", "feeds": feeds}


def document_source(settings: Settings) -> DocumentSource:
    """What the settings publish to (``publish_to``), as the server reads it."""
    if settings.publishes_to_database:
        return DatabaseSource(
            lambda: open_store(settings.state_dir, settings.database),
            "the documents kept in the database",
        )
    return DirectorySource(settings.output_dir)


def serve_only(config_path: Path, stop: threading.Event | None = None) -> int:
    """``feeds serve``: serve the output directory (and /healthz from the state) alone."""
    config = load_config(config_path)
    settings = config.settings
    stop = stop or threading.Event()
    server = FeedServer(
        document_source(settings),
        host=settings.serve.host,
        port=settings.serve.port,
        health=lambda: feeds_health(config),
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, frame: stop.set())
    server.start()
    stop.wait()
    server.stop()
    return 0
