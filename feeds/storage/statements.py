"""Every statement the state runs, written once over the tables of ``schema`` and built
once per database dialect (the dialects differ only in how an upsert is spelt, which
SQLAlchemy's SQLite and PostgreSQL inserts share). Values are bound when a statement
runs, so each is compiled once and found in SQLAlchemy's cache after that."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Table,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from feeds.storage.schema import (
    article_failures,
    documents,
    due_runs,
    feed_info,
    http_validators,
    item_urls,
    items,
    on_demand,
    pages,
    rejected_urls,
    runs,
    schedule,
    source_health,
    workers,
)

FEED_INFO = ("icon", "published", "extraction")
"""What a feed learnt, each a column of ``feed_info``."""
NEWEST = (items.c.published.desc(), items.c.first_seen.desc(), items.c.seq.desc())
"""A feed's items, newest first."""
ITEM_COLUMNS = tuple(
    items.c[name]
    for name in (
        "id", "feed", "url", "title", "author", "published", "updated", "summary",
        "content_html", "image", "categories", "fingerprint", "first_seen", "language",
    )
)  # fmt: skip
HEALTH_COLUMNS = tuple(
    source_health.c[name]
    for name in (
        "source", "failures", "last_error", "last_success", "last_failure", "next_attempt",
        "config", "links_seen", "broken", "failed_config",
    )
)  # fmt: skip
PAGE_COLUMNS = tuple(
    pages.c[name]
    for name in (
        "item_id", "source", "url", "final_url", "content_type", "encoding", "fetched_at",
        "body",
    )
)  # fmt: skip


def _is(column: Column[Any], name: str | None = None) -> ColumnElement[bool]:
    """``column`` equal to the value bound as ``name`` (the column's own name by default)."""
    return column == bindparam(name or column.name)


def _among(column: Column[Any], name: str) -> ColumnElement[bool]:
    """``column`` one of the list bound as ``name``."""
    return column.in_(bindparam(name, expanding=True))


