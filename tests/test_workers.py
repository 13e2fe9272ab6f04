"""Extraction in worker processes, and feeds run at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from feeds.config import Config, Feed, SourceConfig
from feeds.extraction.workers import (
    ArticleJob,
    ArticleOutcome,
    ExtractionPool,
    outcome_of,
    process_article,
)
from feeds.fetching.client import DEFAULT_REQUEST, FetchJob
from feeds.models import Link, Page
from feeds.run.articles import Articles
from feeds.run.feed import interleave_by_site
from feeds.service.runtime import Runtime
from feeds.service.setup import extraction_pool
from tests.conftest import WriteConfig, run_once
from tests.newssite import article_html, numbered_articles, serve_news
from tests.sitesim import SiteSim
from tests.test_multipage import part

NOW = datetime(2026, 3, 1, tzinfo=UTC)
ORIGIN = "https://herald.example"


def page_job(body: str, path: str = "/news/a-story") -> ArticleJob:
    url = ORIGIN + path
    page = Page(url, url, 200, "text/html", body.encode(), "utf-8", NOW)
    return ArticleJob(page, Link(url, ORIGIN + "/news/"), "news", NOW)


def story_job(number: int = 0) -> ArticleJob:
    articles = numbered_articles(number + 1)
    return page_job(article_html(ORIGIN, articles[number], articles), articles[number].path)


def slow_job() -> ArticleJob:
    """A page big enough to keep a worker busy for a while."""
    paragraphs = "".join(
        f"<div><p>Paragraph {n} of a very long page.</p></div>" for n in range(5000)
    )
    return page_job(f"<html><body><article>{paragraphs}</article></body></html>")


@pytest.fixture
def pool() -> Iterator[ExtractionPool]:
    with ExtractionPool(2) as extraction:
        yield extraction


def test_a_worker_makes_the_same_item_as_this_thread(pool: ExtractionPool) -> None:
    job = story_job()
    here = process_article(job)
    there = outcome_of(pool.submit(job))
    assert there.item == here.item and there.item is not None and there.item.title
    assert there.seconds > 0  # the CPU time it took, for the metrics


def test_a_page_without_an_article_is_an_error_not_an_exception(pool: ExtractionPool) -> None:
    outcome = outcome_of(pool.submit(page_job("<html><body><nav>Home</nav></body></html>")))
    assert outcome.item is None and outcome.error == "no article text found on the page"


def test_submit_waits_while_the_pool_is_full() -> None:
    with ExtractionPool(1, backlog=1) as pool:
        first = pool.submit(slow_job())
        submitted = threading.Event()
        waiting = threading.Thread(target=lambda: (pool.submit(story_job()), submitted.set()))
        waiting.start()
        for _ in range(20):
            was_submitted = submitted.is_set()
            first_done = first.done()  # read after: had the second gone in, this is done
            assert first_done or not was_submitted
            time.sleep(0.02)
        waiting.join(timeout=60)
        assert submitted.is_set() and first.done()


def test_a_worker_that_dies_fails_its_page_and_the_pool_goes_on() -> None:
    with ExtractionPool(1) as pool:
        assert outcome_of(pool.submit(story_job())).item is not None  # the worker is up
        busy = pool.submit(slow_job())
        executor = pool._executor
        assert executor is not None
        for pid in list(executor._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
        outcome = outcome_of(busy)
        assert outcome.item is None and outcome.error is not None
        assert outcome.error.startswith("the extraction process stopped")
        assert outcome_of(pool.submit(story_job(1))).item is not None


def test_a_page_slower_than_the_time_limit_is_abandoned_and_the_worker_goes_on() -> None:
    with ExtractionPool(1, time_limit=0.3) as pool:
        outcome = outcome_of(pool.submit(slow_job()))  # about 1.5 s of work
        assert outcome.item is None and outcome.error is not None
        assert outcome.error.startswith("extraction took longer than 0.3s")
        assert outcome_of(pool.submit(story_job())).item is not None  # same worker
        assert outcome_of(pool.submit(story_job())).item is not None


def test_the_config_sets_the_workers_and_their_time_limit(write_config: WriteConfig) -> None:
    config = write_config(
        "settings:\n  extract_workers: 1\n  extract_timeout: 5s\n  extract_recycle_after: 7\n"
        "feeds:\n  a:\n    sources: [{url: 'http://127.0.0.1:9/news/'}]\n"
    )
    pool = extraction_pool(config.settings)
    assert (pool.workers, pool.time_limit, pool.recycle_after) == (1, 5.0, 7)


def stuck_outside_python(seconds: float) -> ArticleOutcome:
    """Work that SIGALRM cannot interrupt, like a C library that never returns."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(seconds)
    return ArticleOutcome(error="not stopped")


