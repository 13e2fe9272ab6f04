"""The services some tests need (PostgreSQL, Redis): reached on this machine, skipped with
the reason when they are not, unless FEEDS_REQUIRE_SERVICES is set (CI), where their
absence fails the test."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

POSTGRES = os.environ.get("FEEDS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
"""The PostgreSQL database the tests make their schemas in."""
REDIS = os.environ.get("FEEDS_TEST_REDIS", "redis://127.0.0.1:6379/0")
"""The Redis server the tests keep their keys in (each test under its own prefix)."""
RABBITMQ = os.environ.get("FEEDS_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672//")
"""The RabbitMQ server the tests make their queues in (each test its own)."""


def unavailable(what: str, reason: str) -> None:
    """Skip, saying why; or fail where the services are required."""
    variable = {"Redis": "FEEDS_TEST_REDIS", "RabbitMQ": "FEEDS_TEST_RABBITMQ"}.get(
        what, "FEEDS_TEST_POSTGRES"
    )
    message = f"{what} is not reachable ({reason}); start it, or set {variable}"
    if os.environ.get("FEEDS_REQUIRE_SERVICES"):
        pytest.fail(message + " (FEEDS_REQUIRE_SERVICES is set: required here)")
    pytest.skip(message)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A database URL whose tables go to a fresh schema, dropped afterwards."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL", str(exc).strip().splitlines()[0])
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        separator = "&" if "?" in POSTGRES else "?"
        url = f"{POSTGRES}{separator}options={quote(f'-csearch_path={schema}')}"
        try:
            yield url
        finally:
            from feeds.storage.engines import forget_database

            forget_database(url)
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def redis_prefix() -> Iterator[tuple[str, str]]:
    """The Redis URL and a fresh key prefix, whose keys are deleted afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable("Redis", str(exc))
    prefix = f"feeds-test-{uuid.uuid4().hex[:12]}"
    try:
        yield REDIS, prefix
    finally:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


@contextmanager
def rabbitmq_prefix() -> Iterator[tuple[str, str]]:
    """The RabbitMQ URL and a fresh prefix; the queue and exchanges a cluster makes under
    it are deleted afterwards."""
    from kombu import Connection

    prefix = f"feeds-test-{uuid.uuid4().hex[:12]}"
    try:
        with Connection(RABBITMQ, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:
        unavailable("RabbitMQ", str(exc))
    try:
        yield RABBITMQ, prefix
    finally:
        with Connection(RABBITMQ, connect_timeout=3) as connection:
            channel = connection.default_channel
            channel.queue_delete(f"{prefix}.runs")
            for exchange in (f"{prefix}.runs", f"{prefix}.control", f"{prefix}.events"):
                channel.exchange_delete(exchange)


def free_port() -> int:
    """A TCP port nothing listens on now (on 127.0.0.1)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class OwnRedis:
    """A Redis server of the test's own on a free port, keeping nothing on disk (as the
    machines' Redis): stopped, it forgets what it held."""

    def __init__(self) -> None:
        program = shutil.which("redis-server")
        if program is None:
            unavailable("Redis", "no redis-server program to start one of the test's own")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._command = [
            str(program), "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no",
        ]  # fmt: skip
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(self._command, stdout=subprocess.DEVNULL)
        _wait_for_port(self.port, 10)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None


class OwnPostgres:
    """A PostgreSQL server of the test's own (initdb and pg_ctl as the postgres user, in a
    temporary directory, on a free port), to stop and start under a running cluster."""

    def __init__(self) -> None:
        binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not binaries or shutil.which("runuser") is None:
            unavailable("PostgreSQL", "no pg_ctl (or runuser) to start a server of the test's own")
        self._bin = binaries[-1].parent
        self.port = free_port()
        # not under pytest's temporary directory, which the postgres user cannot enter
        self.directory = Path(tempfile.mkdtemp(prefix="feeds-test-pg-"))
        self.data = self.directory / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        shutil.chown(self.directory, "postgres")
        self._as_postgres(
            self._bin / "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres"
        )

    def _as_postgres(self, *command: object) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, command)],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            self._bin / "pg_ctl", "-D", self.data, "-o", options, "-l",
            self.data / "server.log", "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._as_postgres(self._bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def __enter__(self) -> OwnPostgres:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
