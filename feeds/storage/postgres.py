"""The state in PostgreSQL (``feeds.storage.interface.Store``), for several machines
sharing one set of feeds: ``settings.database: postgresql://...``. The only module that
imports psycopg. Connections come from one pool per database URL; the schema is created
and upgraded by numbered migrations recorded in ``feeds_schema``. Times are
``timestamptz``, sketches and page bodies ``bytea``; URL lookups take arrays."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from feeds.errors import FeedBusyError, StorageError
from feeds.models import Item, Page, RunReport
from feeds.storage.codec import (
    PAGE_COLUMNS,
    RUN_COLUMNS,
    changed_documents,
    first_error,
    pack_sketch,
    page_values,
    run_values,
    stored_page,
    unpack_sketch,
)
from feeds.storage.interface import (
    RECENT_FINGERPRINTS,
    Document,
    KnownItem,
    RecentItem,
    RunRecord,
    SourceHealth,
    StoredPage,
    Validators,
    content_hash,
)

MIGRATIONS: Sequence[str] = (
    # 1: the schema of SQLite's migrations 1 to 9, at once
    """
    CREATE TABLE items (
        seq BIGSERIAL PRIMARY KEY,
        feed TEXT NOT NULL,
        id TEXT NOT NULL,
        url TEXT NOT NULL,
        title TEXT NOT NULL,
        author TEXT,
        published TIMESTAMPTZ NOT NULL,
        updated TIMESTAMPTZ NOT NULL,
        summary TEXT NOT NULL,
        content_html TEXT NOT NULL,
        image TEXT,
        categories JSONB NOT NULL DEFAULT '[]',
        fingerprint BYTEA NOT NULL,
        first_seen TIMESTAMPTZ NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        content_hash TEXT NOT NULL DEFAULT '',
        UNIQUE (feed, id)
    );
    CREATE INDEX items_by_date ON items (feed, published DESC, first_seen DESC, seq DESC);
    CREATE INDEX items_by_first_seen ON items (feed, source, first_seen);
    CREATE TABLE item_urls (
        feed TEXT NOT NULL, url TEXT NOT NULL, item_id TEXT NOT NULL, PRIMARY KEY (feed, url)
    );
    CREATE TABLE rejected_urls (
        feed TEXT NOT NULL, url TEXT NOT NULL, rules TEXT NOT NULL, reason TEXT NOT NULL,
        at TIMESTAMPTZ NOT NULL, PRIMARY KEY (feed, url)
    );
    CREATE TABLE article_failures (
        feed TEXT NOT NULL, url TEXT NOT NULL, failures INTEGER NOT NULL,
        last_error TEXT NOT NULL, at TIMESTAMPTZ NOT NULL, PRIMARY KEY (feed, url)
    );
    CREATE TABLE runs (
        seq BIGSERIAL PRIMARY KEY,
        feed TEXT NOT NULL,
        started TIMESTAMPTZ NOT NULL,
        duration DOUBLE PRECISION NOT NULL,
        new INTEGER NOT NULL, updated INTEGER NOT NULL, unchanged INTEGER NOT NULL,
        skipped INTEGER NOT NULL, failed INTEGER NOT NULL, sources INTEGER NOT NULL,
        sources_failed INTEGER NOT NULL, sources_skipped INTEGER NOT NULL DEFAULT 0,
        errors TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX runs_by_feed ON runs (feed, seq DESC);
    CREATE TABLE http_validators (
        url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, saved TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE source_health (
        feed TEXT NOT NULL, source TEXT NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0, last_error TEXT,
        last_success TIMESTAMPTZ, last_failure TIMESTAMPTZ, next_attempt TIMESTAMPTZ,
        config TEXT NOT NULL DEFAULT '', links_seen INTEGER NOT NULL DEFAULT 0,
        broken TEXT, failed_config TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (feed, source)
    );
    CREATE TABLE feed_info (
        feed TEXT PRIMARY KEY, icon TEXT, published TEXT, extraction TEXT
    );
    CREATE TABLE pages (
        feed TEXT NOT NULL, item_id TEXT NOT NULL, source TEXT NOT NULL, url TEXT NOT NULL,
        final_url TEXT NOT NULL, content_type TEXT NOT NULL, encoding TEXT NOT NULL,
        fetched_at TIMESTAMPTZ NOT NULL, body BYTEA NOT NULL, PRIMARY KEY (feed, item_id)
    );
    """,
    # 2: published documents, served by every `feeds serve`; the due runs a cluster ran
    """
    CREATE TABLE documents (
        name TEXT PRIMARY KEY, body BYTEA NOT NULL, etag TEXT NOT NULL,
        modified TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE due_runs (
        feed TEXT NOT NULL, due TIMESTAMPTZ NOT NULL, finished TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (feed, due)
    );
    """,
    # 3: an item's language (its page's), when it differs from the feed's
    """
    ALTER TABLE items ADD COLUMN language TEXT;
    """,
)

_POOLS: dict[str, ConnectionPool] = {}
_POOLS_LOCK = threading.Lock()
_MIGRATED: set[str] = set()
_ITEM_COLUMNS = (
    "id, feed, url, title, author, published, updated, summary, content_html, image, "
    "categories, fingerprint, first_seen, language"
)
_NEWEST = "ORDER BY published DESC, first_seen DESC, seq DESC"


def _pool(url: str) -> ConnectionPool:
    with _POOLS_LOCK:
        pool = _POOLS.get(url)
        if pool is None:
            pool = ConnectionPool(url, min_size=1, max_size=40, open=True, configure=_in_utc)
            _POOLS[url] = pool
        return pool


def close_pool(url: str) -> None:
    """Close the connections kept for ``url`` (a database dropped, a test over)."""
    with _POOLS_LOCK:
        pool = _POOLS.pop(url, None)
    _MIGRATED.discard(url)
    if pool is not None:
        pool.close()


FEED_LOCK_KEY = "('x' || substr(md5(current_schema() || ':' || %s), 1, 16))::bit(64)::bigint"
"""The advisory lock of one feed's runs: a 64-bit key from the schema and the feed's id."""


@contextmanager
def feed_lock(url: str, feed: str, holder: str) -> Iterator[None]:
    """Hold the cluster-wide lock of one feed's runs (``FeedBusyError`` when another
    process holds it). The lock belongs to a connection of its own: a holder that dies,
    however it dies, drops the connection and with it the lock (keepalives notice a
    machine that vanished). ``holder`` names the connection (``pg_stat_activity``)."""
    try:
        connection = psycopg.connect(
            url,
            autocommit=True,
            application_name=holder[:63],
            connect_timeout=10,
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        )
    except psycopg.Error as exc:
        raise StorageError(f"state database {_safe(url)}: {exc}") from exc
    with connection:
        try:
            row = connection.execute(
                f"SELECT pg_try_advisory_lock({FEED_LOCK_KEY})", (feed,)
            ).fetchone()
        except psycopg.Error as exc:
            raise StorageError(f"state database {_safe(url)}: {exc}") from exc
        if not (row and row[0]):
            raise FeedBusyError(feed)
        yield  # closing the connection releases the lock


def _in_utc(connection: psycopg.Connection[Any]) -> None:
    connection.execute("SET TIME ZONE 'UTC'")
    connection.commit()


class PostgresStore:
    """One connection to a PostgreSQL state, from the pool of its URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self._pool = _pool(url)
            self._db = self._pool.getconn(timeout=30)
        except (psycopg.Error, OSError) as exc:
            raise StorageError(
                f"cannot reach the state database {_safe(url)}: {exc}; check settings.database "
                "and that PostgreSQL runs"
            ) from exc
        self._db.autocommit = True
        if url not in _MIGRATED:
            self._migrate()
            _MIGRATED.add(url)

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Give the connection back to the pool."""
        self._pool.putconn(self._db)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all of them land, or none."""
        try:
            with self._db.transaction():
                yield
        except psycopg.Error as exc:
            raise StorageError(f"state database {_safe(self.url)}: {exc}") from exc

    def _migrate(self) -> None:
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(7446174)")  # one migrator at once
            self._db.execute("CREATE TABLE IF NOT EXISTS feeds_schema (version INTEGER)")
            row = self._db.execute("SELECT max(version) FROM feeds_schema").fetchone()
            version = row[0] if row and row[0] is not None else 0
            if version > len(MIGRATIONS):
                raise StorageError(
                    f"the state database {_safe(self.url)} is from a newer version of feeds "
                    f"(schema {version}, this one knows {len(MIGRATIONS)})"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                self._db.execute(script)
                self._db.execute("INSERT INTO feeds_schema (version) VALUES (%s)", (number,))

    # items

    def known_urls(self, feed: str, urls: Iterable[str], rules: str = "") -> dict[str, str]:
        ordered = list(dict.fromkeys(urls))
        known = self._item_ids(feed, ordered)
        rows = self._query(
            "SELECT url FROM rejected_urls WHERE feed = %s AND rules = %s AND url = ANY(%s)",
            (feed, rules, [url for url in ordered if url not in known]),
        )
        rejected = {row[0] for row in rows}
        return {url: known.get(url, "") for url in ordered if url in known or url in rejected}

    def item_id_for_urls(self, feed: str, urls: Iterable[str]) -> str | None:
        ordered = list(dict.fromkeys(urls))
        found = self._item_ids(feed, ordered)
        return next((found[url] for url in ordered if url in found), None)

    def _item_ids(self, feed: str, urls: list[str]) -> dict[str, str]:
        rows = self._query(
            "SELECT url, item_id FROM item_urls WHERE feed = %s AND url = ANY(%s)", (feed, urls)
        )
        return {row[0]: row[1] for row in rows}

    def add_item(self, item: Item, source: str = "") -> None:
        self._execute(
            """INSERT INTO items (feed, id, url, title, author, published, updated, summary,
                   content_html, image, categories, fingerprint, first_seen, source,
                   content_hash, language)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (feed, id) DO NOTHING""",
            (
                item.feed,
                item.id,
                item.url,
                item.title,
                item.author,
                item.published,
                item.updated,
                item.summary,
                item.content_html,
                item.image,
                Jsonb(list(item.categories)),
                pack_sketch(item.fingerprint),
                item.first_seen,
                source,
                content_hash(item),
                item.language,
            ),
        )
        self.add_urls(item.feed, item.id, [item.url, *item.aliases])

    def add_urls(self, feed: str, item_id: str, urls: Iterable[str]) -> None:
        urls = list(dict.fromkeys(urls))
        self._execute(
            """INSERT INTO item_urls (feed, url, item_id)
               SELECT %s, url, %s FROM unnest(%s::text[]) AS url ON CONFLICT DO NOTHING""",
            (feed, item_id, urls),
        )
        self._forget_article_failures(feed, urls)

    def add_rejected(
        self, feed: str, urls: Iterable[str], rules: str, reason: str, now: datetime
    ) -> None:
        urls = list(dict.fromkeys(urls))
        self._execute(
            """INSERT INTO rejected_urls (feed, url, rules, reason, at)
               SELECT %s, url, %s, %s, %s FROM unnest(%s::text[]) AS url
               ON CONFLICT (feed, url) DO UPDATE SET rules = excluded.rules,
                   reason = excluded.reason, at = excluded.at""",
            (feed, rules, reason, now, urls),
        )
        self._forget_article_failures(feed, urls)

    def article_failures(self, feed: str, urls: Iterable[str]) -> dict[str, int]:
        rows = self._query(
            "SELECT url, failures FROM article_failures WHERE feed = %s AND url = ANY(%s)",
            (feed, list(urls)),
        )
        return {row[0]: int(row[1]) for row in rows}

    def count_article_failure(self, feed: str, url: str, error: str, now: datetime) -> int:
        row = self._query_one(
            """INSERT INTO article_failures (feed, url, failures, last_error, at)
               VALUES (%s, %s, 1, %s, %s)
               ON CONFLICT (feed, url) DO UPDATE SET
                   failures = article_failures.failures + 1,
                   last_error = excluded.last_error, at = excluded.at
               RETURNING failures""",
            (feed, url, error, now),
        )
        assert row is not None
        return int(row[0])

    def _forget_article_failures(self, feed: str, urls: list[str]) -> None:
        self._execute(
            "DELETE FROM article_failures WHERE feed = %s AND url = ANY(%s)", (feed, urls)
        )

    def stored_hash(self, feed: str, item_id: str) -> str | None:
        row = self._query_one(
            "SELECT content_hash FROM items WHERE feed = %s AND id = %s", (feed, item_id)
        )
        return None if row is None else str(row[0])

    def replace_content(self, item_id: str, item: Item, updated: datetime | None) -> None:
        self._execute(
            """UPDATE items SET title = %s, author = %s, summary = %s, content_html = %s,
                   image = %s, categories = %s, fingerprint = %s, content_hash = %s,
                   language = %s, updated = coalesce(%s, updated)
               WHERE feed = %s AND id = %s""",
            (
                item.title,
                item.author,
                item.summary,
                item.content_html,
                item.image,
                Jsonb(list(item.categories)),
                pack_sketch(item.fingerprint),
                content_hash(item),
                item.language,
                updated,
                item.feed,
                item_id,
            ),
        )

    def recent_items(self, feed: str, source: str, since: datetime) -> list[RecentItem]:
        rows = self._query(
            """SELECT id, url, content_hash FROM items
               WHERE feed = %s AND source = %s AND first_seen >= %s ORDER BY first_seen""",
            (feed, source, since),
        )
        return [RecentItem(row[0], row[1], row[2]) for row in rows]

    def newest_fingerprints(self, feed: str, limit: int = RECENT_FINGERPRINTS) -> list[KnownItem]:
        rows = self._query(
            "SELECT id, title, fingerprint FROM items WHERE feed = %s ORDER BY seq DESC LIMIT %s",
            (feed, limit),
        )
        return [KnownItem(row[0], row[1], unpack_sketch(row[2])) for row in rows]

    def iter_items(self, feed: str, limit: int) -> Iterator[Item]:
        rows = self._query(
            f"SELECT {_ITEM_COLUMNS} FROM items WHERE feed = %s {_NEWEST} LIMIT %s",
            (feed, limit),
        )
        return iter([_item(row) for row in rows])

    def items(self, feed: str, limit: int) -> list[Item]:
        return list(self.iter_items(feed, limit))

    def newest_update(self, feed: str, limit: int) -> datetime | None:
        return self.newest_state(feed, limit)[0]

    def newest_state(self, feed: str, limit: int) -> tuple[datetime | None, str]:
        rows = self._query(
            f"SELECT seq, updated FROM items WHERE feed = %s {_NEWEST} LIMIT %s", (feed, limit)
        )
        latest = max((updated for _, updated in rows), default=None)
        shown = repr([(seq, updated.isoformat()) for seq, updated in rows])
        return latest, hashlib.sha256(shown.encode()).hexdigest()

    def count_items(self, feed: str) -> int:
        row = self._query_one("SELECT count(*) FROM items WHERE feed = %s", (feed,))
        return int(row[0]) if row else 0

    # pages

    def save_page(self, feed: str, item_id: str, source: str, page: Page) -> None:
        marks = ", ".join(["%s"] * 9)
        self._execute(
            f"""INSERT INTO pages (feed, {PAGE_COLUMNS}) VALUES ({marks})
                ON CONFLICT (feed, item_id) DO UPDATE SET source = excluded.source,
                    url = excluded.url, final_url = excluded.final_url,
                    content_type = excluded.content_type, encoding = excluded.encoding,
                    fetched_at = excluded.fetched_at, body = excluded.body""",
            (feed, *page_values(item_id, source, page, page.fetched_at)),
        )

    def stored_pages(self, feed: str, limit: int) -> list[StoredPage]:
        columns = ", ".join(f"p.{column}" for column in PAGE_COLUMNS.split(", "))
        rows = self._query(
            f"""SELECT {columns}
                FROM items i JOIN pages p ON p.feed = i.feed AND p.item_id = i.id
                WHERE i.feed = %s ORDER BY i.published DESC, i.first_seen DESC, i.seq DESC
                LIMIT %s""",
            (feed, limit),
        )
        return [stored_page(row, row[6]) for row in rows]

    def prune_pages(self, feed: str, keep: int) -> None:
        self._execute(
            f"""DELETE FROM pages WHERE feed = %s AND item_id NOT IN (
                    SELECT id FROM items WHERE feed = %s {_NEWEST} LIMIT %s)""",
            (feed, feed, keep),
        )

    # HTTP validators

    def validators(self, url: str) -> Validators:
        row = self._query_one(
            "SELECT etag, last_modified FROM http_validators WHERE url = %s", (url,)
        )
        return Validators(row[0], row[1]) if row else Validators()

    def save_validators(self, url: str, validators: Validators, now: datetime) -> None:
        if validators.etag is None and validators.last_modified is None:
            self._execute("DELETE FROM http_validators WHERE url = %s", (url,))
            return
        self._execute(
            """INSERT INTO http_validators (url, etag, last_modified, saved)
               VALUES (%s, %s, %s, %s)
               ON CONFLICT (url) DO UPDATE SET etag = excluded.etag,
                   last_modified = excluded.last_modified, saved = excluded.saved""",
            (url, validators.etag, validators.last_modified, now),
        )

    # source health

    def source_health(self, feed: str, source: str) -> SourceHealth:
        return self._health(feed, source).get(source, SourceHealth())

    def sources_health(self, feed: str) -> dict[str, SourceHealth]:
        return self._health(feed, None)

    def _health(self, feed: str, source: str | None) -> dict[str, SourceHealth]:
        rows = self._query(
            """SELECT source, failures, last_error, last_success, last_failure, next_attempt,
                      config, links_seen, broken, failed_config
               FROM source_health WHERE feed = %s AND (%s::text IS NULL OR source = %s)""",
            (feed, source, source),
        )
        return {row[0]: SourceHealth(*row[1:]) for row in rows}

    def record_links_seen(self, feed: str, source: str, links: int) -> None:
        self._upsert_health(feed, source, links_seen=links)

    def set_broken(self, feed: str, source: str, reason: str | None) -> None:
        self._upsert_health(feed, source, broken=reason)

    def record_source_success(
        self, feed: str, source: str, now: datetime, config: str = ""
    ) -> None:
        self._upsert_health(
            feed, source, failures=0, next_attempt=None, last_success=now, config=config
        )

    def record_source_failure(
        self,
        feed: str,
        source: str,
        error: str,
        now: datetime,
        next_attempt: datetime | None,
        config: str = "",
    ) -> None:
        self._execute(
            """INSERT INTO source_health (feed, source, failures, last_error, last_failure,
                   next_attempt, failed_config)
               VALUES (%s, %s, 1, %s, %s, %s, %s)
               ON CONFLICT (feed, source) DO UPDATE SET
                   failures = source_health.failures + 1,
                   last_error = excluded.last_error, last_failure = excluded.last_failure,
                   next_attempt = excluded.next_attempt,
                   failed_config = excluded.failed_config""",
            (feed, source, error, now, next_attempt, config),
        )

    def _upsert_health(self, feed: str, source: str, **values: object) -> None:
        columns = list(values)
        updates = ", ".join(f"{column} = excluded.{column}" for column in columns)
        self._execute(
            f"""INSERT INTO source_health (feed, source, {", ".join(columns)})
                VALUES (%s, %s, {", ".join(["%s"] * len(columns))})
                ON CONFLICT (feed, source) DO UPDATE SET {updates}""",
            (feed, source, *values.values()),
        )

    # runs

    def record_run(self, report: RunReport, started: datetime) -> None:
        marks = ", ".join(["%s"] * 12)
        self._execute(
            f"INSERT INTO runs ({RUN_COLUMNS}, started) VALUES ({marks})",
            (*run_values(report), started),
        )

    def recent_runs(self, feed: str, limit: int) -> list[RunRecord]:
        rows = self._query(
            """SELECT started, sources, sources_failed, failed, errors, sources_skipped
               FROM runs WHERE feed = %s ORDER BY seq DESC LIMIT %s""",
            (feed, limit),
        )
        return [
            RunRecord(started, sources, sources_failed, failed, first_error(errors), skipped)
            for started, sources, sources_failed, failed, errors, skipped in rows
        ]

    def new_items_since(self, feed: str, since: datetime) -> int:
        row = self._query_one(
            "SELECT coalesce(sum(new), 0) FROM runs WHERE feed = %s AND started >= %s",
            (feed, since),
        )
        return int(row[0]) if row else 0

    def record_due_run(self, feed: str, due: datetime, finished: datetime) -> None:
        self._execute(
            "INSERT INTO due_runs (feed, due, finished) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (feed, due, finished),
        )

    def due_run_done(self, feed: str, due: datetime) -> bool:
        row = self._query_one(
            "SELECT 1 FROM due_runs WHERE feed = %s AND due >= %s LIMIT 1", (feed, due)
        )
        return row is not None

    # feed info

    def feed_icon(self, feed: str) -> str | None:
        return self._feed_info(feed, "icon")

    def set_feed_icon(self, feed: str, icon: str) -> None:
        self._set_feed_info(feed, "icon", icon)

    def published_key(self, feed: str) -> str | None:
        return self._feed_info(feed, "published")

    def set_published_key(self, feed: str, key: str) -> None:
        self._set_feed_info(feed, "published", key)

    def extraction_key(self, feed: str) -> str | None:
        return self._feed_info(feed, "extraction")

    def set_extraction_key(self, feed: str, key: str) -> None:
        self._set_feed_info(feed, "extraction", key)

    # documents

    def put_documents(self, documents: Mapping[str, bytes], now: datetime) -> tuple[str, ...]:
        """Keep these documents; those whose bytes changed get ``now`` as their time."""
        kept = self._query(
            "SELECT name, etag FROM documents WHERE name = ANY(%s)", (list(documents),)
        )
        changed = changed_documents(documents, dict(kept))
        self._executemany(
            """INSERT INTO documents (name, body, etag, modified) VALUES (%s, %s, %s, %s)
               ON CONFLICT (name) DO UPDATE SET body = excluded.body, etag = excluded.etag,
               modified = excluded.modified""",
            [(name, body, etag, now) for name, body, etag in changed],
        )
        return tuple(name for name, _, _ in changed)

    def document(self, name: str) -> Document | None:
        """The document of that name, if any."""
        row = self._query_one("SELECT body, etag, modified FROM documents WHERE name = %s", (name,))
        return None if row is None else Document(name, bytes(row[0]), row[1], row[2])

    def document_version(self, name: str) -> tuple[str, datetime] | None:
        """The ETag and modification time of a document, without its bytes."""
        row = self._query_one("SELECT etag, modified FROM documents WHERE name = %s", (name,))
        return None if row is None else (row[0], row[1])

    def document_names(self, names: Iterable[str]) -> set[str]:
        """Those of ``names`` that are kept."""
        rows = self._query("SELECT name FROM documents WHERE name = ANY(%s)", (list(names),))
        return {row[0] for row in rows}

    def remove_documents(self, names: Iterable[str]) -> list[str]:
        """Forget these documents; returns the names there were."""
        rows = self._query(
            "DELETE FROM documents WHERE name = ANY(%s) RETURNING name", (list(names),)
        )
        return [row[0] for row in rows]

    def _feed_info(self, feed: str, column: str) -> str | None:
        row = self._query_one(f"SELECT {column} FROM feed_info WHERE feed = %s", (feed,))
        return row[0] if row else None

    def _set_feed_info(self, feed: str, column: str, value: str) -> None:
        self._execute(
            f"""INSERT INTO feed_info (feed, {column}) VALUES (%s, %s)
                ON CONFLICT (feed) DO UPDATE SET {column} = excluded.{column}""",
            (feed, value),
        )

    # plumbing

    def _execute(self, sql: str, params: Sequence[object] = ()) -> None:
        try:
            self._db.execute(sql, params)
        except psycopg.Error as exc:
            raise StorageError(f"state database {_safe(self.url)}: {exc}") from exc

    def _executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if not rows:
            return
        try:
            with self._db.cursor() as cursor:
                cursor.executemany(sql, rows)
        except psycopg.Error as exc:
            raise StorageError(f"state database {_safe(self.url)}: {exc}") from exc

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self._db.execute(sql, params).fetchall())
        except psycopg.Error as exc:
            raise StorageError(f"state database {_safe(self.url)}: {exc}") from exc

    def _query_one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        rows = self._query(sql, params)
        return rows[0] if rows else None


def _item(row: tuple[Any, ...]) -> Item:
    return Item(
        id=row[0],
        feed=row[1],
        url=row[2],
        title=row[3],
        author=row[4],
        published=row[5].astimezone(UTC),
        updated=row[6].astimezone(UTC),
        summary=row[7],
        content_html=row[8],
        image=row[9],
        categories=tuple(row[10]),
        fingerprint=unpack_sketch(row[11]),
        first_seen=row[12].astimezone(UTC),
        language=row[13],
    )


def _safe(url: str) -> str:
    """A database URL without its password, for messages."""
    return re.sub(r"://([^:@/]+):[^@/]*@", r"://\1:***@", url)
