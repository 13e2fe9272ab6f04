"""One poisoned entry never stops a feed: each entry and article has its own failure
boundary, and the inputs that once stopped a feed for good are read or refused alone.

The payloads are those a hostile or broken site sent: a lone surrogate in a JSON-LD
image URL, ``Content-Length: ²`` and ``Retry-After: ²``, a date that overflows when put in
UTC, JSON Feed fields of the wrong type, JSON nested 200,000 deep, a year-2999 date.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import feeds.run.discovery
import feeds.run.feed
from feeds.config import Config, SourceConfig
from feeds.errors import ConfigError
from feeds.extraction.normalise import link_article, normalise
from feeds.extraction.workers import ExtractionPool
from feeds.fetching.client import retry_after
from feeds.models import Link, Page, RunReport
from feeds.run.filters import rejection
from feeds.service.runtime import Runtime
from feeds.service.status import collect_status
from feeds.sources import discover
from feeds.storage import open_store
from tests.conftest import WriteConfig, run_once
from tests.newssite import article_html, listing_html, numbered_articles, serve_news
from tests.sitesim import SiteSim
from tests.test_filters import ITEM
from tests.test_source_kinds import feed_config
from tests.test_sources import doc

NOW = datetime(2024, 3, 10, 12, tzinfo=UTC)
OVERFLOWING = "9999-12-31T23:59:59-23:59"


def news_config(write_config: WriteConfig, source: str) -> Config:
    return feed_config(write_config, f"    sources:\n      - url: {source}\n")


def published_titles(config: Config) -> list[str]:
    document = json.loads((config.settings.output_dir / "news.json").read_text())
    return [item["title"] for item in document["items"]]


def test_poisoned_articles_fail_alone(site: SiteSim, write_config: WriteConfig) -> None:
    articles = numbered_articles(5)
    serve_news(site, articles)
    # a lone surrogate in a JSON-LD image URL (it once broke storage)
    poisoned = article_html(site.origin, articles[0], articles).replace(
        "</head>",
        '<script type="application/ld+json">{"@type": "NewsArticle", '
        '"image": "https://127.0.0.1/x\\ud800.jpg", "author": {"name": "A\\u202eB"}}'
        "</script></head>",
    )
    site.add(articles[0].path, poisoned)
    # headers int() refuses: "²" is a digit to str.isdigit
    site.respond(
        articles[1].path,
        lambda handler: handler.send_body(503, b"busy", "text/plain", {"Retry-After": "²"}),
    )
    body = article_html(site.origin, articles[2], articles).encode()

    def odd_length(handler: Any) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", "²")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)
        handler.close_connection = True

    site.respond(articles[2].path, odd_length)
    config = news_config(write_config, site.url("/news/"))

    report = run_once(config, "news", clock=lambda: NOW)

    titles = published_titles(config)
    for article in (articles[0], articles[2], articles[3], articles[4]):
        assert article.title in titles
    assert articles[1].title not in titles
    assert [error.url for error in report.errors] == [site.url(articles[1].path)]
    document = json.loads((config.settings.output_dir / "news.json").read_text())
    first = next(i for i in document["items"] if i["title"] == articles[0].title)
    assert "\u202e" not in json.dumps(first, ensure_ascii=False)


def test_an_overflowing_date_is_no_date(site: SiteSim, write_config: WriteConfig) -> None:
    articles = numbered_articles(3)
    for article in articles:
        site.add(article.path, article_html(site.origin, article, articles))
    urls = "".join(
        f"<url><loc>{site.url(a.path)}</loc><lastmod>{OVERFLOWING if n == 0 else '2024-03-01'}"
        "</lastmod></url>"
        for n, a in enumerate(articles)
    )
    site.add(
        "/sitemap.xml",
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>',
        content_type="application/xml",
    )
    config = news_config(write_config, site.url("/sitemap.xml"))

    report = run_once(config, "news", clock=lambda: NOW)

    assert report.new == 3
    assert sorted(published_titles(config)) == sorted(a.title for a in articles)


JSON_FEED_SHAPES: list[dict[str, Any]] = [
    {"url": "/a/1", "image": 7},
    {"url": "/a/2", "title": ["a", "list"], "summary": {"a": 1}},
    {"url": "/a/3", "date_published": OVERFLOWING},
    {"url": "/a/4", "date_published": 20240301},
    {"url": "/a/5", "authors": "Ann"},
    {"url": "/a/6", "authors": [{"name": 7}, "Bo"]},
    {"url": "/a/7", "tags": "x,y"},
    {"url": "/a/8", "content_html": 7, "content_text": ["x"]},
    {"url": 8},
    {"url": "/a/10", "id": {"x": 1}, "external_url": None},
    {"url": "/a/11", "banner_image": "javascript:alert(1)"},
    [],
    "just a string",
    None,
]


def json_feed(items: list[Any]) -> Page:
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items})
    return doc(body, "https://herald.example/feed", "application/feed+json")


SOURCE = SourceConfig.model_validate({"url": "https://herald.example/feed"})


def test_json_feed_fields_of_the_wrong_type_are_left_out() -> None:
    good = {"url": "/a/good", "title": "Ferry fares rise"}
    found = discover(json_feed([*JSON_FEED_SHAPES, good]), SOURCE, max_age=None, now=NOW)
    urls = [link.url for link in found.links]
    assert "https://herald.example/a/good" in urls
    assert len(urls) == 11  # every shape with a usable URL
    for link in found.links:  # and every link becomes an item without an error
        normalise(link_article(link), link, feed="news", first_seen=NOW)
    by_url = {link.url: link for link in found.links}
    assert by_url["https://herald.example/a/1"].image_hint is None
    assert by_url["https://herald.example/a/11"].image_hint is None
    assert by_url["https://herald.example/a/3"].published_hint is None


def test_json_nested_too_deep_is_a_source_error_not_a_crash(
    site: SiteSim, write_config: WriteConfig
) -> None:
    deep = '{"version": "https://jsonfeed.org/version/1.1", "items": ' + "[" * 200_000
    site.add("/feed.json", deep + "]" * 200_000 + "}", content_type="application/feed+json")
    config = news_config(write_config, site.url("/feed.json"))

    report = run_once(config, "news", clock=lambda: NOW)

    assert report.failed_entirely
    [error] = report.errors
    assert error.message == "not a readable JSON feed: nested too deeply"


def test_a_date_far_in_the_future_is_taken_as_unknown() -> None:
    link = Link(
        url="https://herald.example/a/1",
        source="https://herald.example/feed",
        title_hint="Pinned on top",
        published_hint=datetime(2999, 1, 1, tzinfo=UTC),
    )
    item = normalise(link_article(link), link, feed="news", first_seen=NOW)
    assert item.published == NOW
    tomorrow = NOW + timedelta(hours=20)  # a clock a little ahead is believed
    link = Link(url=link.url, source=link.source, published_hint=tomorrow)
    assert normalise(link_article(link), link, feed="news", first_seen=NOW).published == tomorrow


def test_an_unexpected_error_in_a_source_fails_that_source_alone(
    site: SiteSim, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    articles = numbered_articles(2)
    serve_news(site, articles)
    site.add("/other/", listing_html(articles))
    config = write_config(
        "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
        f"feeds:\n  news:\n    sources:\n      - url: {site.url('/other/')}\n"
        f"      - url: {site.url('/news/')}\n"
    )
    real = feeds.run.discovery.discover

    def buggy(page: Page, *args: Any, **kwargs: Any) -> Any:
        if page.url.endswith("/other/"):
            raise KeyError("a bug")
        return real(page, *args, **kwargs)

    monkeypatch.setattr(feeds.run.discovery, "discover", buggy)

    report = run_once(config, "news", clock=lambda: NOW)

    assert report.new == 2
    [error] = report.errors
    assert error.url == site.url("/other/")
    assert error.message.startswith("unexpected error (KeyError: 'a bug')")


def only_outcome(config: Config) -> RunReport | Exception:
    """What ``Runtime.run_feeds`` (what ``feeds once`` runs) yields for the config's one feed."""
    with Runtime(config, pool=ExtractionPool(0)) as runtime:
        [(_, outcome)] = runtime.run_feeds(list(config.feeds.values()))
    return outcome


