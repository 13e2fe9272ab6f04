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
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from feeds.config import Feed, Settings, SourceConfig
from feeds.errors import (
    ExtractionError,
    FetchError,
    FetchStoppedError,
    PublishError,
    RobotsDisallowedError,
    SourceError,
    StorageError,
)
from feeds.extraction.normalise import SketchIndex, link_article, normalise
from feeds.extraction.workers import ExtractionPool
from feeds.fetching.addresses import Trust
from feeds.fetching.client import Fetcher, FetchJob, RequestOptions
from feeds.models import Item, Link, Page, RunError, RunReport
from feeds.run.articles import Articles, unexpected
from feeds.run.changes import Broken, Failed, SourceChanges, Worked
from feeds.run.discovery import read_source
from feeds.run.filters import rejection, rules_key
from feeds.run.options import request_options, with_site_headers
from feeds.run.policy import (
    articles_broken,
    edit_date,
    give_up_reason,
    keeps_validators,
    lasting,
    links_verdict,
    next_attempt,
    plan_links,
    retry_after,
    skip_reason,
    source_key,
)
from feeds.run.publish import ping_hub, publish_feed
from feeds.run.reextract import extraction_key, reextract
from feeds.storage.interface import RecentItem, SourceHealth, Store, Validators, content_hash
from feeds.timing import stage

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
IN_THREAD = ExtractionPool(workers=0)
"""Extraction in the thread that runs the feed: no worker process."""


class Progress(Protocol):
    """Told how a run advances (``feeds once`` draws progress bars from it)."""

    def articles(self, count: int) -> None:
        """``count`` more articles are to be processed."""

    def article_done(self) -> None:
        """One article was processed (kept, left out or failed)."""

    def source_done(self) -> None:
        """One source of the feed is done."""


class _Silent:
    def articles(self, count: int) -> None:
        pass

    def article_done(self) -> None:
        pass

    def source_done(self) -> None:
        pass


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def run_feed(
    feed: Feed,
    *,
    settings: Settings,
    fetcher: Fetcher,
    store: Store,
    clock: Clock = utc_now,
    progress: Progress | None = None,
    pool: ExtractionPool | None = None,
    retry: bool = False,
) -> RunReport:
    """Run one feed once and publish its files; returns what happened. Articles are
    extracted by ``pool``'s worker processes (by default: in this thread). With
    ``retry``, sources waiting for their next attempt are read now too."""
    started = time.monotonic()
    run = _FeedRun(
        feed,
        fetcher=fetcher,
        store=store,
        now=clock(),
        progress=progress,
        pool=pool or IN_THREAD,
        retry=retry,
    )
    known_rules = store.extraction_key(feed.id)
    if known_rules != extraction_key(feed):  # rules changed: items made again from pages
        again = reextract(feed, store=store, pool=run.pool, now=run.now)
        run.tally.updated += again.updated
    for source in feed.sources:
        run.run_source_guarded(source)
        run.progress.source_done()
    items = store.count_items(feed.id)
    written: tuple[str, ...] = ()
    if items or not run.tally.read_nothing(feed):  # no empty files of a feed that never read
        with stage("publish"):
            written = publish_feed(feed, settings=settings, store=store)
    if written and settings.websub_hub:
        ping_hub(settings.websub_hub, feed, settings, written, fetcher)
    report = run.tally.report(feed, time.monotonic() - started, written, items)
    with store.transaction():
        store.record_run(report, run.now)
    return report


def feed_trust(feed: Feed) -> Trust:
    """What one feed's requests may reach whatever it resolves to: the origins of its own
    sources and its sources' ``allow_domains`` (not what other feeds name)."""
    domains = [domain for source in feed.sources for domain in source.allow_domains]
    return Trust.of(feed.source_urls, domains)


def failed_run(feed: Feed, message: str) -> RunReport:
    """The report of a run that stopped with an error: every source failed."""
    sources = len(feed.sources)
    return RunReport(
        feed=feed.id,
        sources=sources,
        sources_failed=sources,
        errors=(RunError("", feed.id, message),),
    )


