"""The whole pipeline against a realistic news site served from 127.0.0.1, the state kept
in memory (the storage contract tests hold SQLite to the same behaviour)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from pytest_httpserver import HTTPServer

from feeds.html import block_text, parse_fragment
from feeds.run.publish import feed_formats
from feeds.storage.memory import MemoryState
from tests.conftest import DATA, WriteConfig, run_once
from tests.feedcheck import check_feed
from tests.newssite import BOILERPLATE, NewsSite, SiteArticle


def site_config(write_config: WriteConfig, site: NewsSite, links: str | None = None) -> Any:
    selector = f'        links: "{links}"\n' if links else ""
    return write_config(
        "feeds:\n"
        "  harbour:\n"
        "    title: The Harbour Herald\n"
        "    sources:\n"
        f"      - url: {site.listing_url}\n{selector}"
    )


def read_feed(path: Path) -> Any:
    parsed = feedparser.parse(path.read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def content_text(entry: Any) -> str:
    return block_text(parse_fragment(entry.content[0].value)).replace("\n", " ")


def feed_paths(config: Any, feed_id: str = "harbour") -> list[Path]:
    out = config.settings.output_dir
    return [out / f"{feed_id}.xml", out / f"{feed_id}.atom"]


@pytest.mark.parametrize("links", ["article.teaser h2 a", None], ids=["selector", "auto"])
def test_realistic_site_becomes_full_text_feeds(
    state: MemoryState, news_site: NewsSite, write_config: WriteConfig, links: str | None
) -> None:
    config = site_config(write_config, news_site, links)

    report = run_once(config, "harbour", connect=state.connect)

    assert (report.new, report.failed, report.errors) == (3, 0, ())
    for path in feed_paths(config):
        parsed = read_feed(path)
        entries = {entry.link: entry for entry in parsed.entries}
        assert len(parsed.entries) == 3
        # newest first
        assert [e.title for e in parsed.entries] == [a.title for a in news_site.articles]
        for article in news_site.articles:
            entry = entries[news_site.url(article)]  # canonical: no utm parameters
            assert entry.title == article.title
            assert entry.author == article.author
            published = datetime(*entry.published_parsed[:6], tzinfo=UTC)
            assert published == datetime.fromisoformat(article.published)
            text = content_text(entry)
            for paragraph in article.paragraphs:
                assert paragraph in text
            for boilerplate in BOILERPLATE:
                assert boilerplate not in text
                assert boilerplate not in entry.summary
            images = re.findall(r'<img[^>]*src="([^"]*)"', entry.content[0].value)
            assert all(src.startswith(news_site.origin + "/") for src in images)
            if article.image:
                assert news_site.origin + article.image in images


def test_second_run_adds_nothing_and_leaves_files_untouched(
    state: MemoryState, news_site: NewsSite, write_config: WriteConfig
) -> None:
    config = site_config(write_config, news_site)
    run_once(config, "harbour", connect=state.connect)
    first = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in feed_paths(config)}
    ids = [e.id for e in read_feed(feed_paths(config)[0]).entries]
    article_requests = len(news_site.article_requests())

    report = run_once(config, "harbour", connect=state.connect)

    assert (report.new, report.unchanged, report.files_written) == (0, 3, ())
    assert len(news_site.article_requests()) == article_requests  # known pages not refetched
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in feed_paths(config)} == first
    assert [e.id for e in read_feed(feed_paths(config)[0]).entries] == ids


def test_one_new_article_gives_one_new_item_and_ids_stay(
    state: MemoryState, news_site: NewsSite, write_config: WriteConfig
) -> None:
    config = site_config(write_config, news_site)
    run_once(config, "harbour", connect=state.connect)
    ids_before = {e.link: e.id for e in read_feed(feed_paths(config)[1]).entries}
    news_site.add(
        SiteArticle(
            slug="tram-depot-open-day",
            title="Tram depot opens its doors to visitors for one weekend",
            author="Aisha Rahman",
            published="2024-03-06T07:00:00+00:00",
            paragraphs=[
                "The tram depot on the east side will open to visitors next weekend, "
                "with guided tours of the workshops every hour.",
                "Tickets are free but must be booked in advance.",
            ],
        )
    )

    report = run_once(config, "harbour", connect=state.connect)

    assert (report.new, report.unchanged) == (1, 3)
    entries = read_feed(feed_paths(config)[1]).entries
    assert entries[0].title == "Tram depot opens its doors to visitors for one weekend"
    assert {e.link: e.id for e in entries[1:]} == ids_before


def test_same_article_at_a_second_url_is_not_added_twice(
    state: MemoryState, news_site: NewsSite, write_config: WriteConfig
) -> None:
    config = site_config(write_config, news_site)
    run_once(config, "harbour", connect=state.connect)
    news_site.also_at("/live/riverside-cycle-lanes-vote", news_site.articles[0])

    report = run_once(config, "harbour", connect=state.connect)

    assert (report.new, report.skipped) == (0, 1)
    assert len(read_feed(feed_paths(config)[0]).entries) == 3
    # the second address is remembered: the next run does not fetch it again
    requests = len(news_site.article_requests())
    assert run_once(config, "harbour", connect=state.connect).unchanged == 4
    assert len(news_site.article_requests()) == requests


def test_near_duplicate_under_another_canonical_is_not_added(
    state: MemoryState, news_site: NewsSite, write_config: WriteConfig
) -> None:
    config = site_config(write_config, news_site)
    run_once(config, "harbour", connect=state.connect)
    original = news_site.articles[0]
    copy = SiteArticle(
        slug="riverside-cycle-lanes-approved",
        title=original.title + " (updated)",
        author=original.author,
        published="2024-03-05T11:00:00+00:00",
        paragraphs=[*original.paragraphs[:-1], original.paragraphs[-1] + " More soon."],
    )
    news_site.add(copy)

    report = run_once(config, "harbour", connect=state.connect)

    assert (report.new, report.skipped) == (0, 1)


def test_failing_source_keeps_previous_items(
    state: MemoryState, news_site: NewsSite, write_config: WriteConfig, httpserver: HTTPServer
) -> None:
    config = site_config(write_config, news_site)
    run_once(config, "harbour", connect=state.connect)
    before = feed_paths(config)[0].read_bytes()
    httpserver.clear()
    httpserver.no_handler_status_code = 404
    httpserver.expect_request("/news/").respond_with_data("down", status=503)

    report = run_once(config, "harbour", connect=state.connect)

    assert report.failed_entirely
    assert "HTTP 503" in report.errors[0].message
    assert feed_paths(config)[0].read_bytes() == before
    with state.connect() as store:
        assert store.count_items("harbour") == 3


def test_article_that_fails_is_reported_and_others_published(
    state: MemoryState, news_site: NewsSite, write_config: WriteConfig, httpserver: HTTPServer
) -> None:
    broken = news_site.articles[1]
    config = site_config(write_config, news_site)
    httpserver.clear()
    httpserver.no_handler_status_code = 404
    news_site.articles.remove(broken)
    news_site.serve()
    news_site.articles.insert(1, broken)  # listed, but its page answers 404

    report = run_once(config, "harbour", connect=state.connect)

    assert (report.new, report.failed) == (2, 1)
    assert not report.failed_entirely
    assert report.errors[0].url == news_site.url(broken)
    assert "HTTP 404" in report.errors[0].message


def test_seed_article_becomes_one_clean_item(
    state: MemoryState, httpserver: HTTPServer, write_config: WriteConfig
) -> None:
    seed = DATA / "seed"
    path = "/news/world/taliban-enter-outskirts-of-kabul"
    httpserver.expect_request(path).respond_with_data(
        (seed / "article.html").read_bytes(), content_type="text/html; charset=utf-8"
    )
    httpserver.expect_request("/news/").respond_with_data(
        f'<html><body><main><a href="{path}">Taliban enter outskirts of Kabul in move to '
        "retake whole of Afghanistan</a></main></body></html>",
        content_type="text/html",
    )
    config = write_config(
        f"feeds:\n  world:\n    sources:\n      - url: {httpserver.url_for('/news/')}\n"
    )

    report = run_once(config, "world", connect=state.connect)

    assert report.new == 1
    for fmt in feed_formats(config.feeds["world"]):  # strictly checked
        check_feed((config.settings.output_dir / f"world{fmt.suffix}").read_bytes(), fmt.name)
    for feed_file in feed_paths(config, "world"):
        [entry] = read_feed(feed_file).entries
        assert entry.title == SEED_TITLE
        assert entry.author == "Danny Jones"
        assert entry.published_parsed[:3] == (2021, 8, 15)
        assert entry.link == httpserver.url_for(path)
        text = content_text(entry)
        for paragraph in seed_body_paragraphs():
            assert paragraph in text
        assert "Search icon" not in text
        assert "Related links" not in text
        assert "Share on" not in text


SEED_TITLE = "Taliban enter outskirts of Kabul in move to retake whole of Afghanistan"


def seed_body_paragraphs() -> list[str]:
    """The article's body paragraphs in the seed text: after the standfirst, before the
    image caption and the "Related links" box."""
    lines = [line.strip() for line in (DATA / "seed" / "article.txt").read_text().splitlines()]
    lines = [line for line in lines if line]
    return lines[6:-2]


def test_an_unchanged_feed_is_not_rewritten_and_a_missing_file_is(
    state: MemoryState, news_site: NewsSite, write_config: WriteConfig
) -> None:
    config = site_config(write_config, news_site)
    assert run_once(config, "harbour", connect=state.connect).files_written
    rss, atom = feed_paths(config)
    stamps = (rss.stat().st_mtime_ns, atom.stat().st_mtime_ns)

    assert (
        run_once(config, "harbour", connect=state.connect).files_written == ()
    )  # nothing new: nothing written
    assert (rss.stat().st_mtime_ns, atom.stat().st_mtime_ns) == stamps

    atom.unlink()  # someone removed a file: the next run puts it back
    assert run_once(config, "harbour", connect=state.connect).files_written == ("harbour.atom",)
    assert read_feed(atom).entries
