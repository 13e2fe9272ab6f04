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

import hmac
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from feeds.config import Config, Feed, Settings, load_config
from feeds.errors import DatabaseUnavailableError, FeedBusyError, FeedsError, StorageError
from feeds.extras import require
from feeds.publishing.channel import file_name
from feeds.publishing.formats import FORMATS
from feeds.run.feed import utc_now
from feeds.run.publish import feed_formats, on_demand_feeds, outlet_for, remove_feed_documents
from feeds.service.cluster_schedule import ClusterSchedule, feed_trigger
from feeds.service.lock import StateLock, take_refresh_requests
from feeds.service.metrics import Metrics
from feeds.service.reload import ConfigWatch
from feeds.service.runtime import Runtime, log_report
from feeds.service.server import DatabaseSource, DirectorySource, DocumentSource, FeedServer
from feeds.service.status import StatusEntry, collect_cluster_status, feed_statuses
from feeds.service.status_page import render_status_page
from feeds.storage import cluster_lock, open_store
from feeds.storage.interface import HeldLock
from feeds.urls import is_web_url

if TYPE_CHECKING:
    from feeds.cluster.queue import Dispatcher

log = logging.getLogger(__name__)

CONFIG_CHECK_SECONDS = 2.0
STANDBY_CHECK_SECONDS = 5.0
ON_DEMAND_WAIT = 120.0
"""How long a request for an on-demand feed being made by another request waits for it."""
TICK_SECONDS = 1.0
"""How often a cluster's scheduler goes through the schedule (and checks its lock)."""
SCHEDULER_LOCK = " scheduler"
"""The cluster-wide lock a cluster's scheduler holds (no feed id has a space)."""


