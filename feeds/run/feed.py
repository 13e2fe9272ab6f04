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

import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from feeds.config import ExtractRules, Feed, Settings, SourceConfig
from feeds.errors import (
    ExtractionError,
    FetchError,
    FetchStoppedError,
    PublishError,
    SourceError,
    StorageError,
)
from feeds.extraction.article import extract_article, join_parts
from feeds.extraction.workers import ArticleJob, ArticleOutcome, ExtractionPool, outcome_of
from feeds.fetching.addresses import Trust
from feeds.fetching.client import Fetcher, FetchJob, RequestOptions
from feeds.models import Article, Item, Link, Page, RunError, RunReport
from feeds.normalise import SketchIndex, link_article, normalise
from feeds.run.filters import rejection, rules_key
from feeds.run.policy import edit_date, next_attempt
from feeds.run.publish import ping_hub, publish_feed
from feeds.sources import discover, max_pages
from feeds.storage import open_store
from feeds.storage.interface import SourceHealth, Store, Validators, content_hash
from feeds.urls import is_web_url, path_of, resolve

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


_BROKEN_AFTER_FAILED_ARTICLES = 2
"""New articles that must all fail extraction before a source counts as broken."""
_MAX_PARTS = 5
"""Pages of a multi-page article joined when no site rule says otherwise."""


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
) -> RunReport:
    """Run one feed once and publish its files; returns what happened. Articles are
    extracted by ``pool``'s worker processes (by default: in this thread)."""
    started = time.monotonic()
    run = _FeedRun(
        feed, fetcher=fetcher, store=store, now=clock(), progress=progress, pool=pool or IN_THREAD
    )
    for source in feed.sources:
        run.run_source_guarded(source)
        run.progress.source_done()
    written = publish_feed(feed, settings=settings, store=store)
    if written and settings.websub_hub:
        ping_hub(settings.websub_hub, feed, settings, written, fetcher)
    report = run.tally.report(feed, time.monotonic() - started, written)
    with store.transaction():
        store.record_run(report, run.now)
    return report


def run_feeds(
    feeds: Iterable[Feed],
    *,
    settings: Settings,
    fetcher: Fetcher,
    pool: ExtractionPool,
    progress_for: Callable[[Feed], Progress | None] = lambda feed: None,
) -> Iterator[tuple[Feed, RunReport | Exception]]:
    """Run the feeds, ``settings.parallel_feeds`` at a time (a feed mostly waits on the
    network), each with its own database connection, sharing the fetcher's politeness
    limits and the extraction pool. Feeds start interleaved by site, so the feeds
    running at once keep different sites busy. Yields each feed with its report, or with
    the exception that stopped it, as it ends."""

    def run_one(feed: Feed) -> RunReport:
        with open_store(settings.state_dir) as store:
            started = utc_now()
            try:
                return run_feed(
                    feed,
                    settings=settings,
                    fetcher=fetcher,
                    store=store,
                    progress=progress_for(feed),
                    pool=pool,
                )
            except Exception as exc:  # recorded, as the service records it; then reported
                with store.transaction():
                    store.record_run(failed_run(feed, f"{type(exc).__name__}: {exc}"), started)
                raise

    with open_store(settings.state_dir):
        pass  # created and migrated once, before the threads open it
    with ThreadPoolExecutor(settings.parallel_feeds, thread_name_prefix="feed") as runner:
        running = {runner.submit(run_one, feed): feed for feed in interleave_by_site(feeds)}
        for future in as_completed(running):
            error = future.exception()
            yield running[future], error if isinstance(error, Exception) else future.result()


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


def extract_with_parts(
    page: Page, rules: ExtractRules | None, fetcher: Fetcher, request: RequestOptions
) -> Article:
    """The article of a page, with the further parts of a multi-page article fetched and
    joined. Raises ``SourceError`` when the page itself holds no article."""
    return with_parts(extract_article(page, rules), rules, fetcher, request, extract_article)


def with_parts(
    article: Article,
    rules: ExtractRules | None,
    fetcher: Fetcher,
    request: RequestOptions,
    extract: Callable[[Page, ExtractRules | None], Article],
) -> Article:
    """``article`` with the further parts of a multi-page article fetched, extracted by
    ``extract`` and joined, up to the rules' ``max_pages`` pages in all; a part that
    fails ends the article there."""
    max_pages = rules.max_pages if rules is not None else _MAX_PARTS
    parts: list[Article] = []
    seen = {article.url}
    following = article.next_page
    while following and following not in seen and len(parts) + 1 < max_pages:
        seen.add(following)
        try:
            part = extract(fetcher.fetch(following, request=request), rules)
        except SourceError as error:
            log.info("part %s of %s left out: %s", following, article.url, error.message)
            break
        parts.append(part)
        following = part.next_page
    return join_parts(article, parts)