def interleave_by_site(feeds: Iterable[Feed]) -> list[Feed]:
    """The feeds in turns by the site of their first source (one of each site, then the
    next of each...), each site's feeds in their order."""
    by_site: dict[str, deque[Feed]] = {}
    for feed in feeds:
        site = urlsplit(feed.sources[0].location).netloc if feed.sources else ""
        by_site.setdefault(site, deque()).append(feed)
    ordered: list[Feed] = []
    while by_site:
        for site in list(by_site):
            ordered.append(by_site[site].popleft())
            if not by_site[site]:
                del by_site[site]
    return ordered


@dataclass(slots=True)
class _Tally:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    filtered: int = 0
    sources_failed: int = 0
    sources_skipped: int = 0
    sources_unchanged: int = 0
    postponed: int = 0
    errors: list[RunError] = field(default_factory=list)
    broken: list[RunError] = field(default_factory=list)
    extracted: int = 0
    extraction_failed: int = 0

    def error(self, source: SourceConfig, error: SourceError) -> None:
        self.errors.append(RunError(source.location, error.url, error.message))

    def read_nothing(self, feed: Feed) -> bool:
        """Whether no source of the feed could be read in this run."""
        return self.sources_failed + self.sources_skipped == len(feed.sources)

    def report(
        self, feed: Feed, duration: float, written: tuple[str, ...], items: int
    ) -> RunReport:
        return RunReport(
            feed=feed.id,
            new=self.new,
            updated=self.updated,
            unchanged=self.unchanged,
            skipped=self.skipped,
            failed=self.failed,
            filtered=self.filtered,
            sources=len(feed.sources),
            sources_failed=self.sources_failed,
            sources_skipped=self.sources_skipped,
            sources_unchanged=self.sources_unchanged,
            postponed=self.postponed,
            errors=tuple(self.errors),
            broken=tuple(self.broken),
            duration=duration,
            files_written=written,
            items=items,
        )


@dataclass(slots=True)
class _Reading:
    """One source's reading in a run: what every step of it needs, in one place."""

    source: SourceConfig
    request: RequestOptions
    health: SourceHealth
    changes: SourceChanges
    """The state's writes of this reading, applied together at its end."""
    max_age: timedelta | None
    rules: str
    """The key of the feed's rules that its items are made with."""


