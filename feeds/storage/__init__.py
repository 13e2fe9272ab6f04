"""The state: what runs remember between them. ``interface`` says what a store does;
``sqlite`` keeps it in a state directory (the default), ``memory`` in the process (tests,
and anything that needs no disk). Nothing outside this package names an implementation:
it opens a store with ``open_store``."""

from __future__ import annotations

from pathlib import Path

from feeds.extras import require
from feeds.storage.interface import Store
from feeds.storage.sqlite import DATABASE_NAME, SqliteStore


def open_store(state_dir: Path, database: str | None = None) -> Store:
    """A connection to the state: in PostgreSQL at ``database`` (a postgresql:// URL),
    else in SQLite in ``state_dir`` (created when missing)."""
    if database:
        require("cluster", "settings.database (PostgreSQL)")
        from feeds.storage.postgres import PostgresStore  # psycopg only when asked for

        return PostgresStore(database)
    return SqliteStore.in_directory(state_dir)


def state_exists(state_dir: Path) -> bool:
    """Whether a state has been kept in ``state_dir`` (a run has happened there)."""
    return (state_dir / DATABASE_NAME).exists()
