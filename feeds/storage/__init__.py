"""The state: what runs remember between them. ``interface`` says what a store does;
``database`` keeps it in SQLite in a state directory (the default) or in PostgreSQL,
``memory`` in the process (tests, and anything that needs no disk). Nothing outside this
package names an implementation: it opens a store with ``open_store``, and takes a
cluster's lock with ``cluster_lock``."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from feeds.extras import require
from feeds.storage.interface import HeldLock, Store

DATABASE_NAME = "feeds.sqlite3"
"""The SQLite file of a state directory."""


def open_store(state_dir: Path, database: str | None = None) -> Store:
    """A connection to the state: in PostgreSQL at ``database`` (a postgresql:// URL),
    else in SQLite in ``state_dir`` (created when missing)."""
    from feeds.storage.database import DatabaseStore  # SQLAlchemy once a store is opened

    if database:
        require("cluster", _POSTGRESQL)
        return DatabaseStore.at(database)
    return DatabaseStore.in_directory(state_dir)


def cluster_lock(database: str, name: str, holder: str) -> AbstractContextManager[HeldLock]:
    """Hold the lock ``name`` for the whole cluster whose state is in ``database`` (a
    feed's runs, the scheduler's turn); ``FeedBusyError`` when another process holds it.
    ``holder`` says who holds it, for the database's own view of its connections;
    ``DatabaseUnavailableError`` when the database cannot be reached."""
    require("cluster", _POSTGRESQL)
    from feeds.storage.advisory import advisory_lock

    return advisory_lock(database, name, holder)


_POSTGRESQL = "settings.database (PostgreSQL)"


def state_exists(state_dir: Path) -> bool:
    """Whether a state has been kept in ``state_dir`` (a run has happened there)."""
    return (state_dir / DATABASE_NAME).exists()
