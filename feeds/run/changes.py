"""The writes one source's run decided, gathered as it goes and applied to the state in
one transaction: a source's items, the URLs it learnt, what it left out, its articles'
failures, validators, its health. A run stopped half-way through a source leaves the
state as the source's previous run left it; the next run does the work again, and writes
are idempotent by URL and item id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from feeds.models import Item, Page
from feeds.storage.interface import Store, Validators
from feeds.timing import stage


@dataclass(frozen=True, slots=True)
class Worked:
    """The source was read (under the configuration of key ``config``)."""

    config: str


@dataclass(frozen=True, slots=True)
class Failed:
    """The source could not be read."""

    message: str
    next_attempt: datetime | None


@dataclass(frozen=True, slots=True)
class Broken:
    """The source's broken mark: a reason, or None to clear it."""

    reason: str | None


@dataclass(slots=True)
class SourceChanges:
    """What to write for one source of one feed, at ``now``."""

    feed: str
    source: str
    now: datetime
    key: str = ""
    """The key of the source's configuration (``policy.source_key``)."""
    new_items: list[Item] = field(default_factory=list)
    more_urls: list[tuple[str, list[str]]] = field(default_factory=list)
    """URLs that lead to an item stored already (its id, the URLs)."""
    rejected: list[tuple[list[str], str, str]] = field(default_factory=list)
    """URLs left out: the URLs, the rules key, the reason."""
    article_failures: list[tuple[str, str]] = field(default_factory=list)
    """New articles that failed: URL, error (counted run by run)."""
    edits: list[tuple[str, Item, datetime | None]] = field(default_factory=list)
    """Stored items whose content changed: id, new content, new ``updated`` (or None)."""
    validators: dict[str, Validators] = field(default_factory=dict)
    pages: dict[str, Page] = field(default_factory=dict)
    """The pages items were made of, by item id: kept to extract them again."""
    keep_pages: int = 0
    """How many of the feed's newest items keep their pages (its ``max_items``)."""
    icon: str | None = None
    links_seen: int | None = None
    broken: Broken | None = None
    outcome: Worked | Failed | None = None
    _urls: dict[str, str] = field(default_factory=dict)

    def item_for_urls(self, store: Store, urls: list[str]) -> str | None:
        """The id of the item (stored, or new in these changes) one of ``urls`` leads to."""
        for url in urls:
            if url in self._urls:
                return self._urls[url]
        return store.item_id_for_urls(self.feed, urls)

    def add_item(self, item: Item) -> None:
        """Store a new item."""
        self.new_items.append(item)
        self._learn(item.id, [item.url, *item.aliases])

    def add_urls(self, item_id: str, urls: list[str]) -> None:
        """Record that ``urls`` lead to the item ``item_id``."""
        self.more_urls.append((item_id, urls))
        self._learn(item_id, urls)

    def _learn(self, item_id: str, urls: list[str]) -> None:
        for url in urls:
            self._urls.setdefault(url, item_id)

    def apply(self, store: Store) -> None:
        """Write everything, in one transaction."""
        feed, source, now = self.feed, self.source, self.now
        with stage("store"), store.transaction():
            for item in self.new_items:
                store.add_item(item, source)
            for item_id, urls in self.more_urls:
                store.add_urls(feed, item_id, urls)
            for urls, rules, reason in self.rejected:
                store.add_rejected(feed, urls, rules, reason, now)
            for url, error in self.article_failures:
                store.count_article_failure(feed, url, error, now)
            for item_id, item, updated in self.edits:
                store.replace_content(item_id, item, updated)
            for url, validators in self.validators.items():
                store.save_validators(url, validators, now)
            for item_id, page in self.pages.items():
                store.save_page(feed, item_id, source, page)
            if self.pages and self.keep_pages:
                store.prune_pages(feed, self.keep_pages)
            if self.icon is not None:
                store.set_feed_icon(feed, self.icon)
            if self.links_seen is not None:
                store.record_links_seen(feed, source, self.links_seen)
            if self.broken is not None:
                store.set_broken(feed, source, self.broken.reason)
            if isinstance(self.outcome, Worked):
                store.record_source_success(feed, source, now, self.outcome.config)
            elif isinstance(self.outcome, Failed):
                store.record_source_failure(
                    feed, source, self.outcome.message, now, self.outcome.next_attempt, self.key
                )
