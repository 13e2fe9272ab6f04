"""A newcomer's loop, as typed: no ``--config`` (the config is found), ``init``, ``add`` that
shows its candidates and refuses a duplicate, ``preview`` on a starter config."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from feeds.cli import main
from feeds.cli.add import feed_id_for, site_name, web_address
from feeds.config import Config, load_config
from feeds.config.locate import locate_config, starter_paths
from feeds.extraction.normalise import item_id
from feeds.html import parse_document
from feeds.models import Item
from feeds.service.reload import ConfigWatch
from feeds.storage import open_store
from tests.newssite import numbered_articles, rss_xml, serve_news
from tests.sitesim import SiteSim
from tests.test_service import Service, free_port, get, wait_for, write_config

FEEDS = Path(sys.executable).with_name("feeds")
TINY_BLOG = """<!doctype html><html><head><title>Tiny Blog - page 1</title></head><body>
<nav><a href="/">Home</a><a href="/about">About</a></nav>
<ul id="latest"><li><a href="/posts/2026/11/the-first-post-of-this-blog">The first post of
this small blog</a></li></ul><footer><a href="/contact">Contact</a></footer></body></html>"""
APP_SHELL = """<!doctype html><html><head><title>Script News</title></head><body>
<div id="root"></div><script src="/app.js"></script></body></html>"""


@pytest.fixture
def site() -> Iterator[SiteSim]:
    with SiteSim("127.0.0.1") as sim:
        yield sim


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of one's own, no FEEDS_CONFIG, an empty user config directory."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("FEEDS_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path))
    return work


def feeds(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``feeds ARGS`` as typed in a shell (a process of its own, in the current directory)."""
    done = subprocess.run(
        [str(FEEDS), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_the_config_is_found_without_config(home: Path, site: SiteSim) -> None:
    """``init`` writes ./feeds.yaml; every later command finds it; without any config,
    the message names the places looked at and ``feeds init``."""
    serve_news(site, numbered_articles(3))
    status, _, err = feeds("check")
    assert status == 2
    assert "no config file found (looked at feeds.yaml, config/feeds.yaml," in err
    assert "write one with `feeds init`" in err

    status, out, _ = feeds("init")
    assert status == 0 and out == "Wrote feeds.yaml. Next: feeds add URL --write\n"
    assert "output_dir: output " in (home / "feeds.yaml").read_text()
    status, out, err = feeds("add", site.url("/news/"), "--write")
    assert status == 0, err
    assert "Added feed" in out
    assert feeds("check")[0] == 0
    status, _, err = feeds("once")
    assert status == 0, err
    assert [path.name for path in (home / "output").glob("*.xml")] == ["the-harbour-herald.xml"]
    assert 'href="status"' not in (home / "output" / "index.html").read_text()  # not served

    status, _, err = feeds("--config", "elsewhere.yaml", "check")
    assert status == 2
    assert "elsewhere.yaml: no such config file; write one with" in err


def test_the_places_a_config_is_looked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert locate_config(None, environ, tmp_path).path == Path("feeds.yaml")  # where init writes
    user = tmp_path / "xdg" / "feeds" / "feeds.yaml"
    user.parent.mkdir(parents=True)
    user.write_text("feeds: {}\n")
    assert locate_config(None, environ, tmp_path).path == user
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "feeds.yaml").write_text("feeds: {}\n")
    assert locate_config(None, environ, tmp_path).path == Path("config/feeds.yaml")
    (tmp_path / "feeds.yaml").write_text("feeds: {}\n")
    assert locate_config(None, environ, tmp_path).path == Path("feeds.yaml")
    named = {**environ, "FEEDS_CONFIG": "named.yaml"}
    assert locate_config(None, named, tmp_path).path == Path("named.yaml")
    assert locate_config(Path("given.yaml"), named, tmp_path).path == Path("given.yaml")
    # a starter config keeps its files beside it, above config/, or in the XDG places
    assert starter_paths(Path("feeds.yaml"), environ, tmp_path)["output_dir"] == "output"
    assert starter_paths(Path("config/feeds.yaml"), environ, tmp_path)["state_dir"] == "../state"
    assert starter_paths(user, environ, tmp_path) == {
        "output_dir": str(tmp_path / ".local/share/feeds/output"),
        "state_dir": str(tmp_path / ".local/state/feeds"),
    }


def test_init_writes_where_feeds_config_says(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``$FEEDS_CONFIG`` names the file ``init`` writes, and every later command uses."""
    monkeypatch.setenv("FEEDS_CONFIG", str(home / "mine.yaml"))
    status, out, _ = cli("init")
    assert status == 0 and out == f"Wrote {home / 'mine.yaml'}. Next: feeds add URL --write\n"
    assert (home / "mine.yaml").is_file() and not (home / "feeds.yaml").exists()


def test_preview_a_source_with_the_config_init_wrote(home: Path, site: SiteSim) -> None:
    serve_news(site, numbered_articles(2))
    assert cli("init")[0] == 0
    status, out, err = cli("preview", "--source", site.url("/news/"))
    assert status == 0, err
    assert "a listing, 2 article links" in out


def test_add_shows_one_link_under_its_container(home: Path, site: SiteSim) -> None:
    site.add("/", TINY_BLOG)
    status, out, err = cli("add", site.url("/"))
    assert status == 0, err
    assert f'On {site.url("/")} ("Tiny Blog"):' in out
    assert '  1. listing  1 link under `ul#latest a`: "The first post of this small blog"' in out
    assert "  tiny-blog:\n    title: Tiny Blog\n" in out
    assert "        links: ul#latest a\n" in out


def test_add_says_a_scripted_page_needs_the_browser(
    home: Path, site: SiteSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDS_CHROMIUM", str(home / "no-chromium"))
    site.add("/", APP_SHELL)
    status, out, err = cli("add", site.url("/"))
    assert status == 1
    assert "the page seems to write its content with scripts (1 script and 0 characters" in out
    assert "pip install 'feeds[browser]'" in out and f"`feeds add {site.url('/')} --render`" in out
    assert "sandbox" not in err


def test_add_refuses_a_url_followed_already(home: Path, site: SiteSim) -> None:
    serve_news(site, numbered_articles(3))
    assert cli("add", site.url("/news/"), "--write")[0] == 0
    before = (home / "feeds.yaml").read_text()
    for typed in (
        site.url("/news/"),
        site.url("/news"),
        site.url("/news/").removeprefix("http://"),
    ):
        status, _, err = cli("add", typed, "--write")
        assert status == 2, typed
        assert f"feed the-harbour-herald follows {site.url('/news/')} already" in err
    assert (home / "feeds.yaml").read_text() == before


def test_add_takes_the_feed_title_and_the_site_name(home: Path, site: SiteSim) -> None:
    articles = numbered_articles(3)
    serve_news(site, articles)
    feed = rss_xml(site.origin, articles).replace("The Harbour Herald", "Herald: all the news")
    site.add("/feed.xml", feed, content_type="application/rss+xml")
    site.add(
        "/",
        '<html><head><title>Harbour Herald - page 1</title><meta property="og:site_name" '
        'content="Harbour Herald"><link rel="alternate" type="application/rss+xml" '
        'href="/feed.xml"></head><body><p>Welcome</p></body></html>',
    )
    status, out, _ = cli("add", site.url("/"))
    assert status == 0
    assert "  harbour-herald:\n    title: 'Herald: all the news'\n" in out

    status, out, _ = cli("add", site.url("/"), "--kind", "sitemap")
    assert (
        status == 1
        and "--kind sitemap: no candidate of that kind there"
        in out + cli("add", site.url("/"), "--kind", "sitemap")[2]
    )
    status, out, _ = cli(
        "add", site.url("/news/"), "--links", "h2 a", "--title", "Mine", "--id", "m"
    )
    assert status == 0
    assert "(--links)" in out and "  m:\n    title: Mine\n" in out
    assert "        links: h2 a\n" in out
    status, _, err = cli("add", site.url("/news/"), "--links", "h9 a")
    assert status == 1 and "--links 'h9 a' picks no link on the page" in err


def test_add_of_an_address_without_scheme(home: Path, site: SiteSim) -> None:
    serve_news(site, numbered_articles(2))
    typed = site.url("/news/").removeprefix("http://")
    status, out, err = cli("add", typed)
    assert status == 0, err
    assert f"https://{typed} cannot be read; trying http://{typed}" in err
    assert f"On http://{typed}" in out


def test_names_from_the_page() -> None:
    def name(head: str, url: str = "https://bench-news.example/") -> str:
        return site_name(parse_document(f"<html><head>{head}</head><body></body></html>"), url)

    assert name("<title>Bench News - page 1</title>") == "Bench News"
    assert name("<title>A story | Bench News</title>") == "Bench News"
    assert name("<title>Latest | Other name</title>", "https://x.example/") == "Other name"
    assert name('<meta name="application-name" content="Bench">') == "Bench"
    assert name("") == "bench-news.example"
    assert feed_id_for("Bench News", "https://x.example/", {"bench-news"}) == "bench-news-2"
    assert feed_id_for("127.0.0.2", "http://127.0.0.2:8/blog/", set()) == "127-0-0-2-blog"
    assert web_address("www.example.com") == ["https://www.example.com/", "http://www.example.com/"]
    assert web_address("http://a.example/x") == ["http://a.example/x"]


def test_an_article_in_two_feeds_has_an_id_in_each(home: Path, site: SiteSim) -> None:
    """A reader that merges items by id (newsboat) shows it in both feeds; an item stored
    before (its id the URL's alone) keeps it, so no subscriber sees it again."""
    articles = numbered_articles(2)
    serve_news(site, articles)
    listing = site.url("/news/")
    (home / "feeds.yaml").write_text(
        "settings: {per_host_delay: 0, retries: 0}\nfeeds:\n"
        f"  one: {{sources: [{{url: '{listing}'}}]}}\n"
        f"  two: {{sources: [{{url: '{listing}', links: 'h2 a'}}]}}\n"
    )
    old_url = site.url(articles[0].path)
    old_id = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, old_url)}"
    with open_store(home / "state") as store:  # as an earlier version stored it
        store.add_item(
            Item(
                id=old_id,
                feed="one",
                url=old_url,
                title=articles[0].title,
                published=datetime(2026, 11, 1, tzinfo=UTC),
                updated=datetime(2026, 11, 1, tzinfo=UTC),
                summary="",
                content_html="<p>kept</p>",
                fingerprint=(1, 2, 3),
                first_seen=datetime(2026, 11, 1, tzinfo=UTC),
            )
        )

    status, _, err = cli("once")

    assert status == 0, err
    ids = {
        feed: {
            entry.id
            for entry in feedparser.parse((home / "output" / f"{feed}.atom").read_bytes()).entries
        }
        for feed in ("one", "two")
    }
    assert len(ids["one"]) == len(ids["two"]) == 2
    assert not ids["one"] & ids["two"]
    assert old_id in ids["one"]
    assert item_id(site.url(articles[1].path), "one") in ids["one"]


def test_a_busy_port_names_the_address_and_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, port, "  a: {sources: [{url: 'http://127.0.0.1:9/'}]}\n")
        for command in ("run", "serve"):
            status, _, err = feeds("--config", str(config), command)
            assert status == 1, command
            assert (
                f"feeds: {config}: cannot serve the feeds on 127.0.0.1:{port}: address already "
                "in use; another program listens there (another `feeds run` or `feeds serve`?): "
                "stop it, or choose another port with settings.serve"
            ) in err, err


