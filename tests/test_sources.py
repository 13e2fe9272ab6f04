"""Finding article links on source pages."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from feeds.config import SourceConfig
from feeds.errors import SourceError
from feeds.models import Link, Page
from feeds.sources import detect_kind, discover
from tests.fakes import fetched_page
from tests.newssite import NewsSite

ROOT = Path(__file__).parent.parent


def page(html: str, url: str = "https://news.example/news/") -> Page:
    return fetched_page(html, url)


NOW = datetime(2024, 3, 6, tzinfo=UTC)


def find_links(page: Page, source: SourceConfig) -> list[Link]:
    return list(discover(page, source, max_age=None, now=NOW).links)


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


# --- kinds of sources (issue 4) -------------------------------------------------------


def doc(
    body: str | bytes, url: str = "https://news.example/feed", content_type: str = "application/xml"
) -> Page:
    return fetched_page(body, url, content_type=content_type, fetched_at=NOW)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ('<?xml version="1.0"?>\n<!-- c --><rss version="2.0"><channel/></rss>', "feed"),
        ('<feed xmlns="http://www.w3.org/2005/Atom"></feed>', "feed"),
        ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"></rdf:RDF>', "feed"),
        ('{"version": "https://jsonfeed.org/version/1.1", "items": []}', "feed"),
        (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"/>',
            "sitemap",
        ),
        ("<sitemapindex></sitemapindex>", "sitemap"),
        ("<!DOCTYPE html><html><head><title>x</title></head></html>", "listing"),
        ("<p>a feed of words</p>", "listing"),
    ],
)
def test_detect_kind(body: str, kind: str) -> None:
    assert detect_kind(doc(body)).name == kind


def test_gzipped_sitemap_is_detected() -> None:
    body = gzip.compress(b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"/>')
    assert detect_kind(doc(body, content_type="application/x-gzip")).name == "sitemap"


ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://news.example/">
  <title>News</title>
  <entry>
    <title type="html">Bridge &lt;b&gt;reopens&lt;/b&gt; &amp;amp; more</title>
    <link rel="alternate" href="/2024/03/bridge?utm_source=feed"/>
    <id>tag:news.example,2024:1</id>
    <updated>2024-03-05T09:30:00+01:00</updated>
    <author><name>Ann Lee</name></author>
    <category term="Town"/>
    <summary type="html">&lt;p&gt;The bridge is open.&lt;/p&gt;</summary>
    <content type="html">&lt;p&gt;The bridge is open again, &lt;b&gt;finally&lt;/b&gt;.&lt;/p&gt;</content>
  </entry>
  <entry><title>Elsewhere</title><link href="https://other.example/x"/><id>2</id></entry>
</feed>"""


def test_atom_entries_become_links_with_hints() -> None:
    [link] = find_links(doc(ATOM), SourceConfig(url="https://news.example/feed"))
    assert link.url == "https://news.example/2024/03/bridge"
    assert link.title_hint == "Bridge reopens & more"
    assert link.published_hint == datetime(2024, 3, 5, 8, 30, tzinfo=UTC)
    assert (link.author_hint, link.categories_hint) == ("Ann Lee", ("Town",))
    assert link.summary_hint == "The bridge is open."
    assert link.content_hint == "<p>The bridge is open again, <b>finally</b>.</p>"


def test_allow_domains_widens_the_site() -> None:
    source = SourceConfig(url="https://news.example/feed", allow_domains=("other.example",))
    assert [link.url for link in find_links(doc(ATOM), source)] == [
        "https://news.example/2024/03/bridge",
        "https://other.example/x",
    ]


def test_rdf_feed() -> None:
    rdf = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://news.example/"><title>N</title></channel>
  <item rdf:about="https://news.example/a"><title>A</title><link>https://news.example/a</link>
    <dc:date>2024-03-05T09:30:00Z</dc:date><dc:creator>Bo</dc:creator></item>
