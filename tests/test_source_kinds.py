"""Every kind of source, end to end against a site on 127.0.0.1: partial feeds made
full-text, sitemaps, pagination, item selectors, filters, merged sources."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import feedparser
import pytest

from feeds.config import Config
from feeds.html import block_text, parse_fragment
from tests.conftest import WriteConfig, run_once
from tests.newssite import (
    SiteArticle,
    listing_html,
    numbered_articles,
    rss_xml,
    serve_news,
    sitemap_xml,
)
from tests.sitesim import SiteSim

NOW = datetime(2024, 3, 10, 12, tzinfo=UTC)


@pytest.fixture
def site() -> Iterator[SiteSim]:
    with SiteSim("127.0.0.1") as sim:
        yield sim


def feed_config(write_config: WriteConfig, feed: str) -> Config:
    return write_config(
        "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
        "  retries: 0\n  max_items: 100\n"
        f"feeds:\n  news:\n{feed}"
    )


def entries(config: Config, fmt: str = "atom") -> list[Any]:
    parsed = feedparser.parse((config.settings.output_dir / f"news.{fmt}").read_bytes())
    assert parsed.bozo == 0
    return list(parsed.entries)


def text(entry: Any) -> str:
    return block_text(parse_fragment(entry.content[0].value)).replace("\n", " ")


def undated(articles: list[SiteArticle]) -> list[SiteArticle]:
    """The same articles, their pages without any date or author metadata."""
    for article in articles:
        article.metadata = "none"
    return articles


def test_partial_feed_becomes_full_text(site: SiteSim, write_config: WriteConfig) -> None:
    articles = undated(numbered_articles(5))
    serve_news(site, articles)
    site.add("/feed.xml", rss_xml(site.origin, articles), content_type="application/rss+xml")
    del site.resources[articles[2].path]  # this page answers 404
    config = feed_config(write_config, f"    sources:\n      - url: {site.url('/feed.xml')}\n")

    report = run_once(config, "news", clock=lambda: NOW)

    assert (report.new, report.failed) == (5, 1)
    [error] = report.errors
    assert error.url == site.url(articles[2].path)
    assert error.message == "HTTP 404 Not Found; published the source's own text"
    by_title = {e.title: e for e in entries(config)}
    for article in articles:
        entry = by_title[article.title]
        published = datetime(*entry.published_parsed[:6], tzinfo=UTC)
        # the feed's day; its midnight says no time: the time of day first seen
        assert published.date() == datetime.fromisoformat(article.published).date()
        assert entry.author == article.author  # the page gives none: the feed's
        assert [t.term for t in entry.tags] == ["Local"]
        if article is articles[2]:
            teaser = " ".join(article.paragraphs[0].split()[:12])
            assert text(entry) == teaser + "..."
        else:
            assert all(p in text(entry) for p in article.paragraphs)  # full text


def test_feed_kind_is_detected_whatever_the_content_type(
    site: SiteSim, write_config: WriteConfig
) -> None:
    articles = numbered_articles(2)
    serve_news(site, articles)
    site.add("/feed", rss_xml(site.origin, articles), content_type="text/html")
    config = feed_config(write_config, f"    sources:\n      - url: {site.url('/feed')}\n")
    assert run_once(config, "news").new == 2


def test_sitemap_index_gzip_and_news_within_max_age(
    site: SiteSim, write_config: WriteConfig
) -> None:
    articles = undated(numbered_articles(7))
    serve_news(site, articles)
    paths = [a.path for a in articles]
    site.add(
        "/sitemap_index.xml",
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.url('/sitemap-news.xml')}</loc></sitemap>"
        f"<sitemap><loc>{site.url('/sitemap-2024.xml.gz')}</loc><lastmod>2024-03-09</lastmod></sitemap>"
        f"<sitemap><loc>{site.url('/sitemap-2019.xml')}</loc><lastmod>2019-12-31</lastmod></sitemap>"
        "</sitemapindex>",
        content_type="application/xml",
    )
    site.add(
        "/sitemap-news.xml",
        sitemap_xml(
            site.origin,
            [(paths[0], "2024-03-10T08:00:00Z"), (paths[1], "2024-03-09T18:30:00+01:00")],
            news=True,
        ),
        content_type="application/xml",
    )
    site.add(
        "/sitemap-2024.xml.gz",
        gzip.compress(
            sitemap_xml(
                site.origin,
                [(paths[2], "2024-03-08"), (paths[3], "2024-03-05"), (paths[4], "2024-01-01")],
            ).encode()
        ),
        content_type="application/x-gzip",
    )
    site.add("/sitemap-2019.xml", sitemap_xml(site.origin, [(paths[5], "2019-06-01")]))
    config = feed_config(
        write_config,
        f"    max_age: 7d\n    sources:\n      - url: {site.url('/sitemap_index.xml')}\n",
    )

    report = run_once(config, "news", clock=lambda: NOW)

    assert report.new == 4, (site.paths(), report)
    assert "/sitemap-2019.xml" not in site.paths()  # its lastmod is past max_age
    assert paths[4] not in site.paths() and paths[6] not in site.paths()
    by_link = {e.link: e for e in entries(config)}
    assert set(by_link) == {site.url(p) for p in paths[:4]}
    first = by_link[site.url(paths[0])]
    assert datetime(*first.published_parsed[:6], tzinfo=UTC) == datetime(2024, 3, 10, 8, tzinfo=UTC)
    second = by_link[site.url(paths[1])]
    assert datetime(*second.published_parsed[:6], tzinfo=UTC) == datetime(
        2024, 3, 9, 17, 30, tzinfo=UTC
    )


def test_news_sitemap_titles_are_hints(site: SiteSim, write_config: WriteConfig) -> None:
    site.add(
        "/news.xml",
        sitemap_xml(site.origin, [("/p/1", "2024-03-10T08:00:00Z")], news=True),
        content_type="application/xml",
    )
    site.add("/p/1", "<html><body><p>Only a short note without any title here.</p></body></html>")
    config = feed_config(
        write_config, f"    sources:\n      - url: {site.url('/news.xml')}\n        follow: false\n"
    )
    run_once(config, "news", clock=lambda: NOW)
    [entry] = entries(config)
    assert entry.title == "News title of /p/1"
    assert site.paths() == ["/robots.txt", "/news.xml"]  # not followed


def test_sitemap_of_a_site_root_comes_from_robots_txt(
    site: SiteSim, write_config: WriteConfig
) -> None:
    articles = numbered_articles(2)
    serve_news(site, articles)
    site.add(
        "/robots.txt",
        f"User-agent: *\nAllow: /\nSitemap: {site.url('/maps/all.xml')}\n",
        content_type="text/plain",
    )
    site.add("/maps/all.xml", sitemap_xml(site.origin, [(a.path, "2024-03-09") for a in articles]))
    config = feed_config(
        write_config, f"    sources:\n      - url: {site.url('/')}\n        kind: sitemap\n"
    )
    assert run_once(config, "news", clock=lambda: NOW).new == 2


def test_pagination_stops_at_max_pages(site: SiteSim, write_config: WriteConfig) -> None:
    articles = numbered_articles(6)
    pages = ["/news/", "/news/page/2", "/news/page/3"]
    for number, path in enumerate(pages):
        chunk = articles[2 * number : 2 * number + 2]
        listing = listing_html(chunk)
        if number + 1 < len(pages):
            listing = listing.replace(
                "</head>", f'<link rel="next" href="{pages[number + 1]}"></head>'
            )
        serve_news(site, chunk, path)
        site.add(path, listing)
    config = feed_config(
        write_config, f"    sources:\n      - url: {site.url('/news/')}\n        max_pages: 2\n"
    )

    report = run_once(config, "news", clock=lambda: NOW)

    assert report.new == 4
    assert {e.title for e in entries(config)} == {a.title for a in articles[:4]}
    assert "/news/page/3" not in site.paths()


def test_next_page_selector(site: SiteSim, write_config: WriteConfig) -> None:
    articles = numbered_articles(4)
    serve_news(site, articles[:2], "/a/")
    serve_news(site, articles[2:], "/b/")
    site.add(
        "/a/",
        listing_html(articles[:2]).replace(
            "</main>", '<a class="older" href="/b/">Older</a></main>'
        ),
    )
    config = feed_config(
        write_config,
        f"    sources:\n      - url: {site.url('/a/')}\n        next_page: a.older\n        max_pages: 5\n",
    )
    assert run_once(config, "news", clock=lambda: NOW).new == 4


JOBS = """<html><body><ul class="jobs">
  <li class="job"><h3>Harbour master (part time)</h3><a href="/jobs/17">Details</a>
      <span class="posted">05.03.2024 14:30</span><p class="desc">Keep the <b>harbour</b> running.</p>
      <span class="by">Port Authority</span></li>
  <li class="job"><h3>Ferry deckhand</h3><a href="/jobs/18">Details</a>
      <span class="posted">06.03.2024 09:00</span><p class="desc">Lines, ropes and tickets.</p>
      <span class="by">Ferry Co</span></li>
  <li class="job"><h3>No link, skipped</h3></li>
