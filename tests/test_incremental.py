"""Polite, incremental runs seen from the server's side (tests/sitesim.py records every
request): robots.txt, per-host limits, conditional requests, refresh, error backoff."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

import feeds.extraction.workers
from feeds.config import Config
from feeds.extraction.workers import ExtractionPool
from feeds.fetching.addresses import AddressGuard
from feeds.fetching.client import Fetcher, FetchJob, FetchOptions
from feeds.fetching.hosts import Politeness
from feeds.models import Page
from feeds.run.policy import GIVE_UP_AFTER_RUNS
from feeds.service.runtime import Runtime
from feeds.service.setup import fetcher_for
from feeds.service.status import collect_status
from feeds.storage import DATABASE_NAME, open_store
from tests.conftest import WriteConfig, run_once
from tests.fakes import FakeClock, note_gate_starts
from tests.newssite import article_html, listing_html, numbered_articles, serve_news
from tests.sitesim import SimHandler, SiteSim


@pytest.fixture
def site() -> Iterator[SiteSim]:
    with SiteSim("127.0.0.1") as sim:
        yield sim


def config_for(
    write_config: WriteConfig,
    *sources: str,
    settings: str = "",
    extra: str = "",
    delay: str = "0",
    retries: int = 1,
) -> Config:
    lines = "".join(f"      - url: {url}\n{extra}" for url in sources)
    return write_config(
        f"settings:\n  output_dir: output\n  state_dir: state\n  retries: {retries}\n"
        "  retry_delay: 0.1s\n"
        f"  per_host_delay: {delay}\n{settings}"
        f"feeds:\n  news:\n    sources:\n{lines}"
    )


@pytest.fixture
def extraction_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = feeds.extraction.workers.extract_article

    def counting(page: Any, rules: Any) -> Any:
        calls.append(page.url)
        return real(page, rules)

    monkeypatch.setattr(feeds.extraction.workers, "extract_article", counting)
    return calls


def feed_files(config: Config) -> dict[Path, tuple[bytes, int]]:
    out = config.settings.output_dir
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(out.glob("news.*"))}


def test_disallowed_paths_are_never_requested(site: SiteSim, write_config: WriteConfig) -> None:
    articles = numbered_articles(4)
    serve_news(site, articles)
    site.add(
        "/robots.txt", f"User-agent: *\nDisallow: {articles[1].path}\n", content_type="text/plain"
    )
    config = config_for(write_config, site.url("/news/"))

    report = run_once(config, "news")

    assert articles[1].path not in site.paths()
    assert report.new == 3
    # the site asks not to: left out (and remembered), not a failure of every run
    assert (report.errors, report.failed, report.filtered) == ((), 0, 1)
    assert site.paths().count("/robots.txt") == 1  # fetched once per host and run
    again = run_once(config, "news")
    assert (again.errors, again.failed, again.filtered, again.new) == ((), 0, 0, 0)
    assert articles[1].path not in site.paths()


def test_robots_ignore_is_explicit(
    site: SiteSim, write_config: WriteConfig, caplog: pytest.LogCaptureFixture
) -> None:
    articles = numbered_articles(2)
    serve_news(site, articles)
    site.add("/robots.txt", "User-agent: *\nDisallow: /\n", content_type="text/plain")
    config = config_for(write_config, site.url("/news/"), extra="        robots: ignore\n")

    assert config.warnings == [
        f"feed news: source {site.url('/news/')} ignores robots.txt (robots: ignore)"
    ]
    assert run_once(config, "news").new == 2
    assert "/robots.txt" not in site.paths()


def test_robots_rules_for_our_user_agent(site: SiteSim, write_config: WriteConfig) -> None:
    articles = numbered_articles(2)
    serve_news(site, articles)
    site.add(
        "/robots.txt",
        "User-agent: feeds\nDisallow: /news/\n\nUser-agent: *\nAllow: /\n",
        content_type="text/plain",
    )
    report = run_once(config_for(write_config, site.url("/news/")), "news")
    assert report.failed_entirely
    assert site.paths() == ["/robots.txt"]


def test_one_host_gets_spaced_requests_two_at_most(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Starts spaced by the delay (as the fetcher's clock saw them), two in flight at
    most (as the server saw them)."""
    clock = FakeClock()
    starts = note_gate_starts(monkeypatch, clock)
    site = SiteSim("127.0.0.1", latency=0.25, forked=True)
    articles = numbered_articles(10)
    serve_news(site, articles)
    with site:
        config = config_for(
            write_config,
            site.url("/news/"),
            settings="  per_host_concurrency: 2\n",
            delay="0.2s",
        )
        with fetcher_for(config, clock=clock) as fetcher:
            report = run_once(config, "news", fetcher=fetcher)
        site.collect()

    assert report.new == 10
    [times] = starts.values()
    assert len(times) == len(site.hits) == 12  # robots.txt, listing, 10 articles
    # the fake clock moves only when the gate waits: every start is exactly one delay
    # after the one before, whatever the machine's load (no wall clock is read)
    first = min(times)
    assert sorted(times) == pytest.approx([first + 0.2 * n for n in range(12)])
    assert clock.now() == pytest.approx(first + 0.2 * 11)
    assert site.max_in_flight == 2