def test_once_records_a_run_that_stopped_with_an_error(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config("feeds:\n  news:\n    sources: [{url: 'https://127.0.0.1:9/'}]\n")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("counting broke")

    monkeypatch.setattr(feeds.run.feed._Tally, "report", broken)
    outcome = only_outcome(config)
    assert isinstance(outcome, RuntimeError)
    with open_store(config.settings.state_dir) as store:
        [status] = collect_status(config, store, NOW)
    assert status.last_run is not None and status.result == "failed"
    assert "RuntimeError: counting broke" in (status.last_error or "")


# Property: garbage in one entry of each source kind, and in response headers.

GARBAGE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=40
) | st.sampled_from([OVERFLOWING, "²", "\ud800", "9" * 40, "-1", "<![CDATA[", "&#0;", "\x00"])
JSON_GARBAGE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | GARBAGE,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["url", "title", "image", "date_published", "authors", "tags", "id"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)
GOOD = [f"https://herald.example/a/{n}" for n in range(3)]


def check_rest_published(page: Page) -> None:
    found = discover(page, SOURCE, max_age=timedelta(days=30), now=NOW)
    urls = {link.url for link in found.links}
    assert set(GOOD) <= urls
    for link in found.links:
        normalise(link_article(link), link, feed="news", first_seen=NOW)