</ul></body></html>"""


def test_item_selectors_without_following(site: SiteSim, write_config: WriteConfig) -> None:
    site.add("/jobs/", JOBS)
    config = feed_config(
        write_config,
        f"    sources:\n      - url: {site.url('/jobs/')}\n        follow: false\n"
        "        item:\n          selector: li.job\n          title: h3\n          link: a@href\n"
        "          date: span.posted\n          date_format: '%d.%m.%Y %H:%M'\n"
        "          content: p.desc\n          author: span.by\n",
    )

    report = run_once(config, "news", clock=lambda: NOW)

    assert report.new == 2
    assert site.paths() == ["/robots.txt", "/jobs/"]  # nothing followed
    first, second = entries(config)
    assert (first.title, first.link, first.author) == (
        "Ferry deckhand",
        site.url("/jobs/18"),
        "Ferry Co",
    )
    assert datetime(*first.published_parsed[:6], tzinfo=UTC) == datetime(2024, 3, 6, 9, tzinfo=UTC)
    assert datetime(*second.published_parsed[:6], tzinfo=UTC) == datetime(
        2024, 3, 5, 14, 30, tzinfo=UTC
    )
    assert second.content[0].value == "Keep the <b>harbour</b> running."


def test_include_and_exclude(site: SiteSim, write_config: WriteConfig) -> None:
    titles = [
        "Ferry timetable changes",
        "Bridge closed for repairs",
        "Ferry fares go up",
        "Library news",
    ]
    articles = numbered_articles(4)
    for article, title in zip(articles, titles, strict=True):
        article.title = title
    articles[2].paragraphs[1] = "This sponsored post is brought to you by a ferry company."
    serve_news(site, articles)
    config = feed_config(
        write_config,
        "    include:\n      - {pattern: 'ferry|bridge', fields: [title]}\n"
        "    exclude:\n      - {pattern: 'SPONSORED', fields: [content]}\n"
        f"    sources:\n      - url: {site.url('/news/')}\n",
    )

    report = run_once(config, "news", clock=lambda: NOW)

    assert (report.new, report.filtered) == (2, 2)
    assert {e.title for e in entries(config)} == {
        "Ferry timetable changes",
        "Bridge closed for repairs",
    }
    # left-out articles are not fetched again while the rules stay the same
    site.hits.clear()
    run_once(config, "news", clock=lambda: NOW)
    assert [h.path for h in site.ordered() if h.path.startswith("/news/2")] == []


def test_changed_rules_reconsider_left_out_articles(
    site: SiteSim, write_config: WriteConfig
) -> None:
    articles = numbered_articles(2)
    articles[0].title = "Zeppelin news"
    serve_news(site, articles)
    source = f"    sources:\n      - url: {site.url('/news/')}\n"
    strict = feed_config(write_config, "    include: [zeppelin]\n" + source)
    assert run_once(strict, "news", clock=lambda: NOW).new == 1
    relaxed = feed_config(write_config, source)
    assert run_once(relaxed, "news", clock=lambda: NOW).new == 1
    assert len(entries(relaxed)) == 2


def test_max_new_per_run_takes_the_newest_first(site: SiteSim, write_config: WriteConfig) -> None:
    articles = numbered_articles(5)
    serve_news(site, articles)
    config = feed_config(
        write_config, f"    max_new_per_run: 2\n    sources:\n      - url: {site.url('/news/')}\n"
    )
    assert run_once(config, "news", clock=lambda: NOW).new == 2
    assert {e.title for e in entries(config)} == {a.title for a in articles[:2]}
    assert run_once(config, "news", clock=lambda: NOW).new == 2  # the listing is read again
    assert run_once(config, "news", clock=lambda: NOW).new == 1
    assert run_once(config, "news", clock=lambda: NOW).sources_unchanged == 1


def test_link_filters(site: SiteSim, write_config: WriteConfig) -> None:
    site.add(
        "/news/",
        "<html><body><main>"
        '<h2><a href="/2024/03/harbour-ferry-timetable-changes-again">Harbour ferry timetable changes again</a></h2>'
        '<h2><a href="/2024/03/live-blog-about-the-ferry-changes">Live blog about the ferry changes today</a></h2>'
        '<h2><a href="/video/2024/03/ferry-changes-explained-in-video">Ferry changes explained in one video</a></h2>'
        '<h2><a href="https://partner.example/2024/03/ferry-story-on-partner-site">Ferry story on a partner site</a></h2>'
        "</main></body></html>",
    )
    for path in (
        "/2024/03/harbour-ferry-timetable-changes-again",
        "/2024/03/live-blog-about-the-ferry-changes",
    ):
        site.add(
            path,
            "<html><head><title>T</title></head><body><article><p>"
            + "Words about the ferry. " * 20
            + "</p></article></body></html>",
        )
    config = feed_config(
        write_config,
        f"    sources:\n      - url: {site.url('/news/')}\n"
        "        url_pattern: '^https?://[^/]+/20\\d\\d/'\n        url_exclude: 'live-blog'\n",
    )
    run_once(config, "news", clock=lambda: NOW)
    assert [h.path for h in site.ordered() if h.path.startswith(("/2", "/v"))] == [
        "/2024/03/harbour-ferry-timetable-changes-again"
    ]


def test_one_feed_merging_listing_feed_and_sitemap(
    site: SiteSim, write_config: WriteConfig
) -> None:
    articles = numbered_articles(6)
    serve_news(site, articles[:4])  # the listing shows 0-3
    for article in articles[4:]:
        serve_news(site, [article], f"/unused/{article.slug}/")
    site.add("/feed.xml", rss_xml(site.origin, articles[2:6]))  # the feed 2-5
    site.add(
        "/sitemap.xml", sitemap_xml(site.origin, [(a.path, "2024-03-09") for a in articles[::2]])
    )  # 0, 2, 4
    config = feed_config(
        write_config,
        "    sources:\n"
        f"      - url: {site.url('/news/')}\n"
        f"      - url: {site.url('/feed.xml')}\n"
        f"      - url: {site.url('/sitemap.xml')}\n",
    )

    report = run_once(config, "news", clock=lambda: NOW)

    assert report.new == 6
    assert sorted(e.title for e in entries(config)) == sorted(a.title for a in articles)
    for article in articles:  # each page was fetched once, whichever sources listed it
        assert site.paths().count(article.path) == 1
