"""A lock held across a PostgreSQL cluster (a feed's runs, the scheduler's turn): a
PostgreSQL advisory lock, on a connection of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from feeds.errors import DatabaseUnavailableError, FeedBusyError
from feeds.storage.engines import reason

LOCK_KEY = "('x' || substr(md5(current_schema() || ':' || :name), 1, 16))::bit(64)::bigint"
"""The advisory lock of a name: a 64-bit key from the schema and the name."""


class AdvisoryLock:
    """A held advisory lock: its connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def alive(self) -> bool:
        """Whether the connection, and with it the lock, is still there."""
        try:
            self._connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True


@contextmanager
def advisory_lock(url: str, name: str, holder: str) -> Iterator[AdvisoryLock]:
    """Hold the cluster-wide lock ``name`` (``FeedBusyError`` when another process holds
    it). The lock belongs to a connection of its own: a holder that dies, however it dies,
    drops the connection and with it the lock (keepalives notice a machine that vanished);
    ``alive()`` says whether it is still held. ``holder`` names the connection
    (``pg_stat_activity``)."""
    address = make_url(url).set(drivername="postgresql+psycopg")
    engine = create_engine(
        address,
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={
            "application_name": holder[:63],
            "connect_timeout": 10,
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        },
    )
    shown = address.set(drivername="postgresql").render_as_string(hide_password=True)
    try:
        try:
            connection = engine.connect()
            taken = connection.execute(
                text(f"SELECT pg_try_advisory_lock({LOCK_KEY})"), {"name": name}
            ).scalar()
        except SQLAlchemyError as exc:
            raise DatabaseUnavailableError(f"state database {shown}: {reason(exc)}") from exc
        with connection:
            if not taken:
                raise FeedBusyError(name)
            yield AdvisoryLock(connection)  # closing the connection releases the lock
    finally:
        engine.dispose()
