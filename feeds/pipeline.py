"""One feed's run: discover links, skip known ones, fetch, extract, normalise, store, publish.

For each source of the feed:

1. A source that keeps failing is left alone until its backoff time (``next_attempt``).
2. The source page is fetched conditionally (ETag / Last-Modified of the copy last
   processed); a 304 means its links are not even parsed.
3. Links already known are skipped; the new ones are fetched in parallel (within the
   politeness limits) while this thread extracts, normalises and stores each page.
4. With ``refresh``, the items the source found recently are fetched again
   (conditionally); an edited article updates its item (same id, new ``updated``).

Expected failures (a source or page that cannot be fetched, a page without an article)
become entries of the run report and never stop the run; the feed keeps every item it
had. Storage and publishing errors propagate: they concern the whole feed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from feeds.config import Feed, Settings, SourceConfig
from feeds.errors import FetchError, SourceError
from feeds.extract import extract_article
from feeds.fetch import Fetcher, FetchJob, RequestOptions
from feeds.models import Item, Link, Page, RunError, RunReport
from feeds.normalise import is_near_duplicate, normalise
from feeds.publish import publish
from feeds.sources import find_links
from feeds.storage import Store, Validators

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
BACKOFF_LIMIT = timedelta(days=1)


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def next_attempt(
    failures: int, interval: timedelta, now: datetime, retry_after: float | None = None
) -> datetime | None:
    """When a source that has now failed ``failures`` times in a row is tried next.

    After one failure it keeps its schedule (None); then it waits 2, 4, 8... intervals, at
    most a day; never sooner than the server's Retry-After.
    """
    when = None
    if failures >= 2:
        when = now + min(interval * (1 << min(failures - 1, 16)), BACKOFF_LIMIT)
    if retry_after:
        pause = now + timedelta(seconds=retry_after)
        when = max(when, pause) if when else pause
    return when


def run_feed(
    feed: Feed, *, settings: Settings, fetcher: Fetcher, store: Store, clock: Clock = utc_now
) -> RunReport:
    """Run one feed once and publish its files; returns what happened."""
    started = time.monotonic()
    run = _FeedRun(feed, fetcher=fetcher, store=store, now=clock())
    for source in feed.sources:
        run.run_source(source)
    items = store.items(feed.id, limit=feed.max_items)
    written = publish(feed, items, output_dir=settings.output_dir, base_url=settings.base_url)
    report = run.tally.report(feed, time.monotonic() - started, written)
    with store.transaction():
        store.record_run(report, run.now)
    return report


@dataclass(slots=True)
class _Tally:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    sources_failed: int = 0
    sources_unchanged: int = 0
    errors: list[RunError] = field(default_factory=list)

    def error(self, source: SourceConfig, error: SourceError) -> None:
        self.errors.append(RunError(source.location, error.url, error.message))

    def report(self, feed: Feed, duration: float, written: tuple[str, ...]) -> RunReport:
        return RunReport(
            feed=feed.id,
            new=self.new,
            updated=self.updated,
            unchanged=self.unchanged,
            skipped=self.skipped,
            failed=self.failed,
            sources=len(feed.sources),
            sources_failed=self.sources_failed,
            sources_unchanged=self.sources_unchanged,
            errors=tuple(self.errors),
            duration=duration,
            files_written=written,
        )


class _FeedRun:
    """The state of one run of one feed."""

    def __init__(self, feed: Feed, *, fetcher: Fetcher, store: Store, now: datetime) -> None:
        self.feed = feed
        self.fetcher = fetcher
        self.store = store
        self.now = now
        self.tally = _Tally()

    def run_source(self, source: SourceConfig) -> None:
        health = self.store.source_health(self.feed.id, source.location)
        if health.next_attempt is not None and health.next_attempt > self.now:
            self.tally.sources_failed += 1
            self.tally.error(
                source,
                SourceError(
                    source.location,
                    f"skipped: {health.failures} failures in a row (last: {health.last_error}); "
                    f"next attempt after {health.next_attempt:%Y-%m-%d %H:%M} UTC",
                ),
            )
            return
        request = RequestOptions.from_source(source)
        try:
            page = self._fetch_source(source, request)
        except SourceError as error:
            self._source_failed(source, error, health.failures + 1)
            return
        refreshed = self._refresh(source, request) if source.refresh else {}
        if page is None:  # 304: nothing new on the source page
            self.tally.sources_unchanged += 1
            self._source_worked(source)
            return
        try:
            links = find_links(page, source)
            if not links:
                hint = "check its `links` selector" if source.links else "set a `links` selector"
                raise SourceError(source.location, f"no article links found; {hint}")
        except SourceError as error:
            self._source_failed(source, error, health.failures + 1)
            return
        known = self.store.known_urls(self.feed.id, (link.url for link in links))
        self.tally.unchanged += sum(1 for i in known.values() if i not in refreshed)
        failures_before = self.tally.failed
        self._add_new(source, request, [link for link in links if link.url not in known])
        if self.tally.failed == failures_before:
            # only then: a failed article must be retried, so the page must be read again
            self._save_validators(page)
        self._source_worked(source)

    def _fetch_source(self, source: SourceConfig, request: RequestOptions) -> Page | None:
        """The source page, or None when it has not changed since it was last processed."""
        saved = self.store.validators(source.location)
        page = self.fetcher.fetch(
            source.location,
            request=request,
            etag=saved.etag,
            last_modified=saved.last_modified,
        )
        return None if page.status == 304 else page

    def _add_new(self, source: SourceConfig, request: RequestOptions, links: list[Link]) -> None:
        position = {link.url: index for index, link in enumerate(links)}
        by_url = {link.url: link for link in links}
        jobs = (FetchJob(link.url, request) for link in links)
        for job, result in self.fetcher.fetch_all(jobs):
            link = by_url[job.url]
            # items of one run sort as the source lists them: the first listed is the newest
            first_seen = self.now - timedelta(microseconds=position[job.url])
            item = self._item(source, link, result, first_seen)
            if item is not None:
                self._store_new(item, source)

    def _refresh(self, source: SourceConfig, request: RequestOptions) -> dict[str, bool]:
        """Re-check the items the source found within its ``refresh`` window; returns the
        ids checked, each with whether it changed."""
        assert source.refresh is not None
        recent = self.store.recent_items(self.feed.id, source.location, self.now - source.refresh)
        by_url = {stored.url: stored for stored in recent}
        jobs = []
        for stored in recent:
            saved = self.store.validators(stored.url)
            jobs.append(FetchJob(stored.url, request, saved.etag, saved.last_modified))
        checked: dict[str, bool] = {}
        for job, result in self.fetcher.fetch_all(jobs):
            stored = by_url[job.url]
            changed = False
            if isinstance(result, Page) and result.status == 304:
                pass
            else:
                link = Link(url=job.url, source=source.location)
                item = self._item(source, link, result, self.now)
                if item is None:
                    continue
                with self.store.transaction():
                    changed = self.store.update_item(stored.id, item, updated=self.now)
            checked[stored.id] = changed
            if changed:
                self.tally.updated += 1
            else:
                self.tally.unchanged += 1
        return checked

    def _item(
        self, source: SourceConfig, link: Link, result: Page | FetchError, first_seen: datetime
    ) -> Item | None:
        """The item of a fetched article page, or None (the failure is recorded)."""
        try:
            if isinstance(result, FetchError):
                raise result
            article = extract_article(result, self.feed.rules_for(source))
        except SourceError as error:
            log.info("feed %s: article %s skipped: %s", self.feed.id, link.url, error.message)
            self.tally.failed += 1
            self.tally.error(source, error)
            return None
        self._save_validators(result)
        return normalise(article, link, feed=self.feed.id, first_seen=first_seen)

    def _store_new(self, item: Item, source: SourceConfig) -> None:
        """Add the item, unless it is an item already stored reached by another URL or a
        near-duplicate of one; then only remember the new URLs."""
        existing = self.store.item_id_for_urls(item.feed, [item.url, *item.aliases])
        if existing is None:
            existing = _near_duplicate(item, self.store)
        with self.store.transaction():
            if existing is None:
                self.store.add_item(item, source.location)
                self.tally.new += 1
            else:
                self.store.add_urls(item.feed, existing, [item.url, *item.aliases])
                self.tally.skipped += 1

    def _save_validators(self, page: Page) -> None:
        with self.store.transaction():
            self.store.save_validators(
                page.url, Validators(page.etag, page.last_modified), self.now
            )

    def _source_worked(self, source: SourceConfig) -> None:
        with self.store.transaction():
            self.store.record_source_success(self.feed.id, source.location, self.now)

    def _source_failed(self, source: SourceConfig, error: SourceError, failures: int) -> None:
        log.warning("feed %s: source %s failed: %s", self.feed.id, source.location, error.message)
        self.tally.sources_failed += 1
        self.tally.error(source, error)
        retry_after = error.retry_after if isinstance(error, FetchError) else None
        when = next_attempt(failures, self.feed.interval, self.now, retry_after)
        with self.store.transaction():
            self.store.record_source_failure(
                self.feed.id, source.location, error.message, self.now, when
            )


def _near_duplicate(item: Item, store: Store) -> str | None:
    for known in store.newest_fingerprints(item.feed):
        if is_near_duplicate(item, known.fingerprint, known.title):
            return known.id
    return None
