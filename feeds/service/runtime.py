"""What running feeds needs, started the same way by ``feeds once``, ``feeds run`` and
``feeds worker``: the output directory proven writable and the temporary files of a
killed run removed (when documents are published to files), the state directory locked
(one feeds process per state; in a cluster, a lock per feed instead), the state opened,
the extraction workers and the fetcher started; and one way to run a feed,
``run_and_record``, so that every run is recorded, however it ends."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from datetime import datetime

from feeds.config import Config, Feed
from feeds.errors import DatabaseUnavailableError
from feeds.extraction.workers import ExtractionPool
from feeds.fetching.client import Fetcher
from feeds.models import RunReport
from feeds.publishing.files import prepare_output_dir, remove_leftovers
from feeds.run.feed import Clock, Progress, failed_run, interleave_by_site, run_feed, utc_now
from feeds.run.publish import publish_index
from feeds.service.lock import StateLock
from feeds.service.metrics import Metrics
from feeds.service.setup import extraction_pool, fetcher_for, follow
from feeds.storage import cluster_lock, open_store
from feeds.storage.interface import Store
from feeds.timing import stage

log = logging.getLogger(__name__)

Connect = Callable[[], Store]
"""Opens a connection to the state."""


class Runtime:
    """The running side of a config: enter it (``with``) to start, leave it to stop."""

    def __init__(
        self,
        config: Config,
        *,
        connect: Connect | None = None,
        pool: ExtractionPool | None = None,
        fetcher: Fetcher | None = None,
        clock: Clock = utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        """``connect`` opens the state (by default, the one kept in ``state_dir``);
        ``pool`` extracts (by default, worker processes as ``extract_workers`` says);
        ``fetcher`` fetches (by default, the config's); ``clock`` says when runs happen.
        A pool or fetcher given is the giver's to close. ``metrics`` counts the runs,
        requests and extractions."""
        self.config = config
        settings = config.settings
        self.connect: Connect = connect or (
            lambda: open_store(settings.state_dir, settings.database)
        )
        self.clock = clock
        self._pool = pool
        self._fetcher = fetcher
        self.metrics = metrics
        self._lock = StateLock(settings.state_dir)
        self._stack = ExitStack()
        self.pool: ExtractionPool | None = None
        self.fetcher: Fetcher | None = None
        self.status_page = False
        """Whether a feeds service serves the output (``index.html`` then links
        ``/status``)."""
        self.running = 0
        """Runs going on now."""
        self.unrecorded = 0
        """Runs whose outcome could not be recorded (the database away), since the start."""
        self._counting = threading.Lock()

    def __enter__(self) -> Runtime:
        settings = self.config.settings
        to_files = not settings.publishes_to_database
        if to_files:
            prepare_output_dir(settings.output_dir)
        with ExitStack() as stack:
            if settings.cluster is None:
                stack.enter_context(self._lock)
            if to_files:
                remove_leftovers(settings.output_dir)
            with self.connect():
                pass  # created and migrated once, before the feeds' threads open it
            # what was given is the giver's to close; what is made here is closed on leaving
            self.pool = self._pool or stack.enter_context(extraction_pool(settings))
            self.fetcher = self._fetcher or stack.enter_context(fetcher_for(self.config))
            if self.metrics is not None:
                self.fetcher.observe = self.metrics.request
                self.pool.observe = self.metrics.extraction
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def run_and_record(
        self, feed: Feed, progress: Progress | None = None, *, retry: bool = False
    ) -> RunReport:
        """Run one feed once (its sources, its files) and return its report. A run that
        stops with an error (the state or the output at fault, or a bug) is recorded as
        failed, every source failed, and the error raised. ``retry`` reads the sources
        waiting for their next attempt too. In a cluster, a feed running elsewhere is not
        run (``FeedBusyError``)."""
        with self._exclusive(feed.id):
            return self._run(feed, progress, retry)

    def run_due(self, feed: Feed, due: datetime) -> RunReport | None:
        """The run a scheduler asked for at ``due``, unless a run asked for then or later
        is done already (a redelivered request: None). ``FeedBusyError`` when the feed
        runs elsewhere."""
        with self._exclusive(feed.id):
            with self.connect() as store:
                if store.due_run_done(feed.id, due):
                    return None
            report = self._run(feed, None, False)
            with self.connect() as store, store.transaction():
                store.record_due_run(feed.id, due, self.clock())
            return report

    def _exclusive(self, feed_id: str) -> AbstractContextManager[object]:
        """The cluster-wide lock of a feed's runs (one process per state needs none)."""
        database = self.config.settings.database
        if self.config.settings.cluster is None or database is None:
            return nullcontext()
        return cluster_lock(database, feed_id, f"feeds pid {os.getpid()} runs {feed_id}")

    def _run(self, feed: Feed, progress: Progress | None, retry: bool) -> RunReport:
        assert self.fetcher is not None and self.pool is not None, "the runtime is not started"
        with self._in_progress(), self.connect() as store:
            started = self.clock()
            try:
                report = run_feed(
                    feed,
                    settings=self.config.settings,
                    fetcher=self.fetcher,
                    store=store,
                    clock=lambda: started,
                    progress=progress,
                    pool=self.pool,
                    retry=retry,
                )
            except DatabaseUnavailableError:
                # not the feed's failure, and nothing can be recorded: said, counted, raised
                log.error("feed %s: its run could not be recorded: the database is away", feed.id)
                with self._counting:
                    self.unrecorded += 1
                if self.metrics is not None:
                    self.metrics.unrecorded.inc()
                raise
            except Exception as exc:
                failure = failed_run(feed, f"{type(exc).__name__}: {exc}")
                if self.metrics is not None:
                    self.metrics.run(failure)
                with store.transaction():
                    store.record_run(failure, started)
                raise
        if self.metrics is not None:
            self.metrics.run(report)
        return report

    @contextmanager
    def _in_progress(self) -> Iterator[None]:
        with self._counting:
            self.running += 1
        if self.metrics is not None:
            self.metrics.in_progress.inc()
        try:
            yield
        finally:
            with self._counting:
                self.running -= 1
            if self.metrics is not None:
                self.metrics.in_progress.dec()

    def run_feeds(
        self,
        feeds: Iterable[Feed],
        progress_for: Callable[[Feed], Progress | None] = lambda feed: None,
        *,
        retry: bool = False,
    ) -> Iterator[tuple[Feed, RunReport | Exception]]:
        """Run the feeds, ``settings.parallel_feeds`` at a time (a feed mostly waits on the
        network), each with its own connection to the state, sharing the fetcher's
        politeness limits and the extraction workers. Feeds start interleaved by site, so
        the feeds running at once keep different sites busy. Yields each feed with its
        report, or with the exception that stopped it, as it ends."""

        def run_one(feed: Feed) -> RunReport:
            return self.run_and_record(feed, progress_for(feed), retry=retry)

        workers = self.config.settings.parallel_feeds
        with ThreadPoolExecutor(workers, thread_name_prefix="feed") as runner:
            running = {runner.submit(run_one, feed): feed for feed in interleave_by_site(feeds)}
            for future in as_completed(running):
                error = future.exception()
                yield running[future], error if isinstance(error, Exception) else future.result()

    def publish_index(self) -> tuple[str, ...]:
        """Write ``index.html`` and the OPML files of the config's feeds."""
        with self.connect() as store, stage("publish"):
            return publish_index(self.config, store, status_link=self.status_page)

    def follow(self, config: Config) -> None:
        """Take up a reloaded config (its feeds; settings need a restart)."""
        self.config = config
        if self.fetcher is not None:
            follow(self.fetcher, config)

    def trust(self, feeds: Iterable[Feed]) -> None:
        """Let requests go to these feeds' origins too (feeds made on demand), as to the
        config's sources'."""
        urls = [url for feed in feeds for url in feed.source_urls]
        if self.fetcher is not None and urls:
            follow(self.fetcher, self.config, urls)

    def stop(self) -> None:
        """Start no new request: the running feeds end soon, with what they have."""
        if self.fetcher is not None:
            self.fetcher.stop()


def log_report(report: RunReport) -> None:
    """Log a run's outcome: one line, then each error and broken source."""
    level = logging.WARNING if report.failed_entirely else logging.INFO
    log.log(
        level,
        "feed %s: %d new, %d updated, %d failed, %.1fs%s",
        report.feed,
        report.new,
        report.updated,
        report.failed,
        report.duration,
        "; no source could be read" if report.failed_entirely else "",
        extra={
            "feed": report.feed,
            "new": report.new,
            "updated": report.updated,
            "failed": report.failed,
            "seconds": round(report.duration, 3),
        },
    )
    for error in report.errors:
        log.warning("feed %s: %s: %s", report.feed, error.url, error.message)
    for error in report.broken:
        log.warning("feed %s: source %s is broken: %s", report.feed, error.source, error.message)