class Service:
    """``feeds run``: schedules, serves, reloads and stops."""

    def __init__(
        self, config_path: Path, *, serve: bool = True, metrics_port: int | None = None
    ) -> None:
        """``serve``: serve the output (and /healthz, /metrics) as ``settings.serve`` says;
        ``metrics_port``: serve /metrics alone on that port too."""
        self.config_path = config_path
        self.metrics_port = metrics_port
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
        self.runtime.status_page = serve or settings.publishes_to_database
        """Shared by the feeds that run at once: one fetcher (politeness across feeds), as
        many extractions as cores, whatever the number of feeds. Not started in a
        cluster, whose workers run the feeds."""
        self.dispatcher: Dispatcher | None = None
        self.cluster_schedule: ClusterSchedule | None = None
        if settings.cluster is not None:
            require("cluster", "settings.cluster")
            from feeds.cluster.queue import Dispatcher  # Celery only for a cluster

            self.dispatcher = Dispatcher(settings)
            self.cluster_schedule = ClusterSchedule(
                self.config,
                self.runtime.connect,
                self.dispatcher.enqueue,
                clock=lambda: datetime.now(UTC),
                metrics=self.metrics,
            )
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(settings.parallel_feeds)},
            job_defaults={"max_instances": 1, "coalesce": True},
        )
        self.server: FeedServer | None = None
        self.on_demand: dict[str, Feed] = {}
        """The feeds asked for at ``/full``, by id, scheduled beside the config's."""
        self._on_demand_made: dict[str, threading.Event] = {}
        self._on_demand_lock = threading.Lock()

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
                    status_page=self.status_page,
                    max_age=self._max_age,
                    metrics=self.metrics.exposition,
                    on_demand=self.full if settings.on_demand is not None else None,
                )
                self.server.start()
            if self.metrics_port is not None:
                port = self.metrics.serve(settings.serve.host, self.metrics_port)
                log.info("metrics served on http://%s:%d/metrics", settings.serve.host, port)
            if self.cluster_schedule is not None:
                self._schedule_cluster(self.cluster_schedule)
                return self._shut_down()
            self.scheduler.start()
            self._schedule(self.config.feeds.values(), first_run=settings.run_at_start)
            self._resume_on_demand()
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
        directory's lock (``feeds refresh`` finds the service by it)."""
        if self.dispatcher is None:
            with self.runtime:
                yield
            return
        with StateLock(self.config.settings.state_dir):
            try:
                yield
            finally:
                self.dispatcher.close()

    def _schedule_cluster(self, schedule: ClusterSchedule) -> None:
        """Schedule the cluster while this process holds its scheduler lock; stand by
        while another does, or while the database cannot be reached; stop scheduling the
        moment the lock is lost (its connection gone), until it is taken again."""
        database = self.config.settings.database
        assert database is not None
        holder = f"feeds pid {os.getpid()} schedules"
        said = ""
        while not self.stopping.is_set():
            try:
                with cluster_lock(database, SCHEDULER_LOCK, holder) as held:
                    said = ""
                    self._lead(schedule, held)
            except FeedBusyError:
                said = _say_once(said, "another scheduler runs this cluster; standing by")
            except DatabaseUnavailableError as exc:
                said = _say_once(said, f"cannot reach the database, standing by: {exc}")
            self.stopping.wait(STANDBY_CHECK_SECONDS)

    def _lead(self, schedule: ClusterSchedule, held: HeldLock) -> None:
        """Go through the schedule every tick while ``held`` lasts."""
        schedule.resume()
        log.info("scheduling the cluster: %d feeds", len(self.config.feeds))
        assert self.dispatcher is not None
        while not self.stopping.wait(TICK_SECONDS):
            if not held.alive():
                log.error(
                    "lost the cluster's scheduler lock (its database connection is gone): "
                    "scheduling stops until this process or another takes it again"
                )
                return
            try:
                tick = schedule.tick()
            except StorageError as exc:
                log.error("cannot go through the schedule: %s", exc)
                continue
            for feed_id, due in tick.sent:
                log.info("feed %s: run due at %s queued", feed_id, due.isoformat())
            for feed_id, due in tick.resent:
                log.warning(
                    "feed %s: run due at %s not done in time: sent again", feed_id, due.isoformat()
                )
            if tick.refused:
                log.error("cannot queue runs (is the broker running?): %s", tick.refused)
            length = self.dispatcher.queue_length()
            if length is not None:
                self.metrics.queue_length.set(length)
            self._maybe_reload()
            self._take_refresh_requests()

    def _shut_down(self) -> int:
        timeout = self.config.settings.stop_timeout.total_seconds()
        log.info("stopping: no new requests; waiting up to %.0fs for running feeds", timeout)
        self.runtime.stop()
        if self.scheduler.running:
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
        return feed_trigger(feed, self.config.settings.jitter)

    def _job(self, feed_id: str) -> None:
        """One run of one feed. The only place with a blanket ``except Exception``: one
        feed's bug must not stop the others."""
        feed = self.config.feeds.get(feed_id) or self.on_demand.get(feed_id)
        if feed is None or self.stopping.is_set():
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
            if self.cluster_schedule is not None:
                if self.cluster_schedule.run_now(feed_id):
                    log.info("feed %s: refresh asked for: due now", feed_id)
                else:
                    log.warning("refresh of %s asked for: no such feed in the config", feed_id)
                continue
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
        self._trust_on_demand()
        for feed_id in removed:
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
        if self.cluster_schedule is not None:
            try:
                self.cluster_schedule.follow(new, added, removed, changed)
            except StorageError as exc:
                log.error("cannot change the schedule for the new config: %s", exc)
        else:
            self._reschedule(added, removed, changed)
        log.info(
            "config reloaded: %d added, %d removed, %d changed",
            len(added),
            len(removed),
            len(changed),
        )

    def _reschedule(self, added: list[Feed], removed: Iterable[str], changed: list[Feed]) -> None:
        for feed_id in removed:
            if self.scheduler.get_job(feed_id) is not None:
                self.scheduler.remove_job(feed_id)
        self._schedule(added, first_run=True)
        for feed in changed:
            job = self.scheduler.get_job(feed.id)
            if job is not None:
                job.reschedule(self._trigger(feed))

    # feeds on demand (GET /full?url=)

    def full(self, query: dict[str, str]) -> tuple[int, str]:
        """Answer ``/full``: the name of the full-text feed of ``url`` to serve (made now
        when it is new), or the status and reason of a refusal."""
        settings = self.config.settings.on_demand
        assert settings is not None, "on_demand is not set"
        if settings.token and not hmac.compare_digest(query.get("token", ""), settings.token):
            return 401, "a valid token is needed: add &token=..."
        url = query.get("url", "").strip()
        if not is_web_url(url):
            return 400, "url= takes the http(s) address of an RSS, Atom or JSON feed"
        host = (urlsplit(url).hostname or "").lower()
        if not any(host == domain or host.endswith("." + domain) for domain in settings.allow):
            return 403, f"feeds of {host} are not made on demand here (settings.on_demand.allow)"
        fmt = FORMATS.get(query.get("format", "rss"))
        if fmt is None:
            return 400, f"format= takes one of {', '.join(FORMATS)}"
        try:
            count = int(query.get("max", settings.max_items))
        except ValueError:
            count = 0
        if not 1 <= count <= settings.max_items:
            return 400, f"max= takes a number from 1 to {settings.max_items}"
        feed = self.config.on_demand_feed(url, count)
        with self._on_demand_lock:
            made = self._on_demand_made.get(feed.id)
            new = made is None
            if made is None:
                if len(self.on_demand) >= settings.max_feeds:
                    return 429, f"{settings.max_feeds} feeds are made on demand already"
                made = self._on_demand_made[feed.id] = threading.Event()
                self.on_demand[feed.id] = feed
        if new:
            try:
                self._make_on_demand(feed, url, count)
            finally:
                made.set()
        made.wait(ON_DEMAND_WAIT)
        return 200, file_name(feed.id, fmt)

    def _make_on_demand(self, feed: Feed, url: str, count: int) -> None:
        """Keep a new on-demand feed, trust its origin, run it now and schedule it."""
        with self.runtime.connect() as store:
            store.add_on_demand(url, count, datetime.now(UTC))
        self._trust_on_demand()
        log.info("feed %s: made on demand for %s", feed.id, self.config.redactor(url))
        self._job(feed.id)
        self._schedule([feed], first_run=False)

    def _resume_on_demand(self) -> None:
        """Schedule the on-demand feeds a previous run of the service kept."""
        if self.config.settings.on_demand is None:
            return
        with self.runtime.connect() as store:
            kept = on_demand_feeds(self.config, store)
        for feed in kept:
            self.on_demand[feed.id] = feed
            made = self._on_demand_made[feed.id] = threading.Event()
            made.set()
        self._trust_on_demand()
        self._schedule(self.on_demand.values(), first_run=self.config.settings.run_at_start)

    def _trust_on_demand(self) -> None:
        """Requests may go to the on-demand feeds' origins, as to a configured source's."""
        self.runtime.trust(self.on_demand.values())

    # what the server shows

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Every feed's last run, result, items, next run and last error."""
        return feeds_health(self._status_entries())

    def status_page(self) -> bytes:
        """``/status``: the feeds' health as a page for people (and, in a cluster, the
        queue's and the workers')."""
        entries = self._status_entries()
        lines: list[str] = []
        if self.dispatcher is not None:
            now = utc_now()
            with self.runtime.connect() as store:
                cluster = collect_cluster_status(store, now, self.dispatcher.queue_length())
            lines = cluster.lines(now)
        return render_status_page(entries, utc_now(), lines)

    def _status_entries(self) -> list[StatusEntry]:
        if self.cluster_schedule is not None:
            try:
                return status_entries(self.config, self.cluster_schedule.next_runs().get)
            except StorageError:
                return status_entries(self.config)  # which says what the database says

        def next_run(feed_id: str) -> datetime | None:
            job = self.scheduler.get_job(feed_id) if self.scheduler.running else None
            return job.next_run_time if job is not None else None

        return status_entries(self.config, next_run)

    def _max_age(self, name: str) -> int:
        return cache_lifetime(self.config, name)