def xml_text(value: str) -> str:
    return (
        "".join(
            c
            for c in value
            if c in "\t\n\r" or (" " <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd")
        )
        .replace("&", "&amp;")
        .replace("<", "&lt;")
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage=JSON_GARBAGE)
def test_garbage_in_one_json_feed_item(garbage: Any) -> None:
    items = [{"url": url, "title": "A story"} for url in GOOD]
    items.insert(1, garbage)
    check_rest_published(json_feed(items))


@settings(max_examples=60, deadline=None)
@given(title=GARBAGE, date=GARBAGE, link=GARBAGE, category=GARBAGE)
def test_garbage_in_one_rss_item(title: str, date: str, link: str, category: str) -> None:
    good = "".join(f"<item><title>A story</title><link>{url}</link></item>" for url in GOOD)
    bad = (
        f"<item><title>{xml_text(title)}</title><link>{xml_text(link)}</link>"
        f"<pubDate>{xml_text(date)}</pubDate><category>{xml_text(category)}</category></item>"
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel>{bad}{good}</channel></rss>'
    check_rest_published(doc(body, "https://herald.example/feed", "application/rss+xml"))


@settings(max_examples=60, deadline=None)
@given(loc=GARBAGE, date=GARBAGE)
def test_garbage_in_one_sitemap_entry(loc: str, date: str) -> None:
    good = "".join(f"<url><loc>{url}</loc><lastmod>2024-03-01</lastmod></url>" for url in GOOD)
    bad = f"<url><loc>{xml_text(loc)}</loc><lastmod>{xml_text(date)}</lastmod></url>"
    body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{bad}{good}</urlset>'
    check_rest_published(doc(body, "https://herald.example/feed", "application/xml"))


@settings(max_examples=60, deadline=None)
@given(href=GARBAGE, date=GARBAGE, title=GARBAGE)
def test_garbage_in_one_listing_entry(href: str, date: str, title: str) -> None:
    source = SourceConfig.model_validate(
        {
            "url": "https://herald.example/news/",
            "item": {"selector": "li", "title": "a", "date": "time"},
        }
    )
    entry = "<li><a href='{}'>{}</a><time>{}</time></li>"
    good = "".join(entry.format(url, "A story", "2024-03-01") for url in GOOD)
    bad = entry.format(xml_text(href).replace("'", ""), xml_text(title), xml_text(date))
    body = f"<html><body><ul>{bad}{good}</ul></body></html>"
    page = doc(body, "https://herald.example/news/", "text/html")
    found = discover(page, source, max_age=None, now=NOW)
    assert set(GOOD) <= {link.url for link in found.links}
    for link in found.links:
        normalise(link_article(link), link, feed="news", first_seen=NOW)


@settings(max_examples=100, deadline=None)
@given(value=GARBAGE)
def test_garbage_in_retry_after(value: str) -> None:
    response = requests.Response()
    response.headers["Retry-After"] = value.encode("utf-8", "replace").decode("latin-1")
    waited = retry_after(response)
    assert waited is None or waited >= 0


# Patterns from the config run in linear time, or are refused when the config loads.


def test_a_backtracking_pattern_cannot_hang_a_run(write_config: WriteConfig) -> None:
    config = write_config(
        "feeds:\n  news:\n    sources: [{url: 'https://herald.example/'}]\n"
        "    include: ['^(\\w+\\s?)+$']\n"
    )
    title = " ".join(["word"] * 40) + "!"
    item = replace(ITEM, title=title, content_html=f"<p>{title}</p>", summary=title)
    # with a backtracking engine this would not end in the lifetime of the machine
    assert rejection(item, config.feeds["news"], max_age=None, now=NOW) == (
        "matched no include rule"
    )


@pytest.mark.parametrize("pattern", ["(?=ferry)f", "(a)\\1", "(?<!x)y"])
@pytest.mark.parametrize("field", ["url_pattern", "url_exclude", "include", "exclude"])
def test_patterns_re2_cannot_run_are_refused_at_load(
    write_config: WriteConfig, pattern: str, field: str
) -> None:
    source = (
        "{url: 'https://herald.example/'"
        + (f", {field}: '{pattern}'" if field.startswith("url_") else "")
        + "}"
    )
    rules = f"    {field}: ['{pattern}']\n" if not field.startswith("url_") else ""
    with pytest.raises(ConfigError) as raised:
        write_config(f"feeds:\n  news:\n    sources: [{source}]\n{rules}")
    assert "not a valid regular expression for RE2" in raised.value.message
    assert f".{field}" in str(raised.value)  # file:line: field: reason


# YAML aliases are bounded: an alias bomb is refused before anything expands it.


def alias_bomb(field: str) -> str:
    """703 bytes or so that expand to 9**9 values, in ``field`` of a feed."""
    anchors = "x0: &a0 ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
        f"x{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * 9) + "]\n" for n in range(1, 9)
    )
    return anchors + (
        f"feeds:\n  news:\n    sources: [{{url: 'https://herald.example/'}}]\n    {field}: *a8\n"
    )


