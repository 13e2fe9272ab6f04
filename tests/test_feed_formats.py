"""Feeds every reader accepts, end to end: a tricky site through the whole pipeline into
RSS, Atom and JSON Feed; index and OPML; WebSub pings."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree

from feeds.cli import main
from feeds.config import Config
from tests.conftest import WriteConfig, run_once
from tests.feedcheck import check_feed
from tests.sitesim import SimHandler, SiteSim

NOW = datetime(2024, 3, 10, 12, tzinfo=UTC)
TRICKY_TITLE = 'Fish & chips: "best" value? 5 < 7 🐟 at the AT&T pier'
TRICKY_PAGE = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{TRICKY_TITLE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")} | Pier News</title>
<meta name="author" content="Jo Bloggs">
</head><body>
<nav><a href="/">Home</a></nav>
<article>
  <h1>{TRICKY_TITLE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")}</h1>
  <p>The pier's fish stall says its chips are the best, a claim that <a href="../reviews/chips">our review</a>
     puts to the test with three visits and a lot of vinegar on a windy afternoon.</p>
  <p onclick="alert('x')">Prices went up by ten percent this spring\x08, the owner said, blaming the cost
     of oil and potatoes, but the queue at lunchtime was as long as ever before.</p>
  <figure><img src="data:image/gif;base64,R0lGOD" data-src="/img/stall.jpg" alt="The stall"><figcaption>The stall</figcaption></figure>
  <iframe src="https://video.example/embed/123"></iframe>
  <p>Read more in <a href="/guides/pier">our guide to the pier</a> and the <a href="#footnote">footnote</a>.</p>
</article>
</body></html>"""


@pytest.fixture
def site() -> Iterator[SiteSim]:
    with SiteSim("127.0.0.1") as sim:
        yield sim


def tricky_config(write_config: WriteConfig, site: SiteSim, extra_settings: str = "") -> Config:
    site.add(
        "/news/",
        '<html><body><main><h2><a href="/2024/03/fish-and-chips-at-the-pier">'
        "Fish and chips at the pier, reviewed at last</a></h2></main></body></html>",
    )
    site.add("/2024/03/fish-and-chips-at-the-pier", TRICKY_PAGE)
    return write_config(
        "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
        f"  base_url: https://feeds.example/\n{extra_settings}"
        f"feeds:\n  pier:\n    title: Pier News & Views\n    sources:\n      - url: {site.url('/news/')}\n"
    )


def test_tricky_content_is_valid_and_the_same_in_every_format(
    site: SiteSim, write_config: WriteConfig
) -> None:
    config = tricky_config(write_config, site)
    run_once(config, "pier", clock=lambda: NOW)
    out = config.settings.output_dir

    rss = check_feed((out / "pier.xml").read_bytes(), "rss")
    atom = check_feed((out / "pier.atom").read_bytes(), "atom")
    json_feed = check_feed((out / "pier.json").read_bytes(), "json")

    def reading(entry: Any) -> tuple[Any, ...]:
        return (entry.id, entry.title, entry.link, entry.published_parsed[:6], entry.get("author"))

    [item] = json_feed["items"]
    from_json = (
        item["id"],
        item["title"],
        item["url"],
        datetime.fromisoformat(item["date_published"]).timetuple()[:6],
        item["authors"][0]["name"],
    )
    assert reading(rss.entries[0]) == reading(atom.entries[0]) == from_json
    assert from_json[1] == TRICKY_TITLE
    assert from_json[3] == NOW.timetuple()[:6]  # no date on the page: first seen
    assert from_json[4] == "Jo Bloggs"  # a name, no email
    html = item["content_html"]
    # "../reviews/chips" on /2024/03/fish-and-chips-at-the-pier, as a browser resolves it
    assert f"{site.origin}/2024/reviews/chips" in html and f"{site.origin}/img/stall.jpg" in html
    for dangerous in ("onclick", "<iframe", "\x08", "data:image"):
        assert dangerous not in html
    assert "Prices went up by ten percent this spring, the owner said" in html