def test_a_reload_says_once_which_settings_wait_for_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "feeds.yaml"
    feed = "feeds:\n  a: {sources: [{url: 'https://a.example/'}]}\n"
    path.write_text("settings: {interval: 1h}\n" + feed)
    watch = ConfigWatch(path, load_config(path))

    def edit(settings: str) -> Config | None:
        before = path.stat().st_mtime
        path.write_text(f"settings: {settings}\n" + feed)
        os.utime(path, (before + 1, before + 1))
        return watch.changed()

    with caplog.at_level(logging.WARNING):
        new = edit("{interval: 10m}")
        assert new is not None and new.feeds["a"].interval == timedelta(minutes=10)
        assert not caplog.records  # taken at once: nothing to say
        new = edit("{interval: 10m, serve: {port: 9999}, concurrency: 3}")
        assert new is not None and new.settings.serve.port == 8080  # the running one
        new = edit("{interval: 5m, serve: {port: 9999}, concurrency: 3}")
        assert new is not None and new.feeds["a"].interval == timedelta(minutes=5)
    [said] = [record.getMessage() for record in caplog.records]
    assert said == (
        "config reloaded; settings.concurrency, settings.serve changed: taken after a restart "
        "(until then the running values are kept)"
    )


def test_status_shows_the_whole_error_and_a_404_is_logged_once(home: Path, site: SiteSim) -> None:
    missing = "/news/kandahar-herat-road-reopens-after-a-long-closure-in-the-south-of-the-country/"
    (home / "feeds.yaml").write_text(
        f"settings: {{per_host_delay: 0, retries: 0}}\nfeeds:\n  gone: {{sources: [{{url: '{site.url(missing)}'}}]}}\n"
    )
    status, out, err = feeds("--log-level", "info", "once")
    assert status == 1
    assert (out + err).count("HTTP 404") == 1, out + err
    _, out, _ = feeds("status", env={"COLUMNS": "80"})
    assert max(len(line) for line in out.splitlines()) <= 80
    assert f"gone: last error: {site.url(missing)}: HTTP 404" in out.replace("\n", "")


