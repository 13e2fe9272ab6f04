"""Article work in worker processes: extracting and normalising, the CPU-bound part of a run.

Extracting one article (trafilatura, lxml) costs about a tenth of a second of CPU, while
fetching it is mostly waiting. A run fetches in threads and hands each page to a pool of
worker processes (one per core by default), which extract and normalise it and send the
item back; the parent process only fetches, stores and publishes. Processes, because
trafilatura is neither thread-safe nor able to release the GIL.

The pool's fork server starts when a run has article pages to fetch (``start``: it imports
the extraction code while they are fetched; a run with nothing new starts no process), its
workers on the first page; the pool is shared by
every feed of a process (the service's feeds, ``feeds once``'s parallel feeds), and holds
a bounded number of pages: ``submit`` waits while the workers are behind, so the pages of
a run are never all in memory at once. Workers are forked by a fork server that imported
the extraction code once, so a new worker is ready in milliseconds and inherits no
thread or lock of the parent. A worker that dies (a page that crashes lxml, the OOM
killer) fails the articles it held, which are tried again next run; the pool is rebuilt
for the next ones. A page that takes longer than the time limit to extract (a page built
to be slow to parse) is abandoned: the worker interrupts itself with SIGALRM, and if the
work cannot be interrupted (stuck inside a C library), the worker ends itself at twice
the limit, like a worker that died.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from feeds.errors import ExtractionError, SourceError
from feeds.extraction.article import extract_article
from feeds.extraction.normalise import normalise
from feeds.extraction.rules import ExtractRules
from feeds.models import Article, Item, Link, Page
from feeds.timing import TIMES, WORKERS, stage

log = logging.getLogger(__name__)

_WORKER_DIED = (
    "the extraction process stopped while working on this page (it may be too large, "
    "malformed or too slow to extract, or the machine short of memory); it is tried again "
    "on the next run"
)


class _TooSlowError(BaseException):
    """Raised in a worker when its page's time is up. Not an ``Exception``, so that the
    ``except Exception`` of the libraries it interrupts do not swallow it."""


_time_limit: _TimeLimit | None = None
"""This worker process's time limit (set when it starts; None outside workers)."""


class _TimeLimit:
    """How long a worker lets one page take: interrupted at ``seconds`` (SIGALRM, whose
    handler runs as soon as the work returns to Python), ended at twice that (faulthandler's
    watchdog thread, which needs no cooperation from the stuck code). Made once, when the
    worker process starts: it owns the process's SIGALRM."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        # faulthandler writes where it is told: nowhere, the parent reports the page
        self._quiet: TextIO = Path(os.devnull).open("w")  # noqa: SIM115 (the worker's life)
        signal.signal(signal.SIGALRM, _time_is_up)

    @contextmanager
    def around(self) -> Iterator[None]:
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        faulthandler.dump_traceback_later(2 * self.seconds, exit=True, file=self._quiet)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            faulthandler.cancel_dump_traceback_later()


def _time_is_up(signum: int, frame: object) -> None:
    raise _TooSlowError()


def _within_time_limit(function: Callable[..., ArticleOutcome], *args: object) -> ArticleOutcome:
    """``function(*args)`` within this worker's time limit (what the pool submits)."""
    if _time_limit is None:
        return function(*args)
    try:
        with _time_limit.around():
            return function(*args)
    except _TooSlowError:
        return ArticleOutcome(
            error=f"extraction took longer than {_time_limit.seconds:g}s (settings."
            "extract_timeout); the page may be built to be slow to parse; it is tried again "
            "on the next run"
        )


@dataclass(frozen=True, slots=True)
class ArticleJob:
    """A fetched article page, with what normalising its article needs."""

    page: Page
    link: Link
    feed: str
    first_seen: datetime
    rules: ExtractRules | None = None


@dataclass(frozen=True, slots=True)
class ArticleOutcome:
    """What became of an article page: its ``item``; or its ``article``, when it continues
    on further pages (the parent fetches and joins them); or the ``error`` why none."""

    item: Item | None = None
    article: Article | None = None
    error: str | None = None
    seconds: float = 0.0
    """CPU time the worker spent on it."""
    stages: tuple[tuple[str, float], ...] = ()
    """That time by stage (``feeds.timing``): parsing, trafilatura, normalising..."""


def process_article(job: ArticleJob) -> ArticleOutcome:
    """Extract and normalise one article page (what a worker process does), timed."""
    started, before = time.process_time(), TIMES.snapshot()
    with stage("extraction"):
        outcome = _process_article(job)
    after = TIMES.snapshot()
    stages = tuple((name, after[name] - before.get(name, 0.0)) for name in after)
    return dataclasses.replace(outcome, seconds=time.process_time() - started, stages=stages)


def _process_article(job: ArticleJob) -> ArticleOutcome:
    try:
        article = extract_article(job.page, job.rules)
    except SourceError as error:
        return ArticleOutcome(error=error.message)
    except Exception as exc:  # a bug, or a page that breaks a library: one article fails
        return ArticleOutcome(error=_unexpected(exc))
    if article.next_page or article.single_page:  # more pages to fetch: the run does it
        return ArticleOutcome(article=article)
    try:
        with stage("normalise"):
            item = normalise(article, job.link, feed=job.feed, first_seen=job.first_seen)
    except Exception as exc:
        return ArticleOutcome(error=_unexpected(exc))
    return ArticleOutcome(item=item)


