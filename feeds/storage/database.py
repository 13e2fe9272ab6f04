"""The state in a database (``feeds.storage.interface.Store``): SQLite in a state
directory (the default), or PostgreSQL for several machines sharing one set of feeds
(``settings.database: postgresql://...``). Every statement is written once, with
SQLAlchemy Core over the tables of ``schema``; what differs between the two is said
there (types) and in ``engines`` (connections). Nothing else imports a database driver.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext, suppress
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Executable
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from feeds.errors import DatabaseUnavailableError, StorageError
from feeds.models import Item, Page, RunReport
from feeds.storage import DATABASE_NAME, engines
from feeds.storage.codec import (
    changed_documents,
    errors_json,
    first_error,
    pack_body,
    pack_sketch,
    stored_page,
    unpack_sketch,
)
from feeds.storage.engines import (
    Database,
    postgres_database,
    reason,
    sqlite_database,
)
from feeds.storage.interface import (
    RECENT_FINGERPRINTS,
    Document,
    KnownItem,
    RecentItem,
    RunRecord,
    ScheduledRun,
    SourceHealth,
    StoredPage,
    Validators,
    WorkerSeen,
    content_hash,
)
from feeds.storage.migrate import bring_up_to_date
from feeds.storage.statements import ITEM_COLUMNS, statements_for
from feeds.timing import stage

_CHUNK = 500
"""Values bound in one ``IN`` list (SQLite allows 999 or more parameters, by its build)."""


class DatabaseStore:
    """One connection to the state, held until ``close``."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._sqlite = database.is_sqlite
        self._sql = statements_for(database.engine.dialect.name)
        try:
            with database.writing if self._sqlite else nullcontext():
                # threads opening a new SQLite database at once would both create it
                self._db = database.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                if self._sqlite or not database.migrated:  # a SQLite file may be replaced
                    bring_up_to_date(self._db, database.name)
                    database.migrated = True
        except StorageError:
            raise
        except SQLAlchemyError as exc:
            raise self._unopened(exc) from exc
        except OSError as exc:
            raise StorageError(f"cannot open the state database {database.name}: {exc}") from exc

    @classmethod
    def in_directory(cls, state_dir: Path) -> DatabaseStore:
        """Open (creating if needed) the SQLite database of a state directory."""
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the state directory {state_dir}: {exc}") from exc
        return cls(sqlite_database(state_dir / DATABASE_NAME))

    @classmethod
    def at(cls, url: str) -> DatabaseStore:
        """Connect to the PostgreSQL state at ``url``."""
        return cls(postgres_database(url))

    @property
    def engine(self) -> Any:
        """The SQLAlchemy engine (for benchmarks that count statements)."""
        return self.database.engine

    def __enter__(self) -> DatabaseStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Give the connection up."""
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all of them land, or none."""
        try:
            with self.database.writing if self._sqlite else nullcontext():
                self._db.exec_driver_sql("BEGIN IMMEDIATE" if self._sqlite else "BEGIN")
                try:
                    yield
                except BaseException:
                    with suppress(SQLAlchemyError):  # a lost connection rolled it back
                        self._db.exec_driver_sql("ROLLBACK")
                    raise
                self._db.exec_driver_sql("COMMIT")
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc

    def _unopened(self, exc: SQLAlchemyError) -> StorageError:
        if self._sqlite and not _is_locked(exc):
            return StorageError(
                f"cannot open the state database {self.database.name}: {reason(exc)}; "
                "move it away to start from an empty state"
            )
        if self._sqlite:
            return self._error(exc)
        return DatabaseUnavailableError(
            f"cannot reach the state database {self.database.name}: {reason(exc)}; check "
            "settings.database and that PostgreSQL runs"
        )

    def _error(self, exc: SQLAlchemyError) -> StorageError:
        if _is_locked(exc):
            return StorageError(
                f"state database {self.database.name}: {reason(exc)}: another program kept it "
                f"locked for {engines.BUSY_TIMEOUT_SECONDS:g}s (an sqlite3 shell, a backup tool?); "
                "close it and run again"
            )
        if not self._sqlite and _lost_connection(exc):
            return DatabaseUnavailableError(
                f"state database {self.database.name} unreachable: {reason(exc)}"
            )
        return StorageError(f"state database {self.database.name}: {reason(exc)}")

    # items

    def known_urls(self, feed: str, urls: Iterable[str], rules: str = "") -> dict[str, str]:
        """Those of ``urls`` that already lead to an item of ``feed`` (with its id), or that
        were left out under the same ``rules`` (with an empty id)."""
        ordered = list(dict.fromkeys(urls))
        known = self._item_ids(feed, ordered)
        unknown = [url for url in ordered if url not in known]
        rows = self._rows_among(self._sql.rejected, "urls", unknown, feed=feed, rules=rules)
        rejected = {url for (url,) in rows}
        return {url: known.get(url, "") for url in ordered if url in known or url in rejected}

    def item_id_for_urls(self, feed: str, urls: Iterable[str]) -> str | None:
        """The id of the item of ``feed`` that one of ``urls`` leads to, if any."""
        ordered = list(dict.fromkeys(urls))
        found = self._item_ids(feed, ordered)
        return next((found[url] for url in ordered if url in found), None)

    def _item_ids(self, feed: str, urls: list[str]) -> dict[str, str]:
        return dict(self._rows_among(self._sql.item_ids, "urls", urls, feed=feed))

    def add_item(self, item: Item, source: str = "") -> None:
        """Store a new item (found by ``source``) and the URLs that lead to it; an item
        whose id is stored already is left as it is."""
        self._run(
            self._sql.add_item,
            feed=item.feed,
            id=item.id,
            url=item.url,
            first_seen=item.first_seen,
            source=source,
            published=item.published,
            updated=item.updated,
            **_content(item),
        )
        self.add_urls(item.feed, item.id, [item.url, *item.aliases])

    def add_urls(self, feed: str, item_id: str, urls: Iterable[str]) -> None:
        """Record that ``urls`` lead to an item, so they are never fetched again."""
        urls = list(dict.fromkeys(urls))
        self._run_many(
            self._sql.add_url, [{"feed": feed, "url": url, "item_id": item_id} for url in urls]
        )
        self._forget_article_failures(feed, urls)

    def add_rejected(
        self, feed: str, urls: Iterable[str], rules: str, reason: str, now: datetime
    ) -> None:
        """Remember that the feed's ``rules`` left these URLs' article out."""
        urls = list(dict.fromkeys(urls))
        rows = [
            {"feed": feed, "url": url, "rules": rules, "reason": reason, "at": now} for url in urls
        ]
        self._run_many(self._sql.add_rejected, rows)
        self._forget_article_failures(feed, urls)

    def article_failures(self, feed: str, urls: Iterable[str]) -> dict[str, int]:
        """In how many runs each of ``urls`` (those counted) failed as a new article."""
        rows = self._rows_among(self._sql.failures, "urls", list(dict.fromkeys(urls)), feed=feed)
        return {url: int(failures) for url, failures in rows}

    def count_article_failure(self, feed: str, url: str, error: str, now: datetime) -> int:
        """Count one more run in which the article at ``url`` failed; returns how many."""
        rows = self._rows(
            self._sql.count_failure, feed=feed, url=url, failures=1, last_error=error, at=now
        )
        return int(rows[0][0])

    def _forget_article_failures(self, feed: str, urls: list[str]) -> None:
        """Stop counting the failures of these URLs: they are known now (an item's, or
        left out), so they are never fetched as new articles again."""
        for chunk in _chunks(urls):
            self._run(self._sql.forget_failures, feed=feed, urls=chunk)

    def stored_hash(self, feed: str, item_id: str) -> str | None:
        """The ``content_hash`` of a stored item ("" for one stored before hashes were
        kept), or None when there is no such item."""
        rows = self._rows(self._sql.stored_hash, feed=feed, id=item_id)
        return str(rows[0][0]) if rows else None

    def replace_content(self, item_id: str, item: Item, updated: datetime | None) -> None:
        """Replace what readers see of a stored item; its id, link and first-seen time
        stay, its ``updated`` becomes ``updated`` unless that is None."""
        values = _content(item) | ({"updated": updated} if updated is not None else {})
        self._run(self._sql.replace_content, match_feed=item.feed, match_id=item_id, **values)

    def recent_items(self, feed: str, source: str, since: datetime) -> list[RecentItem]:
        """Items a source found at or after ``since``, to re-check for edits."""
        rows = self._rows(self._sql.recent, feed=feed, source=source, since=since)
        return [RecentItem(*row) for row in rows]

    def newest_fingerprints(self, feed: str, limit: int = RECENT_FINGERPRINTS) -> list[KnownItem]:
        """The newest items of a feed, for near-duplicate checks."""
        rows = self._rows(self._sql.fingerprints, feed=feed, limit=limit)
        return [KnownItem(id, title, unpack_sketch(sketch)) for id, title, sketch in rows]

    def items(self, feed: str, limit: int) -> list[Item]:
        """The newest ``limit`` items of a feed, newest first."""
        return list(self.iter_items(feed, limit))

    def iter_items(self, feed: str, limit: int) -> Iterator[Item]:
        """The newest ``limit`` items of a feed, newest first, read as they are consumed
        (a big feed is never all in SQLite's answer at once)."""
        try:
            result = self._db.execute(self._sql.items, {"feed": feed, "limit": limit})
            for partition in result.partitions(256):
                yield from (_item(cast("tuple[Any, ...]", row)) for row in partition)
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc

    def newest_update(self, feed: str, limit: int) -> datetime | None:
        """The latest ``updated`` among the newest ``limit`` items: the feed's own date."""
        return self.newest_state(feed, limit)[0]

    def newest_state(self, feed: str, limit: int) -> tuple[datetime | None, str]:
        """Of the feed's newest ``limit`` items: the latest ``updated`` (as ``newest_update``)
        and a digest of which items they are and when each last changed, which changes
        whenever what the feed's files show does. One pass over the index."""
        rows = self._rows(self._sql.newest_updates, feed=feed, limit=limit)
        latest = max((updated for _, updated in rows), default=None)
        shown = repr([(seq, updated.isoformat()) for seq, updated in rows])
        return latest, hashlib.sha256(shown.encode()).hexdigest()

    def count_items(self, feed: str) -> int:
        """How many items a feed has stored."""
        return int(self._rows(self._sql.count_items, feed=feed)[0][0])

    # pages

    def save_page(self, feed: str, item_id: str, source: str, page: Page) -> None:
        """Keep the page an item was made of (replacing an earlier one)."""
        with stage("keep page"):
            body = pack_body(page.body)
        self._run(
            self._sql.save_page,
            feed=feed,
            item_id=item_id,
            source=source,
            url=page.url,
            final_url=page.final_url,
            content_type=page.content_type,
            encoding=page.encoding,
            fetched_at=page.fetched_at,
            body=body,
        )

    def stored_pages(self, feed: str, limit: int) -> list[StoredPage]:
        """The pages of the feed's newest ``limit`` items."""
        return [
            stored_page(*row) for row in self._rows(self._sql.stored_pages, feed=feed, limit=limit)
        ]

    def prune_pages(self, feed: str, keep: int) -> None:
        """Forget the pages of all but the feed's newest ``keep`` items."""
        self._run(self._sql.prune_pages, feed=feed, keep=keep)

    # HTTP validators

    def validators(self, url: str) -> Validators:
        """The ETag and Last-Modified saved for ``url`` (empty when none)."""
        rows = self._rows(self._sql.validators, url=url)
        return Validators(*rows[0]) if rows else Validators()

    def save_validators(self, url: str, validators: Validators, now: datetime) -> None:
        """Remember the validators of the copy of ``url`` just processed."""
        if validators.etag is None and validators.last_modified is None:
            self._run(self._sql.forget_validators, url=url)
            return
        self._run(
            self._sql.save_validators,
            url=url,
            etag=validators.etag,
            last_modified=validators.last_modified,
            saved=now,
        )

    # source health

    def source_health(self, feed: str, source: str) -> SourceHealth:
        """How a source has been doing (a fresh record when never run)."""
        rows = self._rows(self._sql.source_health, feed=feed, source=source)
        return SourceHealth(*rows[0][1:]) if rows else SourceHealth()

    def sources_health(self, feed: str) -> dict[str, SourceHealth]:
        """The health of every source of a feed that has been run."""
        return {
            row[0]: SourceHealth(*row[1:]) for row in self._rows(self._sql.feed_health, feed=feed)
        }

    def record_links_seen(self, feed: str, source: str, links: int) -> None:
        """How many article links the source yielded this time its pages were read."""
        self._run(self._sql.links_seen, feed=feed, source=source, links_seen=links)

    def set_broken(self, feed: str, source: str, reason: str | None) -> None:
        """Mark a source broken, with the reason; None clears the mark."""
        self._run(self._sql.broken, feed=feed, source=source, broken=reason)

    def record_source_success(
        self, feed: str, source: str, now: datetime, config: str = ""
    ) -> None:
        """A source worked (under configuration ``config``): its failure count starts over."""
        self._run(
            self._sql.source_success,
            feed=feed,
            source=source,
            failures=0,
            last_success=now,
            config=config,
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
        self._run(
            self._sql.source_failure,
            feed=feed,
            source=source,
            failures=1,
            last_error=error,
            last_failure=now,
            next_attempt=next_attempt,
            failed_config=config,
        )

    # runs

    def record_run(self, report: RunReport, started: datetime) -> None:
        """Keep a run's outcome for ``status`` and health checks."""
        self._run(
            self._sql.record_run,
            feed=report.feed,
            started=started,
            duration=report.duration,
            new=report.new,
            updated=report.updated,
            unchanged=report.unchanged,
            skipped=report.skipped,
            failed=report.failed,
            sources=report.sources,
            sources_failed=report.sources_failed,
            errors=errors_json(report),
            sources_skipped=report.sources_skipped,
        )

    def recent_runs(self, feed: str, limit: int) -> list[RunRecord]:
        """A feed's last ``limit`` runs, the latest first."""
        return [
            RunRecord(started, sources, sources_failed, failed, first_error(errors), skipped)
            for started, sources, sources_failed, failed, errors, skipped in self._rows(
                self._sql.recent_runs, feed=feed, limit=limit
            )
        ]

    def new_items_since(self, feed: str, since: datetime) -> int:
        """How many new items the feed's runs that started at or after ``since`` found."""
        return int(self._rows(self._sql.new_since, feed=feed, since=since)[0][0])

    def record_due_run(self, feed: str, due: datetime, finished: datetime) -> None:
        """Keep that the run asked for at ``due`` is done."""
        self._run(self._sql.record_due_run, feed=feed, due=due, finished=finished)

    def due_run_done(self, feed: str, due: datetime) -> bool:
        """Whether a run asked for at ``due`` or later is done."""
        return bool(self._rows(self._sql.due_run_done, feed=feed, due=due))

    # a cluster's schedule

    def schedule(self) -> list[ScheduledRun]:
        """Every feed's place in the schedule."""
        return [ScheduledRun(*row) for row in self._rows(self._sql.schedule)]

    def schedule_feed(self, feed: str, next_due: datetime) -> None:
        """Put a feed in the schedule, or move its next due run to ``next_due``."""
        self._run(self._sql.schedule_feed, feed=feed, next_due=next_due)

    def unschedule(self, feeds: Iterable[str]) -> None:
        """Take these feeds out of the schedule."""
        for chunk in _chunks(list(feeds)):
            self._run(self._sql.unschedule, feeds=chunk)

    def claim_due(self, feed: str, due: datetime, next_due: datetime, now: datetime) -> bool:
        """Take the feed's run due at ``due`` to send it; False when another took it."""
        return (
            self._changed(
                self._sql.claim_due,
                match_feed=feed,
                match_due=due,
                next_due=next_due,
                sent_due=due,
                sent_at=now,
            )
            == 1
        )

    def claim_resend(self, feed: str, due: datetime, now: datetime, sent_before: datetime) -> bool:
        """Take the run due at ``due``, sent before ``sent_before`` and not done, to send
        it again; False when it is not so any more."""
        return (
            self._changed(
                self._sql.claim_resend,
                match_feed=feed,
                match_due=due,
                now=now,
                sent_before=sent_before,
            )
            == 1
        )

    def unsend(self, feed: str, due: datetime) -> None:
        """Say that sending the run due at ``due`` failed: it is sent again at once."""
        self._run(self._sql.unsend, match_feed=feed, match_due=due)

    def settle_done(self) -> int:
        """Clear the sent runs that are done; returns how many."""
        return self._changed(self._sql.settle_done)

    def worker_seen(self, worker: WorkerSeen) -> None:
        """Keep what a worker says of itself now."""
        self._run(
            self._sql.worker_seen,
            name=worker.name,
            seen=worker.seen,
            running=worker.running,
            unrecorded=worker.unrecorded,
        )

    def workers_seen(self, since: datetime) -> list[WorkerSeen]:
        """The workers seen at ``since`` or later, by name."""
        return [WorkerSeen(*row) for row in self._rows(self._sql.workers_seen, since=since)]

    # the feeds asked for at GET /full

    def on_demand_feeds(self) -> list[tuple[str, int]]:
        """The feeds asked for on demand: their URL and item count, the oldest first."""
        return [(url, int(count)) for url, count in self._rows(self._sql.on_demand)]

    def add_on_demand(self, url: str, max_items: int, now: datetime) -> None:
        """Keep a feed asked for on demand (kept as it is when it is there already)."""
        self._run(self._sql.add_on_demand, url=url, max_items=max_items, created=now)

    # what a feed learnt

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

    def _feed_info(self, feed: str, name: str) -> str | None:
        rows = self._rows(self._sql.feed_info[name], feed=feed)
        return rows[0][0] if rows else None

    def _set_feed_info(self, feed: str, name: str, value: str) -> None:
        self._run(self._sql.set_feed_info[name], feed=feed, **{name: value})

    # documents

    def put_documents(self, documents: Mapping[str, bytes], now: datetime) -> tuple[str, ...]:
        """Keep these documents; those whose bytes changed get ``now`` as their time."""
        kept = self._rows_among(self._sql.document_etags, "names", list(documents))
        changed = changed_documents(documents, dict(kept))
        self._run_many(
            self._sql.put_document,
            [
                {"name": name, "body": body, "etag": etag, "modified": now}
                for name, body, etag in changed
            ],
        )
        return tuple(name for name, _, _ in changed)

    def document(self, name: str) -> Document | None:
        """The document of that name, if any."""
        rows = self._rows(self._sql.document, name=name)
        return Document(name, bytes(rows[0][0]), rows[0][1], rows[0][2]) if rows else None

    def document_version(self, name: str) -> tuple[str, datetime] | None:
        """The ETag and modification time of a document, without its bytes."""
        rows = self._rows(self._sql.document_version, name=name)
        return (rows[0][0], rows[0][1]) if rows else None

    def document_names(self, names: Iterable[str]) -> set[str]:
        """Those of ``names`` that are kept."""
        return {
            name for (name,) in self._rows_among(self._sql.document_names, "names", list(names))
        }

    def remove_documents(self, names: Iterable[str]) -> list[str]:
        """Forget these documents; returns the names there were."""
        names = list(names)
        there = self.document_names(names)
        for chunk in _chunks(names):
            self._run(self._sql.remove_documents, names=chunk)
        return [name for name in names if name in there]

    # plumbing

    def _run(self, statement: Executable, **values: Any) -> None:
        try:
            self._db.execute(statement, values)
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc

    def _run_many(self, statement: Executable, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            self._db.execute(statement, rows)
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc

    def _changed(self, statement: Executable, **values: Any) -> int:
        """Run ``statement``; how many rows it changed."""
        try:
            return int(self._db.execute(statement, values).rowcount)
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc

    def _rows(self, query: Executable, **values: Any) -> Sequence[tuple[Any, ...]]:
        try:
            return cast("Sequence[tuple[Any, ...]]", self._db.execute(query, values).all())
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc

    def _rows_among(
        self, query: Executable, name: str, values: list[str], **others: Any
    ) -> list[tuple[Any, ...]]:
        """The rows of ``query`` with the list ``name`` bound to ``values``, a chunk at a
        time."""
        return [
            row for chunk in _chunks(values) for row in self._rows(query, **{name: chunk}, **others)
        ]


def _content(item: Item) -> dict[str, Any]:
    """What readers see of an item, as its columns."""
    return {
        "title": item.title,
        "author": item.author,
        "summary": item.summary,
        "content_html": item.content_html,
        "image": item.image,
        "categories": list(item.categories),
        "fingerprint": pack_sketch(item.fingerprint),
        "content_hash": content_hash(item),
        "language": item.language,
    }


def _item(row: tuple[Any, ...]) -> Item:
    """An item from its row (``ITEM_COLUMNS``, named as ``Item``'s fields)."""
    values = dict(zip((column.name for column in ITEM_COLUMNS), row, strict=True))
    values["categories"] = tuple(values["categories"])
    values["fingerprint"] = unpack_sketch(values["fingerprint"])
    return Item(**values)


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _lost_connection(exc: SQLAlchemyError) -> bool:
    """Whether the database server went away (as opposed to refusing a statement)."""
    invalidated = isinstance(exc, DBAPIError) and exc.connection_invalidated
    return invalidated or isinstance(exc, OperationalError | InterfaceError)


def _is_locked(exc: SQLAlchemyError) -> bool:
    original = exc.orig if isinstance(exc, DBAPIError) else None
    code = getattr(original, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