def test_two_hosts_are_fetched_in_parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both hosts are served at once: every request goes out (robots.txt and four pages
    per host) and the two hosts' requests overlap at the servers. (A host's spacing,
    on an exact fake-clock schedule, is the test above's.)"""
    clock = FakeClock()
    options = FetchOptions(
        user_agent="feeds-test/1",
        retries=0,
        politeness=Politeness(per_host_delay=0.3, per_host_concurrency=2),
    )
    starts = note_gate_starts(monkeypatch, clock)
    one = SiteSim("127.0.0.1", latency=0.1, forked=True)
    two = SiteSim("127.0.0.2", latency=0.1, forked=True)
    for site in (one, two):
        for n in range(4):
            site.add(f"/a/{n}", f"<p>{n}</p>")
    guard = AddressGuard(["127.0.0.1", "127.0.0.2"])
    with one, two, Fetcher(options, guard=guard, clock=clock) as fetcher:
        jobs = [FetchJob(site.url(f"/a/{n}")) for n in range(4) for site in (one, two)]
        results = list(fetcher.fetch_all(jobs))
        one.collect()
        two.collect()

    assert all(isinstance(page, Page) for _, page in results)
    assert sorted(len(times) for times in starts.values()) == [5, 5]  # robots.txt + 4 pages
    # the fake clock only moves when a gate waits: 2 hosts x 4 spaced starts waited for
    assert len(clock.waits) >= 4 and all(wait <= 0.3 for wait in clock.waits)
    one_span = (min(h.start for h in one.hits), max(h.end for h in one.hits))
    two_span = (min(h.start for h in two.hits), max(h.end for h in two.hits))
    assert max(one_span[0], two_span[0]) < min(one_span[1], two_span[1])  # they overlap


def test_warm_run_is_304s_only(
    site: SiteSim, write_config: WriteConfig, extraction_calls: list[str]
) -> None:
    serve_news(site, numbered_articles(5), "/news/")
    serve_news(site, numbered_articles(5, prefix="sport"), "/sport/")
    config = config_for(write_config, site.url("/news/"), site.url("/sport/"))
    cold = run_once(config, "news")
    assert (cold.new, len(extraction_calls)) == (10, 10)
    files = feed_files(config)
    site.hits.clear()
    extraction_calls.clear()

    warm = run_once(config, "news")

    assert [(hit.path, hit.status) for hit in site.ordered()] == [
        ("/robots.txt", 404),
        ("/news/", 304),
        ("/sport/", 304),
    ]
    assert site.hits_for("/news/")[0].headers["If-None-Match"].startswith('"')
    assert extraction_calls == []
    assert (warm.new, warm.sources_unchanged, warm.files_written) == (0, 2, ())
    assert feed_files(config) == files


def with_a_missing_article(site: SiteSim, write_config: WriteConfig) -> tuple[str, Config]:
    """A listing of three articles, the last one answering 404: its path, and the config."""
    articles = numbered_articles(3)
    serve_news(site, articles)
    del site.resources[articles[2].path]
    return articles[2].path, config_for(write_config, site.url("/news/"))