@pytest.mark.parametrize("field", ["include", "title"])
def test_an_alias_bomb_is_refused_by_check_and_once(tmp_path: Any, field: str) -> None:
    from click.testing import CliRunner

    from feeds.cli import main

    config = tmp_path / "feeds.yaml"
    config.write_text(alias_bomb(field))
    assert len(config.read_bytes()) < 800
    for command in ("check", "once"):
        result = CliRunner().invoke(main, ["-c", str(config), command])
        assert result.exit_code == 2
        assert "more than 100,000 values once its aliases are expanded" in result.stderr
        assert f"{config}:" in result.stderr
    assert not (tmp_path / "output").exists()


def test_a_few_aliases_are_fine(write_config: WriteConfig) -> None:
    config = write_config(
        "feeds:\n"
        "  news: &defaults {interval: 2h, max_items: 20, sources: [{url: 'https://h.example/'}]}\n"
        "  sport: {<<: *defaults, sources: [{url: 'https://herald.example/sport/'}]}\n"
    )
    assert config.feeds["sport"].max_items == 20


# A feed's formats are replaced together: a full disk leaves them all as they were.


def test_a_full_disk_replaces_no_format(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from feeds.errors import PublishError
    from feeds.publishing.files import _Replacement
    from feeds.publishing.formats import FORMATS
    from feeds.publishing.outlets import DirectoryOutlet, publish
    from tests.test_publish import CHANNEL, ITEMS

    formats = list(FORMATS.values())
    publish(CHANNEL, ITEMS, formats, DirectoryOutlet(tmp_path))
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    real = _Replacement.write

    def full_disk_for_atom(self: _Replacement, data: bytes) -> int:
        if self.path.suffix == ".atom":
            with self._reporting():
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(_Replacement, "write", full_disk_for_atom)
    edited = [replace(ITEMS[0], title="An edited title"), *ITEMS[1:]]
    with pytest.raises(PublishError, match="No space left on device"):
        publish(CHANNEL, edited, formats, DirectoryOutlet(tmp_path))
    after = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    assert after == before  # no format replaced, no temporary file left


def test_a_publish_failure_is_recorded_for_status(
    site: SiteSim, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from feeds.publishing.files import _Replacement
    from feeds.service.status import collect_status

    articles = numbered_articles(2)
    serve_news(site, articles)
    config = news_config(write_config, site.url("/news/"))

    def full_disk(self: _Replacement, data: bytes) -> int:
        with self._reporting():
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_Replacement, "write", full_disk)
    outcome = only_outcome(config)
    assert "No space left on device" in str(outcome)
    with open_store(config.settings.state_dir) as store:
        [status] = collect_status(config, store, datetime.now(UTC))
    assert status.result == "failed"
    assert "cannot write" in (status.last_error or "")
    assert "No space left on device" in repr(status)


def test_bidi_controls_and_illegal_characters_leave_urls_and_names() -> None:
    link = Link(
        url="https://herald.example/a/\u202egnp.exe",
        source="https://herald.example/feed",
        title_hint="\u2067Fares\u2069 rise",
        author_hint="Ann\u202e Lee",
        image_hint="https://herald.example/img/\ud800\u2066x.jpg",
        categories_hint=("Trans\u202eport",),
    )
    item = normalise(link_article(link), link, feed="news", first_seen=NOW)
    published = json.dumps(
        [item.url, item.title, item.author, item.image, *item.categories, *item.aliases],
        ensure_ascii=False,
    )
    for character in ("\u202e", "\u2066", "\u2067", "\u2069", "\ud800"):
        assert character not in published
    assert item.url == "https://herald.example/a/gnp.exe"
    assert (item.title, item.author, item.image) == (
        "Fares rise",
        "Ann Lee",
        "https://herald.example/img/x.jpg",
    )
