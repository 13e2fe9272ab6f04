"""Every example in config/examples passes `feeds check`, and runs against a local copy of
the site it describes (served on 127.0.0.1 in place of https://www.example.com)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from feeds.cli import main
from feeds.config import load_config
from tests.newssite import (
    listing_html,
    numbered_articles,
    rss_xml,
    serve_news,
    sitemap_xml,
)
from tests.sitesim import SiteSim
from tests.test_source_kinds import JOBS

EXAMPLES = Path(__file__).parent.parent / "config" / "examples"
ORIGIN = "https://www.example.com"


def listing_site(site: SiteSim) -> int:
    """Three listing pages of two articles each; the example reads two."""
    articles = numbered_articles(6)
    pages = ["/news/", "/news/page/2/", "/news/page/3/"]
    for number, path in enumerate(pages):
        chunk = articles[2 * number : 2 * number + 2]
        serve_news(site, chunk, path)
        following = pages[number + 1] if number + 1 < len(pages) else "/news/"
        site.add(path, listing_html(chunk).replace('href="/news/?page=2"', f'href="{following}"'))
    return 4


def partial_feed_site(site: SiteSim) -> int:
    articles = numbered_articles(4)
    serve_news(site, articles)
    site.add("/feed.xml", rss_xml(site.origin, articles), content_type="application/rss+xml")
    del site.resources[articles[3].path]  # one page is gone: its teaser is published
    return 4


def sitemap_site(site: SiteSim) -> int:
    articles = numbered_articles(5)
    for article in articles:
        article.metadata = "none"  # the sitemap's dates are the articles' dates
    serve_news(site, articles)
    now = datetime.now(UTC)
    day = timedelta(days=1)
    site.add(
        "/robots.txt",
        f"User-agent: *\nSitemap: {site.url('/sitemap_index.xml')}\n",
        content_type="text/plain",
    )
    site.add(
        "/sitemap_index.xml",
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.url('/sitemap-1.xml')}</loc></sitemap>"
        f"<sitemap><loc>{site.url('/sitemap-2.xml')}</loc></sitemap></sitemapindex>",
        content_type="application/xml",
    )
    dates = [
        (now - n * 2 * day).strftime("%Y-%m-%dT%H:%M:%SZ") for n in range(5)
    ]  # 0, 2, 4, 6, 8 days
    site.add(
        "/sitemap-1.xml",
        sitemap_xml(
            site.origin, [(a.path, d) for a, d in zip(articles[:3], dates[:3], strict=True)]
        ),
    )
    site.add(
        "/sitemap-2.xml",
        sitemap_xml(
            site.origin,
            [(a.path, d) for a, d in zip(articles[3:], dates[3:], strict=True)]
            + [("/about/", dates[0])],
        ),
    )
    return 4  # within 7 days: 0, 2, 4, 6 days old; /about/ is not news


def item_selectors_site(site: SiteSim) -> int:
    site.add("/jobs/", JOBS)
    return 2


def merged_site(site: SiteSim) -> int:
    topics = [
        "Ferry timetable changes",
        "Bridge repairs start",
        "Library hours",
        "Ferry fares rise",
    ]
    articles = numbered_articles(5)
    for article, title in zip(articles, [*topics, "Ferries: a sponsored guide"], strict=True):
        article.title = title
        words = (p.replace("ferry", "boat").replace("bridge", "road") for p in article.paragraphs)
        article.paragraphs = [f"{title}. {p}" for p in words]
    serve_news(site, articles[:3])
    for article in articles[3:]:
        serve_news(site, [article], f"/more/{article.slug}/")
    site.add("/feed.xml", rss_xml(site.origin, articles[1:]), content_type="application/rss+xml")
    site.add(
        "/news-sitemap.xml",
        sitemap_xml(
            site.origin, [(a.path, "2024-03-09T10:00:00Z") for a in articles[::2]], news=True
        ),
        content_type="application/xml",
    )
    return 3  # ferry, bridge, ferry fares; not the library, not the sponsored guide


SITES: dict[str, Callable[[SiteSim], int]] = {
    "listing": listing_site,
    "partial-feed": partial_feed_site,
    "sitemap": sitemap_site,
    "item-selectors": item_selectors_site,
    "merged": merged_site,
}


def test_every_example_has_a_site() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.yaml")) == sorted(SITES)


@pytest.mark.parametrize("name", sorted(SITES))
def test_example_passes_check(name: str) -> None:
    result = CliRunner().invoke(main, ["--config", str(EXAMPLES / f"{name}.yaml"), "check"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


@pytest.fixture
def site() -> Iterator[SiteSim]:
    with SiteSim("127.0.0.1") as sim:
        yield sim


@pytest.mark.parametrize("name", sorted(SITES))
def test_example_runs_against_its_site(name: str, site: SiteSim, tmp_path: Path) -> None:
    expected = SITES[name](site)
    text = (EXAMPLES / f"{name}.yaml").read_text().replace(ORIGIN, site.origin)
    text = text.replace("settings:\n", "settings:\n  per_host_delay: 0\n", 1)
    config_path = tmp_path / "config" / "examples" / f"{name}.yaml"
    config_path.parent.mkdir(parents=True)
    config_path.write_text(text)
    [feed_id] = load_config(config_path).feeds

    result = CliRunner().invoke(main, ["--config", str(config_path), "once"])

    assert result.exit_code == 0, result.output
    for suffix in (".xml", ".atom"):
        parsed = feedparser.parse((tmp_path / "output" / f"{feed_id}{suffix}").read_bytes())
        assert parsed.bozo == 0
        assert len(parsed.entries) == expected, [e.title for e in parsed.entries]
        assert len({e.link for e in parsed.entries}) == expected  # each article once