class Statements:
    """The statements of one dialect, whose insert is ``insert``."""

    def __init__(self, insert: Callable[[Table], Any]) -> None:
        def upsert(table: Table, keys: Iterable[str], **changes: Any) -> Any:
            """Insert, or on a row with the same ``keys`` set ``changes`` (a column's name
            with True: the value that was to be inserted)."""
            statement = insert(table)
            values = {
                name: statement.excluded[name] if change is True else change
                for name, change in changes.items()
            }
            return statement.on_conflict_do_update(index_elements=list(keys), set_=values)

        def replacing(table: Table, *keys: str) -> Any:
            """Insert, or replace every column of a row with the same ``keys``."""
            others = [column.name for column in table.columns if column.name not in keys]
            return upsert(table, keys, **dict.fromkeys(others, True))

        # items, and the URLs that lead to them
        self.item_ids = select(item_urls.c.url, item_urls.c.item_id).where(
            _is(item_urls.c.feed), _among(item_urls.c.url, "urls")
        )
        self.rejected = select(rejected_urls.c.url).where(
            _is(rejected_urls.c.feed),
            _is(rejected_urls.c.rules),
            _among(rejected_urls.c.url, "urls"),
        )
        self.add_item = insert(items).on_conflict_do_nothing(index_elements=["feed", "id"])
        self.add_url = insert(item_urls).on_conflict_do_nothing()
        self.add_rejected = replacing(rejected_urls, "feed", "url")
        self.failures = select(article_failures.c.url, article_failures.c.failures).where(
            _is(article_failures.c.feed), _among(article_failures.c.url, "urls")
        )
        self.count_failure = upsert(
            article_failures,
            ("feed", "url"),
            failures=article_failures.c.failures + 1,
            last_error=True,
            at=True,
        ).returning(article_failures.c.failures)
        self.forget_failures = delete(article_failures).where(
            _is(article_failures.c.feed), _among(article_failures.c.url, "urls")
        )
        self.stored_hash = select(items.c.content_hash).where(_is(items.c.feed), _is(items.c.id))
        # the columns set are those bound (``updated`` only when it changes)
        self.replace_content = update(items).where(
            _is(items.c.feed, "match_feed"), _is(items.c.id, "match_id")
        )
        self.recent = (
            select(items.c.id, items.c.url, items.c.content_hash)
            .where(_is(items.c.feed), _is(items.c.source), items.c.first_seen >= bindparam("since"))
            .order_by(items.c.first_seen)
        )
        self.fingerprints = (
            select(items.c.id, items.c.title, items.c.fingerprint)
            .where(_is(items.c.feed))
            .order_by(items.c.seq.desc())
            .limit(bindparam("limit"))
        )
        newest = select(*ITEM_COLUMNS).where(_is(items.c.feed)).order_by(*NEWEST)
        self.items = newest.limit(bindparam("limit"))
        self.newest_updates = newest.with_only_columns(items.c.seq, items.c.updated).limit(
            bindparam("limit")
        )
        self.count_items = select(func.count()).select_from(items).where(_is(items.c.feed))
        # kept pages
        self.save_page = replacing(pages, "feed", "item_id")
        self.stored_pages = (
            select(*PAGE_COLUMNS)
            .join_from(
                items, pages, (pages.c.feed == items.c.feed) & (pages.c.item_id == items.c.id)
            )
            .where(_is(items.c.feed))
            .order_by(*NEWEST)
            .limit(bindparam("limit"))
        )
        kept = newest.with_only_columns(items.c.id).limit(bindparam("keep"))
        self.prune_pages = delete(pages).where(
            _is(pages.c.feed), pages.c.item_id.not_in(kept.scalar_subquery())
        )
        # HTTP validators
        self.validators = select(http_validators.c.etag, http_validators.c.last_modified).where(
            _is(http_validators.c.url)
        )
        self.save_validators = replacing(http_validators, "url")
        self.forget_validators = delete(http_validators).where(_is(http_validators.c.url))
        # source health
        self.feed_health = select(*HEALTH_COLUMNS).where(_is(source_health.c.feed))
        self.source_health = self.feed_health.where(_is(source_health.c.source))
        health = ("feed", "source")
        self.links_seen = upsert(source_health, health, links_seen=True)
        self.broken = upsert(source_health, health, broken=True)
        self.source_success = upsert(
            source_health, health, failures=0, next_attempt=None, last_success=True, config=True
        )
        self.source_failure = upsert(
            source_health,
            health,
            failures=source_health.c.failures + 1,
            last_error=True,
            last_failure=True,
            next_attempt=True,
            failed_config=True,
        )
        # runs
        self.record_run = runs.insert()
        self.recent_runs = (
            select(
                runs.c.started,
                runs.c.sources,
                runs.c.sources_failed,
                runs.c.failed,
                runs.c.errors,
                runs.c.sources_skipped,
            )
            .where(_is(runs.c.feed))
            .order_by(runs.c.seq.desc())
            .limit(bindparam("limit"))
        )
        self.new_since = select(func.coalesce(func.sum(runs.c.new), 0)).where(
            _is(runs.c.feed), runs.c.started >= bindparam("since")
        )
        self.record_due_run = insert(due_runs).on_conflict_do_nothing()
        self.due_run_done = (
            select(due_runs.c.feed)
            .where(_is(due_runs.c.feed), due_runs.c.due >= bindparam("due"))
            .limit(1)
        )
        # a cluster's schedule
        self.schedule = select(
            schedule.c.feed,
            schedule.c.next_due,
            schedule.c.sent_due,
            schedule.c.sent_at,
            schedule.c.sends,
        ).order_by(schedule.c.next_due)
        self.schedule_feed = upsert(schedule, ["feed"], next_due=True)
        self.unschedule = delete(schedule).where(_among(schedule.c.feed, "feeds"))
        sent = (_is(schedule.c.feed, "match_feed"), _is(schedule.c.sent_due, "match_due"))
        self.claim_due = (
            update(schedule)
            .where(_is(schedule.c.feed, "match_feed"), _is(schedule.c.next_due, "match_due"))
            .values(sends=1)
        )
        self.claim_resend = (
            update(schedule)
            .where(
                *sent,
                or_(schedule.c.sent_at.is_(None), schedule.c.sent_at < bindparam("sent_before")),
            )
            .values(sent_at=bindparam("now"), sends=schedule.c.sends + 1)
        )
        self.unsend = update(schedule).where(*sent).values(sent_at=None)
        done = exists(
            select(due_runs.c.feed).where(
                due_runs.c.feed == schedule.c.feed, due_runs.c.due >= schedule.c.sent_due
            )
        )
        self.settle_done = (
            update(schedule)
            .where(schedule.c.sent_due.is_not(None), done)
            .values(sent_due=None, sent_at=None)
        )
        self.worker_seen = replacing(workers, "name")
        self.workers_seen = (
            select(workers.c.name, workers.c.seen, workers.c.running, workers.c.unrecorded)
            .where(workers.c.seen >= bindparam("since"))
            .order_by(workers.c.name)
        )
        # the feeds asked for at /full
        self.on_demand = select(on_demand.c.url, on_demand.c.max_items).order_by(
            on_demand.c.created, on_demand.c.url
        )
        self.add_on_demand = insert(on_demand).on_conflict_do_nothing()
        # what a feed learnt
        self.feed_info = {
            name: select(feed_info.c[name]).where(_is(feed_info.c.feed)) for name in FEED_INFO
        }
        self.set_feed_info = {
            name: upsert(feed_info, ["feed"], **{name: True}) for name in FEED_INFO
        }
        # published documents
        self.document_etags = select(documents.c.name, documents.c.etag).where(
            _among(documents.c.name, "names")
        )
        self.document_names = select(documents.c.name).where(_among(documents.c.name, "names"))
        self.put_document = replacing(documents, "name")
        self.document = select(documents.c.body, documents.c.etag, documents.c.modified).where(
            _is(documents.c.name)
        )
        self.document_version = select(documents.c.etag, documents.c.modified).where(
            _is(documents.c.name)
        )
        self.remove_documents = delete(documents).where(_among(documents.c.name, "names"))


@cache
def statements_for(dialect: str) -> Statements:
    """The statements of a dialect (``sqlite`` or ``postgresql``), built on first use."""
    return Statements(sqlite.insert if dialect == "sqlite" else postgresql.insert)
