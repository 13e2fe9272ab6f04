"""The operator's tools: add, preview, check --online, status, breakage, progress."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from feeds.cli import main
from tests.conftest import DATA
from tests.newssite import listing_html, numbered_articles, rss_xml, serve_news, sitemap_xml
from tests.sitesim import SiteSim

SETTINGS = (
    "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n  retries: 0\n"
)


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def site() -> Iterator[SiteSim]:
    with SiteSim("127.0.0.1") as sim:
        yield sim


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "# my feeds\n"
        + SETTINGS
        + "feeds:\n  # nothing yet but this one\n  keep:\n    sources: [{url: 'https://keep.example/'}]\n"
    )
    return path


def home_page(extra_head: str = "") -> str:
    return (
        f"<html><head><title>The Harbour Herald</title>{extra_head}</head><body>"
        '<nav><a href="/news/">News</a><a href="/about/">About</a></nav>'
        "<p>Welcome to the Herald.</p></body></html>"
    )


def add_and_run(config: Path, url: str, feed_id: str) -> str:
    status, out, err = cli("--config", str(config), "add", url, "--write", "--id", feed_id)
    assert status == 0, err
    assert cli("--config", str(config), "check")[0] == 0
    status, _, err = cli("--config", str(config), "once", "--feed", feed_id)
    assert status == 0, err
    entries = feedparser.parse((config.parent / "output" / f"{feed_id}.atom").read_bytes()).entries
    assert entries, "the new feed is empty"
    return out


def test_add_finds_an_advertised_feed(site: SiteSim, config: Path) -> None:
    articles = numbered_articles(3)
    serve_news(site, articles)
    site.add("/feed.xml", rss_xml(site.origin, articles), content_type="application/rss+xml")
    site.add(
        "/",
        home_page(
            '<link rel="alternate" type="application/rss+xml" title="Herald news" href="/feed.xml">'
        ),
    )

    out = add_and_run(config, site.url("/"), "herald")

    assert f'  1. feed     {site.url("/feed.xml")}: feed "Herald news", 3 entries: "' in out
    assert (
        f"Suggested entry (1, the feed; choose with --kind or --links):\n\nfeeds:\n  herald:\n    title: The Harbour Herald\n    sources:\n      - url: {site.url('/feed.xml')}\n"
        in out
    )
    text = config.read_text()
    assert (
        text.startswith("# my feeds\n") and "  # nothing yet but this one\n  keep:" in text
    )  # comments kept


def test_add_finds_sitemaps_in_robots_txt(site: SiteSim, config: Path) -> None:
    articles = numbered_articles(2)
    serve_news(site, articles)
    site.add("/", home_page())
    site.add(
        "/robots.txt",
        f"User-agent: *\nSitemap: {site.url('/sitemap.xml')}\n",
        content_type="text/plain",
    )
    site.add("/sitemap.xml", sitemap_xml(site.origin, [(a.path, "2024-03-09") for a in articles]))

    out = add_and_run(config, site.url("/"), "herald-map")

    assert f"sitemap  {site.url('/')}: 1 sitemap listed in robots.txt" in out
    assert f"      - url: {site.url('/')}\n        kind: sitemap\n" in out


def test_add_finds_a_listing_and_its_selector(site: SiteSim, config: Path) -> None:
    serve_news(site, numbered_articles(4))

    out = add_and_run(config, site.url("/news/"), "herald-news")

    assert "  1. listing  4 article links under `h2 a`: " in out
    assert f"      - url: {site.url('/news/')}\n        links: h2 a\n" in out


def test_add_without_anything_to_follow(site: SiteSim, config: Path) -> None:
    site.add("/", home_page())
    status, _, err = cli("--config", str(config), "add", site.url("/"))
    assert status == 1
    assert "found no feed, no article links and no sitemap there" in err


def test_add_to_an_unreachable_host(config: Path) -> None:
    status, _, err = cli("--config", str(config), "add", "http://127.0.0.1:9/")
    assert status == 1
    assert err.startswith("feeds: http://127.0.0.1:9/") and "cannot connect" in err


SEED_URL_PATH = "/news/world/taliban-enter-outskirts-of-kabul"


@pytest.mark.parametrize("served", [True, False], ids=["served", "saved"])
def test_preview_of_the_seed_article(site: SiteSim, config: Path, served: bool) -> None:
    seed = DATA / "seed" / "article.html"
    site.add(SEED_URL_PATH, seed.read_bytes())
    target = [site.url(SEED_URL_PATH)] if served else [str(seed), "--url", site.url(SEED_URL_PATH)]

    status, out, err = cli("--config", str(config), "preview", *target)

    assert status == 0, err
    assert (
        "Title:     Taliban enter outskirts of Kabul in move to retake whole of Afghanistan\n"
        in out
    )
    assert "Author:    Danny Jones\n" in out
    assert "Published: 2021-08-15 " in out
    assert f"Link:      {site.url(SEED_URL_PATH)}\n" in out
    assert "Haibatullah Akhundzada, has headed up the militant group since 2016" in out.replace(
        "\n", " "
    )
    for boilerplate in ("Search icon", "Related links", "Share on Facebook", "All rights reserved"):
        assert boilerplate not in out


def test_preview_json_is_the_published_item(site: SiteSim, config: Path) -> None:
    site.add(SEED_URL_PATH, (DATA / "seed" / "article.html").read_bytes())
    site.add(
        "/news/",
        f'<html><body><main><h2><a href="{SEED_URL_PATH}">Taliban enter outskirts of Kabul in move to retake whole of Afghanistan</a></h2></main></body></html>',
    )
    config.write_text(
        SETTINGS + f"feeds:\n  world:\n    sources: [{{url: '{site.url('/news/')}'}}]\n"
    )

    status, out, _ = cli(
        "--config",
        str(config),
        "preview",
        site.url(SEED_URL_PATH),
        "--feed",
        "world",
        "--format",
        "json",
    )
    assert status == 0
    previewed = json.loads(out)
    assert cli("--config", str(config), "once")[0] == 0
    [published] = json.loads((config.parent / "output" / "world.json").read_text())["items"]
    for key in (
        "id",
        "url",
        "title",
        "content_html",
        "summary",
        "image",
        "authors",
    ):
        assert previewed[key] == published[key], key
    # the page gives a day without a time: both take the time of day they first saw it,
    # and `preview` and `once` run a moment apart (the same day, the same minute or next)
    when = [datetime.fromisoformat(item["date_published"]) for item in (previewed, published)]
    assert when[0].date() == when[1].date() == date(2021, 8, 15)
    assert timedelta(0) <= when[1] - when[0] < timedelta(minutes=2)


def test_preview_of_a_source(site: SiteSim, config: Path) -> None:
    articles = numbered_articles(3)
    serve_news(site, articles)
    status, out, _ = cli("--config", str(config), "preview", "--source", site.url("/news/"))
    assert status == 0
    assert out.startswith(
        f"{site.url('/news/')}: a listing, 3 article links (1 page read; automatic "
        "detection found 3, 3 kept by the source's filters)\n"
    )
    for article in articles:
        assert f"  {article.title}\n    {site.url(article.path)}\n" in out


def test_preview_of_a_configured_source_uses_its_rules_and_tries_others(
    site: SiteSim, config: Path
) -> None:
    """The hint of a broken source's message, `feeds preview --source URL`, shows the
    source as its feed reads it (its selector), fails when it yields nothing, and
    `--links` tries another selector without editing the config."""
    articles = numbered_articles(3)
    serve_news(site, articles)
    config.write_text(
        SETTINGS + f"feeds:\n  news:\n    sources:\n      - url: {site.url('/news/')}\n"
        "        links: 'div.card h2 a'\n"
    )
    status, out, err = cli("--config", str(config), "preview", "--source", site.url("/news/"))
    assert status == 1
    assert "its `links` selector 'div.card h2 a' found 0" in out
    assert "FAILED: its `links` selector 'div.card h2 a' matched nothing; check it" in err
    status, out, _ = cli(
        "--config", str(config), "preview", "--source", site.url("/news/"),
        "--links", "article.teaser h2 a",
    )  # fmt: skip
    assert status == 0
    assert "3 article links (1 page read; its `links` selector 'article.teaser h2 a' found 3" in out
    status, _, err = cli(
        "--config", str(config), "preview", "--source", site.url("/news/"), "--links", "h2[",
    )  # fmt: skip
    assert status == 2 and "--links: links: not a valid CSS selector" in err


def test_a_sitemap_on_a_home_page_is_checked_and_previewed_as_the_run_reads_it(
    site: SiteSim, config: Path
) -> None:
    """`kind: sitemap` on a site's home page (what `feeds add` writes): the sitemaps its
    robots.txt lists, not the home page itself."""
    articles = numbered_articles(2)
    serve_news(site, articles)
    entries = [(article.path, article.published) for article in articles]
    site.add("/sitemap-news.xml", sitemap_xml(site.origin, entries), content_type="application/xml")
    site.add(
        "/robots.txt", f"Sitemap: {site.url('/sitemap-news.xml')}\n", content_type="text/plain"
    )
    config.write_text(
        SETTINGS + f"feeds:\n  news:\n    sources: [{{url: '{site.url('/')}', kind: sitemap}}]\n"
    )
    status, out, _ = cli("--config", str(config), "check", "--online")
    assert status == 0, out
    assert f"news: {site.url('/')}: 2 links (sitemap); sample " in out
    status, out, _ = cli("--config", str(config), "preview", "--source", site.url("/"))
    assert status == 0
    assert out.startswith(f"{site.url('/')}: a sitemap, 2 article links")


def test_preview_of_a_saved_listing(tmp_path: Path, config: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text(listing_html(numbered_articles(2)))
    status, out, _ = cli("--config", str(config), "preview", "--source", str(tmp_path / "site"))
    assert status == 0
    assert out.startswith(f"{(tmp_path / 'site').as_uri()}/: a listing")
    status, _, err = cli("--config", str(config), "preview", "--source", "no/such/place")
    assert status == 2 and "no/such/place is neither an http(s) URL nor a file or directory" in err


def test_check_online(site: SiteSim, config: Path) -> None:
    serve_news(site, numbered_articles(2))
    site.add("/empty/", "<html><body><p>Nothing here</p></body></html>")
    config.write_text(
        SETTINGS
        + f"feeds:\n  good:\n    sources: [{{url: '{site.url('/news/')}'}}]\n"
        + f"  bad:\n    sources: [{{url: '{site.url('/empty/')}'}}]\n"
    )
    status, out, _ = cli("--config", str(config), "check", "--online")
    assert status == 1
    assert f"good: {site.url('/news/')}: 2 links (listing); sample " in out
    assert (
        f"bad: {site.url('/empty/')}: FAILED: no article links found; set a `links` selector" in out
    )


def test_a_broken_source_is_named_kept_and_shown(site: SiteSim, config: Path) -> None:
    articles = numbered_articles(3)
    serve_news(site, articles)
    config.write_text(
        SETTINGS
        + f"feeds:\n  news:\n    sources:\n      - url: {site.url('/news/')}\n        links: 'article.teaser h2 a'\n"
    )
    assert cli("--config", str(config), "once")[0] == 0
    before = (config.parent / "output" / "news.atom").read_bytes()
    redesigned = (
        listing_html(articles)
        .replace('<article class="teaser">', '<div class="card">')
        .replace("</article>", "</div>")
    )
    site.add("/news/", redesigned)

    status, out, _ = cli("--config", str(config), "once")

    assert status == 1
    assert (
        f"  BROKEN source {site.url('/news/')}: yielded no article links, after 3 last time" in out
    )
    assert (config.parent / "output" / "news.atom").read_bytes() == before
    status, out, _ = cli("--config", str(config), "status", "--json")
    [news] = json.loads(out)
    assert news["result"] == "failed" and news["items"] == 3 and not news["healthy"]
    assert news["broken"][site.url("/news/")].startswith("yielded no article links, after 3")
    status, out, _ = cli("--config", str(config), "status")
    assert "failed, broken" in out and f"BROKEN news: {site.url('/news/')}: yielded no" in out
    assert status == 1  # broken: scripts and monitors can tell
    header, row, error = out.splitlines()[:3]
    assert all(len(line) <= 80 for line in out.splitlines())  # a feed, a line; errors wrap
    assert "LAST RUN (UTC)" in header and "NEXT RUN (UTC)" in header
    assert row.split()[0] == "news" and row.split()[-1] == "1"
    assert error.startswith("news: last error: ")
    whole = json.loads(cli("--config", str(config), "status", "--json")[1])[0]["last_error"]
    assert f"news: last error: {whole}" in " ".join(out.split())  # whole, as --json says

    site.add("/news/", listing_html(articles))  # fixed: the mark goes
    assert cli("--config", str(config), "once")[0] == 0
    status, out, _ = cli("--config", str(config), "status", "--json")
    assert status == 0 and json.loads(out)[0]["broken"] == {}


def test_a_feed_source_that_empties_stays_broken_until_it_has_links(
    site: SiteSim, config: Path
) -> None:
    """An empty feed is no failure, but one that had entries and has none is broken, and
    stays marked (in the state, for `feeds status`) until entries come back."""
    articles = numbered_articles(2)
    serve_news(site, articles)
    site.add("/feed.xml", rss_xml(site.origin, articles), content_type="application/rss+xml")
    config.write_text(
        SETTINGS + f"feeds:\n  news:\n    sources: [{{url: '{site.url('/feed.xml')}'}}]\n"
    )
    assert cli("--config", str(config), "once")[0] == 0
    site.add("/feed.xml", rss_xml(site.origin, []), content_type="application/rss+xml")

    status, out, _ = cli("--config", str(config), "once")

    assert status == 1 and "yielded no article links, after 2 last time" in out
    [news] = json.loads(cli("--config", str(config), "status", "--json")[1])
    assert news["broken"][site.url("/feed.xml")].startswith("yielded no article links")
    site.add("/feed.xml", rss_xml(site.origin, articles), content_type="application/rss+xml")
    assert cli("--config", str(config), "once")[0] == 0
    assert json.loads(cli("--config", str(config), "status", "--json")[1])[0]["broken"] == {}


def test_articles_that_all_fail_extraction_break_the_source(site: SiteSim, config: Path) -> None:
    articles = numbered_articles(3)
    site.add("/news/", listing_html(articles))
    for article in articles:
        site.add(
            article.path,
            "<html><head><title>Gone</title></head><body><nav><a href='/'>Home</a></nav></body></html>",
        )
    config.write_text(
        SETTINGS + f"feeds:\n  news:\n    sources: [{{url: '{site.url('/news/')}'}}]\n"
    )
    status, out, _ = cli("--config", str(config), "once")
    assert status == 1
    assert "none of its 3 new articles could be extracted" in out


def run_once_in(config: Path, *, terminal: bool, stdout_too: bool = False) -> str:
    """`feeds once` with its standard error on a pseudo-terminal (and its standard output,
    ``stdout_too``), or on a pipe."""
    command = [sys.executable, "-m", "feeds", "--config", str(config), "once"]
    if not terminal:
        return subprocess.run(command, capture_output=True, text=True, check=True).stderr
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command,
        stdout=follower if stdout_too else subprocess.DEVNULL,
        stderr=follower,
        env={**os.environ, "COLUMNS": "100"},
    )
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=10)
    os.close(leader)
    return output.decode(errors="replace")


def test_progress_on_a_terminal_only(tmp_path: Path) -> None:
    with SiteSim("127.0.0.1", latency=0.05) as site:
        serve_news(site, numbered_articles(12))
        config = tmp_path / "feeds.yaml"
        config.write_text(
            SETTINGS + f"feeds:\n  news:\n    sources: [{{url: '{site.url('/news/')}'}}]\n"
        )
        on_terminal = run_once_in(config, terminal=True)
        (tmp_path / "state" / "feeds.sqlite3").unlink()
        piped = run_once_in(config, terminal=False)
    assert "news" in on_terminal and "articles" in on_terminal and "sources" in on_terminal
    assert "━" in on_terminal or "%" in on_terminal or "/12" in on_terminal
    assert piped == ""


def test_summary_lines_are_not_torn_by_the_bars(tmp_path: Path) -> None:
    """Standard output and the bars on one terminal: each summary line comes out whole,
    above the bars."""
    with SiteSim("127.0.0.1", latency=0.05) as site:
        serve_news(site, numbered_articles(6))
        serve_news(site, numbered_articles(6, prefix="other"), "/other/")
        config = tmp_path / "feeds.yaml"
        config.write_text(
            SETTINGS
            + f"feeds:\n  news:\n    sources: [{{url: '{site.url('/news/')}'}}]\n"
            + f"  other:\n    sources: [{{url: '{site.url('/other/')}'}}]\n"
        )
        output = run_once_in(config, terminal=True, stdout_too=True)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output).replace("\r", "\n")
    for feed in ("news", "other"):
        assert re.search(
            rf"^{feed}: 6 new, 0 updated, 0 unchanged, 0 duplicate, 0 failed \(\d+\.\ds\); ",
            plain,
            re.MULTILINE,
        ), plain


HELP = Path(__file__).parent / "data" / "help"
COMMANDS = [
    "",
    "add",
    "check",
    "init",
    "once",
    "preview",
    "reextract",
    "refresh",
    "remove",
    "run",
    "serve",
    "status",
]


@pytest.mark.parametrize("command", COMMANDS, ids=[c or "feeds" for c in COMMANDS])
def test_help_does_not_change_by_accident(command: str) -> None:
    args = [command, "--help"] if command else ["--help"]
    result = CliRunner().invoke(main, args, prog_name="feeds", terminal_width=100)
    snapshot = HELP / f"{command or 'feeds'}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(result.output)
    assert result.output == snapshot.read_text()


def test_a_date_in_another_format_is_reported_once(site: SiteSim, config: Path) -> None:
    articles = numbered_articles(3)
    serve_news(site, articles)
    listing = listing_html(articles).replace(
        '<p class="teaser-standfirst">',
        '<time class="posted">2026-03-01</time><p class="teaser-standfirst">',
    )
    site.add("/news/", listing)
    config.write_text(
        SETTINGS
        + f"feeds:\n  news:\n    sources:\n      - url: {site.url('/news/')}\n"
        + "        item: {selector: article.teaser, date: time.posted, date_format: '%d.%m.%Y'}\n"
    )
    status, out, _ = cli("--config", str(config), "once")
    assert status == 0  # the articles still come, with their own dates
    line = f"{site.url('/news/')}: the date '2026-03-01' does not match date_format '%d.%m.%Y'"
    assert out.count(line) == 1


def test_an_output_dir_that_cannot_be_written(site: SiteSim, config: Path) -> None:
    serve_news(site, numbered_articles(2))
    (config.parent / "taken").write_text("a file where the output directory should be")
    config.write_text(
        SETTINGS.replace("output_dir: output", "output_dir: taken")
        + f"feeds:\n  news:\n    sources: [{{url: '{site.url('/news/')}'}}]\n"
    )
    status, out, err = cli("--config", str(config), "once")
    assert status == 1 and out == ""
    taken = config.parent / "taken"
    assert err == (
        f"feeds: output directory {taken} is a file, not a directory; "
        "set settings.output_dir to a writable directory, or fix its permissions\n"
    )
    assert site.paths() == []  # it says so before fetching anything

    status, _, err = cli("--config", str(config), "--debug", "once")
    assert status == 1 and "Traceback (most recent call last)" in err


def test_a_selector_that_matches_nothing(site: SiteSim, config: Path) -> None:
    serve_news(site, numbered_articles(2))
    config.write_text(
        SETTINGS
        + f"feeds:\n  news:\n    sources:\n      - url: {site.url('/news/')}\n        links: 'div.card a'\n"
    )
    status, out, _ = cli("--config", str(config), "once")
    assert status == 1
    assert (
        f"{site.url('/news/')}: its `links` selector 'div.card a' matched nothing; check it "
        f"(`feeds preview --source {site.url('/news/')}`)"
    ) in out


def test_preview_tries_extraction_rules_without_editing_the_config(
    site: SiteSim, config: Path
) -> None:
    paragraph = "The harbour board met on Tuesday and agreed the new timetable for the ferries."
    site.add(
        "/story",
        "<html><head><title>Board meets</title></head><body><nav><a href='/'>Home</a></nav>"
        f"<div class='story'><h1>Board meets</h1><p>{paragraph}</p>"
        f"<p class='promo'>Subscribe for more harbour news today.</p><p>{paragraph}</p></div>"
        "</body></html>",
    )
    status, out, _ = cli(
        "--config", str(config), "preview", site.url("/story"),
        "--body", "div.story", "--remove", "p.promo",
    )  # fmt: skip
    assert status == 0, out
    assert paragraph in out and "Subscribe for more" not in out
    status, _, err = cli(
        "--config", str(config), "preview", "--source", site.url("/"), "--body", "x"
    )
    assert status == 2 and "--body and --remove try extraction rules: give an article" in err


def test_init_add_write_and_remove_keep_the_file_as_written(site: SiteSim, tmp_path: Path) -> None:
    """From nothing: `init` writes a starter file, `add --write` fills its empty `feeds:`
    and then adds after the last feed in the file's own indentation (4 spaces here),
    `remove` cuts a feed and deletes its files; a wrong --id is said before fetching."""
    serve_news(site, numbered_articles(2))
    config = tmp_path / "config" / "feeds.yaml"
    assert cli("--config", str(config), "init")[0] == 0
    status, _, err = cli("--config", str(config), "check")
    assert status == 2 and "no feeds yet; add one with `feeds add URL --write`" in err
    assert cli("--config", str(config), "init")[0] == 2  # never overwrites

    status, out, _ = cli(
        "--config", str(config), "add", site.url("/news/"), "--write", "--id", "one"
    )
    assert status == 0, out
    four = config.read_text().replace("\n  ", "\n    ").replace("\n    - ", "\n        - ")
    config.write_text(four)
    before = config.read_text()
    status, _, err = cli(
        "--config", str(config), "add", site.url("/news/"), "--id", "one", "--write"
    )
    assert status == 2 and "--id: a feed with this id exists already" in err
    site.add("/world/", listing_html(numbered_articles(2)))
    assert (
        cli("--config", str(config), "add", site.url("/world/"), "--write", "--id", "two")[0] == 0
    )
    after = config.read_text()
    assert after.startswith(before)  # nothing above the new feed changed
    assert "\n    two:\n        " in after

    assert cli("--config", str(config), "once")[0] == 0
    output = tmp_path / "output"
    assert (output / "two.xml").is_file()
    status, out, _ = cli("--config", str(config), "remove", "two")
    assert status == 0, out
    assert "Removed feed two" in out and "two.xml" in out
    assert config.read_text() == before
    assert not list(output.glob("two.*"))
    assert "two.xml" not in (output / "index.html").read_text()
    status, _, err = cli("--config", str(config), "remove", "one")
    assert status == 2 and "the config's only feed" in err


def test_debug_logging_shows_requests_rules_and_extraction(site: SiteSim, config: Path) -> None:
    serve_news(site, numbered_articles(2))
    config.write_text(
        SETTINGS + f"feeds:\n  news:\n    sources: [{{url: '{site.url('/news/')}'}}]\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "feeds", "--config", str(config), "--log-level", "debug", "once"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    log = result.stderr
    assert f"GET {site.url('/news/')} -> 200 in " in log
    assert f"{site.url('/news/')}: a listing page; its rules found 2 links, the source's " in log
    assert "extracted in " in log and "characters of HTML" in log


def test_changed_extract_rules_rebuild_items_from_stored_pages(site: SiteSim, config: Path) -> None:
    """A change of `extract:` rules makes the items again from the pages kept at their
    first run: no article is fetched again, ids stay, `updated` moves for the changed
    ones only. `feeds reextract` does it on demand."""
    paragraph = "The harbour board met on Tuesday and agreed the new timetable for the ferries."
    for n in (1, 2):
        site.add(
            f"/news/{n}",
            f"<html><head><title>Story {n}</title></head><body><div class='story'>"
            f"<h1>Story {n}</h1><p>{paragraph} ({n})</p><p class='note'>The ferry operator "
            "declined to comment on the plans yesterday evening.</p><p>{paragraph}</p></div>"
            "</body></html>",
        )
    site.add(
        "/news/",
        "<html><body><main>"
        + "".join(f"<h2><a href='/news/{n}'>Story {n}</a></h2>" for n in (1, 2))
        + "</main></body></html>",
    )
    feed = f"feeds:\n  news:\n    sources: [{{url: '{site.url('/news/')}', links: 'h2 a'}}]\n"
    config.write_text(SETTINGS + feed)
    assert cli("--config", str(config), "once")[0] == 0
    atom = config.parent / "output" / "news.atom"
    before = feedparser.parse(atom.read_bytes()).entries
    assert all("declined to comment" in entry.content[0].value for entry in before)
    requests = len(site.hits)

    config.write_text(SETTINGS + feed + "    extract: {remove: ['p.note']}\n")
    status, out, _ = cli("--config", str(config), "once")
    assert status == 0, out
    assert out.startswith("news: 0 new, 2 updated")
    after = feedparser.parse(atom.read_bytes()).entries
    assert [e.id for e in after] == [e.id for e in before]  # the same items
    assert not any("declined to comment" in entry.content[0].value for entry in after)
    assert all(a.updated_parsed >= b.updated_parsed for a, b in zip(after, before, strict=True))
    fetched = [hit.path for hit in site.hits[requests:]]
    assert not any(path.startswith("/news/") and path != "/news/" for path in fetched)

    status, out, _ = cli("--config", str(config), "reextract", "news")
    assert status == 0 and out.startswith("news: 0 updated, 2 unchanged, 0 kept as they were")


def test_a_source_that_did_not_change_is_said_so(site: SiteSim, config: Path) -> None:
    serve_news(site, numbered_articles(2))
    config.write_text(
        SETTINGS + f"feeds:\n  news:\n    sources: [{{url: '{site.url('/news/')}'}}]\n"
    )
    assert cli("--config", str(config), "once")[0] == 0
    status, out, _ = cli("--config", str(config), "once")
    assert status == 0
    assert out.startswith(
        "news: 0 new, 0 updated, 0 unchanged, 0 duplicate, 0 failed, "
        "1 source page unchanged since the last run ("
    )
