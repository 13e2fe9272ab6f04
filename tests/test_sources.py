"""Finding article links on source pages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pytest_httpserver import HTTPServer

from feeds.config import SourceConfig
from feeds.models import Page
from feeds.sources import find_links
from tests.newssite import NewsSite

ROOT = Path(__file__).parent.parent


def page(html: str, url: str = "https://news.example/news/") -> Page:
    return Page(
        url=url,
        final_url=url,
        status=200,
        content_type="text/html",
        body=html.encode(),
        encoding="utf-8",
        fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
    )


def urls(html: str, links: str | None = None, url: str = "https://news.example/news/") -> list[str]:
    source = SourceConfig(url=url, links=links)
    return [link.url for link in find_links(page(html, url), source)]


def test_selector_may_point_at_anchors_or_their_containers() -> None:
    html = """<main>
      <div class="card"><h3>First story about the harbour works</h3><a href="/a/1">go</a></div>
      <div class="card"><a href="/a/2?utm_source=x#top">Second story</a></div>
      <div class="card">no link here</div>
      <a class="card" href="javascript:void(0)">script</a>
    </main>"""
    assert urls(html, links=".card") == [
        "https://news.example/a/1",
        "https://news.example/a/2",
    ]


def test_selector_links_are_deduplicated_in_page_order() -> None:
    html = '<a class="s" href="/b">B</a><a class="s" href="/a">A</a><a class="s" href="/b#x">B</a>'
    assert urls(html, links="a.s") == ["https://news.example/b", "https://news.example/a"]


def test_base_href_is_respected() -> None:
    html = (
        '<head><base href="https://cdn.news.example/2024/"></head><a class="s" href="story">S</a>'
    )
    assert urls(html, links="a.s") == ["https://cdn.news.example/2024/story"]


def test_auto_detection_on_a_realistic_listing(news_site: NewsSite) -> None:
    found = urls(news_site.listing_html(), url=news_site.listing_url)
    assert found == [news_site.url(a) for a in news_site.articles]


def test_auto_detection_keeps_the_headline_as_title_hint(news_site: NewsSite) -> None:
    source = SourceConfig(url=news_site.listing_url)
    links = find_links(page(news_site.listing_html(), news_site.listing_url), source)
    assert [link.title_hint for link in links] == [a.title for a in news_site.articles]


def test_auto_detection_ignores_navigation_and_other_sites() -> None:
    html = """<html><body>
      <header><nav><a href="/politics/">Politics</a><a href="/sport/">Sport</a>
        <a href="/2024/03/01/menu-item-that-looks-like-an-article">A long menu item with many words</a>
      </nav></header>
      <main>
        <ul class="stories">
          <li><a href="/2024/03/01/new-bridge-opens-to-traffic">New bridge opens to traffic after two years</a></li>
          <li><a href="/2024/03/02/schools-close-for-storm">Schools close early as storm approaches the coast</a></li>
          <li><a href="https://elsewhere.example/2024/03/03/other-site-story">A story on another site entirely</a></li>
          <li><a href="/tag/weather/">Weather</a></li>
          <li><a href="/author/jane-doe/">Jane Doe</a></li>
          <li><a href="/media/report-on-the-storm-damage.pdf">Report on the storm damage (PDF)</a></li>
        </ul>
      </main>
      <footer><a href="/about-us/">About us</a><a href="/privacy-policy/">Privacy policy</a></footer>
    </body></html>"""
    assert urls(html, url="https://news.example/") == [
        "https://news.example/2024/03/01/new-bridge-opens-to-traffic",
        "https://news.example/2024/03/02/schools-close-for-storm",
    ]


def test_auto_detection_accepts_html5_teasers_with_their_own_header() -> None:
    html = """<main>
      <article><header><h2><a href="/p/41822">Why the ferry timetable is changing</a></h2></header></article>
      <article><header><h2><a href="/p/41823">What the new bus routes mean for you</a></h2></header></article>
    </main>"""
    assert urls(html, url="https://blog.example/") == [
        "https://blog.example/p/41822",
        "https://blog.example/p/41823",
    ]


def test_local_listing_yields_file_links() -> None:
    index = ROOT / "config" / "sample-site" / "index.html"
    source = SourceConfig(path=index)
    local = Page(
        url=index.as_uri(),
        final_url=index.as_uri(),
        status=200,
        content_type="text/html",
        body=index.read_bytes(),
        encoding="utf-8",
        fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    names = [link.url.rsplit("/", 1)[1] for link in find_links(local, source)]
    assert names == [
        "footbridge-reopens-after-flood-repairs.html",
        "library-starts-seed-lending-scheme.html",
        "night-bus-trial-extended.html",
    ]


def test_directory_source_takes_every_listed_file(tmp_path: Path, httpserver: HTTPServer) -> None:
    (tmp_path / "one.html").write_text("<p>1</p>")
    source = SourceConfig(path=tmp_path)
    index = page('<ul><li><a href="one.html">one</a></li></ul>', tmp_path.as_uri() + "/")
    assert [link.url for link in find_links(index, source)] == [(tmp_path / "one.html").as_uri()]
