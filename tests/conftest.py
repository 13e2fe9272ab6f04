"""Shared fixtures: a local news site, configs written to a temporary directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from feeds.config import Config, load_config
from feeds.extraction.workers import ExtractionPool
from feeds.fetching.client import Fetcher
from feeds.models import RunReport
from feeds.run.feed import Clock, utc_now
from feeds.service.runtime import Connect, Runtime
from feeds.storage.memory import MemoryState
from tests.newssite import NewsSite
from tests.sitesim import SiteSim

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """Every local test server listens on 127.0.0.1 only."""
    return ("127.0.0.1", 0)


@pytest.fixture
def httpserver(make_httpserver: HTTPServer) -> HTTPServer:
    """pytest-httpserver's server, for the tests that ask for it (not every test), cleared,
    and like a real site: an unknown path (robots.txt included) is 404, not its 500."""
    server = make_httpserver
    server.clear()
    server.no_handler_status_code = 404
    return server


@pytest.fixture
def news_site(httpserver: HTTPServer) -> NewsSite:
    """The simulated news site, served on 127.0.0.1."""
    return NewsSite(httpserver).serve()


WriteConfig = Callable[[str], Config]


@pytest.fixture
def site() -> Iterator[SiteSim]:
    """A simulated site on 127.0.0.1 (modules that want another address define their own)."""
    with SiteSim("127.0.0.1") as sim:
        yield sim


@pytest.fixture
def state() -> MemoryState:
    """A state kept in memory, for tests of the run (``run_once(..., connect=state.connect)``):
    the storage contract tests hold SQLite to the same behaviour."""
    return MemoryState()


FAST_SETTINGS = (
    "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n  retries: 1\n"
)


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """Write YAML (output and state in tmp_path unless given) and load it."""

    def write(text: str) -> Config:
        if "settings:" not in text:
            text = FAST_SETTINGS + text
        path = tmp_path / "feeds.yaml"
        path.write_text(text, encoding="utf-8")
        return load_config(path)

    return write


def run_once(
    config: Config,
    feed_id: str,
    *,
    clock: Clock | None = None,
    pool: ExtractionPool | None = None,
    connect: Connect | None = None,
    fetcher: Fetcher | None = None,
) -> RunReport:
    """Run one feed of ``config`` once, as ``feeds once --feed`` does (extracting in this
    thread unless a ``pool`` is given; the state in ``state_dir`` unless ``connect``
    opens another, a ``MemoryState``'s say; with the config's fetcher unless one is
    given)."""
    runtime = Runtime(
        config,
        connect=connect,
        pool=pool or ExtractionPool(0),
        fetcher=fetcher,
        clock=clock or utc_now,
    )
    with runtime:
        return runtime.run_and_record(config.feeds[feed_id])
