"""The state in memory (``feeds.storage.interface.Store``): for tests, and for anything
that needs no disk. A ``MemoryState`` is the state; each ``MemoryStore`` is a connection
to it (as many as the threads that run feeds), and a transaction is all-or-nothing: on an
error, the state is put back as it was when the transaction began."""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from feeds.models import Item, Page, RunReport
from feeds.storage.codec import changed_documents
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


@dataclass(slots=True)
class _StoredItem:
    item: Item
    source: str
    content_hash: str
    seq: int


@dataclass(slots=True)
class _Run:
    record: RunRecord
    new: int


@dataclass(slots=True)
class _Tables:
    items: dict[tuple[str, str], _StoredItem] = field(default_factory=dict)
    item_urls: dict[tuple[str, str], str] = field(default_factory=dict)
    rejected: dict[tuple[str, str], str] = field(default_factory=dict)
    """(feed, url) -> the rules it was left out under."""
    article_failures: dict[tuple[str, str], int] = field(default_factory=dict)
    validators: dict[str, Validators] = field(default_factory=dict)
    health: dict[tuple[str, str], SourceHealth] = field(default_factory=dict)
    runs: dict[str, list[_Run]] = field(default_factory=dict)
    icons: dict[str, str] = field(default_factory=dict)
    published: dict[str, str] = field(default_factory=dict)
    extraction: dict[str, str] = field(default_factory=dict)
    pages: dict[tuple[str, str], StoredPage] = field(default_factory=dict)
    documents: dict[str, Document] = field(default_factory=dict)
    due_runs: dict[str, list[datetime]] = field(default_factory=dict)
    schedule: dict[str, ScheduledRun] = field(default_factory=dict)
    workers: dict[str, WorkerSeen] = field(default_factory=dict)
    on_demand: dict[tuple[str, int], datetime] = field(default_factory=dict)
    seq: int = 0


class MemoryState:
    """A state kept in this process; open connections to it with ``connect``."""

    def __init__(self) -> None:
        self.tables = _Tables()
        self.lock = threading.RLock()

    def connect(self) -> MemoryStore:
        """A connection to this state."""
        return MemoryStore(self)


