"""The real service (`feeds run`) in a subprocess, against sites on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import feedparser
import pytest

from tests.newssite import numbered_articles, serve_news
from tests.sitesim import SiteSim


def rewrite(config: Path, text: str) -> None:
    """Write the config anew with a later modification time at once (no waiting for the
    clock to tick past the file system's resolution)."""
    before = config.stat().st_mtime
    config.write_text(text)
    os.utime(config, (before + 2, before + 2))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Service:
    """`feeds run` in a subprocess, with its log in a file."""

    def __init__(self, config: Path, *extra: str) -> None:
        self.config = config
        self.log = config.parent / f"service-{time.monotonic_ns()}.log"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "feeds",
                "--config",
                str(config),
                "--log-level",
                "info",
                "run",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
            cwd=config.parent,
        )

    def output(self) -> str:
        return self.log.read_text()

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def get(url: str, **headers: str) -> tuple[int, bytes, Message]:
    """Status, body and (case-insensitive) headers; status 0 when nobody answers."""
    request = urllib.request.Request(
        url, headers={k.replace("_", "-"): v for k, v in headers.items()}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers
    except OSError:
        return 0, b"", Message()


def wait_for(condition: Callable[[], Any], timeout: float = 20, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what or condition}")


@pytest.fixture
def site() -> Iterator[SiteSim]:
    with SiteSim("127.0.0.1") as sim:
        yield sim


def write_config(tmp_path: Path, port: int, feeds: str, settings: str = "") -> Path:
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
        f"  retries: 0\n  base_url: http://127.0.0.1:{port}/\n  serve: {{host: 127.0.0.1, port: {port}}}\n"
        f"{settings}feeds:\n{feeds}"
    )
    return config


def news_feed(site: SiteSim, name: str = "news", interval: str = "1s", path: str = "/news/") -> str:
    return f"  {name}:\n    interval: {interval}\n    sources:\n      - url: {site.url(path)}\n"


def entries(port: int, name: str = "news.atom") -> list[Any]:
    status, body, _ = get(f"http://127.0.0.1:{port}/{name}")
    return list(feedparser.parse(body).entries) if status == 200 else []


def test_new_article_is_served_within_a_few_intervals(site: SiteSim, tmp_path: Path) -> None:
    articles = numbered_articles(3)
    serve_news(site, articles[1:])
    port = free_port()
    service = Service(write_config(tmp_path, port, news_feed(site)))
    try:
        wait_for(lambda: len(entries(port)) == 2, what="the first run")
        serve_news(site, articles)  # a new article at the top of the listing
        wait_for(lambda: len(entries(port)) == 3, timeout=15, what="the new article")
        assert entries(port)[0].title == articles[0].title

        status, _, headers = get(f"http://127.0.0.1:{port}/news.xml")
        assert status == 200 and headers["Content-Type"] == "application/rss+xml; charset=utf-8"
        status, body, _ = get(f"http://127.0.0.1:{port}/news.xml", If_None_Match=headers["ETag"])
        assert (status, body) == (304, b"")
        assert get(f"http://127.0.0.1:{port}/%2e%2e/state/feeds.sqlite3")[0] == 404
        status, body, _ = get(f"http://127.0.0.1:{port}/healthz")
        health = json.loads(body)
        assert status == 200 and health["feeds"]["news"]["result"] == "ok"
        assert health["feeds"]["news"]["items"] == 3 and health["feeds"]["news"]["next_run"]
        status, body, _ = get(f"http://127.0.0.1:{port}/metrics")
        metrics = body.decode()
        assert status == 200 and 'feeds_items_new_total{feed="news"} 3.0' in metrics
        assert 'feeds_runs_total{feed="news",result="ok"}' in metrics
        assert 'feeds_requests_total{status="2xx"}' in metrics
        assert "feeds_extraction_seconds_count" in metrics
    finally:
        assert service.stop() == 0
    assert "feed news: 1 new, 0 updated, 0 failed" in service.output()


def test_sigterm_during_a_run(tmp_path: Path) -> None:
    with SiteSim("127.0.0.1", latency=0.4) as site:
        articles = numbered_articles(24)
        serve_news(site, articles[-2:])
        port = free_port()
        config = write_config(
            tmp_path, port, news_feed(site, interval="1h"), "  per_host_concurrency: 2\n"
        )
        first = subprocess.run(
            [sys.executable, "-m", "feeds", "--config", str(config), "once"], capture_output=True
        )
        assert first.returncode == 0, first.stderr
        previous = (tmp_path / "output" / "news.xml").read_bytes()
        serve_news(site, articles)  # 22 new, slow pages
        site.hits.clear()

        service = Service(config)
        wait_for(
            lambda: len([h for h in site.hits if h.path.startswith("/news/2")]) >= 2, what="the run"
        )
        status = service.stop(timeout=30)

        assert status == 0, service.output()
        # stopped in the middle of the run, not after it: the slow pages were not all read
        assert len([h for h in site.hits if h.path.startswith("/news/2")]) < 22
        output = tmp_path / "output"
        assert [p.name for p in output.iterdir() if p.name.startswith(".")] == []  # no half file
        current = feedparser.parse((output / "news.xml").read_bytes())
        assert current.bozo == 0
        old_titles = {e.title for e in feedparser.parse(previous).entries}
        assert old_titles <= {e.title for e in current.entries}  # the previous items are kept
        db = sqlite3.connect(tmp_path / "state" / "feeds.sqlite3")
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        db.close()

        again = subprocess.run(
            [sys.executable, "-m", "feeds", "--config", str(config), "once"],
            capture_output=True,
            timeout=120,
        )
        assert again.returncode == 0, again.stderr
        assert len(feedparser.parse((output / "news.xml").read_bytes()).entries) == 24


