"""What every source is held to whatever its config says, and what the config keeps
private: a source URL's credentials and query and its credential headers never reach a
published file, ``/healthz`` or a log line; the bounds every source gets by default
(new articles per run, sitemap children and URLs, categories per entry); feed ids that
would overwrite the files the service writes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.cli import main
from feeds.fetching.client import RequestOptions
from feeds.privacy import Redactor
from feeds.service.scheduler import feeds_health, status_entries
from tests.conftest import WriteConfig
from tests.newssite import article_html, listing_html, numbered_articles
from tests.sitesim import SiteSim

NOW = datetime(2026, 12, 1, tzinfo=UTC)
SECRETS = ("pw-SECRET-0", "KEY-SECRET-1", "KEY-SECRET-2", "TOKEN-SECRET-3", "COOKIE-SECRET-4")


def test_the_redactor_takes_out_credentials_and_queries() -> None:
    redact = Redactor.of(
        ["https://me:hunter22@api.example/feed.json?api_key=K123&x=1"], ["Bearer T-456"]
    )
    text = (
        "https://me:hunter22@api.example/feed.json?api_key=K123&x=1: 500; "
        "retry of /feed.json?api_key=K123&x=1 (password hunter22, Bearer T-456)"
    )
    assert redact(text) == (
        "https://api.example/feed.json?...: 500; retry of /feed.json?... (password ***, ***)"
    )
    assert Redactor.of(["https://api.example/feed.json"])("https://api.example/feed.json") == (
        "https://api.example/feed.json"
    )


def test_no_secret_of_the_config_reaches_public_output_or_the_logs(
    site: SiteSim, write_config: WriteConfig, tmp_path: Path
) -> None:
    articles = numbered_articles(2)
    site.add("/news/", listing_html(articles))
    for article in articles:
        site.add(article.path, article_html(site.origin, article, articles))
    netloc = site.origin.replace("http://", "")
    config = write_config(
        "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
        "  retries: 0\n"
        "feeds:\n  news:\n    sources:\n"
        f"      - url: 'http://reader-x9:pw-SECRET-0@{netloc}/news/?api_key=KEY-SECRET-1'\n"
        "        headers: {Authorization: 'Bearer TOKEN-SECRET-3', Accept: text/html}\n"
        "        cookies: {session: COOKIE-SECRET-4}\n"
        f"      - url: 'http://{netloc}/missing/feed.json?api_key=KEY-SECRET-2'\n"
        "        kind: feed\n"
    )
    result = CliRunner().invoke(
        main, ["--config", str(config.file), "--log-level", "debug", "once"]
    )
    assert "2 new" in result.output, result.output
    assert "404" in result.output  # the failure is said, without its key
    hits = [hit for hit in site.hits if hit.path.startswith("/news/")]
    assert hits and hits[0].headers.get("Cookie") == "session=COOKIE-SECRET-4"  # sent
    shown = {"the command's output and logs": result.output}
    for path in sorted(config.settings.output_dir.iterdir()):
        shown[path.name] = path.read_text(encoding="utf-8")
    _, health = feeds_health(status_entries(config))
    shown["/healthz"] = str(health)
    assert "/missing/feed.json?..." in shown["/healthz"]
    assert "index.html" in shown and "feeds.opml" in shown and "news.html" in shown
    for where, text in shown.items():
        for secret in (*SECRETS, "reader-x9"):
            assert secret not in text, f"{secret} in {where}"


def test_a_sitemap_index_of_twenty_thousand_urls_makes_a_bounded_run(
    site: SiteSim, write_config: WriteConfig
) -> None:
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    children = "".join(
        f"<sitemap><loc>{site.url(f'/sitemap-{n}.xml')}</loc></sitemap>" for n in range(4)
    )
    site.add("/sitemap.xml", f"<sitemapindex {ns}>{children}</sitemapindex>",
             content_type="application/xml")  # fmt: skip
    for n in range(4):
        urls = "".join(
            f"<url><loc>{site.url(f'/a/{n}-{i}')}</loc><lastmod>2026-11-{1 + i % 28:02d}</lastmod></url>"
            for i in range(5000)
        )
        site.add(
            f"/sitemap-{n}.xml", f"<urlset {ns}>{urls}</urlset>", content_type="application/xml"
        )
    config = write_config(
        "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
        "  retries: 0\n"
        f"feeds:\n  big:\n    max_items: 10\n    sources:\n      - url: '{site.url('/sitemap.xml')}'\n"
    )
    result = CliRunner().invoke(main, ["--config", str(config.file), "once"])
    articles = [hit for hit in site.hits if hit.path.startswith("/a/")]
    print(f"sitemap index of 4 x 5,000 URLs: {len(site.hits)} requests, {len(articles)} articles")
    assert len(articles) == 100  # settings.max_new_per_run by default, not 20,000
    assert len(site.hits) <= 100 + 5 + 1  # the articles, 5 sitemaps, robots.txt
    assert "19900 new links left for the next runs (max_new_per_run)" in result.output


def test_categories_are_capped_before_they_reach_feedgen(tmp_path: Path) -> None:
    import time
    from dataclasses import replace

    from feeds.models import MAX_CATEGORIES
    from feeds.publishing.formats import FORMATS, render
    from tests.test_publish import CHANNEL, ITEMS

    tags = tuple(f"tag {n}" for n in range(10_000))
    stored = replace(ITEMS[0], categories=tags)  # as stored before the cap
    started = time.perf_counter()
    documents = {name: render(CHANNEL, [stored], fmt).decode() for name, fmt in FORMATS.items()}
    seconds = time.perf_counter() - started
    print(f"one entry with 10,000 tags, published in every format: {seconds:.3f}s")
    assert documents["rss"].count("<category>") == MAX_CATEGORIES
    assert documents["atom"].count("<category ") == MAX_CATEGORIES
    assert documents["json"].count('"tag ') == MAX_CATEGORIES


def test_a_link_with_ten_thousand_categories_makes_an_item_with_twenty() -> None:
    from datetime import UTC, datetime

    from feeds.extraction.normalise import link_article, normalise
    from feeds.models import MAX_CATEGORIES, Link

    link = Link(
        "https://news.example/a", "https://news.example/", title_hint="A",
        summary_hint="Words " * 30, categories_hint=tuple(f"t{n}" for n in range(10_000)),
    )  # fmt: skip
    item = normalise(
        link_article(link), link, feed="f", first_seen=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert len(item.categories) == MAX_CATEGORIES


def test_a_feed_id_that_would_overwrite_the_service_s_files_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    for feed_id in ("index", "feeds", "feeds-rss", "status", "Index"):
        config.write_text(
            "feeds:\n  news:\n    sources: [{url: 'https://a.example/'}]\n"
            f"  {feed_id}:\n    sources: [{{url: 'https://b.example/'}}]\n"
        )
        checked = CliRunner().invoke(main, ["--config", str(config), "check"])
        assert checked.exit_code == 2, checked.output
        assert (
            f"feeds.yaml:4: feeds.{feed_id}: feed id '{feed_id}' is taken by the service's own files"
            in checked.output
        )


def test_the_cluster_libraries_are_an_extra_named_when_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    base = " ".join(project["project"]["dependencies"])
    assert not any(name in base for name in ("psycopg", "celery", "redis"))
    assert any("celery" in d for d in project["project"]["optional-dependencies"]["cluster"])

    import feeds.extras

    real = feeds.extras.find_spec
    monkeypatch.setattr(
        feeds.extras, "find_spec", lambda name: None if name == "celery" else real(name)
    )
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "settings:\n  state_dir: state\n  database: postgresql://127.0.0.1:9/none\n"
        "  cluster: {broker: 'redis://127.0.0.1:9/0'}\n"
        "feeds:\n  news:\n    sources: [{url: 'https://a.example/'}]\n"
    )
    checked = CliRunner().invoke(main, ["--config", str(config), "check"])
    assert (
        "needs feeds's cluster extra, which is not installed: pip install 'feeds[cluster]'"
        in checked.output
    )
    ran = CliRunner().invoke(main, ["--config", str(config), "once"])
    assert ran.exit_code != 0
    assert "pip install 'feeds[cluster]'" in ran.output
    assert "Traceback" not in ran.output


def test_a_source_gives_at_most_max_links_a_run_and_its_further_pages_wait(
    site: SiteSim, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import feeds.run.discovery
    from feeds.run.discovery import read_source
    from feeds.service.setup import fetcher_for
    from feeds.storage.interface import Validators

    monkeypatch.setattr(feeds.run.discovery, "MAX_LINKS", 7)
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    children = "".join(f"<sitemap><loc>{site.url(f'/s-{n}.xml')}</loc></sitemap>" for n in range(3))
    site.add("/sitemap.xml", f"<sitemapindex {ns}>{children}</sitemapindex>",
             content_type="application/xml")  # fmt: skip
    for n in range(3):
        urls = "".join(f"<url><loc>{site.url(f'/a/{n}-{i}')}</loc></url>" for i in range(5))
        site.add(f"/s-{n}.xml", f"<urlset {ns}>{urls}</urlset>", content_type="application/xml")
    config = write_config(
        f"feeds:\n  big:\n    sources:\n      - url: '{site.url('/sitemap.xml')}'\n"
    )
    with fetcher_for(config) as fetcher:
        found = read_source(
            config.feeds["big"].sources[0], RequestOptions(obey_robots=False),
            fetcher=fetcher, saved=lambda url: Validators(), max_age=None, now=NOW,
        )  # fmt: skip
    assert found is not None
    assert len(found.links) == 7  # 5 of the first file, 2 of the second
    assert "/s-2.xml" not in site.paths()  # the third file waits for the next run
    assert not found.complete  # so the pages read are read again, not taken as seen
