"""The registries: an output format, a source kind or a filter field is one entry, and
the config, the run, the server and the pages take their lists from them."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from feeds.config import load_config
from feeds.errors import ConfigError
from feeds.extraction.workers import ExtractionPool
from feeds.fields import FIELDS
from feeds.models import Item, Link
from feeds.publishing.channel import Channel, FeedFormat
from feeds.publishing.formats import FORMATS, register
from feeds.service.runtime import Runtime
from feeds.service.server import DirectorySource, FeedServer
from feeds.sources.found import Found
from feeds.sources.kinds import KINDS, SourceKind
from feeds.sources.kinds import register as register_kind
from tests.conftest import WriteConfig
from tests.newssite import numbered_articles, serve_news
from tests.sitesim import SiteSim


def titles(channel: Channel, items: list[Item]) -> bytes:
    return "".join(f"{item.title}\n" for item in items).encode()


@pytest.fixture
def titles_format() -> Iterator[FeedFormat]:
    """A format of plain titles, one per line, registered for one test."""
    fmt = register(FeedFormat("titles", ".txt", "text/plain", "Titles", titles))
    yield fmt
    del FORMATS[fmt.name]


def test_a_registered_format_is_accepted_written_served_and_listed(
    site: SiteSim, write_config: WriteConfig, titles_format: FeedFormat
) -> None:
    articles = numbered_articles(2)
    serve_news(site, articles)
    config = write_config(
        f"feeds:\n  news:\n    formats: [rss, titles]\n    sources: [{{url: '{site.url('/news/')}'}}]\n"
    )
    with Runtime(config, pool=ExtractionPool(0)) as runtime:
        report = runtime.run_and_record(config.feeds["news"])
        runtime.publish_index()
    output = config.settings.output_dir
    assert "news.txt" in report.files_written
    assert (output / "news.txt").read_text().splitlines() == [a.title for a in articles]
    index = (output / "index.html").read_text()
    assert '<a href="news.txt" type="text/plain">Titles</a>' in index
    assert 'rel="alternate" type="text/plain"' in index  # discovered too
    assert "news.txt" in (output / "feeds-titles.opml").read_text()
    server = FeedServer(
        DirectorySource(output), host="127.0.0.1", port=0, health=lambda: (True, {})
    )
    server.start()
    try:
        connection = http.client.HTTPConnection(*server.address, timeout=5)
        connection.request("GET", "/news.txt")
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type") == "text/plain; charset=utf-8"
        assert response.read().decode().splitlines() == [a.title for a in articles]
    finally:
        server.stop()


def test_an_unknown_format_names_the_registered_ones(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n  news:\n    formats: [rss, txt]\n    sources: [{url: 'https://e.com/'}]\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    names = ", ".join(repr(name) for name in list(FORMATS)[:-1])
    assert raised.value.field == "feeds.news.formats[1]"
    assert f"must be {names} or {list(FORMATS)[-1]!r} (got 'txt')" in raised.value.message


def read_url_list(page: object, source: object, oldest: object) -> Found:
    body = getattr(page, "body", b"").decode()
    return Found(
        [Link(url=line.strip(), source="s") for line in body.splitlines()[1:] if line.strip()]
    )


@pytest.fixture
def url_list_kind() -> Iterator[SourceKind]:
    """A source kind of plain-text URL lists (a first line ``#urls``), for one test."""
    kind = register_kind(
        SourceKind(
            "urls",
            recognises=lambda page, root: page.body.startswith(b"#urls"),
            read=read_url_list,
            pages=1,
            empty_fails=True,
        )
    )
    yield kind
    del KINDS[kind.name]


def test_a_registered_source_kind_is_accepted_detected_and_read(
    site: SiteSim, write_config: WriteConfig, url_list_kind: SourceKind
) -> None:
    assert list(KINDS)[-1] == "listing"  # still tried last
    articles = numbered_articles(2)
    serve_news(site, articles)
    listed = "#urls\n" + "".join(f"{site.url(a.path)}\n" for a in articles)
    site.add("/urls.txt", listed, content_type="text/plain")
    for kind in ("urls", "auto"):
        config = write_config(
            f"feeds:\n  news:\n    sources: [{{url: '{site.url('/urls.txt')}', kind: {kind}}}]\n"
        )
        with Runtime(config, pool=ExtractionPool(0)) as runtime:
            report = runtime.run_and_record(config.feeds["news"])
        assert report.new + report.unchanged == 2, report


def test_filter_rules_name_the_registered_fields(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n  news:\n    sources: [{url: 'https://e.com/'}]\n"
        "    exclude: [{pattern: x, fields: [title, body]}]\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert raised.value.field == "feeds.news.exclude[0].fields[1]"
    assert all(repr(name) in raised.value.message for name in FIELDS)