def test_config_changes_while_running(site: SiteSim, tmp_path: Path) -> None:
    serve_news(site, numbered_articles(2))
    serve_news(site, numbered_articles(2, prefix="sport"), "/sport/")
    port = free_port()
    config = write_config(tmp_path, port, news_feed(site, interval="1h"))
    service = Service(config)
    try:
        wait_for(lambda: len(entries(port)) == 2, what="the first run")
        rewrite(config, config.read_text() + news_feed(site, "sport", "1h", "/sport/"))
        wait_for(lambda: len(entries(port, "sport.atom")) == 2, timeout=15, what="the added feed")

        rewrite(config, config.read_text().replace("    interval: 1h\n", "    interval: [1h\n", 1))
        wait_for(
            lambda: "config not reloaded" in service.output(), timeout=10, what="the rejection"
        )
        assert service.process.poll() is None  # still running, on the old config
        line = next(x for x in service.output().splitlines() if "config not reloaded" in x)
        assert f"{config}:" in line and "invalid YAML" in line
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    finally:
        assert service.stop() == 0


def test_second_process_on_the_same_state_is_refused(site: SiteSim, tmp_path: Path) -> None:
    serve_news(site, numbered_articles(1))
    port = free_port()
    config = write_config(tmp_path, port, news_feed(site, interval="1h"))
    service = Service(config)
    try:
        wait_for(lambda: entries(port), what="the service")
        for command in (["run", "--no-serve"], ["once"]):
            second = subprocess.run(
                [sys.executable, "-m", "feeds", "--config", str(config), *command],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert second.returncode == 1
            assert f"is in use by feeds process {service.process.pid}" in second.stderr
            assert "one feeds process per state directory" in second.stderr
    finally:
        assert service.stop() == 0


def test_healthz_turns_503_past_the_threshold(site: SiteSim, tmp_path: Path) -> None:
    site.respond("/news/", lambda handler: handler.send_body(500, b"broken", "text/plain"))
    port = free_port()
    service = Service(write_config(tmp_path, port, news_feed(site), "  unhealthy_after: 2\n"))
    try:

        def health() -> tuple[int, dict[str, Any]]:
            status, body, _ = get(f"http://127.0.0.1:{port}/healthz")
            return status, json.loads(body) if body else {}

        wait_for(
            lambda: health()[1].get("feeds", {}).get("news", {}).get("failed_runs", 0) >= 1,
            what="a failed run",
        )
        status, details = health()
        assert status == 200
        news = details["feeds"]["news"]
        assert news["result"] == "failed"
        assert news["last_error"].endswith("HTTP 500 Internal Server Error")
        wait_for(lambda: health()[0] == 503, timeout=20, what="503")
        assert health()[1]["status"] == "failing"
    finally:
        assert service.stop() == 0


def test_json_logs(site: SiteSim, tmp_path: Path) -> None:
    serve_news(site, numbered_articles(1))
    port = free_port()
    config = write_config(tmp_path, port, news_feed(site, interval="1h"))
    log = tmp_path / "json.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "feeds", "--config", str(config), "--log-format", "json", "run"],
        stderr=log.open("w"),
    )
    try:
        wait_for(lambda: '"new": 1' in log.read_text(), what="the run's log line")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    [run] = [r for r in records if r.get("feed") == "news" and "new" in r]
    assert (run["level"], run["new"], run["failed"]) == ("info", 1, 0)
    assert run["message"].startswith("feed news: 1 new")


def test_a_feed_is_refreshed_in_the_running_service(site: SiteSim, tmp_path: Path) -> None:
    """`once` is refused while the service holds the state, and says so; `feeds refresh`
    asks the service, which runs the feed at once (its interval is an hour away)."""
    serve_news(site, numbered_articles(2))
    port = free_port()
    config = write_config(tmp_path, port, news_feed(site, interval="1h"), "  run_at_start: false\n")
    service = Service(config)
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz")[0], what="the service")
        assert entries(port) == []  # not run yet: its first run is an hour away
        once = subprocess.run(
            [sys.executable, "-m", "feeds", "--config", str(config), "once"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert once.returncode == 1 and "`feeds refresh FEED` asks it" in once.stderr
        refresh = subprocess.run(
            [sys.executable, "-m", "feeds", "--config", str(config), "refresh", "news"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert refresh.returncode == 0, refresh.stderr
        wait_for(lambda: len(entries(port)) == 2, timeout=20, what="the refreshed feed")
    finally:
        assert service.stop() == 0
    assert "feed news: refresh asked for: running it now" in service.output()
    no_service = subprocess.run(
        [sys.executable, "-m", "feeds", "--config", str(config), "refresh", "news"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert no_service.returncode == 1 and "no feeds service runs on" in no_service.stderr


def test_a_feed_taken_out_of_the_config_is_no_longer_served(site: SiteSim, tmp_path: Path) -> None:
    serve_news(site, numbered_articles(2))
    serve_news(site, numbered_articles(2, prefix="other"), "/other/")
    port = free_port()
    feeds = news_feed(site, interval="1h") + news_feed(site, "other", "1h", "/other/")
    config = write_config(tmp_path, port, feeds)
    service = Service(config)
    try:
        wait_for(lambda: entries(port, "other.atom"), what="the first runs")
        rewrite(config, config.read_text().split("  other:")[0])
        wait_for(lambda: get(f"http://127.0.0.1:{port}/other.atom")[0] == 404, what="removal")
        index = get(f"http://127.0.0.1:{port}/")[1].decode()
        assert "other.atom" not in index and "news.atom" in index
    finally:
        assert service.stop() == 0
    assert not list((tmp_path / "output").glob("other.*"))