@dataclass(slots=True)
class _Tally:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    filtered: int = 0
    sources_failed: int = 0
    sources_unchanged: int = 0
    errors: list[RunError] = field(default_factory=list)
    broken: list[RunError] = field(default_factory=list)
    extracted: int = 0
    extraction_failed: int = 0

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
            filtered=self.filtered,
            sources=len(feed.sources),
            sources_failed=self.sources_failed,
            sources_unchanged=self.sources_unchanged,
            errors=tuple(self.errors),
            broken=tuple(self.broken),
            duration=duration,
            files_written=written,
        )


@dataclass(slots=True)
class _Discovered:
    """What the pages of one source yielded in this run."""

    links: list[Link]
    pages: list[Page]
    kind: str
    complete: bool
    """False when a further page of the source (next page, child sitemap) failed."""


class _FeedRun:
    """The state of one run of one feed."""

    def __init__(
        self,
        feed: Feed,
        *,
        fetcher: Fetcher,
        store: Store,
        now: datetime,
        progress: Progress | None = None,
        pool: ExtractionPool = IN_THREAD,
    ) -> None:
        self.feed = feed
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
            failures = self.store.source_health(self.feed.id, source.location).failures + 1
            self._source_failed(source, SourceError(source.location, _unexpected(exc)), failures)

    def run_source(self, source: SourceConfig) -> None:
        if self.fetcher.stopping:
            return
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
        request = RequestOptions.from_source(source, self.trust)
        max_age = self.feed.max_age_for(source)
        rules = rules_key(self.feed, max_age)
        config = _config_key(source, rules)
        # validators saved under another configuration cannot say "nothing new"
        conditional = health.config == config
        try:
            found = self._discover(source, request, max_age, conditional=conditional)
        except FetchStoppedError:
            return  # shutting down: not the source's fault, and nothing to record
        except SourceError as error:
            self._source_failed(source, error, health.failures + 1)
            return
        if found is not None and not self._has_links(source, found, health):
            return
        refreshed = self._refresh(source, request) if source.refresh else {}
        if found is None:  # 304: nothing new on the source's pages
            self.tally.sources_unchanged += 1
            if health.broken:  # the pages are again those last read with success
                self._broken(source, None)
            self._source_worked(source, config)
            return
        known = self.store.known_urls(self.feed.id, (link.url for link in found.links), rules)
        self.tally.unchanged += sum(1 for i in known.values() if i not in refreshed)
        new = [link for link in found.links if link.url not in known]
        if self.budget is not None:
            new, left = new[: self.budget], len(new) > self.budget
            self.budget -= len(new)
        else:
            left = False
        extracted, failed = self.tally.extracted, self.tally.extraction_failed
        complete = self._add_new(source, request, new, max_age, rules)
        extracted, failed = self.tally.extracted - extracted, self.tally.extraction_failed - failed
        if not extracted and failed >= _BROKEN_AFTER_FAILED_ARTICLES:
            self._broken(
                source,
                f"none of its {failed} new articles could be extracted: the article pages may "
                "have changed; check the feed's `extract` rules (`feeds preview URL`)",
            )
        else:
            self._broken(source, None)
        if complete and found.complete and not left:
            # only then: what was left out must be found again, so the pages must be read again
            for page in found.pages:
                self._save_validators(page)
        self._source_worked(source, config)

    def _has_links(self, source: SourceConfig, found: _Discovered, health: SourceHealth) -> bool:
        """Remember how many links the source yielded; none where there were some marks it
        broken; a listing without links is a failure too. Returns whether to go on."""
        with self.store.transaction():
            self.store.record_links_seen(self.feed.id, source.location, len(found.links))
        if found.links:
            return True
        if health.links_seen:
            self._broken(
                source,
                f"yielded no article links, after {health.links_seen} last time: the site may "
                "have changed its pages; check the source (`feeds preview --source URL`)",
            )
        if found.kind != "listing":
            return True  # an empty feed or sitemap can be just that
        if source.links:
            what = f"its `links` selector {source.links!r} matched nothing"
            hint = "check it"
        else:
            what, hint = "no article links found", "set a `links` selector"
        error = SourceError(
            source.location, f"{what}; {hint} (`feeds preview --source {source.location}`)"
        )
        self._source_failed(source, error, health.failures + 1)
        return False

    def _broken(self, source: SourceConfig, reason: str | None) -> None:
        """Mark the source broken (and report it), or clear the mark with None."""
        if reason is not None:
            log.warning("feed %s: source %s is broken: %s", self.feed.id, source.location, reason)
            self.tally.broken.append(RunError(source.location, source.location, reason))
        with self.store.transaction():
            self.store.set_broken(self.feed.id, source.location, reason)

    def _discover(
        self,
        source: SourceConfig,
        request: RequestOptions,
        max_age: timedelta | None,
        *,
        conditional: bool,
    ) -> _Discovered | None:
        """Read the source's pages: its URL, then the pages it leads to (next listing page,
        child sitemaps) up to ``max_pages``. None when every page answered 304."""
        start = self._start_urls(source, request)
        queue = deque(start)
        queued = set(start)
        links: dict[str, Link] = {}
        pages: list[Page] = []
        kind, limit, complete = "listing", len(start), True
        first_error: SourceError | None = None
        while queue:
            url = queue.popleft()
            try:
                page = self._fetch_if_modified(url, request, conditional=conditional)
            except SourceError as error:
                first_error = first_error or error
                complete = False
                if url not in start or len(start) > 1:
                    self.tally.error(source, error)  # a further page: the source still counts
                continue
            if page is None:
                continue
            found = discover(page, source, max_age=max_age, now=self.now)
            for problem in found.problems:
                self.tally.error(source, SourceError(url, problem))
            if not pages:
                kind = found.kind
                limit = max(limit, max_pages(source, found.kind))
                self._remember_icon(found.icon)
            pages.append(page)
            for link in found.links:
                links.setdefault(link.url, link)
            for following in found.more:
                if following not in queued and len(queued) < limit:
                    queue.append(following)
                    queued.add(following)
        if not pages:
            if first_error is not None:
                raise first_error
            return None
        return _Discovered(list(links.values()), pages, kind, complete)

    def _start_urls(self, source: SourceConfig, request: RequestOptions) -> list[str]:
        """Where a source's reading starts: its URL; for ``kind: sitemap`` on a site's home
        page, the sitemaps its robots.txt lists (else ``/sitemap.xml``)."""
        if source.kind != "sitemap" or source.url is None or path_of(source.url) != "/":
            return [source.location]
        sitemaps = [url for url in self.fetcher.robots_sitemaps(source.url) if is_web_url(url)]
        return sitemaps or [resolve(source.url, "/sitemap.xml") or source.url]

    def _fetch_if_modified(
        self, url: str, request: RequestOptions, *, conditional: bool
    ) -> Page | None:
        """The page, or None when it has not changed since it was last processed."""
        saved = self.store.validators(url) if conditional else Validators()
        page = self.fetcher.fetch(
            url, request=request, etag=saved.etag, last_modified=saved.last_modified
        )
        return None if page.status == 304 else page

    def _add_new(
        self,
        source: SourceConfig,
        request: RequestOptions,
        links: list[Link],
        max_age: timedelta | None,
        rules: str,
    ) -> bool:
        """Fetch, extract and keep the new links; returns False when one of them must be
        tried again on a later run."""
        position = {link.url: index for index, link in enumerate(links)}

        def first_seen(link: Link) -> datetime:
            # items of one run sort as the source lists them: the first listed is the newest
            return self.now - timedelta(microseconds=position[link.url])

        self.progress.articles(len(links))
        if not source.follow:
            for link in links:
                with self._entry_boundary(source, link):
                    article = link_article(link)
                    item = normalise(article, link, feed=self.feed.id, first_seen=first_seen(link))
                    self._keep(item, source, max_age, rules)
                self.progress.article_done()
            return True
        complete = True
        jobs = [FetchJob(link.url, request) for link in links]
        for link, _, outcome in self._articles(source, request, links, jobs, first_seen):
            self.progress.article_done()
            if isinstance(outcome, FetchStoppedError) or self.fetcher.stopping:
                complete = False
                continue  # shutting down: the rest waits for the next run
            assert outcome is not None  # no conditional request here, so no 304
            with self._entry_boundary(source, link):
                complete = (
                    self._take(source, link, outcome, first_seen, max_age, rules) and complete
                )
        return complete

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
            self._article_failed(source, link, SourceError(link.url, _unexpected(exc)), False)

    def _take(
        self,
        source: SourceConfig,
        link: Link,
        outcome: Item | SourceError,
        first_seen: Callable[[Link], datetime],
        max_age: timedelta | None,
        rules: str,
    ) -> bool:
        """Keep an article's item (or, when its page failed, the source's own text of it);
        returns False when the article must be tried again on a later run."""
        if isinstance(outcome, ExtractionError):
            self.tally.extraction_failed += 1
        elif not isinstance(outcome, SourceError):
            self.tally.extracted += 1
        if isinstance(outcome, SourceError):
            own_text = bool(link.content_hint or link.summary_hint)
            given_up = None if own_text else self._give_up(link, outcome, rules)
            self._article_failed(source, link, given_up or outcome, own_text)
            if not own_text:
                return given_up is not None
            outcome = normalise(
                link_article(link), link, feed=self.feed.id, first_seen=first_seen(link)
            )
        self._keep(outcome, source, max_age, rules)
        return True

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
        links = [Link(url=stored.url, source=source.location) for stored in recent]
        checked: dict[str, bool] = {}
        for link, _, outcome in self._articles(source, request, links, jobs, lambda _: self.now):
            stored = by_url[link.url]
            if isinstance(outcome, SourceError):
                self._article_failed(source, link, outcome, own_text=False)
                continue
            with self._entry_boundary(source, link):
                changed = False
                if outcome is not None:  # None: 304, the page did not change
                    changed = self._edit(stored.id, outcome)
                checked[stored.id] = changed
                if changed:
                    self.tally.updated += 1
                else:
                    self.tally.unchanged += 1
        return checked

    def _articles(
        self,
        source: SourceConfig,
        request: RequestOptions,
        links: list[Link],
        jobs: list[FetchJob],
        first_seen: Callable[[Link], datetime],
    ) -> Iterator[tuple[Link, Page | FetchError, Item | SourceError | None]]:
        """Fetch the links' pages (``jobs``) and turn each into an item in the worker
        processes, while the next pages are being fetched; yields each link with its
        page (or fetch error) and its item, or why there is none, or None for a page
        that has not changed (304), in the order they are done."""
        by_url = {link.url: link for link in links}
        rules = self.feed.rules_for(source)
        working: list[tuple[Link, Page, Future[ArticleOutcome]]] = []

        def finished(block: bool) -> Iterator[tuple[Link, Page, Item | SourceError]]:
            while working:
                if block:
                    wait([future for _, _, future in working], return_when=FIRST_COMPLETED)
                done = [entry for entry in working if entry[2].done()]
                if not done:
                    return
                for entry in done:
                    working.remove(entry)
                    link, page, future = entry
                    yield (
                        link,
                        page,
                        self._item(source, request, link, page, outcome_of(future), first_seen),
                    )

        for job, result in self.fetcher.fetch_all(jobs):
            link = by_url[job.url]
            if isinstance(result, FetchError):
                yield link, result, result
            elif result.status == 304:
                yield link, result, None
            else:
                job_for = ArticleJob(result, link, self.feed.id, first_seen(link), rules)
                working.append((link, result, self.pool.submit(job_for)))
            yield from finished(block=False)
        yield from finished(block=True)

    def _item(
        self,
        source: SourceConfig,
        request: RequestOptions,
        link: Link,
        page: Page,
        outcome: ArticleOutcome,
        first_seen: Callable[[Link], datetime],
    ) -> Item | SourceError:
        """The item a worker made of a page, once any further parts are joined, or why
        there is none."""
        item = outcome.item
        if outcome.article is not None:  # a multi-page article: its parts are fetched here
            rules = self.feed.rules_for(source)
            try:
                article = with_parts(
                    outcome.article, rules, self.fetcher, request, self.pool.extract
                )
                item = normalise(article, link, feed=self.feed.id, first_seen=first_seen(link))
            except (StorageError, PublishError):
                raise
            except Exception as exc:  # this article's boundary (see _entry_boundary)
                log.exception("feed %s: article %s: unexpected error", self.feed.id, link.url)
                return SourceError(link.url, _unexpected(exc))
        if item is None:
            return ExtractionError(page.final_url, outcome.error or "no article found")
        self._save_validators(page)
        return item

    def _edit(self, item_id: str, item: Item) -> bool:
        """Take up an edit of a stored item; returns whether readers see it as updated."""
        stored = self.store.stored_hash(item.feed, item_id)
        if stored is None or stored == content_hash(item):
            return False
        updated = edit_date(stored, self.now)
        with self.store.transaction():
            self.store.replace_content(item_id, item, updated)
        return updated is not None

    def _article_failed(
        self, source: SourceConfig, link: Link, error: SourceError, own_text: bool
    ) -> None:
        log.info("feed %s: article %s failed: %s", self.feed.id, link.url, error.message)
        self.tally.failed += 1
        if own_text:
            error = SourceError(error.url, f"{error.message}; published the source's own text")
        self.tally.error(source, error)

    def _give_up(self, link: Link, error: SourceError, rules: str) -> SourceError | None:
        """Count a lasting failure of a new article (``_lasting``); at the
        ``GIVE_UP_AFTER_RUNS``th run, remember its URL as left out, so that neither it nor
        its source is read again for it, and return the error to report. None while the
        article is still tried again."""
        if not _lasting(error):
            return None
        with self.store.transaction():
            failures = self.store.count_article_failure(
                self.feed.id, link.url, error.message, self.now
            )
            if failures < GIVE_UP_AFTER_RUNS:
                return None
            reason = f"{error.message}; given up after it failed in {failures} runs"
            self.store.add_rejected(self.feed.id, [link.url], rules, reason, self.now)
        log.warning("feed %s: article %s: %s", self.feed.id, link.url, reason)
        return SourceError(error.url, reason)

    def _keep(
        self, item: Item, source: SourceConfig, max_age: timedelta | None, rules: str
    ) -> None:
        """Store the item unless the feed's rules leave it out; then remember its URLs as
        rejected (under these rules), so it is not fetched again."""
        reason = rejection(item, self.feed, max_age=max_age, now=self.now)
        if reason is None:
            self._store_new(item, source)
            return
        log.info("feed %s: %s left out: %s", self.feed.id, item.url, reason)
        self.tally.filtered += 1
        with self.store.transaction():
            self.store.add_rejected(item.feed, [item.url, *item.aliases], rules, reason, self.now)

    def _store_new(self, item: Item, source: SourceConfig) -> None:
        """Add the item, unless it is an item already stored reached by another URL or a
        near-duplicate of one; then only remember the new URLs."""
        existing = self.store.item_id_for_urls(item.feed, [item.url, *item.aliases])
        if existing is None:
            existing = self._sketches().near_duplicate_of(item)
        with self.store.transaction():
            if existing is None:
                self.store.add_item(item, source.location)
                self._sketches().add(item.id, item.title, item.fingerprint)
                self.tally.new += 1
            else:
                self.store.add_urls(item.feed, existing, [item.url, *item.aliases])
                self.tally.skipped += 1

    def _sketches(self) -> SketchIndex:
        """The sketches of the feed's newest items, read once per run, then kept up to date."""
        if self._sketch_index is None:
            self._sketch_index = SketchIndex()
            for known in reversed(self.store.newest_fingerprints(self.feed.id)):
                self._sketch_index.add(known.id, known.title, known.fingerprint)
        return self._sketch_index

    def _remember_icon(self, icon: str | None) -> None:
        if icon and self.feed.icon is None and self.store.feed_icon(self.feed.id) != icon:
            with self.store.transaction():
                self.store.set_feed_icon(self.feed.id, icon)

    def _save_validators(self, page: Page) -> None:
        with self.store.transaction():
            self.store.save_validators(
                page.url, Validators(page.etag, page.last_modified), self.now
            )

    def _source_worked(self, source: SourceConfig, config: str) -> None:
        with self.store.transaction():
            self.store.record_source_success(self.feed.id, source.location, self.now, config)

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


GIVE_UP_AFTER_RUNS = 3
"""Runs in which a new article fails for a lasting reason before the feed gives up on it."""


def _unexpected(exc: Exception) -> str:
    """What an unexpected error is reported as: it failed one article or source, not the
    feed (the log has the traceback)."""
    return f"unexpected error ({type(exc).__name__}: {exc}); the rest of the feed went on"


def _lasting(error: SourceError) -> bool:
    """Whether an article's failure is likely to happen again: no article on its page (or
    one too slow or too broken to extract), or an HTTP 4xx other than 408 and 429; not a
    network error or a server's 5xx, which pass."""
    if isinstance(error, ExtractionError):
        return True
    status = error.status if isinstance(error, FetchError) else None
    return status is not None and 400 <= status < 500 and status not in (408, 429)


def _config_key(source: SourceConfig, rules: str) -> str:
    """A key of everything that decides which links a source yields and keeps."""
    return hashlib.sha256(f"{source!r} {rules}".encode()).hexdigest()[:16]