def cache_lifetime(config: Config, name: str) -> int:
    """Cache lifetime of a served file: half its feed's interval (1 min to 1 h); 5 min for
    the other files (the index, the pages)."""
    for feed in config.feeds.values():
        if name in {file_name(feed.id, fmt) for fmt in feed_formats(feed)}:
            return int(min(max(feed.interval.total_seconds() / 2, 60), 3600))
    return 300


def _say_once(said: str, message: str) -> str:
    """Log ``message`` unless it is what was said last; returns it."""
    if message != said:
        log.info("%s", message)
    return message


def status_entries(
    config: Config, next_run: Callable[[str], datetime | None] | None = None
) -> list[StatusEntry]:
    """Every feed's status (those made on demand too), with the files it has."""
    with open_store(config.settings.state_dir, config.settings.database) as store:
        return feed_statuses(config, store, utc_now(), next_run)


def feeds_health(entries: list[StatusEntry]) -> tuple[bool, dict[str, Any]]:
    """Whether every feed is healthy (no more than ``unhealthy_after`` failed runs in a row,
    no broken source), and each feed's last run, result, items, next run, last error."""
    healthy = all(entry.status.healthy for entry in entries)
    feeds = {entry.status.feed: entry.status.as_json() for entry in entries}
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
        health=lambda: feeds_health(status_entries(config)),
        status_page=lambda: render_status_page(status_entries(config), utc_now()),
        max_age=lambda name: cache_lifetime(config, name),
        metrics=Metrics().exposition,  # the process's own (CPU, memory, start time)
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, frame: stop.set())
    server.start()
    stop.wait()
    server.stop()
    return 0
