"""Connections to the state's databases: one SQLAlchemy engine per SQLite file or
PostgreSQL URL, kept for the process, its schema brought up to date once.

SQLite is opened in WAL mode (readers never block a run) with a busy timeout; each store
holds a connection of its own. PostgreSQL connections come from a pool, each checked
before it is handed out (a database that restarted costs a reconnection, not a failed
run) and set to UTC."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

BUSY_TIMEOUT_SECONDS = 30.0
"""How long a write to SQLite waits for another program's lock before the run fails."""
POOL_SIZE, POOL_OVERFLOW = 5, 35
"""PostgreSQL connections a process keeps, and how many more it may open when busy."""


@dataclass
class Database:
    """An engine and what the process knows of it."""

    engine: Engine
    name: str
    """How messages name the database: a file, or a URL without its password."""
    writing: threading.Lock = field(default_factory=threading.Lock)
    """Taken by this process's writers to SQLite, one at a time: queued on a lock, a
    writer starts the moment the previous write ends (SQLite itself would have it poll,
    sleeping up to 100 ms between tries). Unused for PostgreSQL."""
    migrated: bool = False

    @property
    def is_sqlite(self) -> bool:
        """Whether this is a SQLite file (else PostgreSQL)."""
        return self.engine.dialect.name == "sqlite"


_DATABASES: dict[str, Database] = {}
_DATABASES_LOCK = threading.Lock()


def sqlite_database(path: Path) -> Database:
    """The SQLite database at ``path``."""
    key = str(path.resolve())
    with _DATABASES_LOCK:
        database = _DATABASES.get(key)
        if database is None:
            engine = create_engine(f"sqlite:///{key}", poolclass=NullPool)
            event.listen(engine, "connect", _sqlite_connected)
            database = _DATABASES[key] = Database(engine, str(path))
        return database


def postgres_database(url: str) -> Database:
    """The PostgreSQL database at ``url`` (``postgresql://...``)."""
    with _DATABASES_LOCK:
        database = _DATABASES.get(url)
        if database is None:
            address = make_url(url).set(drivername="postgresql+psycopg")
            engine = create_engine(
                address,
                pool_size=POOL_SIZE,
                max_overflow=POOL_OVERFLOW,
                pool_timeout=30,
                pool_pre_ping=True,
                connect_args={"connect_timeout": 10},
            )
            event.listen(engine, "connect", _postgres_connected)
            name = address.set(drivername="postgresql").render_as_string(hide_password=True)
            database = _DATABASES[url] = Database(engine, name)
        return database


def forget_database(url: str) -> None:
    """Close the connections kept for ``url`` (a database dropped, a test over)."""
    with _DATABASES_LOCK:
        database = _DATABASES.pop(url, None)
    if database is not None:
        database.engine.dispose()


def _sqlite_connected(connection: Any, _: object) -> None:
    connection.isolation_level = None  # transactions are begun by the store, as it says
    connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")


def _postgres_connected(connection: Any, _: object) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'UTC'")
    connection.commit()


def reason(exc: SQLAlchemyError) -> str:
    """What the database driver said, without SQLAlchemy's wrapping (the statement, a
    link to its documentation)."""
    original = getattr(exc, "orig", None)
    return str(original if original is not None else exc).strip()