def test_remove_while_the_service_runs(tmp_path: Path, site: SiteSim) -> None:
    serve_news(site, numbered_articles(2))
    port = free_port()
    config = write_config(
        tmp_path,
        port,
        f"  keep: {{sources: [{{url: '{site.url('/news/')}'}}]}}\n"
        f"  gone: {{sources: [{{url: '{site.url('/news/')}', links: 'h2 a'}}]}}\n",
    )
    service = Service(config)
    try:
        wait_for(lambda: (tmp_path / "output" / "gone.xml").exists(), what="the first run")
        status, body, headers = get(f"http://127.0.0.1:{port}/status")
        assert status == 200 and headers["Cache-Control"] == "no-store"
        assert b"<h1>Feeds: status</h1>" in body and b'href="gone.html"' in body
        index = tmp_path / "output" / "index.html"
        wait_for(
            lambda: index.exists() and 'href="status"' in index.read_text(),
            what="the index, written after the feed's files, linking the status page",
        )
        status, out, _ = feeds("--config", str(config), "remove", "gone")
        assert status == 0
        assert "the running service takes the config up within seconds" in out
        wait_for(lambda: not list((tmp_path / "output").glob("gone.*")), what="the removal")
    finally:
        assert service.stop() == 0


def test_add_says_what_it_found_when_rendering_fails(
    home: Path, site: SiteSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A browser that will not start: ``add`` shows what the page gives without it."""
    monkeypatch.setattr("feeds.cli.add.browser_available", lambda: None)
    monkeypatch.setenv("FEEDS_CHROMIUM", str(home / "no-chromium"))
    site.add("/", APP_SHELL)
    status, out, _ = cli("add", site.url("/"))
    assert status == 1
    assert f'On {site.url("/")} ("Script News"):\n  no feed, no article links, no sitemap' in out