class MemoryStore:
    """One connection to a ``MemoryState``."""

    def __init__(self, state: MemoryState) -> None:
        self.state = state

    @property
    def _t(self) -> _Tables:
        return self.state.tables

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to give up."""

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all of them land, or none."""
        with self.state.lock:
            before = copy.deepcopy(self.state.tables)
            try:
                yield
            except BaseException:
                self.state.tables = before
                raise

    # items

    def known_urls(self, feed: str, urls: Iterable[str], rules: str = "") -> dict[str, str]:
        known = {}
        for url in dict.fromkeys(urls):
            if (feed, url) in self._t.item_urls:
                known[url] = self._t.item_urls[feed, url]
            elif self._t.rejected.get((feed, url)) == rules:
                known[url] = ""
        return known

    def item_id_for_urls(self, feed: str, urls: Iterable[str]) -> str | None:
        return next(
            (self._t.item_urls[feed, url] for url in urls if (feed, url) in self._t.item_urls),
            None,
        )

    def add_item(self, item: Item, source: str = "") -> None:
        with self.state.lock:
            if (item.feed, item.id) not in self._t.items:
                self._t.seq += 1
                self._t.items[item.feed, item.id] = _StoredItem(
                    replace(item, aliases=()), source, content_hash(item), self._t.seq
                )
            self.add_urls(item.feed, item.id, [item.url, *item.aliases])

    def add_urls(self, feed: str, item_id: str, urls: Iterable[str]) -> None:
        with self.state.lock:
            for url in urls:
                self._t.item_urls.setdefault((feed, url), item_id)
                self._t.article_failures.pop((feed, url), None)

    def add_rejected(
        self, feed: str, urls: Iterable[str], rules: str, reason: str, now: datetime
    ) -> None:
        with self.state.lock:
            for url in urls:
                self._t.rejected[feed, url] = rules
                self._t.article_failures.pop((feed, url), None)

    def article_failures(self, feed: str, urls: Iterable[str]) -> dict[str, int]:
        failures = self._t.article_failures
        return {url: failures[feed, url] for url in urls if (feed, url) in failures}

    def count_article_failure(self, feed: str, url: str, error: str, now: datetime) -> int:
        with self.state.lock:
            count = self._t.article_failures.get((feed, url), 0) + 1
            self._t.article_failures[feed, url] = count
            return count

    def stored_hash(self, feed: str, item_id: str) -> str | None:
        stored = self._t.items.get((feed, item_id))
        return None if stored is None else stored.content_hash

    def replace_content(self, item_id: str, item: Item, updated: datetime | None) -> None:
        with self.state.lock:
            stored = self._t.items.get((item.feed, item_id))
            if stored is None:
                return
            old = stored.item
            stored.item = replace(
                old,
                title=item.title,
                author=item.author,
                summary=item.summary,
                content_html=item.content_html,
                image=item.image,
                categories=item.categories,
                fingerprint=item.fingerprint,
                language=item.language,
                updated=updated if updated is not None else old.updated,
            )
            stored.content_hash = content_hash(item)

    def recent_items(self, feed: str, source: str, since: datetime) -> list[RecentItem]:
        found = [
            stored
            for (item_feed, _), stored in self._t.items.items()
            if item_feed == feed and stored.source == source and stored.item.first_seen >= since
        ]
        found.sort(key=lambda stored: stored.item.first_seen)
        return [RecentItem(s.item.id, s.item.url, s.content_hash) for s in found]

    def newest_fingerprints(self, feed: str, limit: int = RECENT_FINGERPRINTS) -> list[KnownItem]:
        stored = sorted(self._of(feed), key=lambda s: s.seq, reverse=True)[:limit]
        return [KnownItem(s.item.id, s.item.title, s.item.fingerprint) for s in stored]

    def iter_items(self, feed: str, limit: int) -> Iterator[Item]:
        return iter([stored.item for stored in self._newest(feed, limit)])

    def items(self, feed: str, limit: int) -> list[Item]:
        return list(self.iter_items(feed, limit))

    def newest_update(self, feed: str, limit: int) -> datetime | None:
        return max((s.item.updated for s in self._newest(feed, limit)), default=None)

    def newest_state(self, feed: str, limit: int) -> tuple[datetime | None, str]:
        newest = self._newest(feed, limit)
        shown = repr([(s.seq, s.item.updated) for s in newest])
        return self.newest_update(feed, limit), hashlib.sha256(shown.encode()).hexdigest()

    def count_items(self, feed: str) -> int:
        return len(self._of(feed))

    def _of(self, feed: str) -> list[_StoredItem]:
        return [stored for (item_feed, _), stored in self._t.items.items() if item_feed == feed]

    def _newest(self, feed: str, limit: int) -> list[_StoredItem]:
        def newest_first(stored: _StoredItem) -> tuple[datetime, datetime, int]:
            return stored.item.published, stored.item.first_seen, stored.seq

        return sorted(self._of(feed), key=newest_first, reverse=True)[:limit]

    # HTTP validators

    def validators(self, url: str) -> Validators:
        return self._t.validators.get(url, Validators())

    def save_validators(self, url: str, validators: Validators, now: datetime) -> None:
        with self.state.lock:
            if validators.etag is None and validators.last_modified is None:
                self._t.validators.pop(url, None)
            else:
                self._t.validators[url] = validators

    # source health

    def source_health(self, feed: str, source: str) -> SourceHealth:
        return self._t.health.get((feed, source), SourceHealth())

    def sources_health(self, feed: str) -> dict[str, SourceHealth]:
        return {
            source: health
            for (health_feed, source), health in self._t.health.items()
            if health_feed == feed
        }

    def record_links_seen(self, feed: str, source: str, links: int) -> None:
        self._change_health(feed, source, links_seen=links)

    def set_broken(self, feed: str, source: str, reason: str | None) -> None:
        self._change_health(feed, source, broken=reason)

    def record_source_success(
        self, feed: str, source: str, now: datetime, config: str = ""
    ) -> None:
        self._change_health(
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
        with self.state.lock:
            failures = self.source_health(feed, source).failures + 1
            self._change_health(
                feed,
                source,
                failures=failures,
                last_error=error,
                last_failure=now,
                next_attempt=next_attempt,
                failed_config=config,
            )

    def _change_health(self, feed: str, source: str, **changes: object) -> None:
        with self.state.lock:
            self._t.health[feed, source] = replace(self.source_health(feed, source), **changes)  # type: ignore[arg-type]

    # runs

    def record_run(self, report: RunReport, started: datetime) -> None:
        first = report.errors[0] if report.errors else None
        record = RunRecord(
            started,
            report.sources,
            report.sources_failed,
            report.failed,
            f"{first.url}: {first.message}" if first else None,
            report.sources_skipped,
        )
        with self.state.lock:
            self._t.runs.setdefault(report.feed, []).append(_Run(record, report.new))

    def recent_runs(self, feed: str, limit: int) -> list[RunRecord]:
        return [run.record for run in reversed(self._t.runs.get(feed, []))][:limit]

    def new_items_since(self, feed: str, since: datetime) -> int:
        return sum(run.new for run in self._t.runs.get(feed, []) if run.record.started >= since)

    def record_due_run(self, feed: str, due: datetime, finished: datetime) -> None:
        with self.state.lock:
            self._t.due_runs.setdefault(feed, []).append(due)

    def due_run_done(self, feed: str, due: datetime) -> bool:
        return any(done >= due for done in self._t.due_runs.get(feed, []))

    # a cluster's schedule

    def schedule(self) -> list[ScheduledRun]:
        return sorted(self._t.schedule.values(), key=lambda row: row.next_due)

    def schedule_feed(self, feed: str, next_due: datetime) -> None:
        with self.state.lock:
            row = self._t.schedule.get(feed)
            self._t.schedule[feed] = (
                ScheduledRun(feed, next_due) if row is None else replace(row, next_due=next_due)
            )

    def unschedule(self, feeds: Iterable[str]) -> None:
        with self.state.lock:
            for feed in feeds:
                self._t.schedule.pop(feed, None)

    def claim_due(self, feed: str, due: datetime, next_due: datetime, now: datetime) -> bool:
        with self.state.lock:
            row = self._t.schedule.get(feed)
            if row is None or row.next_due != due:
                return False
            self._t.schedule[feed] = ScheduledRun(feed, next_due, due, now, 1)
            return True

    def claim_resend(self, feed: str, due: datetime, now: datetime, sent_before: datetime) -> bool:
        with self.state.lock:
            row = self._t.schedule.get(feed)
            if row is None or row.sent_due != due:
                return False
            if row.sent_at is not None and row.sent_at >= sent_before:
                return False
            self._t.schedule[feed] = replace(row, sent_at=now, sends=row.sends + 1)
            return True

    def unsend(self, feed: str, due: datetime) -> None:
        with self.state.lock:
            row = self._t.schedule.get(feed)
            if row is not None and row.sent_due == due:
                self._t.schedule[feed] = replace(row, sent_at=None)

    def settle_done(self) -> int:
        with self.state.lock:
            done = [
                row
                for row in self._t.schedule.values()
                if row.sent_due is not None and self.due_run_done(row.feed, row.sent_due)
            ]
            for row in done:
                self._t.schedule[row.feed] = replace(row, sent_due=None, sent_at=None)
            return len(done)

    def worker_seen(self, worker: WorkerSeen) -> None:
        with self.state.lock:
            self._t.workers[worker.name] = worker

    def workers_seen(self, since: datetime) -> list[WorkerSeen]:
        return sorted(
            (w for w in self._t.workers.values() if w.seen >= since), key=lambda w: w.name
        )

    def on_demand_feeds(self) -> list[tuple[str, int]]:
        ordered = sorted(self._t.on_demand.items(), key=lambda pair: (pair[1], pair[0][0]))
        return [key for key, _ in ordered]

    def add_on_demand(self, url: str, max_items: int, now: datetime) -> None:
        with self.state.lock:
            self._t.on_demand.setdefault((url, max_items), now)

    # feed info

    def feed_icon(self, feed: str) -> str | None:
        return self._t.icons.get(feed)

    def set_feed_icon(self, feed: str, icon: str) -> None:
        with self.state.lock:
            self._t.icons[feed] = icon

    def extraction_key(self, feed: str) -> str | None:
        return self._t.extraction.get(feed)

    def set_extraction_key(self, feed: str, key: str) -> None:
        with self.state.lock:
            self._t.extraction[feed] = key

    # pages

    def save_page(self, feed: str, item_id: str, source: str, page: Page) -> None:
        with self.state.lock:
            self._t.pages[feed, item_id] = StoredPage(item_id, source, page)

    def stored_pages(self, feed: str, limit: int) -> list[StoredPage]:
        newest = [stored.item.id for stored in self._newest(feed, limit)]
        return [self._t.pages[feed, item] for item in newest if (feed, item) in self._t.pages]

    def prune_pages(self, feed: str, keep: int) -> None:
        with self.state.lock:
            kept = {stored.item.id for stored in self._newest(feed, keep)}
            for key in [key for key in self._t.pages if key[0] == feed and key[1] not in kept]:
                del self._t.pages[key]

    def published_key(self, feed: str) -> str | None:
        return self._t.published.get(feed)

    def set_published_key(self, feed: str, key: str) -> None:
        with self.state.lock:
            self._t.published[feed] = key

    # documents

    def put_documents(self, documents: Mapping[str, bytes], now: datetime) -> tuple[str, ...]:
        with self.state.lock:
            kept = {name: document.etag for name, document in self._t.documents.items()}
            changed = changed_documents(documents, kept)
            for name, body, etag in changed:
                self._t.documents[name] = Document(name, body, etag, now)
        return tuple(name for name, _, _ in changed)

    def document(self, name: str) -> Document | None:
        return self._t.documents.get(name)

    def document_version(self, name: str) -> tuple[str, datetime] | None:
        document = self._t.documents.get(name)
        return None if document is None else (document.etag, document.modified)

    def document_names(self, names: Iterable[str]) -> set[str]:
        return {name for name in names if name in self._t.documents}

    def remove_documents(self, names: Iterable[str]) -> list[str]:
        with self.state.lock:
            return [name for name in names if self._t.documents.pop(name, None) is not None]
