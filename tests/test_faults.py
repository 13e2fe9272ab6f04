"""Faults: whatever goes wrong, nothing already published is lost, and the next good run
publishes everything.

Each source fault is tried twice: on the source page (the listing) and on the page of a
new article. After the faulty run, every item of the first run is still in the database
and in every feed file; after the next good run, every article is there exactly once.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import feedparser
import pytest

from feeds.config import Config
from feeds.errors import PublishError
from feeds.extraction.workers import ExtractionPool
from feeds.service.runtime import Runtime
from feeds.storage import DATABASE_NAME, open_store
from tests.conftest import WriteConfig, run_once
from tests.newssite import SiteArticle, article_html, listing_html, numbered_articles
from tests.sitesim import SimHandler, SiteSim
from tests.test_cli import invoke

ROOT = Path(__file__).resolve().parent.parent
FIRST, LATER = 3, 2  # articles on the site at the first run, articles added later


RELEASE = threading.Event()
"""Set when a test ends: a handler holding an answer past the timeout lets go."""


def sleep_past_the_timeout(handler: SimHandler) -> None:
    RELEASE.wait(10)  # past the 1 s timeout; released as soon as the test is done
    handler.send_body(200, b"<p>too late</p>", "text/html")


def reset_the_connection(handler: SimHandler) -> None:
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.connection.close()
    handler.close_connection = True


def server_error(handler: SimHandler) -> None:
    handler.send_body(500, b"Internal Server Error", "text/plain")


def cut_off_mid_body(handler: SimHandler) -> None:
    """Promises 20,000 bytes, sends 500 of them, hangs up."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", "20000")
    handler.end_headers()
    handler.wfile.write(b"<html><body><main>" + b"<p>Half a page</p>" * 26)
    handler.wfile.flush()
    handler.connection.shutdown(socket.SHUT_RDWR)
    handler.close_connection = True