</rdf:RDF>"""
    [link] = find_links(doc(rdf), SourceConfig(url="https://news.example/rdf"))
    assert (link.url, link.title_hint, link.author_hint) == ("https://news.example/a", "A", "Bo")
    assert link.published_hint == datetime(2024, 3, 5, 9, 30, tzinfo=UTC)


def test_json_feed() -> None:
    data = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "N",
        "items": [
            {
                "id": "1",
                "url": "https://news.example/a",
                "title": "A",
                "content_text": "Plain <text>",
                "date_published": "2024-03-05T09:30:00Z",
                "authors": [{"name": "Ann"}, {"name": "Bo"}],
                "tags": ["x"],
                "image": "https://news.example/a.jpg",
            },
            {"id": "2", "content_html": "<p>no url</p>"},
        ],
    }
    [link] = find_links(
        doc(json.dumps(data), content_type="application/feed+json"),
        SourceConfig(url="https://news.example/j"),
    )
    assert (link.url, link.title_hint, link.author_hint) == (
        "https://news.example/a",
        "A",
        "Ann, Bo",
    )
    assert link.content_hint == "<p>Plain &lt;text&gt;</p>"
    assert link.published_hint == datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    assert (link.image_hint, link.categories_hint) == ("https://news.example/a.jpg", ("x",))


def test_broken_feed_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="not a readable feed"):
        find_links(
            doc("<rss><channel><item><title>x</ti"),
            SourceConfig(url="https://news.example/f", kind="feed"),
        )
    with pytest.raises(SourceError, match="not a JSON Feed"):
        find_links(doc('{"items": []}'), SourceConfig(url="https://news.example/f"))


def test_sitemap_entities_are_not_expanded() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE u [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://news.example/&c;</loc></url></urlset>"
    )
    links = find_links(doc(bomb), SourceConfig(url="https://news.example/s.xml"))
    assert all("aaaa" not in link.url for link in links)


def test_gzip_bomb_sitemap_stops_at_the_limit() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * (60 * 1024 * 1024) + b"</urlset>")
    with pytest.raises(SourceError, match="larger than 50 MB uncompressed"):
        find_links(
            doc(bomb, content_type="application/x-gzip"),
            SourceConfig(url="https://news.example/s.gz"),
        )


def test_web_page_cannot_lead_to_local_files() -> None:
    html = '<main><h2><a href="file:///etc/passwd">A long headline about local files here</a></h2></main>'
    assert urls(html, links="a") == []


def test_next_page_from_rel_next_and_selector() -> None:
    listing = doc(
        '<html><head><link rel="next" href="/news/?page=2"></head><body>'
        '<a class="s" href="/a">A</a><a class="more" href="/news/older">Older</a></body></html>',
        url="https://news.example/news/",
        content_type="text/html",
    )
    by_rel = discover(
        listing, SourceConfig(url="https://news.example/news/", links="a.s"), max_age=None, now=NOW
    )
    assert by_rel.more == ("https://news.example/news/?page=2",)
    by_selector = discover(
        listing,
        SourceConfig(url="https://news.example/news/", links="a.s", next_page="a.more"),
        max_age=None,
        now=NOW,
    )
    assert by_selector.more == ("https://news.example/news/older",)


@dataclass(frozen=True)
class PlainSource:
    """A source as the readers need it (``sources.rules.SourceRules``), without the
    config's schema."""

    location: str
    path: Path | None = None
    is_directory: bool = False
    kind: str = "auto"
    links: str | None = None
    item: None = None
    next_page: str | None = None
    max_pages: int | None = None
    url_pattern: str | None = None
    url_exclude: str | None = None
    allow_domains: tuple[str, ...] = ()


def test_a_source_is_read_without_the_config() -> None:
    listing = doc(
        '<html><body><main><h2><a href="/news/one">One story</a></h2>'
        '<h2><a href="/news/two">Two stories</a></h2></main></body></html>',
        url="https://news.example/news/",
        content_type="text/html",
    )
    found = discover(
        listing, PlainSource("https://news.example/news/", links="h2 a"), max_age=None, now=NOW
    )
    assert found.kind == "listing"
    assert [link.url for link in found.links] == [
        "https://news.example/news/one",
        "https://news.example/news/two",
    ]
