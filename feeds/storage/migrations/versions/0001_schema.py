"""The state's schema as it stood when migrations moved to Alembic (SQLite's schema 11,
PostgreSQL's 3): items and the URLs that lead to them, left-out URLs, failing articles,
runs, HTTP validators, source health, what a feed learnt, kept pages, published
documents and the due runs a cluster ran.

Revision ID: 0001
Revises:
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from feeds.storage.schema import UtcTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TEXT, TIME, COUNT, BYTES = sa.Text(), UtcTime(), sa.Integer(), sa.LargeBinary()
NO_ROWID: dict[str, Any] = {"sqlite_with_rowid": False}


def required(
    name: str, kind: sa.types.TypeEngine[Any], default: str | None = None
) -> sa.Column[Any]:
    """A NOT NULL column, with a server default when one is given."""
    return sa.Column(name, kind, nullable=False, server_default=default)


def key(*names: str) -> list[sa.Column[Any]]:
    """Text columns that make the primary key."""
    return [sa.Column(name, TEXT, primary_key=True) for name in names]


def upgrade() -> None:
    row_number = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "items",
        sa.Column("seq", row_number, primary_key=True, autoincrement=True),
        *(required(name, TEXT) for name in ("feed", "id", "url", "title")),
        sa.Column("author", TEXT),
        required("published", TIME),
        required("updated", TIME),
        required("summary", TEXT),
        required("content_html", TEXT),
        sa.Column("image", TEXT),
        required("categories", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), "[]"),
        required("fingerprint", BYTES),
        required("first_seen", TIME),
        required("source", TEXT, ""),
        required("content_hash", TEXT, ""),
        sa.Column("language", TEXT),
        sa.UniqueConstraint("feed", "id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "items_by_date",
        "items",
        ["feed", sa.text("published DESC"), sa.text("first_seen DESC"), sa.text("seq DESC")],
    )
    op.create_index("items_by_first_seen", "items", ["feed", "source", "first_seen"])
    op.create_table("item_urls", *key("feed", "url"), required("item_id", TEXT), **NO_ROWID)
    op.create_table(
        "rejected_urls",
        *key("feed", "url"),
        required("rules", TEXT),
        required("reason", TEXT),
        required("at", TIME),
        **NO_ROWID,
    )
    op.create_table(
        "article_failures",
        *key("feed", "url"),
        required("failures", COUNT),
        required("last_error", TEXT),
        required("at", TIME),
        **NO_ROWID,
    )
    op.create_table(
        "runs",
        sa.Column("seq", row_number, primary_key=True, autoincrement=True),
        required("feed", TEXT),
        required("started", TIME),
        required("duration", sa.Double()),
        *(
            required(name, COUNT)
            for name in ("new", "updated", "unchanged", "skipped", "failed", "sources")
        ),
        required("sources_failed", COUNT),
        required("errors", TEXT, "[]"),
        required("sources_skipped", COUNT, "0"),
        sqlite_autoincrement=True,
    )
    op.create_index("runs_by_feed", "runs", ["feed", sa.text("seq DESC")])
    op.create_table(
        "http_validators",
        *key("url"),
        sa.Column("etag", TEXT),
        sa.Column("last_modified", TEXT),
        required("saved", TIME),
        **NO_ROWID,
    )
    op.create_table(
        "source_health",
        *key("feed", "source"),
        required("failures", COUNT, "0"),
        sa.Column("last_error", TEXT),
        *(sa.Column(name, TIME) for name in ("last_success", "last_failure", "next_attempt")),
        required("config", TEXT, ""),
        required("links_seen", COUNT, "0"),
        sa.Column("broken", TEXT),
        required("failed_config", TEXT, ""),
        **NO_ROWID,
    )
    op.create_table(
        "feed_info",
        *key("feed"),
        *(sa.Column(name, TEXT) for name in ("icon", "published", "extraction")),
        **NO_ROWID,
    )
    op.create_table(
        "pages",
        *key("feed", "item_id"),
        *(
            required(name, TEXT)
            for name in ("source", "url", "final_url", "content_type", "encoding")
        ),
        required("fetched_at", TIME),
        required("body", BYTES),
        **NO_ROWID,
    )
    op.create_table(
        "documents",
        *key("name"),
        required("body", BYTES),
        required("etag", TEXT),
        required("modified", TIME),
        **NO_ROWID,
    )
    op.create_table(
        "due_runs",
        *key("feed"),
        sa.Column("due", TIME, primary_key=True),
        required("finished", TIME),
        **NO_ROWID,
    )


def downgrade() -> None:
    for table in (
        "due_runs",
        "documents",
        "pages",
        "feed_info",
        "source_health",
        "http_validators",
        "runs",
        "article_failures",
        "rejected_urls",
        "item_urls",
        "items",
    ):
        op.drop_table(table)