def test_listing_is_read_again_while_an_article_keeps_failing(
    site: SiteSim, write_config: WriteConfig
) -> None:
    missing, config = with_a_missing_article(site, write_config)
    assert run_once(config, "news").new == 2

    articles = numbered_articles(3)
    site.add(missing, article_html(site.origin, articles[2], articles))  # published now
    second = run_once(config, "news")

    assert second.new == 1  # the listing was not answered 304: its validators were not kept
    assert run_once(config, "news").sources_unchanged == 1
    database = sqlite3.connect(config.settings.state_dir / DATABASE_NAME)
    with contextlib.closing(database):  # the failure counted in the first run is forgotten
        assert database.execute("SELECT url FROM article_failures").fetchall() == []


def test_an_article_gone_for_three_runs_is_given_up_and_its_listing_answers_304(
    site: SiteSim, write_config: WriteConfig
) -> None:
    missing, config = with_a_missing_article(site, write_config)  # 404 for good
    runs = [run_once(config, "news") for _ in range(3)]
    assert [(run.new, run.failed) for run in runs] == [(2, 1), (0, 1), (0, 1)]
    assert len(site.hits_for(missing)) == 3
    assert "given up after it failed in 3 runs" in runs[2].errors[0].message
    assert "given up" not in runs[1].errors[0].message
    site.hits.clear()

    fourth = run_once(config, "news")

    assert [(hit.path, hit.status) for hit in site.ordered()] == [
        ("/robots.txt", 404),
        ("/news/", 304),
    ]
    assert (fourth.failed, fourth.sources_unchanged) == (0, 1)


def test_an_article_whose_server_fails_is_never_given_up(
    site: SiteSim, write_config: WriteConfig
) -> None:
    articles = numbered_articles(2)
    serve_news(site, articles)
    site.respond(articles[1].path, lambda handler: handler.send_body(503, b"busy", "text/plain"))
    config = config_for(write_config, site.url("/news/"), retries=0)
    for _ in range(GIVE_UP_AFTER_RUNS + 1):
        assert run_once(config, "news").failed == 1
    assert len(site.hits_for(articles[1].path)) == GIVE_UP_AFTER_RUNS + 1
    assert site.hits_for("/news/")[-1].status == 200  # read again for it every run


def test_refresh_updates_an_edited_article_in_place(
    site: SiteSim, write_config: WriteConfig
) -> None:
    articles = numbered_articles(2)
    serve_news(site, articles)
    config = config_for(write_config, site.url("/news/"), extra="        refresh: 2d\n")
    t0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
    run_once(config, "news", clock=lambda: t0)
    atom = config.settings.output_dir / "news.atom"
    before = {e.id: e for e in feedparser.parse(atom.read_bytes()).entries}

    edited = articles[0]
    edited.paragraphs = [
        *edited.paragraphs,
        "Correction: the bridge opens on Friday, not Thursday.",
    ]
    site.add(edited.path, article_html(site.origin, edited, articles))
    site.hits.clear()
    t1 = t0 + timedelta(hours=5)
    report = run_once(config, "news", clock=lambda: t1)

    assert (report.new, report.updated, report.unchanged) == (0, 1, 1)
    statuses = {hit.path: hit.status for hit in site.hits}
    assert statuses[articles[1].path] == 304  # unchanged pages are re-checked conditionally
    after = {e.id: e for e in feedparser.parse(atom.read_bytes()).entries}
    assert after.keys() == before.keys()  # same ids
    [changed] = [i for i in after if "Correction: the bridge" in after[i].content[0].value]
    assert datetime(*after[changed].updated_parsed[:6], tzinfo=UTC) == t1
    assert after[changed].published == before[changed].published

    # past the refresh window, nothing is re-checked
    site.hits.clear()
    run_once(config, "news", clock=lambda: t0 + timedelta(days=3))
    assert [hit.path for hit in site.ordered()] == ["/robots.txt", "/news/"]


def test_429_with_retry_after_is_waited_for(site: SiteSim, write_config: WriteConfig) -> None:
    articles = numbered_articles(1)
    serve_news(site, articles)
    answers = iter([429])

    def rate_limited(handler: SimHandler) -> None:
        status = next(answers, 200)
        if status == 429:
            handler.send_body(429, b"slow down", "text/plain", {"Retry-After": "1"})
        else:
            handler.send_body(200, listing_html(articles).encode(), "text/html")

    site.respond("/news/", rate_limited)
    report = run_once(config_for(write_config, site.url("/news/")), "news")

    assert report.new == 1
    first, second = site.hits_for("/news/")
    assert second.start - first.end >= 1.0