def test_a_worker_stuck_past_twice_the_time_limit_ends_itself() -> None:
    with ExtractionPool(1, time_limit=0.2) as pool:
        outcome = outcome_of(pool._submit(stuck_outside_python, 30.0))
        assert outcome.error is not None  # ended, not "not stopped" after its 30 s
        assert outcome.error.startswith("the extraction process stopped")
        assert outcome_of(pool.submit(story_job())).item is not None  # a new worker


def test_a_feed_run_with_workers(
    site: SiteSim, write_config: WriteConfig, pool: ExtractionPool
) -> None:
    articles = numbered_articles(6)
    serve_news(site, articles)
    settings = "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
    config = write_config(
        settings + f"feeds:\n  news:\n    sources: [{{url: '{site.url('/news/')}'}}]\n"
    )
    report = run_once(config, "news", pool=pool)
    assert report.new == 6 and not report.errors
    entries = feedparser.parse((config.settings.output_dir / "news.atom").read_bytes()).entries
    assert {entry.title for entry in entries} == {article.title for article in articles}


def test_a_multi_page_article_with_workers(
    site: SiteSim, write_config: WriteConfig, pool: ExtractionPool
) -> None:
    site.add(
        "/news/",
        '<html><body><main><h2><a href="/2024/03/long-harbour-story">The long harbour story, '
        "in three parts</a></h2></main></body></html>",
    )
    site.add("/2024/03/long-harbour-story", part(1, "/2024/03/long-harbour-story/2/"))
    site.add("/2024/03/long-harbour-story/2/", part(2, None))
    config = write_config(
        "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
        f"feeds:\n  news:\n    sources: [{{url: '{site.url('/news/')}'}}]\n"
    )
    assert run_once(config, "news", pool=pool).new == 1
    [entry] = feedparser.parse((config.settings.output_dir / "news.atom").read_bytes()).entries
    assert "Part 1, paragraph 2" in entry.content[0].value
    assert "Part 2, paragraph 2" in entry.content[0].value


@pytest.fixture
def site() -> Iterator[SiteSim]:
    with SiteSim("127.0.0.1") as sim:
        yield sim


def feed(feed_id: str, url: str) -> Feed:
    return Feed(
        id=feed_id,
        title=feed_id,
        description="",
        link=None,
        language=None,
        interval=timedelta(hours=1),
        max_items=50,
        sources=(SourceConfig(url=url),),
        extract=None,
    )


def test_feeds_start_interleaved_by_site() -> None:
    feeds = [
        feed("a1", "https://a.example/news/"),
        feed("a2", "https://a.example/sport/"),
        feed("a3", "https://a.example/arts/"),
        feed("b1", "https://b.example/"),
        feed("c1", "https://c.example/blog/"),
        feed("c2", "https://c.example/news/"),
    ]
    assert [f.id for f in interleave_by_site(feeds)] == ["a1", "b1", "c1", "a2", "c2", "a3"]


