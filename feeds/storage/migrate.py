"""The state's schema brought up to date: Alembic's revisions (``migrations/versions``),
written once for every database, run inside one transaction that a single process holds
(SQLite's write lock, a PostgreSQL advisory lock), so that processes starting together
migrate once.

Databases made before Alembic kept their schema number themselves (SQLite's
``user_version`` up to 11, PostgreSQL's ``feeds_schema`` up to 3); every one of those
steps added tables, columns or indexes, so such a database is given what it lacks of the
current tables and then marked as up to date."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Connection, inspect, text

from feeds.errors import StorageError
from feeds.storage.schema import metadata

log = logging.getLogger(__name__)

HEAD = "0003"
"""The newest revision (a test holds it to the revisions' own head): a database there
needs no Alembic at all, which keeps it out of a process's start."""
LAST_LEGACY_SCHEMA = {"sqlite": 11, "postgresql": 3}
MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATOR_LOCK = 7446174
"""The PostgreSQL advisory lock held while migrating."""


def bring_up_to_date(connection: Connection, name: str) -> None:
    """Migrate the database behind ``connection`` (in autocommit mode) to ``HEAD``;
    ``name`` says which database in messages."""
    if _revision(connection) == HEAD:
        return
    sqlite = connection.dialect.name == "sqlite"
    connection.exec_driver_sql("BEGIN IMMEDIATE" if sqlite else "BEGIN")
    try:
        if not sqlite:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATOR_LOCK})
        current = _revision(connection)  # another process may have migrated meanwhile
        if current != HEAD:
            _upgrade(connection, name, current)
    except BaseException:
        connection.exec_driver_sql("ROLLBACK")
        raise
    connection.exec_driver_sql("COMMIT")


def _revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _upgrade(connection: Connection, name: str, current: str | None) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    if current is not None and current not in known:
        raise _newer(name, current)
    if current is None and _legacy_schema(connection, name):
        _add_missing(connection)
        command.stamp(config, "head")
        log.info("state database %s: made before migrations moved to Alembic, now current", name)
    else:
        command.upgrade(config, "head")
        log.info("state database %s: schema %s -> %s", name, current or "(new)", HEAD)


def _legacy_schema(connection: Connection, name: str) -> bool:
    """Whether the database holds a schema numbered by feeds before Alembic (refused
    when the number is newer than the last one there was)."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        version = connection.exec_driver_sql("PRAGMA user_version").scalar() or 0
    elif inspect(connection).has_table("feeds_schema"):
        version = connection.exec_driver_sql("SELECT max(version) FROM feeds_schema").scalar()
    else:
        version = 0
    if version and version > LAST_LEGACY_SCHEMA[dialect]:
        raise _newer(name, f"schema {version}")
    return bool(version)


def _add_missing(connection: Connection) -> None:
    """Give the database the tables, columns and indexes of ``metadata`` it lacks."""
    from alembic.autogenerate import compare_metadata
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection)
    operations = Operations(context)
    for difference in compare_metadata(context, metadata):
        kind = difference[0] if isinstance(difference, tuple) else None
        if kind == "add_table":
            difference[1].create(connection)
        elif kind == "add_column":
            _, _, table, column = difference
            operations.add_column(table, column._copy())
        elif kind == "add_index":
            difference[1].create(connection)


def _newer(name: str, version: str) -> StorageError:
    return StorageError(
        f"the state database {name} is from a newer version of feeds ({version}); "
        "upgrade feeds, or point settings at another state"
    )