def truncated_html(page: str) -> Callable[[SimHandler], None]:
    """A complete response whose HTML stops a third of the way through."""

    def respond(handler: SimHandler) -> None:
        handler.send_body(200, page[: len(page) // 3].encode(), "text/html")

    return respond


def empty_page(handler: SimHandler) -> None:
    handler.send_body(200, b"", "text/html")


def another_sites_page(handler: SimHandler) -> None:
    page = (
        "<html><head><title>This domain is for sale</title></head><body><main>"
        '<h1>This domain may be for sale</h1><p><a href="https://parking.example/buy">Buy '
        'this domain now</a> <a href="https://parking.example/offers/1">Related searches '
        "for cheap flights</a></p></main></body></html>"
    )
    handler.send_body(200, page.encode(), "text/html")


FAULTS: dict[str, Callable[[str], Callable[[SimHandler], None]]] = {
    "timeout": lambda page: sleep_past_the_timeout,
    "connection reset": lambda page: reset_the_connection,
    "HTTP 500": lambda page: server_error,
    "cut off mid-body": lambda page: cut_off_mid_body,
    "truncated HTML": truncated_html,
    "empty 200": lambda page: empty_page,
    "another site's page": lambda page: another_sites_page,
}


FETCH_FAILURES = {"timeout", "connection reset", "HTTP 500", "cut off mid-body"}
NOTHING_THERE = {"empty 200", "another site's page"}


class Site:
    """A news site on 127.0.0.1 whose pages can be made to fail."""

    def __init__(self, sim: SiteSim) -> None:
        self.sim = sim
        self.articles: list[SiteArticle] = []

    def publish(self, articles: list[SiteArticle]) -> None:
        self.articles = articles
        self.sim.add("/news/", listing_html(articles))
        for article in articles:
            self.sim.add(article.path, article_html(self.sim.origin, article, articles))

    def break_page(self, path: str, fault: str) -> None:
        page = self.sim.resources[path].body.decode()
        self.sim.respond(path, FAULTS[fault](page))

    def repair(self) -> None:
        self.sim.responders.clear()


@pytest.fixture
def site() -> Iterator[Site]:
    RELEASE.clear()
    with SiteSim("127.0.0.1") as sim:
        try:
            yield Site(sim)
        finally:
            RELEASE.set()  # before the server closes: no handler is left waiting


def config_for(write_config: WriteConfig, site: Site) -> Config:
    return write_config(
        "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
        "  retries: 1\n  retry_delay: 0.1s\n  timeout: 1s\n"
        "feeds:\n  harbour:\n    sources:\n"
        f"      - url: {site.sim.url('/news/')}\n        links: h2.teaser-title a\n"
    )


def published_links(config: Config) -> dict[str, list[str]]:
    """The item links of every feed file, by file (each file parsed as a reader would)."""
    links = {}
    for name in ("harbour.xml", "harbour.atom", "harbour.json"):
        path = config.settings.output_dir / name
        if name.endswith(".json"):
            items = json.loads(path.read_text(encoding="utf-8"))["items"]
            links[name] = [item["url"] for item in items]
        else:
            parsed = feedparser.parse(path.read_bytes())
            assert parsed.bozo == 0, (name, parsed.bozo_exception)
            links[name] = [entry.link for entry in parsed.entries]
    return links


def assert_published(config: Config, site: Site, articles: list[SiteArticle]) -> None:
    """Exactly these articles, once each, in the database and in every file."""
    expected = sorted(site.sim.url(article.path) for article in articles)
    for name, links in published_links(config).items():
        assert sorted(links) == expected, name
    with open_store(config.settings.state_dir) as store:
        assert store.count_items("harbour") == len(articles)


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("where", ["source page", "article page"])
def test_a_faulty_page_loses_nothing(
    fault: str, where: str, site: Site, write_config: WriteConfig
) -> None:
    articles = numbered_articles(FIRST + LATER, prefix="harbour")
    first, later = articles[LATER:], articles
    site.publish(first)
    config = config_for(write_config, site)
    assert run_once(config, "harbour").new == FIRST
    assert_published(config, site, first)

    site.publish(later)  # two new articles; then the fault
    broken = "/news/" if where == "source page" else later[0].path
    site.break_page(broken, fault)
    report = run_once(config, "harbour")

    # nothing published before is lost, nothing is doubled, the failure is reported
    for name, links in published_links(config).items():
        assert set(site.sim.url(a.path) for a in first) <= set(links), name
        assert len(links) == len(set(links)), name
    if fault in FETCH_FAILURES or (where == "source page" and fault in NOTHING_THERE):
        assert report.errors or report.broken, report

    site.repair()
    run_once(config, "harbour")
    # every article once; a page that answered with something else was published as it
    # was served (its URL is known now, so it is not fetched again)
    assert_published(config, site, later)


# a run killed in the middle of writing a feed file

KILLED_WHILE_WRITING = """
import os, signal, sys
import feeds.publishing.files as publish

original = publish._Replacement.write

def write(self, data):
    written = original(self, data)
    if self.path.name == "harbour.xml":
        os.kill(os.getpid(), signal.SIGKILL)  # some bytes in the temporary file, no rename
    return written

publish._Replacement.write = write
if __name__ == "__main__":
    from feeds.cli import main
    main(["--config", sys.argv[1], "once"])
"""


def feeds_once(config: Config, *script: str) -> subprocess.CompletedProcess[str]:
    """``feeds once`` in its own process (or ``script`` given the config's path); the
    processes it started (extraction workers) must be gone when it is."""
    command = [sys.executable, "-m", "feeds", "--config", str(config.file), "once"]
    if script:
        command = [sys.executable, *script, str(config.file)]
    logs = config.file.parent / "logs"
    logs.mkdir(exist_ok=True)
    with (logs / "out").open("w+") as out, (logs / "err").open("w+") as err:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=out, stderr=err, text=True, start_new_session=True
        )
        try:
            process.wait(timeout=120)
            assert group_ends(process.pid), "processes of the run outlived it"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(command, process.returncode, out.read(), err.read())


def group_ends(group: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_sigkill_while_writing_leaves_the_old_file_and_the_next_run_completes(
    site: Site, write_config: WriteConfig, tmp_path: Path
) -> None:
    articles = numbered_articles(FIRST + LATER, prefix="harbour")
    site.publish(articles[LATER:])
    config = config_for(write_config, site)
    assert feeds_once(config).returncode == 0
    before = {n: (config.settings.output_dir / n).read_bytes() for n in published_links(config)}

    site.publish(articles)
    killer = tmp_path / "killed_while_writing.py"
    killer.write_text(KILLED_WHILE_WRITING)
    killed = feeds_once(config, str(killer))

    assert killed.returncode == -signal.SIGKILL
    for name, data in before.items():
        assert (config.settings.output_dir / name).read_bytes() == data, name
    with open_store(config.settings.state_dir) as store:  # opens, consistent
        assert store.count_items("harbour") == FIRST + LATER
    assert list(config.settings.output_dir.glob(".harbour.xml.*"))  # the temporary file

    again = feeds_once(config)
    assert again.returncode == 0, again.stderr
    assert_published(config, site, articles)
    assert not list(config.settings.output_dir.glob(".*"))  # the leftover was removed


# the output directory refuses writes: read-only, or full


WRITE_FAULTS = {
    # where the write fails: creating the new file, making it durable, putting it in place
    "read-only": ("feeds.publishing.files.tempfile.mkstemp", errno.EROFS),
    "full": ("feeds.publishing.files.os.fsync", errno.ENOSPC),
    "denied": ("pathlib.Path.replace", errno.EACCES),
}


@pytest.mark.parametrize("fault", list(WRITE_FAULTS))
def test_an_unwritable_output_directory_is_a_clear_error_and_the_next_run_republishes(
    fault: str, site: Site, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    articles = numbered_articles(FIRST + LATER, prefix="harbour")
    site.publish(articles[LATER:])
    config = config_for(write_config, site)
    run_once(config, "harbour")
    before = {n: (config.settings.output_dir / n).read_bytes() for n in published_links(config)}

    site.publish(articles)
    target, error = WRITE_FAULTS[fault]

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(error, os.strerror(error))

    # started first: the output directory was writable when the run began
    with Runtime(config, pool=ExtractionPool(0)) as runtime, monkeypatch.context() as patch:
        patch.setattr(target, refuse)
        with pytest.raises(PublishError) as raised:
            runtime.run_and_record(config.feeds["harbour"])
    message = str(raised.value)
    assert "harbour" in message and os.strerror(error) in message, message
    for name, data in before.items():
        assert (config.settings.output_dir / name).read_bytes() == data, name
    assert not list(config.settings.output_dir.glob(".*"))  # no temporary left behind

    report = run_once(config, "harbour")
    assert report.new == 0  # stored by the failed run...
    assert_published(config, site, articles)  # ...and published now


def test_cli_reports_an_unwritable_output_directory_in_one_line(
    site: Site, write_config: WriteConfig
) -> None:
    site.publish(numbered_articles(FIRST, prefix="harbour"))
    config = config_for(write_config, site)
    output = config.settings.output_dir
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("a file where the directory should be")
    result = feeds_once(config)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert str(output) in result.stderr and "not a directory" in result.stderr


# the state database: corrupt, locked, or in use by another process


def test_a_corrupt_database_is_a_clear_error_without_traceback(
    site: Site, write_config: WriteConfig
) -> None:
    site.publish(numbered_articles(FIRST, prefix="harbour"))
    config = config_for(write_config, site)
    assert feeds_once(config).returncode == 0
    database = config.settings.state_dir / DATABASE_NAME
    database.write_bytes(b"this is not a database" * 100)
    result = feeds_once(config)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert str(database) in result.stderr and "move it away" in result.stderr


def test_a_locked_database_is_a_clear_error_without_traceback(
    site: Site, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.publish(numbered_articles(FIRST, prefix="harbour"))
    config = config_for(write_config, site)
    assert invoke("--config", str(config.file), "once")[0] == 0
    site.publish(numbered_articles(FIRST + LATER, prefix="harbour"))
    database = config.settings.state_dir / DATABASE_NAME
    monkeypatch.setattr("feeds.storage.engines.BUSY_TIMEOUT_SECONDS", 0.5)
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the database
    try:
        status, _, err = invoke("--config", str(config.file), "once")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert status != 0
    assert "Traceback" not in err
    assert "database is locked" in err and str(database) in err and "close it" in err, err
    assert invoke("--config", str(config.file), "once")[0] == 0  # once it is released