class _FeedRun:
    """One run of one feed: for each source, the facts gathered (its pages, the state,
    its articles), the policy's decisions taken, the writes gathered in a
    ``SourceChanges`` and applied in one transaction."""

    def __init__(
        self,
        feed: Feed,
        *,
        fetcher: Fetcher,
        store: Store,
        now: datetime,
        progress: Progress | None = None,
        pool: ExtractionPool = IN_THREAD,
        retry: bool = False,
    ) -> None:
        self.feed = feed
        self.retry = retry
        """Read every source now, even those waiting for their next attempt."""
        self.fetcher = fetcher
        self.pool = pool
        self.store = store
        self.now = now
        self.progress: Progress = progress or _Silent()
        self.tally = _Tally()
        self.budget = feed.max_new_per_run
        """New articles this run may still take (None: no limit)."""
        self._sketch_index: SketchIndex | None = None
        self.trust = feed_trust(feed)

    def run_source_guarded(self, source: SourceConfig) -> None:
        """Run a source inside its own failure boundary: an unexpected error (a bug, or
        input a library chokes on) fails this source alone, recorded with the error; the
        feed's other sources run and its items are published."""
        try:
            self.run_source(source)
        except (StorageError, PublishError):
            raise  # the state or the output is at fault, not the source
        except Exception as exc:
            log.exception("feed %s: source %s: unexpected error", self.feed.id, source.location)
            reading = self._reading(source)
            self._failed(reading, SourceError(source.location, unexpected(exc)))
            reading.changes.apply(self.store)

    def run_source(self, source: SourceConfig) -> None:
        """Read one source, take its new articles, and record it all."""
        if self.fetcher.stopping:
            return
        reading = self._reading(source, keep_pages=self.feed.max_items)
        config = reading.changes.key
        skipped = None if self.retry else skip_reason(reading.health, self.now, config)
        if skipped is not None:
            self.tally.sources_skipped += 1
            self.tally.error(source, SourceError(source.location, skipped))
            return
        self._read(reading)
        reading.changes.apply(self.store)

    def _reading(self, source: SourceConfig, keep_pages: int = 0) -> _Reading:
        max_age = self.feed.max_age_for(source)
        rules = rules_key(self.feed, max_age)
        changes = SourceChanges(
            self.feed.id,
            source.location,
            self.now,
            source_key(source, rules),
            keep_pages=keep_pages,
        )
        health = self.store.source_health(self.feed.id, source.location)
        request = request_options(source, self.trust)
        return _Reading(source, request, health, changes, max_age, rules)

    def _read(self, reading: _Reading) -> None:
        source, health, changes = reading.source, reading.health, reading.changes
        config = changes.key
        # validators saved under another configuration cannot say "nothing new"
        conditional = health.config == config
        try:
            found = read_source(
                source,
                reading.request,
                fetcher=self.fetcher,
                saved=self.store.validators if conditional else lambda url: Validators(),
                max_age=reading.max_age,
                now=self.now,
            )
        except FetchStoppedError:
            return  # shutting down: not the source's fault, and nothing to record
        except SourceError as error:
            self._failed(reading, error)
            return
        if found is not None:
            for problem in found.problems:
                self.tally.error(source, problem)
            learnt = found.icon and self.feed.icon is None  # a configured icon wins
            if learnt and self.store.feed_icon(self.feed.id) != found.icon:
                changes.icon = found.icon
            changes.links_seen = len(found.links)
            verdict = links_verdict(
                len(found.links), found.empty_fails, health, source.links, source.location
            )
            if verdict.broken is not None:
                self._broken(reading, verdict.broken)
            if verdict.failure is not None:
                self._failed(reading, SourceError(source.location, verdict.failure))
                return
        refreshed = self._refresh(reading) if source.refresh else {}
        if found is None:  # 304: nothing new on the source's pages
            self.tally.sources_unchanged += 1
            if health.broken:  # the pages are again those last read with success
                changes.broken = Broken(None)
            changes.outcome = Worked(config)
            return
        known = self.store.known_urls(
            self.feed.id, (link.url for link in found.links), reading.rules
        )
        plan = plan_links(found.links, known, refreshed, self.budget)
        self.budget = plan.budget
        self.tally.unchanged += plan.unchanged
        self.tally.postponed += plan.postponed
        extracted, failed = self.tally.extracted, self.tally.extraction_failed
        complete = self._add_new(reading, plan.new)
        broken = articles_broken(
            self.tally.extracted - extracted, self.tally.extraction_failed - failed
        )
        if broken is not None:
            self._broken(reading, broken)
        elif changes.broken is None:  # a mark set by this reading's links stays
            changes.broken = Broken(None)
        if keeps_validators(complete, found.complete, plan.postponed):
            for page in found.pages:
                changes.validators[page.url] = Validators(page.etag, page.last_modified)
        changes.outcome = Worked(config)

    def _add_new(self, reading: _Reading, links: list[Link]) -> bool:
        """Fetch, extract and keep the new links; returns False when one of them must be
        tried again on a later run."""
        source, request, changes = reading.source, reading.request, reading.changes
        position = {link.url: index for index, link in enumerate(links)}

        def first_seen(link: Link) -> datetime:
            # items of one run sort as the source lists them, the first listed the newest,
            # a second apart (feeds publish whole seconds: no two share a timestamp)
            return self.now - timedelta(seconds=position[link.url])

        self.progress.articles(len(links))
        if not source.follow:
            for link in links:
                with self._entry_boundary(source, link):
                    article = link_article(link)
                    item = normalise(article, link, feed=self.feed.id, first_seen=first_seen(link))
                    self._keep(reading, item)
                self.progress.article_done()
            return True
        complete = True
        failures = self.store.article_failures(self.feed.id, position)
        jobs = [
            FetchJob(link.url, with_site_headers(request, self.feed.site_rules(link.url)))
            for link in links
        ]
        for link, page, outcome in self._articles(source, request).results(links, jobs, first_seen):
            self.progress.article_done()
            if isinstance(outcome, FetchStoppedError) or self.fetcher.stopping:
                complete = False
                continue  # shutting down: the rest waits for the next run
            assert outcome is not None  # no conditional request here, so no 304
            with self._entry_boundary(source, link):
                if isinstance(outcome, Item):
                    self._keep_validators(page, changes)
                    if isinstance(page, Page):
                        changes.pages[outcome.id] = page  # kept if the item is
                taken = self._take(reading, link, outcome, first_seen, failures.get(link.url, 0))
                complete = taken and complete
        return complete

    def _articles(self, source: SourceConfig, request: RequestOptions) -> Articles:
        return Articles(
            feed_id=self.feed.id,
            rules=self.feed.rules_for(source),
            request=request,
            fetcher=self.fetcher,
            pool=self.pool,
            site_rules=self.feed.site_rules,
        )

    @contextmanager
    def _entry_boundary(self, source: SourceConfig, link: Link) -> Iterator[None]:
        """One article's failure boundary: an unexpected error (a bug, or input a library
        chokes on) fails this article alone, recorded with its URL and the error."""
        try:
            yield
        except (StorageError, PublishError):
            raise  # the state or the output is at fault, not the article
        except Exception as exc:
            log.exception("feed %s: article %s: unexpected error", self.feed.id, link.url)
            self._article_failed(source, link, SourceError(link.url, unexpected(exc)), False)

    def _take(
        self,
        reading: _Reading,
        link: Link,
        outcome: Item | SourceError,
        first_seen: Callable[[Link], datetime],
        failures_before: int,
    ) -> bool:
        """Keep an article's item (or, when its page failed, the source's own text of it);
        returns False when the article must be tried again on a later run."""
        if isinstance(outcome, ExtractionError):
            self.tally.extraction_failed += 1
        elif not isinstance(outcome, SourceError):
            self.tally.extracted += 1
        if isinstance(outcome, RobotsDisallowedError) and not (
            link.content_hint or link.summary_hint
        ):
            # the site asks not to: left out once and remembered, not a failure each run
            log.info("feed %s: article %s left out: %s", self.feed.id, link.url, outcome.message)
            self.tally.filtered += 1
            reading.changes.rejected.append(
                ([link.url], reading.rules, "disallowed by the site's robots.txt")
            )
            return True
        if isinstance(outcome, SourceError):
            own_text = bool(link.content_hint or link.summary_hint)
            given_up = None
            if not own_text:
                given_up = self._count_failure(reading, link, outcome, failures_before)
            self._article_failed(reading.source, link, given_up or outcome, own_text)
            if not own_text:
                return given_up is not None
            outcome = normalise(
                link_article(link), link, feed=self.feed.id, first_seen=first_seen(link)
            )
        self._keep(reading, outcome)
        return True

    def _count_failure(
        self, reading: _Reading, link: Link, error: SourceError, failures_before: int
    ) -> SourceError | None:
        """Count a lasting failure of a new article; when the feed gives up on it, leave
        its URL out (neither it nor its source is read again for it) and return the error
        to report. None while the article is still tried again."""
        if not lasting(error):
            return None
        reason = give_up_reason(error, failures_before)
        if reason is None:
            reading.changes.article_failures.append((link.url, error.message))
            return None
        reading.changes.rejected.append(([link.url], reading.rules, reason))
        log.info("feed %s: article %s: %s", self.feed.id, link.url, reason)
        return SourceError(error.url, reason)

    def _refresh(self, reading: _Reading) -> dict[str, bool]:
        """Re-check the items the source found within its ``refresh`` window; returns the
        ids checked, each with whether it changed."""
        source, request, changes = reading.source, reading.request, reading.changes
        assert source.refresh is not None
        recent = self.store.recent_items(self.feed.id, source.location, self.now - source.refresh)
        by_url = {stored.url: stored for stored in recent}
        jobs = []
        for stored in recent:
            saved = self.store.validators(stored.url)
            jobs.append(FetchJob(stored.url, request, saved.etag, saved.last_modified))
        links = [Link(url=stored.url, source=source.location) for stored in recent]
        checked: dict[str, bool] = {}
        articles = self._articles(source, request)
        for link, page, outcome in articles.results(links, jobs, lambda _: self.now):
            stored = by_url[link.url]
            if isinstance(outcome, SourceError):
                self._article_failed(source, link, outcome, own_text=False)
                continue
            with self._entry_boundary(source, link):
                changed = False
                if outcome is not None:  # None: 304, the page did not change
                    self._keep_validators(page, changes)
                    changed = self._edit(stored, outcome, changes)
                    if isinstance(page, Page):
                        changes.pages[stored.id] = page
                checked[stored.id] = changed
                if changed:
                    self.tally.updated += 1
                else:
                    self.tally.unchanged += 1
        return checked

    def _edit(self, stored: RecentItem, item: Item, changes: SourceChanges) -> bool:
        """Take up an edit of a stored item; returns whether readers see it as updated."""
        if stored.content_hash == content_hash(item):
            return False
        updated = edit_date(stored.content_hash, self.now)
        changes.edits.append((stored.id, item, updated))
        return updated is not None

    def _article_failed(
        self, source: SourceConfig, link: Link, error: SourceError, own_text: bool
    ) -> None:
        log.info("feed %s: article %s failed: %s", self.feed.id, link.url, error.message)
        self.tally.failed += 1
        if own_text:
            error = SourceError(error.url, f"{error.message}; published the source's own text")
        self.tally.error(source, error)

    def _keep(self, reading: _Reading, item: Item) -> None:
        """Store the item unless the feed's rules leave it out; then remember its URLs as
        rejected (under these rules), so it is not fetched again."""
        changes = reading.changes
        reason = rejection(item, self.feed, max_age=reading.max_age, now=self.now)
        if reason is None:
            self._store_new(item, changes)
            return
        changes.pages.pop(item.id, None)
        log.info("feed %s: %s left out: %s", self.feed.id, item.url, reason)
        self.tally.filtered += 1
        changes.rejected.append(([item.url, *item.aliases], reading.rules, reason))

    def _store_new(self, item: Item, changes: SourceChanges) -> None:
        """Add the item, unless it is an item already known reached by another URL or a
        near-duplicate of one; then only remember the new URLs."""
        urls = [item.url, *item.aliases]
        existing = changes.item_for_urls(self.store, urls)
        if existing is None:
            existing = self._sketches().near_duplicate_of(item)
        if existing is None:
            changes.add_item(item)
            self._sketches().add(item.id, item.title, item.fingerprint)
            self.tally.new += 1
        else:
            changes.add_urls(existing, urls)
            changes.pages.pop(item.id, None)  # its page is another item's
            self.tally.skipped += 1

    def _sketches(self) -> SketchIndex:
        """The sketches of the feed's newest items, read once per run, then kept up to date."""
        if self._sketch_index is None:
            self._sketch_index = SketchIndex()
            for known in reversed(self.store.newest_fingerprints(self.feed.id)):
                self._sketch_index.add(known.id, known.title, known.fingerprint)
        return self._sketch_index

    def _keep_validators(self, page: Page | FetchError, changes: SourceChanges) -> None:
        if isinstance(page, Page):
            changes.validators[page.url] = Validators(page.etag, page.last_modified)

    def _broken(self, reading: _Reading, reason: str) -> None:
        location = reading.source.location
        log.info("feed %s: source %s is broken: %s", self.feed.id, location, reason)
        self.tally.broken.append(RunError(location, location, reason))
        reading.changes.broken = Broken(reason)

    def _failed(self, reading: _Reading, error: SourceError) -> None:
        source, health, changes = reading.source, reading.health, reading.changes
        # reported once: in the run's report (`once` prints it, the service logs it)
        log.debug("feed %s: source %s failed: %s", self.feed.id, source.location, error.message)
        self.tally.sources_failed += 1
        self.tally.error(source, error)
        when = next_attempt(health.failures + 1, self.feed.interval, self.now, retry_after(error))
        changes.outcome = Failed(error.message, when)
