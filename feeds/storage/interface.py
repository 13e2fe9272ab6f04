"""What the run, publishing and the service need of the state (``Store``), and the values
they exchange. The databases (``database.py``: SQLite, PostgreSQL) and memory
(``memory.py``) implement it; ``tests/test_storage.py`` holds every implementation to one
contract.

Decisions are not made here: what a run's result was (``run_result``), when an edited
item gets a new date, when a source is retried, all live in the run's policy. A store
keeps and returns what it is given; writes are idempotent by URL and item id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from feeds.models import Item, Page, RunReport


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server said identifies the copy of a page we have."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """How a source has been doing, run after run."""

    failures: int = 0
    last_error: str | None = None
    last_success: datetime | None = None
    last_failure: datetime | None = None
    next_attempt: datetime | None = None
    config: str = ""
    """A key of the source's configuration when it last worked: when the configuration
    changes, the saved validators of its pages no longer say "nothing new for you"."""
    links_seen: int = 0
    """Article links the source yielded the last time its pages were read."""
    broken: str | None = None
    """Why the source is broken (it stopped yielding links, its articles all fail), if it is."""
    failed_config: str = ""
    """The key of the source's configuration when it last failed: a source whose
    configuration changed since is tried again at once, whatever its backoff."""


@dataclass(frozen=True, slots=True)
class RecentItem:
    """An item that a source's ``refresh`` re-checks."""

    id: str
    url: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class KnownItem:
    """What deduplication needs to know of a stored item."""

    id: str
    title: str
    fingerprint: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run as the state keeps it, for ``status`` and health checks."""

    started: datetime
    sources: int
    sources_failed: int
    failed: int
    first_error: str | None
    """The first error of the run (``url: message``), if any."""
    sources_skipped: int = 0


RECENT_FINGERPRINTS = 2000
"""How many of a feed's newest items near-duplicates are looked for among."""


@dataclass(frozen=True, slots=True)
class ScheduledRun:
    """A feed's place in a cluster's schedule."""

    feed: str
    next_due: datetime
    """When the feed's next run is due."""
    sent_due: datetime | None = None
    """The due time of the run last sent to the queue, until that run is known to be done."""
    sent_at: datetime | None = None
    """When it was last sent (None: to send again at once, its sending failed)."""
    sends: int = 0
    """How many times it was sent (more than once: its message was lost, or waited long)."""


@dataclass(frozen=True, slots=True)
class WorkerSeen:
    """A cluster's worker, as it last said it was."""

    name: str
    seen: datetime
    running: int
    """Runs it had going on."""
    unrecorded: int
    """Runs whose outcome it could not record since it started (the database away)."""


class HeldLock(Protocol):
    """A cluster-wide lock this process holds (``storage.cluster_lock``)."""

    def alive(self) -> bool:
        """Whether the lock is still held: False once the connection that holds it is
        gone (the database restarted, the network cut), whereupon another process may
        take it."""
        ...