def test_feeds_run_at_once_on_different_sites(write_config: WriteConfig) -> None:
    hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    with SiteSim(hosts[0]) as one, SiteSim(hosts[1]) as two, SiteSim(hosts[2]) as three:
        sites = [one, two, three]
        for site in sites:
            serve_news(site, numbered_articles(3))
        config: Config = write_config(
            "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0.3s\n"
            "  extract_workers: 0\n"
            "feeds:\n"
            + "".join(
                f"  f{n}:\n    sources: [{{url: '{site.url('/news/')}'}}]\n"
                for n, site in enumerate(sites)
            )
        )
        with Runtime(config, pool=ExtractionPool(0)) as runtime:
            ran = list(runtime.run_feeds(config.feeds.values()))
        assert sorted(f.id for f, report in ran if not isinstance(report, Exception)) == [
            "f0",
            "f1",
            "f2",
        ]
        # each site's first request came before any site's last one: the feeds overlapped
        firsts = [min(hit.start for hit in site.hits) for site in sites]
        lasts = [max(hit.start for hit in site.hits) for site in sites]
        assert max(firsts) < min(lasts)


def _worker_pid(_: object) -> ArticleOutcome:
    return ArticleOutcome(error=str(os.getpid()))


def test_a_worker_is_replaced_after_recycle_after_pages() -> None:
    with ExtractionPool(1, recycle_after=2) as pool:
        pids = [outcome_of(pool._submit(_worker_pid, None)).error for _ in range(6)]
    assert len(set(pids)) == 3  # two pages each, then a new process


def test_the_fork_server_starts_with_the_run_before_any_page(tmp_path: Path) -> None:
    """``start`` (what a run calls when it has article pages to fetch) launches the fork
    server, which imports the extraction code, without a page submitted; a pool without
    processes starts nothing. In a fresh interpreter, so that no earlier test's fork
    server is taken for it."""
    script = tmp_path / "start.py"
    script.write_text(
        "import os, pathlib, sys\n"
        "from feeds.extraction.workers import ExtractionPool\n"
        "def children():\n"
        "    found = []\n"
        "    for task in pathlib.Path(f'/proc/{os.getpid()}/task').iterdir():\n"
        "        for pid in (task / 'children').read_text().split():\n"
        "            found.append(pathlib.Path(f'/proc/{pid}/cmdline').read_bytes())\n"
        "    return found\n"
        "ExtractionPool(0).start()\n"
        "print('without workers:', sum(b'forkserver' in c for c in children()))\n"
        "pool = ExtractionPool(1)\n"
        "pool.start()\n"
        "print('with workers:', sum(b'forkserver' in c for c in children()))\n"
        "pool.close()\n"
    )
    finished = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    assert finished.stdout.splitlines() == ["without workers: 0", "with workers: 1"]


class _StartsRecorded(ExtractionPool):
    """A pool that works in the calling thread and notes when it was told to start."""

    def __init__(self) -> None:
        super().__init__(0)
        self.started_before: list[int] = []
        self.fetched = 0

    def start(self) -> None:
        self.started_before.append(self.fetched)


class _CountingFetcher:
    def __init__(self, pool: _StartsRecorded) -> None:
        self.pool = pool

    def fetch_all(self, jobs: list[FetchJob]) -> Iterator[tuple[FetchJob, Page]]:
        for job in jobs:
            self.pool.fetched += 1
            yield job, story_job().page


def test_the_fork_server_is_started_before_the_first_article_page_only_when_there_is_one() -> None:
    pool = _StartsRecorded()
    articles = Articles(
        feed_id="news",
        rules=None,
        request=DEFAULT_REQUEST,
        fetcher=_CountingFetcher(pool),  # type: ignore[arg-type]
        pool=pool,
    )
    assert list(articles.results([], [], lambda link: NOW)) == []
    assert pool.started_before == []  # nothing new: no process
    link = Link(story_job().page.url, ORIGIN + "/news/")
    results = list(articles.results([link], [FetchJob(link.url)], lambda link: NOW))
    assert pool.started_before == [0] and len(results) == 1
