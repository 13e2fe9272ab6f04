"""One feed's run: discover links, skip known ones, fetch, extract, normalise, store, publish.

Expected failures (a source that cannot be fetched, a page without an article) become
entries of the run report and never stop the run; the feed keeps every item it had.
Storage and publishing errors propagate: they concern the whole feed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from feeds.config import Feed, Settings, SourceConfig
from feeds.errors import SourceError
from feeds.extract import extract_article
from feeds.fetch import Fetcher
from feeds.models import Item, Link, RunError, RunReport
from feeds.normalise import is_near_duplicate, normalise
from feeds.publish import publish
from feeds.sources import find_links
from feeds.storage import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass(slots=True)
class _Tally:
    new: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    sources_failed: int = 0
    errors: list[RunError] = field(default_factory=list)

    def fail(self, source: SourceConfig, error: SourceError) -> None:
        self.errors.append(RunError(source.location, error.url, error.message))


def run_feed(
    feed: Feed, *, settings: Settings, fetcher: Fetcher, store: Store, clock: Clock = utc_now
) -> RunReport:
    """Run one feed once and publish its files; returns what happened."""
    started_at = clock()
    started = time.monotonic()
    tally = _Tally()
    for source in feed.sources:
        _run_source(feed, source, fetcher=fetcher, store=store, now=started_at, tally=tally)
    items = store.items(feed.id, limit=feed.max_items)
    written = publish(feed, items, output_dir=settings.output_dir, base_url=settings.base_url)
    report = RunReport(
        feed=feed.id,
        new=tally.new,
        unchanged=tally.unchanged,
        skipped=tally.skipped,
        failed=tally.failed,
        sources=len(feed.sources),
        sources_failed=tally.sources_failed,
        errors=tuple(tally.errors),
        duration=time.monotonic() - started,
        files_written=written,
    )
    with store.transaction():
        store.record_run(report, started_at)
    return report


def _run_source(
    feed: Feed,
    source: SourceConfig,
    *,
    fetcher: Fetcher,
    store: Store,
    now: datetime,
    tally: _Tally,
) -> None:
    try:
        page = fetcher.fetch(source.location)
        links = find_links(page, source)
    except SourceError as error:
        log.warning("feed %s: source %s failed: %s", feed.id, source.location, error.message)
        tally.sources_failed += 1
        tally.fail(source, error)
        return
    if not links:
        hint = "check its `links` selector" if source.links else "set a `links` selector"
        tally.sources_failed += 1
        tally.fail(source, SourceError(source.location, f"no article links found; {hint}"))
        return
    known = store.known_urls(feed.id, (link.url for link in links))
    tally.unchanged += len(known)
    # oldest first, so that items of one run sort in the order the source lists them
    for link in reversed([link for link in links if link.url not in known]):
        item = _fetch_item(feed, source, link, fetcher=fetcher, now=now, tally=tally)
        if item is not None:
            _store_item(store, item, tally)


def _fetch_item(
    feed: Feed, source: SourceConfig, link: Link, *, fetcher: Fetcher, now: datetime, tally: _Tally
) -> Item | None:
    try:
        page = fetcher.fetch(link.url)
        article = extract_article(page, feed.rules_for(source))
    except SourceError as error:
        log.info("feed %s: article %s skipped: %s", feed.id, link.url, error.message)
        tally.failed += 1
        tally.fail(source, error)
        return None
    return normalise(article, link, feed=feed.id, first_seen=now)


def _store_item(store: Store, item: Item, tally: _Tally) -> None:
    """Add the item, unless it is an item already stored reached by another URL or a
    near-duplicate of one; then only remember the new URLs."""
    existing = store.item_id_for_urls(item.feed, [item.url, *item.aliases])
    if existing is None:
        existing = next(
            (
                known.id
                for known in store.recent_items(item.feed)
                if is_near_duplicate(item, known.fingerprint, known.title)
            ),
            None,
        )
    with store.transaction():
        if existing is None:
            store.add_item(item)
            tally.new += 1
        else:
            store.add_urls(item.feed, existing, [item.url, *item.aliases])
            tally.skipped += 1
