"""Publishing: golden files, strict validity, stable bytes, atomic writes, index and OPML.

Set UPDATE_GOLDEN=1 to rewrite the golden files after an intended change, and review the diff.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from lxml import etree

from feeds.errors import PublishError
from feeds.models import Item
from feeds.publishing.channel import Channel, FeedFormat, display_html
from feeds.publishing.files import write_files
from feeds.publishing.formats import FORMATS, render
from feeds.publishing.json_feed import JSON_FEED
from feeds.publishing.outlets import DirectoryOutlet, publish
from feeds.publishing.pages import Listing, render_index, render_opml
from feeds.publishing.rss_atom import ATOM, RSS
from tests.conftest import DATA
from tests.feedcheck import check_feed

T0 = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
CHANNEL = Channel(
    feed_id="harbour",
    title="The Harbour Herald",
    description="News from the harbour & the bay",
    site_url="https://herald.example/",
    base_url="https://feeds.example/",
    updated=T0 + timedelta(hours=2),
    ttl_minutes=30,
    language="en",
    icon="https://herald.example/icon.png",
)
ITEMS = [
    Item(
        id="urn:uuid:2b1c0d6e-9a7b-5f3c-8d2e-1f0a9b8c7d6e",
        feed="harbour",
        url="https://herald.example/news/2024/03/05/cycle-lanes",
        title='Council approves cycle lanes & a <new> "bridge" 🚲',
        published=T0,
        updated=T0 + timedelta(hours=2),
        summary="The council voted on Tuesday: 5 < 7 & so on.",
        content_html='<p>The council voted.</p><p><a href="https://herald.example/x?a=1&amp;b=2">More</a></p>',
        fingerprint=(1, 2, 3),
        first_seen=T0,
        author="Aisha Rahman",
        image="https://herald.example/img/a.jpg",
        categories=("Transport", "Council & Town"),
    ),
    Item(
        id="urn:uuid:7e6d5c4b-3a29-5180-9f8e-7d6c5b4a3928",
        feed="harbour",
        url="https://herald.example/news/2024/03/04/ferry",
        title="Ferry every twenty minutes",
        published=T0 - timedelta(days=1),
        updated=T0 - timedelta(days=1),
        summary="More boats.",
        content_html='<p>More boats from April.</p><img src="https://herald.example/img/f.png" alt="">',
        fingerprint=(4, 5, 6),
        first_seen=T0,
        image="https://herald.example/img/f.png",
    ),
]


@pytest.mark.parametrize("fmt", list(FORMATS.values()), ids=list(FORMATS))
def test_golden_files(fmt: FeedFormat) -> None:
    data = render(CHANNEL, ITEMS, fmt)
    golden = DATA / "golden" / f"harbour{fmt.suffix}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(data)
    assert data == golden.read_bytes()


@pytest.mark.parametrize("fmt", list(FORMATS.values()), ids=list(FORMATS))
def test_every_format_passes_the_strict_check(fmt: FeedFormat) -> None:
    check_feed(render(CHANNEL, ITEMS, fmt), fmt.name)
    check_feed(render(CHANNEL, [], fmt), fmt.name)
    hubbed = replace(CHANNEL, hub="https://hub.example/")
    check_feed(render(hubbed, ITEMS, fmt), fmt.name)


def test_all_formats_carry_the_same_items() -> None:
    rss = check_feed(render(CHANNEL, ITEMS, RSS), "rss")
    atom = check_feed(render(CHANNEL, ITEMS, ATOM), "atom")
    json_feed = check_feed(render(CHANNEL, ITEMS, JSON_FEED), "json")
    readings = []
    for parsed in (rss, atom):
        readings.append(
            [
                (e.id, e.title, e.link, e.published_parsed[:6], e.get("author"))
                for e in parsed.entries
            ]
        )
    readings.append(
        [
            (
                i["id"],
                i["title"],
                i["url"],
                datetime.fromisoformat(i["date_published"]).timetuple()[:6],
                i["authors"][0]["name"] if "authors" in i else None,
            )
            for i in json_feed["items"]
        ]
    )
    assert readings[0] == readings[1] == readings[2]
    assert readings[0][0][1] == ITEMS[0].title  # & < " and the emoji, as plain text
    assert [t.term for t in rss.entries[0].tags] == ["Transport", "Council & Town"]
    assert (
        rss.feed.link == atom.feed.link == json_feed["home_page_url"] == "https://herald.example/"
    )
    assert rss.feed.ttl == "30"


def test_rss_plain_text_is_text_and_the_description_is_html() -> None:
    rss = render(CHANNEL, ITEMS, RSS).decode()
    # "&" and "<" in plain text as hexadecimal references, as the W3C validator asks
    assert '<title>Council approves cycle lanes &#x26; a &#x3C;new&gt; "bridge" 🚲</title>' in rss
    assert "<category>Council &#x26; Town</category>" in rss
    # the description is HTML: the summary is escaped once as HTML, once as XML
    assert (
        "<description>The council voted on Tuesday: 5 &amp;lt; 7 &amp;amp; so on.</description>"
        in rss
    )


def test_main_image_is_shown_in_every_format() -> None:
    first, second = ITEMS
    assert display_html(first).startswith(
        '<p><img src="https://herald.example/img/a.jpg" alt=""></p>'
    )
    assert display_html(second) == second.content_html  # already in the content
    rss = etree.fromstring(render(CHANNEL, ITEMS, RSS))
    media = rss.find(".//{http://search.yahoo.com/mrss/}content")
    assert media is not None and media.attrib == {
        "url": "https://herald.example/img/a.jpg",
        "medium": "image",
        "type": "image/jpeg",
    }
    atom = etree.fromstring(render(CHANNEL, ITEMS, ATOM))
    enclosures = [
        link.attrib
        for link in atom.iter("{http://www.w3.org/2005/Atom}link")
        if link.get("rel") == "enclosure"
    ]
    assert enclosures[1] == {
        "href": "https://herald.example/img/f.png",
        "rel": "enclosure",
        "type": "image/png",
    }
    assert json.loads(render(CHANNEL, ITEMS, JSON_FEED))["items"][0]["image"] == first.image


def test_feed_dates_come_from_the_channel_and_items_only() -> None:
    first = render(CHANNEL, ITEMS, RSS)
    assert render(CHANNEL, ITEMS, RSS) == first
    assert b"<lastBuildDate>Tue, 05 Mar 2024 11:30:00 +0000</lastBuildDate>" in first


def test_unchanged_files_are_not_rewritten(tmp_path: Path) -> None:
    formats = list(FORMATS.values())
    assert publish(CHANNEL, ITEMS, formats, DirectoryOutlet(tmp_path)) == (
        "harbour.xml",
        "harbour.atom",
        "harbour.json",
        "harbour.html",
    )
    stats = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}

    assert publish(CHANNEL, ITEMS, formats, DirectoryOutlet(tmp_path)) == ()
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == stats
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "harbour.atom",
        "harbour.html",
        "harbour.json",
        "harbour.xml",
    ]


def test_a_big_feed_is_compared_to_its_last_byte(tmp_path: Path) -> None:
    """A difference in the last item, or a shorter feed, is a change."""
    many = [
        replace(
            ITEMS[0],
            id=f"urn:uuid:{n}",
            url=f"https://example.org/{n}",
            content_html=f"<p>{n} {'x' * 5000}</p>",
        )
        for n in range(200)
    ]
    assert publish(CHANNEL, many, [RSS], DirectoryOutlet(tmp_path)) == (
        "harbour.xml",
        "harbour.html",
    )
    assert (tmp_path / "harbour.xml").stat().st_size > 3 * 256 * 1024
    assert publish(CHANNEL, many, [RSS], DirectoryOutlet(tmp_path)) == ()

    last_edited = [*many[:-1], replace(many[-1], content_html="<p>Corrected.</p>")]
    # the page shows the full text on demand: it changes with it
    assert publish(CHANNEL, last_edited, [RSS], DirectoryOutlet(tmp_path)) == (
        "harbour.xml",
        "harbour.html",
    )
    assert b"Corrected." in (tmp_path / "harbour.xml").read_bytes()
    shorter = last_edited[:-1]
    assert publish(CHANNEL, shorter, [RSS], DirectoryOutlet(tmp_path)) == (
        "harbour.xml",
        "harbour.html",
    )
    assert publish(CHANNEL, shorter, [RSS], DirectoryOutlet(tmp_path)) == ()
    assert render(CHANNEL, shorter, RSS) == (tmp_path / "harbour.xml").read_bytes()


def test_an_edit_changes_only_its_item_and_the_feed_date() -> None:
    later = T0 + timedelta(days=1)
    edited = [ITEMS[0], replace(ITEMS[1], content_html="<p>Corrected.</p>", updated=later)]
    before = feedparser.parse(render(CHANNEL, ITEMS, ATOM))
    after = feedparser.parse(render(replace(CHANNEL, updated=later), edited, ATOM))
    assert after.feed.updated_parsed[:6] == later.timetuple()[:6]
    assert after.entries[0] == before.entries[0]
    assert after.entries[1].updated_parsed[:6] == later.timetuple()[:6]
    assert after.entries[1].published == before.entries[1].published


def test_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "harbour.xml"
    target.write_bytes(b"old feed")

    def disk_full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(PublishError, match="cannot write .*harbour.xml: No space left on device"):
        write_files(tmp_path, {"harbour.xml": b"new feed"})
    assert target.read_bytes() == b"old feed"
    assert [p.name for p in tmp_path.iterdir()] == ["harbour.xml"]


def test_written_file_is_world_readable(tmp_path: Path) -> None:
    write_files(tmp_path, {"a.xml": b"x"})
    assert (tmp_path / "a.xml").stat().st_mode & 0o777 == 0o644


LISTINGS = [
    Listing(CHANNEL, (RSS, ATOM, JSON_FEED), 2),
    Listing(
        replace(
            CHANNEL, feed_id="jobs", title="Jobs & offers", updated=datetime(1970, 1, 1, tzinfo=UTC)
        ),
        (ATOM,),
        0,
    ),
]


def test_index_lists_every_feed_with_subscribe_links() -> None:
    page = render_index(LISTINGS).decode()
    assert "<title>Feeds</title>" in page
    assert '<a href="harbour.xml" type="application/rss+xml">RSS</a>' in page
    assert '<a href="harbour.json" type="application/feed+json">JSON Feed</a>' in page
    assert (
        '2 items · updated <time datetime="2024-03-05T11:30:00Z">2024-03-05 11:30 UTC</time>'
        in page
    )
    assert "Jobs &amp; offers" in page and "0 items · updated never" in page
    assert '<a href="harbour.atom" type="application/atom+xml">Atom</a>' in page
    assert "ATOM" not in page
    assert "2 feeds." in page and "1 feed." in render_index(LISTINGS[:1]).decode()
    assert "1 item ·" in render_index([replace(LISTINGS[0], items=1)]).decode()
    # every feed's page, every OPML file, and autodiscovery of every feed in every format
    assert '<h2><a href="harbour.html">The Harbour Herald</a></h2>' in page
    for name in ("feeds.opml", "feeds-rss.opml", "feeds-atom.opml", "feeds-json.opml"):
        assert f'<a href="{name}">{name}</a>' in page
    alternates = {
        (link.get("type"), link.get("href"))
        for link in html_tree(page).iter("link")
        if link.get("rel") == "alternate"
    }
    assert alternates == {
        ("application/rss+xml", "harbour.xml"),
        ("application/atom+xml", "harbour.atom"),
        ("application/feed+json", "harbour.json"),
        ("application/atom+xml", "jobs.atom"),
    }
    assert_plain_html5(page)


def html_tree(page: str) -> Any:
    return etree.fromstring(page.encode(), etree.HTMLParser())


def assert_plain_html5(page: str) -> None:
    """A page for people: an HTML5 document whose every element is closed where it
    should be (Python's tokenizer, strict about nesting here), with no script at all."""
    from html.parser import HTMLParser

    void = {"meta", "link", "img", "br", "hr", "input"}
    opened: list[str] = []

    class Checker(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            assert tag != "script" and not any(name.startswith("on") for name, _ in attrs)
            if tag not in void:
                opened.append(tag)

        def handle_endtag(self, tag: str) -> None:
            assert opened and opened.pop() == tag, f"</{tag}> closes {opened[-1:]}"

    assert page.startswith("<!DOCTYPE html>\n<html lang=")
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert opened == []


def test_each_feed_has_a_page_for_people(tmp_path: Path) -> None:
    hostile = replace(
        ITEMS[1],
        title='<script>alert(1)</script> & "quotes"',
        author="Ann <b>Lee</b>",
        summary="5 < 7 & <img src=x onerror=alert(1)>",
        url="https://herald.example/a?b=1&c=<2>",
    )
    publish(CHANNEL, [ITEMS[0], hostile], [RSS, ATOM], DirectoryOutlet(tmp_path))
    page = (tmp_path / "harbour.html").read_text(encoding="utf-8")
    assert_plain_html5(page)
    tree = html_tree(page)
    assert tree.findtext(".//h1") == "The Harbour Herald"
    assert [a.text for a in tree.findall(".//article/h2/a")] == [ITEMS[0].title, hostile.title]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;" in page
    assert "5 &lt; 7 &amp; &lt;img src=x onerror=alert(1)&gt;" in page
    assert 'href="https://herald.example/a?b=1&amp;c=&lt;2&gt;"' in page
    # the main images on top, and the full text's own (behind "Full text")
    assert [img.get("src") for img in tree.iter("img")][:1] == [ITEMS[0].image]
    assert hostile.image in [img.get("src") for img in tree.iter("img")]
    assert (
        '<time datetime="2024-03-05T09:30:00Z">2024-03-05 09:30 UTC</time> · Aisha Rahman' in page
    )
    links = [link for link in tree.iter("link") if link.get("rel") == "alternate"]
    assert {(link.get("type"), link.get("href")) for link in links} == {
        ("application/rss+xml", "harbour.xml"),
        ("application/atom+xml", "harbour.atom"),
    }
    assert '<a href="index.html">All feeds</a>' in page


def test_an_old_config_with_the_stylesheet_setting_says_what_replaced_it(tmp_path: Path) -> None:
    from feeds.config import load_config
    from feeds.errors import ConfigError

    config = tmp_path / "feeds.yaml"
    config.write_text(
        "settings:\n  stylesheet: true\nfeeds:\n  a: {sources: [{url: 'https://a.example/'}]}\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert "settings.stylesheet: removed" in str(raised.value)
    assert "output/<feed>.html" in str(raised.value)


@pytest.mark.parametrize(
    ("fmt", "urls"),
    [
        (None, ["https://feeds.example/harbour.xml", "https://feeds.example/jobs.atom"]),
        (RSS, ["https://feeds.example/harbour.xml"]),
        (ATOM, ["https://feeds.example/harbour.atom", "https://feeds.example/jobs.atom"]),
        (JSON_FEED, ["https://feeds.example/harbour.json"]),
    ],
)
def test_opml_imports_with_each_format_url(fmt: FeedFormat | None, urls: list[str]) -> None:
    data = render_opml(LISTINGS, fmt)
    outlines = etree.fromstring(data).findall(".//outline")
    assert [o.get("xmlUrl") for o in outlines] == urls
    assert all(o.get("htmlUrl") == "https://herald.example/" for o in outlines)
    assert feedparser.parse(data).bozo == 0
