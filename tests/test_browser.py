"""The pages for people, in a real browser: headless Chromium (Debian's package) driven by
Playwright, against ``feeds serve``'s server on 127.0.0.1.

Skipped with a reason where Chromium or Playwright is absent, unless
``FEEDS_REQUIRE_BROWSER=1`` (``.ci/run`` sets it, and installs Chromium), where that fails.
A screenshot of each page is saved in ``$FEEDS_ARTIFACTS`` (default: the test's temporary
directory) for a person to look at.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from feeds.service.server import DirectorySource, FeedServer
from tests.conftest import WriteConfig, run_once
from tests.sitesim import SiteSim

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = os.environ.get("FEEDS_REQUIRE_BROWSER") == "1"
# what this machine's closed network needs (DESIGN.md: Chromium tries the internet at start)
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests run as root; production runs Chromium as a user, sandboxed
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    if CHROMIUM is None:
        return "Chromium is not installed (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[test]')"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None and not REQUIRED, reason=str(_missing()))


def png(width: int, height: int) -> bytes:
    """A plain grey PNG of that size."""
    row = b"\x00" + b"\x88\x88\x88" * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


STORIES = [
    ("ferry-fares", "Ferry fares rise by a fifth", "Aisha Rahman"),
    ("library-hours", "Library opens on Sundays <again> & later", "Jonas Berg"),
]


def article_page(slug: str, title: str, author: str) -> str:
    data = {
        "@type": "NewsArticle",
        "headline": title,
        "author": {"@type": "Person", "name": author},
        "datePublished": "2024-03-05T09:30:00Z",
        "image": f"/img/{slug}.png",
    }
    paragraphs = "".join(
        f"<p>Paragraph {n} of the story about {slug}: the council met on Tuesday and residents "
        "asked about the timetable, the prices and what comes next for the harbour.</p>"
        for n in range(6)
    )
    return (
        f"<html lang='en'><head><title>{title}</title>"
        f"<script type='application/ld+json'>{json.dumps(data)}</script></head>"
        f"<body><article><h1>{title}</h1>{paragraphs}</article></body></html>"
    )


@pytest.fixture
def served(tmp_path: Path, write_config: WriteConfig) -> Iterator[tuple[FeedServer, SiteSim]]:
    with SiteSim("127.0.0.2") as site:
        for slug, title, author in STORIES:
            site.add(f"/news/{slug}", article_page(slug, title, author))
            site.add(f"/img/{slug}.png", png(320, 180), content_type="image/png")
        links = "".join(f"<li><a href='/news/{slug}'>{t}</a></li>" for slug, t, _ in STORIES)
        site.add("/news/", f"<html><body><ul>{links}</ul></body></html>")
        server = FeedServer(
            DirectorySource(tmp_path / "output"),
            host="127.0.0.1",
            port=0,
            health=lambda: (True, {}),
        )
        host, port = server.address
        config = write_config(
            "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
            f"  base_url: http://{host}:{port}/\n"
            "feeds:\n  harbour:\n    title: The Harbour Herald\n"
            f"    sources: [{{url: '{site.url('/news/')}', links: 'li a'}}]\n"
        )
        report = run_once(config, "harbour")
        assert report.new == 2, report
        from feeds.run.publish import publish_index
        from feeds.storage import open_store

        with open_store(config.settings.state_dir) as store:
            publish_index(config, store)
        server.start()
        try:
            yield server, site
        finally:
            server.stop()


def open_page(browser: Any, url: str, artefacts: Path, name: str) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.goto(url, wait_until="load")
    page.screenshot(path=str(artefacts / f"{name}.png"), full_page=True)
    return page, problems


def test_index_and_feed_page_in_chromium(
    served: tuple[FeedServer, SiteSim], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    server, site = served
    host, port = server.address
    artefacts = Path(os.environ.get("FEEDS_ARTIFACTS") or tmp_path)
    artefacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            index, problems = open_page(browser, f"http://{host}:{port}/", artefacts, "index")
            assert index.title() == "Feeds"
            assert index.inner_text("h2") == "The Harbour Herald"
            assert "1 feed." in index.inner_text("body")
            subscribe = index.locator("a[type]").all_inner_texts()
            assert subscribe == ["RSS", "Atom", "JSON Feed"]
            index.click("h2 a")  # to the feed's page
            index.wait_for_load_state("load")
            assert index.url == f"http://{host}:{port}/harbour.html"
            index.screenshot(path=str(artefacts / "harbour.png"), full_page=True)
            titles = index.locator("article h2 a").all_inner_texts()
            assert sorted(titles) == sorted(title for _, title, _ in STORIES)
            assert "Jonas Berg" in index.inner_text("body")
            images = index.locator("article img")
            assert images.count() == 2
            for number in range(2):
                source = images.nth(number).get_attribute("src") or ""
                assert source.startswith(site.url("/img/"))  # absolute
                width = images.nth(number).evaluate("image => image.naturalWidth")
                assert width == 320  # it loaded
            alternates = index.locator("link[rel=alternate]").evaluate_all(
                "links => links.map(link => link.getAttribute('type'))"
            )
            assert alternates == ["application/rss+xml", "application/atom+xml",
                                  "application/feed+json"]  # fmt: skip
            assert problems == []
        finally:
            browser.close()
    assert (artefacts / "index.png").stat().st_size > 0
    assert (artefacts / "harbour.png").stat().st_size > 0


def test_the_feed_page_on_a_phone_full_text_on_demand_no_sideways_scroll_no_gap(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    from playwright.sync_api import sync_playwright

    from feeds.models import Item
    from feeds.publishing.formats import FORMATS
    from feeds.publishing.pages import render_feed_page
    from tests.test_publish import CHANNEL

    when = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    item = Item(
        id="urn:uuid:1", feed="harbour", url="https://herald.example/a", title="A long word",
        published=when, updated=when, summary="Supercalifragilistic" * 12,
        content_html="<p>The whole story, " + "Pneumonoultramicroscopic" * 10 + ".</p>"
        '<p><img src="http://127.0.0.1:9/missing.png" width="640" height="480" alt=""></p>'
        "<p>After the image.</p>",
        fingerprint=(), first_seen=when, image="http://127.0.0.1:9/lead.png",
    )  # fmt: skip
    page_file = tmp_path / "harbour.html"
    page_file.write_bytes(render_feed_page(CHANNEL, [item], list(FORMATS.values())))
    artefacts = Path(os.environ.get("FEEDS_ARTIFACTS") or tmp_path)
    artefacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 375, "height": 700})
            page.goto(page_file.as_uri(), wait_until="load")
            assert not page.locator("article .content").is_visible()  # closed at first
            page.click("summary")
            assert "The whole story" in page.inner_text("article .content")
            page.screenshot(path=str(artefacts / "feed-page-phone.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375  # long words wrap: nothing scrolls sideways
            heights = page.locator("article img").evaluate_all(
                "images => images.map(image => image.getBoundingClientRect().height)"
            )
            assert heights == [0, 0]  # images that fail to load leave no gap
        finally:
            browser.close()


def test_the_status_page_in_chromium(tmp_path: Path, write_config: WriteConfig) -> None:
    """``/status``, linked from the index a service serves: no console error, the failing
    feed's whole error on screen (on a phone too), its page and files linked."""
    from playwright.sync_api import sync_playwright

    from feeds.run.feed import utc_now
    from feeds.run.publish import publish_index
    from feeds.service.scheduler import status_entries
    from feeds.service.status_page import render_status_page
    from feeds.storage import open_store

    missing = "/news/kandahar-herat-road-reopens-after-a-long-closure-in-the-south-of-the-country/"
    with SiteSim("127.0.0.2") as site:
        for slug, title, author in STORIES:
            site.add(f"/news/{slug}", article_page(slug, title, author))
        links = "".join(f"<li><a href='/news/{slug}'>{t}</a></li>" for slug, t, _ in STORIES)
        site.add("/news/", f"<html><body><ul>{links}</ul></body></html>")
        config = write_config(
            "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
            "  retries: 0\nfeeds:\n"
            f"  harbour: {{sources: [{{url: '{site.url('/news/')}', links: 'li a'}}]}}\n"
            f"  gone: {{sources: [{{url: '{site.url(missing)}'}}]}}\n"
        )
        assert run_once(config, "harbour").new == 2
        assert run_once(config, "gone").failed_entirely
    with open_store(config.settings.state_dir) as store:
        publish_index(config, store, status_link=True)
    server = FeedServer(
        DirectorySource(tmp_path / "output"),
        host="127.0.0.1",
        port=0,
        health=lambda: (True, {}),
        status_page=lambda: render_status_page(status_entries(config), utc_now()),
    )
    host, port = server.address
    artefacts = Path(os.environ.get("FEEDS_ARTIFACTS") or tmp_path)
    artefacts.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page, problems = open_page(browser, f"http://{host}:{port}/", artefacts, "index")
                page.click("text=status")
                page.wait_for_load_state("load")
                assert page.url == f"http://{host}:{port}/status"
                page.screenshot(path=str(artefacts / "status.png"), full_page=True)
                assert "1 of 2 feeds failed their last run." in page.inner_text("body")
                error = page.locator("#gone .error")
                assert error.is_visible()
                assert error.inner_text() == f"{site.url(missing)}: HTTP 404 Not Found"
                assert page.locator("tr.failing").inner_text().startswith("gone")
                assert page.locator("a[href='harbour.html']").count() == 1
                assert page.locator("#gone a").count() == 0  # never published: no links
                phone, more = open_page(
                    browser, f"http://{host}:{port}/status", artefacts, "status-placeholder"
                )
                phone.set_viewport_size({"width": 375, "height": 700})
                phone.screenshot(path=str(artefacts / "status-phone.png"), full_page=True)
                box = phone.locator("#gone .error").bounding_box()
                assert box is not None and box["x"] + box["width"] <= 375
                assert problems == more == []
            finally:
                browser.close()
    finally:
        server.stop()
    (artefacts / "status-placeholder.png").unlink()
    assert (artefacts / "status.png").stat().st_size > 0
