"""The state's tables, declared once for every database (SQLAlchemy Core).

Where the databases differ, the types say how: a time is ``timestamptz`` in PostgreSQL and
fixed-width UTC text in SQLite (so text order is time order, as databases made before
this module keep them); categories are JSONB in PostgreSQL, JSON text in SQLite; a row
number is a ``BIGSERIAL`` in PostgreSQL, SQLite's ``INTEGER PRIMARY KEY AUTOINCREMENT``.
The migrations (``feeds/storage/migrations``) create and change these tables; a test holds
the two to the same schema.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator, TypeEngine

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""How SQLite keeps a time: UTC, fixed width."""


class UtcTime(TypeDecorator[datetime]):
    """A point in time, read back in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return value.astimezone(UTC).strftime(TIME_FORMAT)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value)  # reads the "Z" as UTC; 30 times strptime's
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def _row_number() -> Column[int]:
    return Column(
        "seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )


def _text(name: str, *, key: bool = False, default: str | None = None) -> Column[str]:
    """A text column: part of the primary key, required (with a default), or optional."""
    if key:
        return Column(name, Text, primary_key=True)
    if default is None:
        return Column(name, Text, nullable=False)
    return Column(name, Text, nullable=False, server_default=text(f"'{default}'"))


def _count(name: str, *, default: bool = False) -> Column[int]:
    return Column(name, Integer, nullable=False, server_default=text("0") if default else None)


metadata = MetaData()
_WITHOUT_ROWID: dict[str, Any] = {"sqlite_with_rowid": False}

items = Table(
    "items",
    metadata,
    _row_number(),
    _text("feed"),
    _text("id"),
    _text("url"),
    _text("title"),
    Column("author", Text),
    Column("published", UtcTime, nullable=False),
    Column("updated", UtcTime, nullable=False),
    _text("summary"),
    _text("content_html"),
    Column("image", Text),
    Column(
        "categories",
        JSON().with_variant(JSONB(), "postgresql"),
        nullable=False,
        server_default=text("'[]'"),
    ),
    Column("fingerprint", LargeBinary, nullable=False),
    Column("first_seen", UtcTime, nullable=False),
    _text("source", default=""),
    _text("content_hash", default=""),
    Column("language", Text),
    UniqueConstraint("feed", "id"),
    sqlite_autoincrement=True,
)
Index(
    "items_by_date",
    items.c.feed,
    items.c.published.desc(),
    items.c.first_seen.desc(),
    items.c.seq.desc(),
)
Index("items_by_first_seen", items.c.feed, items.c.source, items.c.first_seen)

item_urls = Table(
    "item_urls",
    metadata,
    _text("feed", key=True),
    _text("url", key=True),
    _text("item_id"),
    **_WITHOUT_ROWID,
)

rejected_urls = Table(
    "rejected_urls",
    metadata,
    _text("feed", key=True),
    _text("url", key=True),
    _text("rules"),
    _text("reason"),
    Column("at", UtcTime, nullable=False),
    **_WITHOUT_ROWID,
)

article_failures = Table(
    "article_failures",
    metadata,
    _text("feed", key=True),
    _text("url", key=True),
    _count("failures"),
    _text("last_error"),
    Column("at", UtcTime, nullable=False),
    **_WITHOUT_ROWID,
)

runs = Table(
    "runs",
    metadata,
    _row_number(),
    _text("feed"),
    Column("started", UtcTime, nullable=False),
    Column("duration", Double, nullable=False),
    _count("new"),
    _count("updated"),
    _count("unchanged"),
    _count("skipped"),
    _count("failed"),
    _count("sources"),
    _count("sources_failed"),
    _text("errors", default="[]"),
    _count("sources_skipped", default=True),
    sqlite_autoincrement=True,
)
Index("runs_by_feed", runs.c.feed, runs.c.seq.desc())

http_validators = Table(
    "http_validators",
    metadata,
    _text("url", key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("saved", UtcTime, nullable=False),
    **_WITHOUT_ROWID,
)

source_health = Table(
    "source_health",
    metadata,
    _text("feed", key=True),
    _text("source", key=True),
    _count("failures", default=True),
    Column("last_error", Text),
    Column("last_success", UtcTime),
    Column("last_failure", UtcTime),
    Column("next_attempt", UtcTime),
    _text("config", default=""),
    _count("links_seen", default=True),
    Column("broken", Text),
    _text("failed_config", default=""),
    **_WITHOUT_ROWID,
)

feed_info = Table(
    "feed_info",
    metadata,
    _text("feed", key=True),
    Column("icon", Text),
    Column("published", Text),
    Column("extraction", Text),
    **_WITHOUT_ROWID,
)

pages = Table(
    "pages",
    metadata,
    _text("feed", key=True),
    _text("item_id", key=True),
    _text("source"),
    _text("url"),
    _text("final_url"),
    _text("content_type"),
    _text("encoding"),
    Column("fetched_at", UtcTime, nullable=False),
    Column("body", LargeBinary, nullable=False),
    **_WITHOUT_ROWID,
)

documents = Table(
    "documents",
    metadata,
    _text("name", key=True),
    Column("body", LargeBinary, nullable=False),
    _text("etag"),
    Column("modified", UtcTime, nullable=False),
    **_WITHOUT_ROWID,
)

due_runs = Table(
    "due_runs",
    metadata,
    _text("feed", key=True),
    Column("due", UtcTime, primary_key=True),
    Column("finished", UtcTime, nullable=False),
    **_WITHOUT_ROWID,
)

schedule = Table(
    "schedule",
    metadata,
    _text("feed", key=True),
    Column("next_due", UtcTime, nullable=False),
    Column("sent_due", UtcTime),
    Column("sent_at", UtcTime),
    _count("sends", default=True),
    **_WITHOUT_ROWID,
)

workers = Table(
    "workers",
    metadata,
    _text("name", key=True),
    Column("seen", UtcTime, nullable=False),
    _count("running", default=True),
    _count("unrecorded", default=True),
    **_WITHOUT_ROWID,
)

on_demand = Table(
    "on_demand",
    metadata,
    _text("url", key=True),
    Column("max_items", Integer, primary_key=True),
    Column("created", UtcTime, nullable=False),
    **_WITHOUT_ROWID,
)
