"""Publishing: golden files, stable bytes, atomic writes that leave unchanged files alone.

Set UPDATE_GOLDEN=1 to rewrite the golden files after an intended change, and review the diff.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from feeds.config import Feed, SourceConfig
from feeds.errors import PublishError
from feeds.models import Item
from feeds.publish import ATOM, FORMATS, RSS, FeedFormat, publish, render, write_if_changed
from tests.conftest import DATA

BASE_URL = "https://feeds.example/"
T0 = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
FEED = Feed(
    id="harbour",
    title="The Harbour Herald",
    description="News from the harbour",
    link=None,
    language="en",
    interval=timedelta(minutes=30),
    max_items=10,
    sources=(SourceConfig(url="https://herald.example/news/"),),
    extract=None,
)
ITEMS = [
    Item(
        id="urn:uuid:2b1c0d6e-9a7b-5f3c-8d2e-1f0a9b8c7d6e",
        feed="harbour",
        url="https://herald.example/news/2024/03/05/cycle-lanes",
        title="Council approves cycle lanes & a <new> bridge",
        published=T0,
        updated=T0 + timedelta(hours=2),
        summary="The council voted on Tuesday.",
        content_html='<p>The council voted.</p><img src="https://herald.example/img/a.jpg" alt="">',
        fingerprint=(1, 2, 3),
        first_seen=T0,
        author="Aisha Rahman",
        image="https://herald.example/img/a.jpg",
        categories=("Transport", "Council"),
    ),
    Item(
        id="urn:uuid:7e6d5c4b-3a29-5180-9f8e-7d6c5b4a3928",
        feed="harbour",
        url="https://herald.example/news/2024/03/04/ferry",
        title="Ferry every twenty minutes",
        published=T0 - timedelta(days=1),
        updated=T0 - timedelta(days=1),
        summary="More boats.",
        content_html="<p>More boats from April.</p>",
        fingerprint=(4, 5, 6),
        first_seen=T0,
    ),
]


@pytest.mark.parametrize("fmt", FORMATS, ids=[f.name for f in FORMATS])
def test_golden_files(fmt: FeedFormat) -> None:
    data = render(FEED, ITEMS, fmt, base_url=BASE_URL)
    golden = DATA / "golden" / f"harbour{fmt.suffix}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(data)
    assert data == golden.read_bytes()


def test_both_formats_carry_the_same_items() -> None:
    rss = feedparser.parse(render(FEED, ITEMS, RSS, base_url=BASE_URL))
    atom = feedparser.parse(render(FEED, ITEMS, ATOM, base_url=BASE_URL))
    assert rss.bozo == atom.bozo == 0
    for parsed in (rss, atom):
        assert [e.id for e in parsed.entries] == [i.id for i in ITEMS]
        assert [e.title for e in parsed.entries] == [i.title for i in ITEMS]
        assert [e.link for e in parsed.entries] == [i.url for i in ITEMS]
        assert parsed.entries[0].author == "Aisha Rahman"
        assert "author" not in parsed.entries[1]
        content = parsed.entries[0].content[0].value
        assert content.startswith("<p>The council voted.</p><img")
        assert 'src="https://herald.example/img/a.jpg"' in content
        assert parsed.entries[0].summary == "The council voted on Tuesday."
        assert [t.term for t in parsed.entries[0].tags] == ["Transport", "Council"]
        assert parsed.feed.link == "https://herald.example/"
    assert rss.feed.ttl == "30"
    self_links = {(link.rel, link.href) for link in [*rss.feed.links, *atom.feed.links]}
    assert ("self", "https://feeds.example/harbour.xml") in self_links
    assert ("self", "https://feeds.example/harbour.atom") in self_links


def test_feed_dates_come_from_items_only() -> None:
    first = render(FEED, ITEMS, RSS, base_url=BASE_URL)
    assert render(FEED, ITEMS, RSS, base_url=BASE_URL) == first
    assert b"<lastBuildDate>Tue, 05 Mar 2024 11:30:00 +0000</lastBuildDate>" in first
    empty = render(FEED, [], ATOM, base_url=BASE_URL)
    assert empty == render(FEED, [], ATOM, base_url=BASE_URL)


def test_unchanged_files_are_not_rewritten(tmp_path: Path) -> None:
    assert publish(FEED, ITEMS, output_dir=tmp_path, base_url=BASE_URL) == (
        "harbour.xml",
        "harbour.atom",
    )
    stats = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}

    assert publish(FEED, ITEMS, output_dir=tmp_path, base_url=BASE_URL) == ()
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == stats

    assert publish(FEED, ITEMS[1:], output_dir=tmp_path, base_url=BASE_URL) == (
        "harbour.xml",
        "harbour.atom",
    )


def test_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "harbour.xml"
    target.write_bytes(b"old feed")

    def disk_full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(PublishError, match="cannot write .*harbour.xml: No space left on device"):
        write_if_changed(target, b"new feed")
    assert target.read_bytes() == b"old feed"
    assert [p.name for p in tmp_path.iterdir()] == ["harbour.xml"]


def test_written_file_is_world_readable(tmp_path: Path) -> None:
    write_if_changed(tmp_path / "a.xml", b"x")
    assert (tmp_path / "a.xml").stat().st_mode & 0o777 == 0o644