def test_formats_are_chosen_per_feed(site: SiteSim, write_config: WriteConfig) -> None:
    config = tricky_config(write_config, site)
    text = config.file.read_text().replace(
        "    title: Pier News & Views\n", "    title: Pier\n    formats: [atom, json]\n"
    )
    config.file.write_text(text)
    result = CliRunner().invoke(main, ["--config", str(config.file), "once"])
    assert result.exit_code == 0, result.output
    out = config.settings.output_dir
    assert sorted(p.name for p in out.iterdir()) == [
        "feeds-atom.opml",
        "feeds-json.opml",
        "feeds-rss.opml",
        "feeds.opml",
        "index.html",
        "pier.atom",
        "pier.html",  # the feed's page for people, whatever its formats
        "pier.json",
    ]
    [outline] = etree.parse(str(out / "feeds.opml")).findall(".//outline")
    assert outline.get("xmlUrl") == "https://feeds.example/pier.atom"  # its first format
    assert etree.parse(str(out / "feeds-rss.opml")).findall(".//outline") == []


def test_index_and_opml_list_every_feed(site: SiteSim, write_config: WriteConfig) -> None:
    config = tricky_config(write_config, site)
    text = config.file.read_text() + (
        f"  empty:\n    title: Nothing yet\n    sources:\n      - url: {site.url('/empty.xml')}\n"
        f"  down:\n    title: Never read\n    sources:\n      - url: {site.url('/down/')}\n"
    )
    site.add(  # a feed with no entry yet: read, so published, empty
        "/empty.xml",
        '<rss version="2.0"><channel><title>e</title><link>https://e.example/</link>'
        "<description>e</description></channel></rss>",
        content_type="application/rss+xml",
    )
    config.file.write_text(text)
    CliRunner().invoke(main, ["--config", str(config.file), "once"])
    out = config.settings.output_dir

    index = (out / "index.html").read_text()
    assert "Pier News &amp; Views" in index and "Nothing yet" in index
    assert "<h2>Never read</h2>" in index  # listed, but no link to files that are not there
    assert '<a href="pier.json" type="application/feed+json">JSON Feed</a>' in index
    for name, suffix in (
        ("feeds.opml", ".xml"),
        ("feeds-rss.opml", ".xml"),
        ("feeds-atom.opml", ".atom"),
        ("feeds-json.opml", ".json"),
    ):
        outlines = etree.parse(str(out / name)).findall(".//outline")
        assert [o.get("xmlUrl") for o in outlines] == [
            f"https://feeds.example/pier{suffix}",
            f"https://feeds.example/empty{suffix}",
        ]


@pytest.fixture
def hub() -> Iterator[tuple[SiteSim, list[list[str]]]]:
    pings: list[list[str]] = []

    def receive(handler: SimHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(handler.rfile.read(length).decode())
        assert form["hub.mode"] == ["publish"]
        pings.append(sorted(form["hub.url"]))
        handler.send_body(204, b"", "text/plain")

    with SiteSim("127.0.0.2") as sim:
        sim.respond_post("/hub", receive)
        yield sim, pings


def test_websub_ping_once_per_changed_feed(
    site: SiteSim, write_config: WriteConfig, hub: tuple[SiteSim, list[list[str]]]
) -> None:
    hub_site, pings = hub
    config = tricky_config(write_config, site, f"  websub_hub: {hub_site.url('/hub')}\n")

    run_once(config, "pier", clock=lambda: NOW)
    assert pings == [
        [
            "https://feeds.example/pier.atom",
            "https://feeds.example/pier.json",
            "https://feeds.example/pier.xml",
        ]
    ]
    for fmt, suffix in (("rss", "xml"), ("atom", "atom"), ("json", "json")):
        document = (config.settings.output_dir / f"pier.{suffix}").read_bytes()
        check_feed(document, fmt)
        assert hub_site.url("/hub").encode() in document

    run_once(config, "pier", clock=lambda: NOW)  # nothing changed: no ping
    assert len(pings) == 1


def test_failed_ping_is_logged_not_fatal(
    site: SiteSim, write_config: WriteConfig, caplog: pytest.LogCaptureFixture
) -> None:
    config = tricky_config(write_config, site, "  websub_hub: http://127.0.0.1:9/hub\n")
    report = run_once(config, "pier", clock=lambda: NOW)
    assert report.new == 1 and not report.failed_entirely
    assert "WebSub hub unreachable" in caplog.text
    assert json.loads((config.settings.output_dir / "pier.json").read_text())["hubs"]
