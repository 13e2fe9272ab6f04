"""``GET /full?url=FEED_URL``, end to end against a local partial feed, with `feeds run`
as a process: full-text items, ETag/304, a refused domain (403), a missing or wrong token
(401), an internal address not fetched, the cap (429), and the feed kept fresh by the
schedule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import feedparser

from tests.newssite import numbered_articles, rss_xml, serve_news
from tests.sitesim import SiteSim
from tests.test_service import Service, free_port, get, wait_for, write_config

TOKEN = "s3cret-token"


def full(port: int, url: str, token: str | None = TOKEN, **query: str) -> str:
    params = {"url": url, **({"token": token} if token is not None else {}), **query}
    return f"http://127.0.0.1:{port}/full?" + "&".join(f"{k}={quote(v)}" for k, v in params.items())


def test_a_partial_feed_made_full_on_demand(tmp_path: Path) -> None:
    articles = numbered_articles(3, prefix="harbour")
    with SiteSim("127.0.0.10") as site, SiteSim("127.0.0.12") as internal:
        serve_news(site, articles)
        internal.add("/secret", "<html><body><p>internal only</p></body></html>")
        feed = rss_xml(site.origin, articles).replace(
            "</channel>",
            f"<item><title>Internal</title><link>{internal.url('/secret')}</link></item></channel>",
        )
        site.add("/feed.xml", feed, content_type="application/rss+xml")
        port = free_port()
        config = write_config(
            tmp_path,
            port,
            f"  news:\n    sources: [{{url: '{site.url('/news/')}'}}]\n",
            "  interval: 2s\n  jitter: 0s\n"
            f"  on_demand: {{allow: ['127.0.0.10'], token: {TOKEN}, max_feeds: 1}}\n",
        )
        service = Service(config)
        try:
            wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz")[0] == 200, what="healthz")
            status, body, headers = get(full(port, site.url("/feed.xml")))
            assert status == 200, body
            entries = feedparser.parse(body).entries
            assert len(entries) == 3  # the internal link was not fetched: no item of it
            for entry in entries:  # the whole article, not the feed's teaser
                [article] = [a for a in articles if a.title == entry.title]
                last = " ".join(article.paragraphs[-1].split()[-6:])
                assert last in " ".join(entry.content[0].value.split()), entry.title
            assert internal.ordered() == []
            assert get(full(port, site.url("/feed.xml")), If_None_Match=headers["ETag"])[0] == 304
            # listed apart on the index page, and by `feeds status`
            page = get(f"http://127.0.0.1:{port}/index.html")[1].decode()
            listed = page[page.index("<body") :]
            assert listed.index("Made on demand") < listed.index("Full text of")
            status_output = subprocess.run(
                [sys.executable, "-m", "feeds", "--config", str(config), "status"],
                capture_output=True,
                text=True,
            ).stdout
            assert "full-" in status_output, status_output
            assert get(full(port, site.url("/feed.xml"), token=None))[0] == 401
            assert get(full(port, site.url("/feed.xml"), token="wrong"))[0] == 401
            assert get(full(port, "http://127.0.0.11/feed.xml"))[0] == 403
            assert get(full(port, site.url("/feed.xml"), max="2"))[0] == 429  # a second feed
            # kept fresh by the schedule: a new article shows up without being asked for
            more = numbered_articles(4, prefix="harbour")
            serve_news(site, more)
            site.add("/feed.xml", rss_xml(site.origin, more), content_type="application/rss+xml")

            def four() -> bool:
                status, body, _ = get(full(port, site.url("/feed.xml")))
                return status == 200 and len(feedparser.parse(body).entries) == 4

            wait_for(four, timeout=30, what="the new article in the on-demand feed")
        finally:
            assert service.stop() == 0, service.output()
        assert TOKEN not in service.output()
