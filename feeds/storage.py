"""SQLite state: items, the URLs that lead to them, HTTP validators and run history.

The only module that imports sqlite3; all SQL lives here. The database is opened in WAL
mode so readers (``feeds status``, the server) never block a run. The schema is created
and upgraded by numbered migrations tracked in ``PRAGMA user_version``.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feeds.errors import StorageError
from feeds.models import Item, RunReport

DATABASE_NAME = "feeds.sqlite3"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_RECENT_FINGERPRINTS = 2000

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
)


@dataclass(frozen=True, slots=True)
class KnownItem:
    """What deduplication needs to know of a stored item."""

    id: str
    title: str
    fingerprint: tuple[int, ...]


def format_time(value: datetime) -> str:
    """A UTC timestamp as stored: fixed width, so text order is time order."""
    return value.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(value: str) -> datetime:
    """The inverse of ``format_time``."""
    return datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=UTC)


class Store:
    """The state database of one state directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"cannot open the state database {path}: {exc}; "
                "move it away to start from an empty state"
            ) from exc
        except OSError as exc:
            raise StorageError(f"cannot create the state directory {path.parent}: {exc}") from exc

    @classmethod
    def in_directory(cls, state_dir: Path) -> Store:
        """Open (creating if needed) the database of a state directory."""
        return cls(state_dir / DATABASE_NAME)

    def __enter__(self) -> Store:
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
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StorageError(f"state database {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StorageError(
                f"the state database {self.path} is from a newer version of feeds "
                f"(schema {version}, this one knows {len(MIGRATIONS)})"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")

    # items

    def item_id_for_urls(self, feed: str, urls: Iterable[str]) -> str | None:
        """The id of the item of ``feed`` that one of ``urls`` leads to, if any."""
        for url in dict.fromkeys(urls):
            row = self._query_one(
                "SELECT item_id FROM item_urls WHERE feed = ? AND url = ?", (feed, url)
            )
            if row is not None:
                return str(row[0])
        return None

    def known_urls(self, feed: str, urls: Iterable[str]) -> set[str]:
        """Those of ``urls`` that already lead to an item of ``feed``."""
        return {url for url in dict.fromkeys(urls) if self.item_id_for_urls(feed, [url])}

    def recent_items(self, feed: str, limit: int = _RECENT_FINGERPRINTS) -> list[KnownItem]:
        """The newest items of a feed, for near-duplicate checks."""
        rows = self._query(
            "SELECT id, title, fingerprint FROM items WHERE feed = ? ORDER BY seq DESC LIMIT ?",
            (feed, limit),
        )
        return [KnownItem(row[0], row[1], _unpack(row[2])) for row in rows]

    def add_item(self, item: Item) -> None:
        """Store a new item and the URLs that lead to it."""
        self._execute(
            """INSERT INTO items (feed, id, url, title, author, published, updated, summary,
                   content_html, image, categories, fingerprint, first_seen)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
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
                _pack(item.fingerprint),
                format_time(item.first_seen),
            ),
        )
        self.add_urls(item.feed, item.id, [item.url, *item.aliases])

    def add_urls(self, feed: str, item_id: str, urls: Iterable[str]) -> None:
        """Record that ``urls`` lead to an item, so they are never fetched again."""
        self._executemany(
            "INSERT OR IGNORE INTO item_urls (feed, url, item_id) VALUES (?, ?, ?)",
            [(feed, url, item_id) for url in dict.fromkeys(urls)],
        )

    def items(self, feed: str, limit: int) -> list[Item]:
        """The newest ``limit`` items of a feed, newest first."""
        rows = self._query(
            """SELECT id, feed, url, title, author, published, updated, summary, content_html,
                      image, categories, fingerprint, first_seen
               FROM items WHERE feed = ?
               ORDER BY published DESC, first_seen DESC, seq DESC LIMIT ?""",
            (feed, limit),
        )
        return [
            Item(
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
                fingerprint=_unpack(row[11]),
                first_seen=parse_time(row[12]),
            )
            for row in rows
        ]

    def count_items(self, feed: str) -> int:
        """How many items a feed has stored."""
        row = self._query_one("SELECT count(*) FROM items WHERE feed = ?", (feed,))
        return int(row[0]) if row else 0

    # runs

    def record_run(self, report: RunReport, started: datetime) -> None:
        """Keep a run's outcome for ``status`` and health checks."""
        errors = [{"source": e.source, "url": e.url, "message": e.message} for e in report.errors]
        self._execute(
            """INSERT INTO runs (feed, started, duration, new, updated, unchanged, skipped,
                   failed, sources, sources_failed, errors)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                report.feed,
                format_time(started),
                report.duration,
                report.new,
                report.updated,
                report.unchanged,
                report.skipped,
                report.failed,
                report.sources,
                report.sources_failed,
                json.dumps(errors, ensure_ascii=False),
            ),
        )

    # plumbing

    def _execute(self, sql: str, params: Sequence[object] = ()) -> None:
        try:
            self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise StorageError(f"state database {self.path}: {exc}") from exc

    def _executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        try:
            self._db.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise StorageError(f"state database {self.path}: {exc}") from exc

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self._db.execute(sql, params))
        except sqlite3.Error as exc:
            raise StorageError(f"state database {self.path}: {exc}") from exc

    def _query_one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        rows = self._query(sql, params)
        return rows[0] if rows else None


def _pack(sketch: tuple[int, ...]) -> bytes:
    return struct.pack(f">{len(sketch)}Q", *sketch)


def _unpack(blob: bytes) -> tuple[int, ...]:
    return struct.unpack(f">{len(blob) // 8}Q", blob)