def extract_part(page: Page, rules: ExtractRules | None) -> ArticleOutcome:
    """Extract a further page of a multi-page article (what a worker process does)."""
    try:
        return ArticleOutcome(article=extract_article(page, rules))
    except SourceError as error:
        return ArticleOutcome(error=error.message)
    except Exception as exc:
        return ArticleOutcome(error=_unexpected(exc))


def _unexpected(exc: Exception) -> str:
    log.debug("extraction failed:\n%s", traceback.format_exc())
    return f"extraction failed unexpectedly ({type(exc).__name__}: {exc})"


def default_workers() -> int:
    """One worker per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class ExtractionPool:
    """Worker processes for article pages, each page within ``time_limit`` seconds (None:
    no limit); ``workers=0`` does the work in the calling thread instead (no process and
    no time limit; what tests and a one-article preview need)."""

    def __init__(
        self,
        workers: int | None = None,
        *,
        backlog: int | None = None,
        time_limit: float | None = None,
        recycle_after: int | None = None,
    ) -> None:
        """``recycle_after``: pages a worker process takes before a new one replaces it
        (None: it lives as long as the pool)."""
        self.workers = default_workers() if workers is None else workers
        self.time_limit = time_limit
        self.recycle_after = recycle_after
        self.backlog = backlog or 2 * self.workers + 2
        """Pages submitted and not yet done, at most (``submit`` waits for a free place)."""
        self._places = threading.BoundedSemaphore(self.backlog)
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.observe: Callable[[ArticleOutcome], None] | None = None
        """Told of every article extracted (the service's metrics)."""

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def submit(self, job: ArticleJob) -> Future[ArticleOutcome]:
        """Queue an article page; waits while the pool already holds ``backlog`` pages."""
        with stage("send to workers"):
            future = self._submit(process_article, job)
        future.add_done_callback(
            lambda done: self._done(done.result()) if done.exception() is None else None
        )
        return future

    def _done(self, outcome: ArticleOutcome) -> None:
        if self.workers:  # else the stages were timed in this process's own tally
            WORKERS.merge(dict(outcome.stages))
        if self.observe is not None:
            self.observe(outcome)

    def extract(self, page: Page, rules: ExtractRules | None) -> Article:
        """The article of one further page, waiting for it; ``ExtractionError`` if none."""
        outcome = outcome_of(self._submit(extract_part, page, rules))
        if outcome.article is None:
            raise ExtractionError(page.final_url, outcome.error or _WORKER_DIED)
        return outcome.article

    def start(self) -> None:
        """Start the workers' fork server now, in the background: it imports the
        extraction code (a third of a second of CPU) while the first article pages are
        being fetched, rather than after the first has come."""
        if self.workers:
            _fork_server()
            multiprocessing.forkserver.ensure_running()

    def close(self) -> None:
        """Stop the workers (after the pages they hold)."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _submit(
        self, function: Callable[..., ArticleOutcome], *args: object
    ) -> Future[ArticleOutcome]:
        if self.workers == 0:
            done: Future[ArticleOutcome] = Future()
            done.set_result(function(*args))
            return done
        self._places.acquire()
        try:
            future = self._running_executor().submit(_within_time_limit, function, *args)
        except BrokenProcessPool:
            future = self._running_executor(rebuild=True).submit(
                _within_time_limit, function, *args
            )
        except BaseException:
            self._places.release()
            raise
        future.add_done_callback(lambda _: self._places.release())
        return future

    def _running_executor(self, *, rebuild: bool = False) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("the extraction pool is closed")
            if rebuild and self._executor is not None:
                log.warning("an extraction process died; starting new ones")
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=_fork_server(),
                    initializer=_worker_started,
                    initargs=(os.getpid(), self.time_limit),
                    max_tasks_per_child=self.recycle_after,
                )
            return self._executor


def _fork_server() -> multiprocessing.context.ForkServerContext:
    """The context that makes workers, by forking a server process that imported the
    extraction code once: trafilatura too, which ``feeds.extraction.article`` imports on
    first use, so that no worker imports it again."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["feeds.extraction.workers", "trafilatura"])
    return context


def outcome_of(future: Future[ArticleOutcome]) -> ArticleOutcome:
    """The outcome of a submitted page; a worker that died fails it."""
    try:
        return future.result()
    except BrokenProcessPool:
        return ArticleOutcome(error=_WORKER_DIED)


def _worker_started(feeds_process: int, time_limit: float | None) -> None:
    global _time_limit
    # Ctrl-C and a service manager's SIGTERM are for the parent, which stops the pool
    # after the pages it holds; a worker interrupted mid-page would only lose that page
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _time_limit = _TimeLimit(time_limit) if time_limit else None
    threading.Thread(target=_exit_when_orphaned, args=(feeds_process,), daemon=True).start()


def _exit_when_orphaned(feeds_process: int) -> None:
    """End this worker when the feeds process is gone (killed with SIGKILL, crashed):
    nobody will send pages or read results again. (Its parent is the fork server, which
    itself only ends when every worker has.)"""
    while True:
        time.sleep(ORPHAN_CHECK_SECONDS)
        try:
            os.kill(feeds_process, 0)
        except ProcessLookupError:
            os._exit(1)


ORPHAN_CHECK_SECONDS = 1.0
