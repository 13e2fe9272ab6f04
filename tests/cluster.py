"""A cluster of feeds processes on this machine, for the cluster tests and benchmark:
a scheduler (``feeds run``), workers (``feeds worker``) and servers (``feeds serve``),
each a separate OS process on one config, with the state in a PostgreSQL schema and
the queue and politeness under a Redis key prefix of their own."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from feeds.storage.database import DatabaseStore
from tests.sitesim import SiteSim

STOP_SECONDS = 20


@dataclass
class Process:
    """One feeds process, its output in a file."""

    role: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Cluster:
    """The processes of one cluster, stopped (then killed) on leaving."""

    config: Path
    database: str
    processes: list[Process] = field(default_factory=list)

    def cli(self, config: Path | None = None) -> list[str]:
        """The command line of feeds on the cluster's config (or another machine's),
        to add a command to."""
        return [sys.executable, "-m", "feeds", "--config", str(config or self.config)]

    def start(
        self, role: str, *args: str, port: int | None = None, config: Path | None = None
    ) -> Process:
        """Start ``feeds <role> <args>`` on the cluster's config (or another machine's:
        its own directory, state directory and log)."""
        directory = (config or self.config).parent
        log = directory / f"{role}-{len(self.processes)}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if port is not None:
            env["FEEDS_SERVE_PORT"] = str(port)
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [*self.cli(config), role, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=directory,
            )
        process = Process(role, popen, log, port)
        self.processes.append(process)
        return process

    def stop(self) -> None:
        """SIGTERM every process still running, then SIGKILL what has not ended."""
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for process in self.processes:
            try:
                process.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()

    def store(self) -> DatabaseStore:
        return DatabaseStore.at(self.database)

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Rows of a query on the cluster's state."""
        with self.store() as store, store.engine.connect() as connection:
            return [tuple(row) for row in connection.exec_driver_sql(sql, params)]

    def kill(self, pid: int) -> None:
        """SIGKILL one of the processes (a machine lost in the middle of its work)."""
        for process in self.processes:
            if process.popen.pid == pid:
                process.popen.kill()
                process.popen.wait()
                process.role = f"killed {process.role}"

    def wait(self, condition: Callable[[], bool], *, what: str, seconds: float) -> None:
        """Poll ``condition`` until it holds; fail with the processes' logs after
        ``seconds``, or as soon as one of them ended on its own."""
        deadline = time.monotonic() + seconds
        while not condition():
            ended = [
                p for p in self.processes if p.popen.poll() is not None and "killed" not in p.role
            ]
            if ended or time.monotonic() > deadline:
                why = f"{ended[0].role} ended" if ended else "timed out"
                raise AssertionError(f"{why} waiting for {what}\n{self.logs()}")
            time.sleep(0.2)

    def workers(self) -> list[Process]:
        return [process for process in self.processes if process.role == "worker"]

    def logs(self) -> str:
        return "\n".join(f"--- {p.role} {p.popen.pid}\n{p.output()}" for p in self.processes)


@contextlib.contextmanager
def cluster(config: Path, database: str) -> Iterator[Cluster]:
    """A cluster on ``config``; its processes are stopped on leaving."""
    running = Cluster(config, database)
    try:
        yield running
    finally:
        running.stop()


def cluster_config(
    directory: Path,
    *,
    database: str,
    broker: str,
    prefix: str,
    feeds: dict[str, str],
    settings: str = "",
    cluster_settings: str = "",
) -> Path:
    """A config file of a cluster whose feeds read one listing each (``feeds``: id to
    listing URL); ``settings`` and ``cluster_settings`` add lines to those sections."""
    lines = [
        "settings:",
        "  output_dir: output",
        "  state_dir: state",
        f"  database: '{database}'",
        "  retries: 0",
        "  extract_workers: 0",
        "  cluster:",
        f"    broker: '{broker}'",
        f"    prefix: {prefix}",
        *(f"    {line}" for line in cluster_settings.splitlines()),
        *(f"  {line}" for line in settings.splitlines()),
        "feeds:",
    ]
    for feed_id, url in feeds.items():
        lines += [f"  {feed_id}:", f"    sources: [{{url: '{url}'}}]"]
    path = directory / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def http_get(url: str, **headers: str) -> tuple[int, Message, bytes]:
    """Status, headers and body of a GET (a 304 is an answer, not an error)."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def healthz(port: int) -> dict[str, Any] | None:
    """A server's /healthz, None while it does not answer."""
    try:
        _, _, body = http_get(f"http://127.0.0.1:{port}/healthz")
    except OSError:
        return None
    return dict(json.loads(body))


def slow_article(site: SiteSim, path: str, release: threading.Event) -> threading.Event:
    """Make ``path`` hang until ``release`` (60 s at most); returns an event set when the
    first request for it arrives."""
    reached = threading.Event()
    body = site.resources.pop(path).body

    def respond(handler: object) -> None:
        reached.set()
        release.wait(60)
        handler.send_body(200, body, "text/html; charset=utf-8")  # type: ignore[attr-defined]

    site.respond(path, respond)
    return reached
