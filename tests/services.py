"""The services some tests need (PostgreSQL, Redis): reached on this machine, skipped with
the reason when they are not, unless FEEDS_REQUIRE_SERVICES is set (CI), where their
absence fails the test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest

POSTGRES = os.environ.get("FEEDS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
"""The PostgreSQL database the tests make their schemas in."""
REDIS = os.environ.get("FEEDS_TEST_REDIS", "redis://127.0.0.1:6379/0")
"""The Redis server the tests keep their keys in (each test under its own prefix)."""


def unavailable(what: str, reason: str) -> None:
    """Skip, saying why; or fail where the services are required."""
    variable = "FEEDS_TEST_REDIS" if what == "Redis" else "FEEDS_TEST_POSTGRES"
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
