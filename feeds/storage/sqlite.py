"""The state in SQLite: items, the URLs that lead to them, HTTP validators, source health,
run history (``feeds.storage.interface.Store``).

The only module that imports sqlite3; all SQL lives here. The database is opened in WAL
mode so readers (``feeds status``, the server) never block a run. The schema is created
and upgraded by numbered migrations tracked in ``PRAGMA user_version``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from feeds.errors import StorageError
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

DATABASE_NAME = "feeds.sqlite3"
_FeedInfo = Literal["icon", "published", "extraction"]
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

MIGRATIONS: Sequence[str] = (
    # 1: items, the URLs that lead to them, and runs
    """
    CREATE TABLE items (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        feed TEXT NOT NULL,
        id TEXT NOT NULL,
        url TEXT NOT NULL,
        title TEXT NOT NULL,
        author TEXT,
        published TEXT NOT NULL,
        updated TEXT NOT NULL,
        summary TEXT NOT NULL,
        content_html TEXT NOT NULL,
        image TEXT,
        categories TEXT NOT NULL DEFAULT '[]',
        fingerprint BLOB NOT NULL,
        first_seen TEXT NOT NULL,
        UNIQUE (feed, id)
    );
    CREATE INDEX items_by_date ON items (feed, published DESC, first_seen DESC, seq DESC);
    CREATE TABLE item_urls (
        feed TEXT NOT NULL,
        url TEXT NOT NULL,
        item_id TEXT NOT NULL,
        PRIMARY KEY (feed, url)
    ) WITHOUT ROWID;
    CREATE TABLE runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        feed TEXT NOT NULL,
        started TEXT NOT NULL,
        duration REAL NOT NULL,
        new INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        unchanged INTEGER NOT NULL,
        skipped INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        sources INTEGER NOT NULL,
        sources_failed INTEGER NOT NULL,
        errors TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX runs_by_feed ON runs (feed, seq DESC);
    """,
    # 2: conditional requests, source health, edits of known items
    """
    ALTER TABLE items ADD COLUMN source TEXT NOT NULL DEFAULT '';
    ALTER TABLE items ADD COLUMN content_hash TEXT NOT NULL DEFAULT '';
    CREATE INDEX items_by_first_seen ON items (feed, source, first_seen);
    CREATE TABLE http_validators (
        url TEXT PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        saved TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE source_health (
        feed TEXT NOT NULL,
        source TEXT NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        last_success TEXT,
        last_failure TEXT,
        next_attempt TEXT,
        PRIMARY KEY (feed, source)
    ) WITHOUT ROWID;
    """,
    # 3: URLs whose article the feed's rules left out, so they are not fetched again; the
    # source configuration its saved validators were read under
    """
    ALTER TABLE source_health ADD COLUMN config TEXT NOT NULL DEFAULT '';
    CREATE TABLE rejected_urls (
        feed TEXT NOT NULL,
        url TEXT NOT NULL,
        rules TEXT NOT NULL,
        reason TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (feed, url)
    ) WITHOUT ROWID;
    """,
    # 4: what a feed learnt about its site (its icon)
    """
    CREATE TABLE feed_info (
        feed TEXT PRIMARY KEY,
        icon TEXT
    ) WITHOUT ROWID;
    """,
    # 5: breakage: how many links a source yielded last, and why it is broken now
    """
    ALTER TABLE source_health ADD COLUMN links_seen INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE source_health ADD COLUMN broken TEXT;
    """,
    # 6: what the feed's files were last written from, so an unchanged feed is not rewritten
    """
    ALTER TABLE feed_info ADD COLUMN published TEXT;
    """,
    # 7: articles whose page keeps failing, counted run by run until the feed gives up on them
    """
    CREATE TABLE article_failures (
        feed TEXT NOT NULL,
        url TEXT NOT NULL,
        failures INTEGER NOT NULL,
        last_error TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (feed, url)
    ) WITHOUT ROWID;
    """,
    # 8: sources skipped while they wait (not failures); the configuration a source failed
    # under (a changed one is tried at once)
    """
    ALTER TABLE runs ADD COLUMN sources_skipped INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE source_health ADD COLUMN failed_config TEXT NOT NULL DEFAULT '';
    """,
    # 9: the pages items were extracted from (compressed), to extract them again when the
    # rules change; the key of the rules the items were made with
    """
    CREATE TABLE pages (
        feed TEXT NOT NULL,
        item_id TEXT NOT NULL,
        source TEXT NOT NULL,
        url TEXT NOT NULL,
        final_url TEXT NOT NULL,
        content_type TEXT NOT NULL,
        encoding TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (feed, item_id)
    ) WITHOUT ROWID;
    ALTER TABLE feed_info ADD COLUMN extraction TEXT;
    """,
    # 10: published documents, for servers that share no disk (settings.publish_to); the
    # runs asked for by a scheduler that are done
    """
    CREATE TABLE documents (
        name TEXT PRIMARY KEY,
        body BLOB NOT NULL,
        etag TEXT NOT NULL,
        modified TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE due_runs (
        feed TEXT NOT NULL,
        due TEXT NOT NULL,
        finished TEXT NOT NULL,
        PRIMARY KEY (feed, due)
    ) WITHOUT ROWID;
    """,
    # 11: an item's language (its page's)
    """
    ALTER TABLE items ADD COLUMN language TEXT;
    """,
)


def format_time(value: datetime) -> str:
    """A UTC timestamp as stored: fixed width, so text order is time order."""
    return value.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(value: str) -> datetime:
    """The inverse of ``format_time``."""
    return datetime.fromisoformat(value)  # reads the "Z" as UTC; 30 times strptime's speed


def _latest(rows: list[tuple[Any, ...]]) -> datetime | None:
    """The latest ``updated`` of ``(seq, updated)`` rows (the text sorts as the time does)."""
    latest = max((updated for _, updated in rows), default=None)
    return parse_time(latest) if latest else None


def _writer_lock(path: Path) -> threading.Lock:
    """The lock that this process's connections to ``path`` take to write, one at a time.

    Many feeds write at once, each through its own connection. Left to SQLite, a writer
    that finds the database locked polls it, sleeping up to 100 ms between tries; queued
    on a lock, it starts the moment the previous write ends. (Other programs still meet
    SQLite's own locking and busy timeout.)"""
    key = path.resolve()
    with _WRITER_LOCKS_GUARD:
        return _WRITER_LOCKS.setdefault(key, threading.Lock())


_WRITER_LOCKS: dict[Path, threading.Lock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()

BUSY_TIMEOUT_SECONDS = 30.0
"""How long a write waits for another connection's lock before the run fails."""


def _is_locked(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SqliteStore:
    """The state database of one state directory: one connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writing = _writer_lock(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS)
            with self._writing:  # threads opening a new database at once would both create it
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("PRAGMA foreign_keys=ON")
                self._migrate()
        except sqlite3.DatabaseError as exc:
            if _is_locked(exc):
                raise self._error(exc) from exc
            raise StorageError(
                f"cannot open the state database {path}: {exc}; "
                "move it away to start from an empty state"
            ) from exc
        except OSError as exc:
            raise StorageError(f"cannot create the state directory {path.parent}: {exc}") from exc

    @classmethod
    def in_directory(cls, state_dir: Path) -> SqliteStore:
        """Open (creating if needed) the database of a state directory."""
        return cls(state_dir / DATABASE_NAME)

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all of them land, or none."""
        try:
            with self._writing:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _error(self, exc: sqlite3.Error) -> StorageError:
        if _is_locked(exc):
            return StorageError(
                f"state database {self.path}: {exc}: another program kept it locked for "
                f"{BUSY_TIMEOUT_SECONDS:g}s (an sqlite3 shell, a backup tool?); close it and "
                "run again"
            )
        return StorageError(f"state database {self.path}: {exc}")

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StorageError(
                f"the state database {self.path} is from a newer version of feeds "
                f"(schema {version}, this one knows {len(MIGRATIONS)})"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.executescript(
                f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
            )

    # items

    def item_id_for_urls(self, feed: str, urls: Iterable[str]) -> str | None:
        """The id of the item of ``feed`` that one of ``urls`` leads to, if any."""
        ordered = list(dict.fromkeys(urls))
        found = self._item_ids(feed, ordered)
        return next((found[url] for url in ordered if url in found), None)

    def known_urls(self, feed: str, urls: Iterable[str], rules: str = "") -> dict[str, str]:
        """Those of ``urls`` that already lead to an item of ``feed`` (with its id), or that
        were left out under the same ``rules`` (with an empty id)."""
        ordered = list(dict.fromkeys(urls))
        known = self._item_ids(feed, ordered)
        rejected: set[str] = set()
        for chunk in _chunks([url for url in ordered if url not in known]):
            rows = self._query(
                f"""SELECT url FROM rejected_urls WHERE feed = ? AND rules = ?
                    AND url IN ({",".join("?" * len(chunk))})""",
                (feed, rules, *chunk),
            )
            rejected.update(row[0] for row in rows)
        return {url: known.get(url, "") for url in ordered if url in known or url in rejected}

    def _item_ids(self, feed: str, urls: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(urls):
            rows = self._query(
                f"""SELECT url, item_id FROM item_urls
                    WHERE feed = ? AND url IN ({",".join("?" * len(chunk))})""",
                (feed, *chunk),
            )
            found.update((row[0], row[1]) for row in rows)
        return found

    def add_rejected(
        self, feed: str, urls: Iterable[str], rules: str, reason: str, now: datetime
    ) -> None:
        """Remember that the feed's ``rules`` left these URLs' article out."""
        urls = list(dict.fromkeys(urls))
        self._executemany(
            """INSERT INTO rejected_urls (feed, url, rules, reason, at) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (feed, url) DO UPDATE SET rules = excluded.rules,
                   reason = excluded.reason, at = excluded.at""",
            [(feed, url, rules, reason, format_time(now)) for url in urls],
        )
        self._forget_article_failures(feed, urls)

    def article_failures(self, feed: str, urls: Iterable[str]) -> dict[str, int]:
        """In how many runs each of ``urls`` (those counted) failed as a new article."""
        counts: dict[str, int] = {}
        for chunk in _chunks(list(dict.fromkeys(urls))):
            rows = self._query(
                f"""SELECT url, failures FROM article_failures
                    WHERE feed = ? AND url IN ({",".join("?" * len(chunk))})""",
                (feed, *chunk),
            )
            counts.update((row[0], int(row[1])) for row in rows)
        return counts

    def count_article_failure(self, feed: str, url: str, error: str, now: datetime) -> int:
        """Count one more run in which the article at ``url`` failed; returns how many."""
        self._execute(
            """INSERT INTO article_failures (feed, url, failures, last_error, at)
               VALUES (?, ?, 1, ?, ?)
               ON CONFLICT (feed, url) DO UPDATE SET failures = failures + 1,
                   last_error = excluded.last_error, at = excluded.at""",
            (feed, url, error, format_time(now)),
        )
        row = self._query_one(
            "SELECT failures FROM article_failures WHERE feed = ? AND url = ?", (feed, url)
        )
        assert row is not None
        return int(row[0])

    def _forget_article_failures(self, feed: str, urls: list[str]) -> None:
        """Stop counting the failures of these URLs: they are known now (an item's, or
        left out), so they are never fetched as new articles again."""
        self._executemany(
            "DELETE FROM article_failures WHERE feed = ? AND url = ?", [(feed, u) for u in urls]
        )

    def newest_fingerprints(self, feed: str, limit: int = RECENT_FINGERPRINTS) -> list[KnownItem]:
        """The newest items of a feed, for near-duplicate checks."""
        rows = self._query(
            "SELECT id, title, fingerprint FROM items WHERE feed = ? ORDER BY seq DESC LIMIT ?",
            (feed, limit),
        )
        return [KnownItem(row[0], row[1], unpack_sketch(row[2])) for row in rows]

    def add_item(self, item: Item, source: str = "") -> None:
        """Store a new item (found by ``source``) and the URLs that lead to it; an item
        whose id is stored already is left as it is."""
        self._execute(
            """INSERT INTO items (feed, id, url, title, author, published, updated, summary,
                   content_html, image, categories, fingerprint, first_seen, source,
                   content_hash, language)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (feed, id) DO NOTHING""",
            (
                item.feed,
                item.id,
                item.url,
                item.title,
                item.author,
                format_time(item.published),
                format_time(item.updated),
                item.summary,
                item.content_html,
                item.image,
                json.dumps(list(item.categories), ensure_ascii=False),
                pack_sketch(item.fingerprint),
                format_time(item.first_seen),
                source,
                content_hash(item),
                item.language,
            ),
        )
        self.add_urls(item.feed, item.id, [item.url, *item.aliases])

    def stored_hash(self, feed: str, item_id: str) -> str | None:
        """The ``content_hash`` of a stored item ("" for one stored before hashes were
        kept), or None when there is no such item."""
        row = self._query_one(
            "SELECT content_hash FROM items WHERE feed = ? AND id = ?", (feed, item_id)
        )
        return None if row is None else str(row[0])

    def replace_content(self, item_id: str, item: Item, updated: datetime | None) -> None:
        """Replace what readers see of a stored item; its id, link and first-seen time
        stay, its ``updated`` becomes ``updated`` unless that is None."""
        self._execute(
            """UPDATE items SET title = ?, author = ?, summary = ?, content_html = ?,
                   image = ?, categories = ?, fingerprint = ?, content_hash = ?,
                   language = ?, updated = coalesce(?, updated)
               WHERE feed = ? AND id = ?""",
            (
                item.title,
                item.author,
                item.summary,
                item.content_html,
                item.image,
                json.dumps(list(item.categories), ensure_ascii=False),
                pack_sketch(item.fingerprint),
                content_hash(item),
                item.language,
                format_time(updated) if updated is not None else None,
                item.feed,
                item_id,
            ),
        )

    def recent_items(self, feed: str, source: str, since: datetime) -> list[RecentItem]:
        """Items a source found at or after ``since``, to re-check for edits."""
        rows = self._query(
            """SELECT id, url, content_hash FROM items
               WHERE feed = ? AND source = ? AND first_seen >= ? ORDER BY first_seen""",
            (feed, source, format_time(since)),
        )
        return [RecentItem(row[0], row[1], row[2]) for row in rows]

    def add_urls(self, feed: str, item_id: str, urls: Iterable[str]) -> None:
        """Record that ``urls`` lead to an item, so they are never fetched again."""
        urls = list(dict.fromkeys(urls))
        self._executemany(
            "INSERT OR IGNORE INTO item_urls (feed, url, item_id) VALUES (?, ?, ?)",
            [(feed, url, item_id) for url in urls],
        )
        self._forget_article_failures(feed, urls)

    def items(self, feed: str, limit: int) -> list[Item]:
        """The newest ``limit`` items of a feed, newest first."""
        return list(self.iter_items(feed, limit))

    def iter_items(self, feed: str, limit: int) -> Iterator[Item]:
        """The newest ``limit`` items of a feed, newest first, read as they are consumed
        (a big feed is never all in memory)."""
        try:
            cursor = self._db.execute(
                f"""SELECT {_ITEM_COLUMNS} FROM items WHERE feed = ?
                    ORDER BY published DESC, first_seen DESC, seq DESC LIMIT ?""",
                (feed, limit),
            )
            while rows := cursor.fetchmany(256):
                yield from (_item(row) for row in rows)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def newest_update(self, feed: str, limit: int) -> datetime | None:
        """The latest ``updated`` among the newest ``limit`` items: the feed's own date."""
        return _latest(self._newest(feed, limit))

    def newest_state(self, feed: str, limit: int) -> tuple[datetime | None, str]:
        """Of the feed's newest ``limit`` items: the latest ``updated`` (as ``newest_update``)
        and a digest of which items they are and when each last changed, which changes
        whenever what the feed's files show does. One pass over the index."""
        rows = self._newest(feed, limit)
        return _latest(rows), hashlib.sha256(repr(rows).encode()).hexdigest()

    def _newest(self, feed: str, limit: int) -> list[tuple[Any, ...]]:
        """``(seq, updated)`` of the feed's newest ``limit`` items."""
        return self._query(
            """SELECT seq, updated FROM items WHERE feed = ?
               ORDER BY published DESC, first_seen DESC, seq DESC LIMIT ?""",
            (feed, limit),
        )

    def feed_icon(self, feed: str) -> str | None:
        """The icon of the feed's site, as its sources last showed it."""
        return self._feed_info(feed, "icon")

    def set_feed_icon(self, feed: str, icon: str) -> None:
        """Remember the icon of the feed's site."""
        self._set_feed_info(feed, "icon", icon)

    def published_key(self, feed: str) -> str | None:
        """What the feed's files were last written from (``set_published_key``)."""
        return self._feed_info(feed, "published")

    def set_published_key(self, feed: str, key: str) -> None:
        """Remember what the feed's files were written from, once they are in place."""
        self._set_feed_info(feed, "published", key)

    def extraction_key(self, feed: str) -> str | None:
        """The key of the extraction rules the feed's items were last made with."""
        return self._feed_info(feed, "extraction")

    def set_extraction_key(self, feed: str, key: str) -> None:
        """Remember the key of the extraction rules the items were made with."""
        self._set_feed_info(feed, "extraction", key)

    # pages

    def save_page(self, feed: str, item_id: str, source: str, page: Page) -> None:
        """Keep the page an item was made of (replacing an earlier one)."""
        marks = ", ".join(["?"] * 9)
        self._execute(
            f"INSERT OR REPLACE INTO pages (feed, {PAGE_COLUMNS}) VALUES ({marks})",
            (feed, *page_values(item_id, source, page, format_time(page.fetched_at))),
        )

    def stored_pages(self, feed: str, limit: int) -> list[StoredPage]:
        """The pages of the feed's newest ``limit`` items."""
        columns = ", ".join(f"p.{column}" for column in PAGE_COLUMNS.split(", "))
        rows = self._query(
            f"""SELECT {columns}
                FROM items i JOIN pages p ON p.feed = i.feed AND p.item_id = i.id
                WHERE i.feed = ? ORDER BY i.published DESC, i.first_seen DESC, i.seq DESC
                LIMIT ?""",
            (feed, limit),
        )
        return [stored_page(row, parse_time(row[6])) for row in rows]

    def prune_pages(self, feed: str, keep: int) -> None:
        """Forget the pages of all but the feed's newest ``keep`` items."""
        self._execute(
            """DELETE FROM pages WHERE feed = ? AND item_id NOT IN (
                   SELECT id FROM items WHERE feed = ?
                   ORDER BY published DESC, first_seen DESC, seq DESC LIMIT ?)""",
            (feed, feed, keep),
        )

    # documents

    def put_documents(self, documents: Mapping[str, bytes], now: datetime) -> tuple[str, ...]:
        """Keep these documents; those whose bytes changed get ``now`` as their time."""
        names = list(documents)
        marks = ", ".join(["?"] * len(names))
        kept = self._query(f"SELECT name, etag FROM documents WHERE name IN ({marks})", names)
        changed = changed_documents(documents, dict(kept))
        self._executemany(
            "INSERT OR REPLACE INTO documents (name, body, etag, modified) VALUES (?, ?, ?, ?)",
            [(name, body, etag, format_time(now)) for name, body, etag in changed],
        )
        return tuple(name for name, _, _ in changed)

    def document(self, name: str) -> Document | None:
        """The document of that name, if any."""
        row = self._query_one("SELECT body, etag, modified FROM documents WHERE name = ?", (name,))
        return None if row is None else Document(name, bytes(row[0]), row[1], parse_time(row[2]))

    def document_version(self, name: str) -> tuple[str, datetime] | None:
        """The ETag and modification time of a document, without its bytes."""
        row = self._query_one("SELECT etag, modified FROM documents WHERE name = ?", (name,))
        return None if row is None else (row[0], parse_time(row[1]))

    def document_names(self, names: Iterable[str]) -> set[str]:
        """Those of ``names`` that are kept."""
        names = list(names)
        marks = ", ".join(["?"] * len(names))
        return {
            row[0]
            for row in self._query(f"SELECT name FROM documents WHERE name IN ({marks})", names)
        }

    def remove_documents(self, names: Iterable[str]) -> list[str]:
        """Forget these documents; returns the names there were."""
        names = list(names)
        marks = ", ".join(["?"] * len(names))
        there = [
            row[0]
            for row in self._query(f"SELECT name FROM documents WHERE name IN ({marks})", names)
        ]
        self._execute(f"DELETE FROM documents WHERE name IN ({marks})", names)
        return [name for name in names if name in there]

    def _feed_info(self, feed: str, column: _FeedInfo) -> str | None:
        row = self._query_one(f"SELECT {column} FROM feed_info WHERE feed = ?", (feed,))
        return row[0] if row else None

    def _set_feed_info(self, feed: str, column: _FeedInfo, value: str) -> None:
        self._execute(
            f"""INSERT INTO feed_info (feed, {column}) VALUES (?, ?)
                ON CONFLICT (feed) DO UPDATE SET {column} = excluded.{column}""",
            (feed, value),
        )

    def count_items(self, feed: str) -> int:
        """How many items a feed has stored."""
        row = self._query_one("SELECT count(*) FROM items WHERE feed = ?", (feed,))
        return int(row[0]) if row else 0

    # HTTP validators

    def validators(self, url: str) -> Validators:
        """The ETag and Last-Modified saved for ``url`` (empty when none)."""
        row = self._query_one(
            "SELECT etag, last_modified FROM http_validators WHERE url = ?", (url,)
        )
        return Validators(row[0], row[1]) if row else Validators()

    def save_validators(self, url: str, validators: Validators, now: datetime) -> None:
        """Remember the validators of the copy of ``url`` just processed."""
        if validators.etag is None and validators.last_modified is None:
            self._execute("DELETE FROM http_validators WHERE url = ?", (url,))
            return
        self._execute(
            """INSERT INTO http_validators (url, etag, last_modified, saved) VALUES (?, ?, ?, ?)
               ON CONFLICT (url) DO UPDATE SET etag = excluded.etag,
                   last_modified = excluded.last_modified, saved = excluded.saved""",
            (url, validators.etag, validators.last_modified, format_time(now)),
        )

    # source health

    def source_health(self, feed: str, source: str) -> SourceHealth:
        """How a source has been doing (a fresh record when never run)."""
        row = self._query_one(
            """SELECT failures, last_error, last_success, last_failure, next_attempt, config,
                      links_seen, broken, failed_config
               FROM source_health WHERE feed = ? AND source = ?""",
            (feed, source),
        )
        if row is None:
            return SourceHealth()
        return SourceHealth(
            failures=row[0],
            last_error=row[1],
            last_success=_optional_time(row[2]),
            last_failure=_optional_time(row[3]),
            next_attempt=_optional_time(row[4]),
            config=row[5],
            links_seen=row[6],
            broken=row[7],
            failed_config=row[8],
        )

    def sources_health(self, feed: str) -> dict[str, SourceHealth]:
        """The health of every source of a feed that has been run."""
        rows = self._query("SELECT source FROM source_health WHERE feed = ?", (feed,))
        return {row[0]: self.source_health(feed, row[0]) for row in rows}

    def record_links_seen(self, feed: str, source: str, links: int) -> None:
        """How many article links the source yielded this time its pages were read."""
        self._execute(
            """INSERT INTO source_health (feed, source, links_seen) VALUES (?, ?, ?)
               ON CONFLICT (feed, source) DO UPDATE SET links_seen = excluded.links_seen""",
            (feed, source, links),
        )

    def set_broken(self, feed: str, source: str, reason: str | None) -> None:
        """Mark a source broken, with the reason; None clears the mark."""
        self._execute(
            """INSERT INTO source_health (feed, source, broken) VALUES (?, ?, ?)
               ON CONFLICT (feed, source) DO UPDATE SET broken = excluded.broken""",
            (feed, source, reason),
        )

    def record_source_success(
        self, feed: str, source: str, now: datetime, config: str = ""
    ) -> None:
        """A source worked (under configuration ``config``): its failure count starts over."""
        self._execute(
            """INSERT INTO source_health (feed, source, failures, last_success, config)
               VALUES (?, ?, 0, ?, ?)
               ON CONFLICT (feed, source) DO UPDATE SET failures = 0, next_attempt = NULL,
                   last_success = excluded.last_success, config = excluded.config""",
            (feed, source, format_time(now), config),
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
        """A source failed once more (under configuration ``config``); ``next_attempt``
        postpones its next try."""
        self._execute(
            """INSERT INTO source_health (feed, source, failures, last_error, last_failure,
                   next_attempt, failed_config)
               VALUES (?, ?, 1, ?, ?, ?, ?)
               ON CONFLICT (feed, source) DO UPDATE SET failures = failures + 1,
                   last_error = excluded.last_error, last_failure = excluded.last_failure,
                   next_attempt = excluded.next_attempt,
                   failed_config = excluded.failed_config""",
            (
                feed,
                source,
                error,
                format_time(now),
                format_time(next_attempt) if next_attempt else None,
                config,
            ),
        )

    # runs

    def record_run(self, report: RunReport, started: datetime) -> None:
        """Keep a run's outcome for ``status`` and health checks."""
        marks = ", ".join(["?"] * 12)
        self._execute(
            f"INSERT INTO runs ({RUN_COLUMNS}, started) VALUES ({marks})",
            (*run_values(report), format_time(started)),
        )

    def recent_runs(self, feed: str, limit: int) -> list[RunRecord]:
        """A feed's last ``limit`` runs, the latest first."""
        rows = self._query(
            """SELECT started, sources, sources_failed, failed, errors, sources_skipped
               FROM runs WHERE feed = ? ORDER BY seq DESC LIMIT ?""",
            (feed, limit),
        )
        return [
            RunRecord(
                parse_time(started), sources, sources_failed, failed, first_error(errors), skipped
            )
            for started, sources, sources_failed, failed, errors, skipped in rows
        ]

    def new_items_since(self, feed: str, since: datetime) -> int:
        """How many new items the feed's runs that started at or after ``since`` found."""
        row = self._query_one(
            "SELECT coalesce(sum(new), 0) FROM runs WHERE feed = ? AND started >= ?",
            (feed, format_time(since)),
        )
        return int(row[0]) if row else 0

    def record_due_run(self, feed: str, due: datetime, finished: datetime) -> None:
        """Keep that the run asked for at ``due`` is done."""
        self._execute(
            "INSERT OR IGNORE INTO due_runs (feed, due, finished) VALUES (?, ?, ?)",
            (feed, format_time(due), format_time(finished)),
        )

    def due_run_done(self, feed: str, due: datetime) -> bool:
        """Whether a run asked for at ``due`` or later is done."""
        row = self._query_one(
            "SELECT 1 FROM due_runs WHERE feed = ? AND due >= ? LIMIT 1", (feed, format_time(due))
        )
        return row is not None

    # plumbing

    def _execute(self, sql: str, params: Sequence[object] = ()) -> None:
        try:
            self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        try:
            self._db.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self._db.execute(sql, params))
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _query_one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        rows = self._query(sql, params)
        return rows[0] if rows else None


_ITEM_COLUMNS = (
    "id, feed, url, title, author, published, updated, summary, content_html, image, "
    "categories, fingerprint, first_seen, language"
)


def _item(row: tuple[Any, ...]) -> Item:
    return Item(
        id=row[0],
        feed=row[1],
        url=row[2],
        title=row[3],
        author=row[4],
        published=parse_time(row[5]),
        updated=parse_time(row[6]),
        summary=row[7],
        content_html=row[8],
        image=row[9],
        categories=tuple(json.loads(row[10])),
        fingerprint=unpack_sketch(row[11]),
        first_seen=parse_time(row[12]),
        language=row[13],
    )


def _chunks(values: list[str], size: int = 500) -> Iterator[list[str]]:
    """``values`` in lists of at most ``size`` (SQLite's limit on parameters is 999 or
    more, depending on its build)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _optional_time(value: str | None) -> datetime | None:
    return parse_time(value) if value else None