def content_hash(item: Item) -> str:
    """A hash of what readers see of an item, to notice edits."""
    digest = hashlib.sha256()
    for part in (item.title, item.author or "", item.summary, item.content_html, item.image or ""):
        digest.update(part.encode("utf-8", errors="surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class StoredPage:
    """The page an item was extracted from, kept to extract it again (new rules)."""

    item_id: str
    source: str
    page: Page


@dataclass(frozen=True, slots=True)
class Document:
    """A published document (a feed in one format, a page, an OPML file) as served."""

    name: str
    body: bytes
    etag: str
    """``document_etag`` of the body."""
    modified: datetime
    """When the body last changed (Last-Modified)."""


def document_etag(body: bytes) -> str:
    """The strong entity tag of a document's bytes: the same wherever it is served from."""
    return hashlib.sha256(body).hexdigest()[:32]


class Store(Protocol):
    """One connection to a state: every concern, transactions, and closing."""

    # a feed's items, the URLs that lead to them, and the URLs it left out
    def known_urls(self, feed: str, urls: Iterable[str], rules: str = "") -> dict[str, str]:
        """Those of ``urls`` that already lead to an item of ``feed`` (with its id), or that
        were left out under the same ``rules`` (with an empty id). One query."""
        ...

    def item_id_for_urls(self, feed: str, urls: Iterable[str]) -> str | None:
        """The id of the item of ``feed`` that one of ``urls`` (the first in order that
        does) leads to, if any."""
        ...

    def add_item(self, item: Item, source: str = "") -> None:
        """Store a new item (found by ``source``) and the URLs that lead to it; an item
        whose id is stored already is left as it is."""
        ...

    def add_urls(self, feed: str, item_id: str, urls: Iterable[str]) -> None:
        """Record that ``urls`` lead to an item, so they are never fetched again."""
        ...

    def add_rejected(
        self, feed: str, urls: Iterable[str], rules: str, reason: str, now: datetime
    ) -> None:
        """Remember that the feed's ``rules`` left these URLs' article out."""
        ...

    def article_failures(self, feed: str, urls: Iterable[str]) -> dict[str, int]:
        """In how many runs each of ``urls`` (those counted) failed as a new article."""
        ...

    def count_article_failure(self, feed: str, url: str, error: str, now: datetime) -> int:
        """Count one more run in which the article at ``url`` failed; returns how many. The
        count is forgotten once the URL leads to an item or is left out."""
        ...

    def stored_hash(self, feed: str, item_id: str) -> str | None:
        """The ``content_hash`` of a stored item ("" for one stored before hashes were
        kept), or None when there is no such item."""
        ...

    def replace_content(self, item_id: str, item: Item, updated: datetime | None) -> None:
        """Replace what readers see of a stored item (title, author, summary, content,
        image, categories, fingerprint, hash); its id, link and first-seen time stay, its
        ``updated`` becomes ``updated`` unless that is None."""
        ...

    def recent_items(self, feed: str, source: str, since: datetime) -> list[RecentItem]:
        """Items a source found at or after ``since``, oldest first, to re-check."""
        ...

    def newest_fingerprints(self, feed: str, limit: int = RECENT_FINGERPRINTS) -> list[KnownItem]:
        """The most recently stored items of a feed, latest first, for near-duplicates."""
        ...

    def iter_items(self, feed: str, limit: int) -> Iterator[Item]:
        """The newest ``limit`` items of a feed, newest first (by published date, then
        first seen, then the order they were stored in)."""
        ...

    def items(self, feed: str, limit: int) -> list[Item]:
        """``iter_items`` as a list."""
        ...

    def newest_update(self, feed: str, limit: int) -> datetime | None:
        """The latest ``updated`` among the newest ``limit`` items: the feed's own date."""
        ...

    def newest_state(self, feed: str, limit: int) -> tuple[datetime | None, str]:
        """Of the feed's newest ``limit`` items: the latest ``updated`` and a digest of
        which items they are and when each last changed."""
        ...

    def count_items(self, feed: str) -> int:
        """How many items a feed has stored."""
        ...

    # the pages items were extracted from, for re-extraction without fetching
    def save_page(self, feed: str, item_id: str, source: str, page: Page) -> None:
        """Keep the page an item was made of (replacing an earlier one)."""
        ...

    def stored_pages(self, feed: str, limit: int) -> list[StoredPage]:
        """The pages of the feed's newest ``limit`` items."""
        ...

    def prune_pages(self, feed: str, keep: int) -> None:
        """Forget the pages of all but the feed's newest ``keep`` items."""
        ...

    # the HTTP validators of the pages last processed
    def validators(self, url: str) -> Validators:
        """The ETag and Last-Modified saved for ``url`` (empty when none)."""
        ...

    def save_validators(self, url: str, validators: Validators, now: datetime) -> None:
        """Remember the validators of the copy of ``url`` just processed (empty ones
        forget them)."""
        ...

    # how each source of each feed has been doing
    def source_health(self, feed: str, source: str) -> SourceHealth:
        """How a source has been doing (a fresh record when never run)."""
        ...

    def sources_health(self, feed: str) -> dict[str, SourceHealth]:
        """The health of every source of a feed that has been run."""
        ...

    def record_links_seen(self, feed: str, source: str, links: int) -> None:
        """How many article links the source yielded this time its pages were read."""
        ...

    def set_broken(self, feed: str, source: str, reason: str | None) -> None:
        """Mark a source broken, with the reason; None clears the mark."""
        ...

    def record_source_success(
        self, feed: str, source: str, now: datetime, config: str = ""
    ) -> None:
        """A source worked (under configuration ``config``): its failure count starts over
        and no later attempt is set."""
        ...

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
        ...

    # the history of runs
    def record_run(self, report: RunReport, started: datetime) -> None:
        """Keep a run's outcome."""
        ...

    def recent_runs(self, feed: str, limit: int) -> list[RunRecord]:
        """A feed's last ``limit`` runs, the latest first."""
        ...

    def new_items_since(self, feed: str, since: datetime) -> int:
        """How many new items the feed's runs that started at or after ``since`` found."""
        ...

    def record_due_run(self, feed: str, due: datetime, finished: datetime) -> None:
        """Keep that the run the scheduler asked for at ``due`` is done (a cluster's)."""
        ...

    def due_run_done(self, feed: str, due: datetime) -> bool:
        """Whether a run asked for at ``due`` or later is done: a redelivered or
        overtaken request is then not run again."""
        ...

    # a cluster's schedule: each feed's next due run, and the run last sent to the queue
    def schedule(self) -> list[ScheduledRun]:
        """Every feed's place in the schedule."""
        ...

    def schedule_feed(self, feed: str, next_due: datetime) -> None:
        """Put a feed in the schedule, or move its next due run to ``next_due``."""
        ...

    def unschedule(self, feeds: Iterable[str]) -> None:
        """Take these feeds out of the schedule."""
        ...

    def claim_due(self, feed: str, due: datetime, next_due: datetime, now: datetime) -> bool:
        """Take the feed's run due at ``due`` to send it (now, ``now``), its next one due
        at ``next_due``; False when the schedule moved on meanwhile (another scheduler
        took it), so that a due run is sent once."""
        ...

    def claim_resend(self, feed: str, due: datetime, now: datetime, sent_before: datetime) -> bool:
        """Take the feed's run due at ``due``, sent before ``sent_before`` (or never
        sent) and not done, to send it again; False when it is not so any more."""
        ...

    def unsend(self, feed: str, due: datetime) -> None:
        """Say that sending the run due at ``due`` failed: it is sent again at once."""
        ...

    def settle_done(self) -> int:
        """Clear the sent runs that are done (``due_run_done``); returns how many."""
        ...

    def worker_seen(self, worker: WorkerSeen) -> None:
        """Keep what a worker says of itself now."""
        ...

    def workers_seen(self, since: datetime) -> list[WorkerSeen]:
        """The workers seen at ``since`` or later, by name."""
        ...

    # the feeds asked for at GET /full
    def on_demand_feeds(self) -> list[tuple[str, int]]:
        """The feeds asked for on demand: their URL and item count, the oldest first."""
        ...

    def add_on_demand(self, url: str, max_items: int, now: datetime) -> None:
        """Keep a feed asked for on demand (kept as it is when it is there already)."""
        ...

    # what a feed learnt about its site, and what its files were written from
    def feed_icon(self, feed: str) -> str | None:
        """The icon of the feed's site, as its sources last showed it."""
        ...

    def set_feed_icon(self, feed: str, icon: str) -> None:
        """Remember the icon of the feed's site."""
        ...

    def published_key(self, feed: str) -> str | None:
        """What the feed's files were last written from (``set_published_key``)."""
        ...

    def set_published_key(self, feed: str, key: str) -> None:
        """Remember what the feed's files were written from, once they are in place."""
        ...

    def extraction_key(self, feed: str) -> str | None:
        """The key of the extraction rules the feed's items were last made with."""
        ...

    def set_extraction_key(self, feed: str, key: str) -> None:
        """Remember the key of the extraction rules the items were made with."""
        ...

    # published documents kept in the state, for servers that share no disk
    def put_documents(self, documents: Mapping[str, bytes], now: datetime) -> tuple[str, ...]:
        """Keep these documents by name; those whose bytes changed get ``now`` as their
        modification time, the others are left as they are. Returns the names changed."""
        ...

    def document(self, name: str) -> Document | None:
        """The document of that name, if any."""
        ...

    def document_version(self, name: str) -> tuple[str, datetime] | None:
        """The ETag and modification time of a document, without its bytes."""
        ...

    def document_names(self, names: Iterable[str]) -> set[str]:
        """Those of ``names`` that are kept."""
        ...

    def remove_documents(self, names: Iterable[str]) -> list[str]:
        """Forget these documents; returns the names there were."""
        ...

    # the connection

    def transaction(self) -> AbstractContextManager[None]:
        """Group writes: all of them land, or none."""
        ...

    def close(self) -> None:
        """Give the connection up."""
        ...

    def __enter__(self) -> Store: ...

    def __exit__(self, *exc_info: object) -> None: ...