def test_503_three_times_then_success(site: SiteSim, write_config: WriteConfig) -> None:
    articles = numbered_articles(1)
    serve_news(site, articles)
    answers = iter([503, 503, 503])

    def flaky(handler: SimHandler) -> None:
        if next(answers, 200) == 503:
            handler.send_body(503, b"busy", "text/plain")
        else:
            handler.send_body(200, listing_html(articles).encode(), "text/html")

    site.respond("/news/", flaky)
    report = run_once(config_for(write_config, site.url("/news/"), retries=3), "news")

    assert report.new == 1
    assert len(site.hits_for("/news/")) == 4


def test_source_down_for_good_keeps_items_and_backs_off(
    site: SiteSim, write_config: WriteConfig
) -> None:
    articles = numbered_articles(2)
    serve_news(site, articles)
    config = config_for(write_config, site.url("/news/"))
    t0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
    run_once(config, "news", clock=lambda: t0)
    files = feed_files(config)
    site.respond("/news/", lambda handler: handler.send_body(500, b"oops", "text/plain"))

    clock = iter(t0 + timedelta(hours=h) for h in (1, 2, 3, 7))
    first = run_once(config, "news", clock=lambda: next(clock))  # 1st failure: keeps schedule
    second = run_once(config, "news", clock=lambda: next(clock))  # 2nd: waits 2 intervals
    third = run_once(config, "news", clock=lambda: next(clock))  # within the backoff: skipped
    requests_before = len(site.hits_for("/news/"))
    fourth = run_once(config, "news", clock=lambda: next(clock))  # past it: tried again

    assert first.failed_entirely and second.failed_entirely and third.failed_entirely
    assert first.errors[0].message == "HTTP 500 Internal Server Error (tried 2 times)"
    assert third.errors[0].message == (
        "skipped: 2 failures in a row (last: HTTP 500 Internal Server Error (tried 2 times)); "
        "next attempt after 2024-03-01 16:00 UTC (`feeds once --retry` tries it now)"
    )
    assert (third.sources_failed, third.sources_skipped) == (0, 1)  # not read: no failure
    assert len(site.hits_for("/news/")) > requests_before  # the fourth run tried again
    assert fourth.failed_entirely
    assert feed_files(config) == files  # the feed kept its items, files untouched


def test_a_fixed_source_is_tried_at_once_and_waiting_is_not_failing(
    site: SiteSim, write_config: WriteConfig
) -> None:
    """A source backing off is read again as soon as its configuration changes, or when
    asked (`once --retry`); runs that only waited neither fail the feed's health nor
    hide when it really runs next."""
    articles = numbered_articles(2)
    serve_news(site, articles)
    t0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
    broken = config_for(write_config, site.url("/news/"), extra="        links: 'div.none a'\n")
    for hours in (0, 1):
        assert run_once(
            broken, "news", clock=lambda h=hours: t0 + timedelta(hours=h)
        ).failed_entirely
    waited = run_once(broken, "news", clock=lambda: t0 + timedelta(hours=2))
    assert (waited.sources_failed, waited.sources_skipped, waited.new) == (0, 1, 0)
    with open_store(broken.settings.state_dir) as store:
        [status] = collect_status(broken, store, t0 + timedelta(hours=2))
    assert (status.result, status.failed_runs) == ("waiting", 2)
    assert status.next_run == t0 + timedelta(hours=3)  # the next attempt: 2 intervals on

    with Runtime(broken, pool=ExtractionPool(0), clock=lambda: t0 + timedelta(hours=2)) as runtime:
        retried = runtime.run_and_record(broken.feeds["news"], retry=True)
    assert retried.sources_failed == 1  # read now, and still failing

    fixed = config_for(write_config, site.url("/news/"), extra="        links: 'article h2 a'\n")
    report = run_once(fixed, "news", clock=lambda: t0 + timedelta(hours=2, minutes=30))
    assert (report.new, report.sources_skipped) == (2, 0)  # tried at once, not in an hour
