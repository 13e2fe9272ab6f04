"""Turning new links into items: their pages fetched (within the politeness limits)
while the pages already fetched are extracted in the worker processes; the further
pages of a multi-page article fetched and joined."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import replace
from datetime import datetime

from feeds.errors import ExtractionError, FetchError, PublishError, SourceError, StorageError
from feeds.extraction.article import extract_article, join_parts
from feeds.extraction.normalise import normalise
from feeds.extraction.rules import ExtractRules, SiteRules, layered
from feeds.extraction.workers import ArticleJob, ArticleOutcome, ExtractionPool, outcome_of
from feeds.fetching.client import Fetcher, FetchJob, RequestOptions
from feeds.models import Article, Item, Link, Page
from feeds.run.options import with_site_headers

log = logging.getLogger(__name__)

MAX_PARTS = 5
"""Pages of a multi-page article joined when no site rule says otherwise."""

ArticleResult = tuple[Link, Page | FetchError, Item | SourceError | None]
"""A link, its page (or why it could not be fetched), and its item, or why there is
none, or None for a page that has not changed (304)."""


def unexpected(exc: Exception) -> str:
    """What an unexpected error is reported as: it failed one article or source, not the
    feed (the log has the traceback)."""
    return f"unexpected error ({type(exc).__name__}: {exc}); the rest of the feed went on"


class Articles:
    """The articles of one source of one feed, made into items."""

    def __init__(
        self,
        *,
        feed_id: str,
        rules: ExtractRules | None,
        request: RequestOptions,
        fetcher: Fetcher,
        pool: ExtractionPool,
        site_rules: Callable[[str], SiteRules | None] = lambda url: None,
    ) -> None:
        """``rules`` are the config's for the source; ``site_rules`` finds those of the
        site config file that serves a page's address, which the config's override."""
        self.feed_id = feed_id
        self.rules = rules
        self.site_rules = site_rules
        self.request = request
        self.fetcher = fetcher
        self.pool = pool

    def rules_for(self, url: str) -> ExtractRules | None:
        """The rules for the article at ``url``: the config's over its site config's."""
        return layered(self.rules, self.site_rules(url))

    def results(
        self, links: list[Link], jobs: list[FetchJob], first_seen: Callable[[Link], datetime]
    ) -> Iterator[ArticleResult]:
        """Fetch the links' pages (``jobs``) and turn each into an item in the worker
        processes, while the next pages are being fetched; yields each link's result in
        the order they are done."""
        if jobs:
            self.pool.start()  # the workers are ready by the time the first page is
        by_url = {link.url: link for link in links}
        working: list[tuple[Link, Page, Future[ArticleOutcome]]] = []

        def finished(block: bool) -> Iterator[ArticleResult]:
            while working:
                if block:
                    wait([future for _, _, future in working], return_when=FIRST_COMPLETED)
                done = [entry for entry in working if entry[2].done()]
                if not done:
                    return
                for entry in done:
                    working.remove(entry)
                    link, page, future = entry
                    yield link, page, self._item(link, page, outcome_of(future), first_seen)

        for job, result in self.fetcher.fetch_all(jobs):
            link = by_url[job.url]
            if isinstance(result, FetchError):
                yield link, result, result
            elif result.status == 304:
                yield link, result, None
            else:
                rules = self.rules_for(result.final_url)
                job_for = ArticleJob(result, link, self.feed_id, first_seen(link), rules)
                working.append((link, result, self.pool.submit(job_for)))
            yield from finished(block=False)
        yield from finished(block=True)

    def _item(
        self,
        link: Link,
        page: Page,
        outcome: ArticleOutcome,
        first_seen: Callable[[Link], datetime],
    ) -> Item | SourceError:
        """The item a worker made of a page, once any further parts are joined, or why
        there is none."""
        item = outcome.item
        if outcome.article is not None:  # a multi-page article: its parts are fetched here
            try:
                url = outcome.article.url
                request = with_site_headers(self.request, self.site_rules(url))
                article = with_parts(
                    outcome.article, self.rules_for(url), self.fetcher, request, self.pool.extract
                )
                item = normalise(article, link, feed=self.feed_id, first_seen=first_seen(link))
            except (StorageError, PublishError):
                raise
            except Exception as exc:  # this article's failure boundary
                log.exception("feed %s: article %s: unexpected error", self.feed_id, link.url)
                return SourceError(link.url, unexpected(exc))
        if item is None:
            log.debug("%s: no article: %s", link.url, outcome.error or "no article found")
            return ExtractionError(page.final_url, outcome.error or "no article found")
        log.debug(
            "%s: extracted in %.2fs: title %r, author %r, published %s, image %s, %d "
            "characters of HTML",
            link.url,
            outcome.seconds,
            item.title,
            item.author,
            f"{item.published:%Y-%m-%d %H:%M}",
            item.image or "none",
            len(item.content_html),
        )
        return item


def extract_with_parts(
    page: Page, rules: ExtractRules | None, fetcher: Fetcher, request: RequestOptions
) -> Article:
    """The article of a page, with the further parts of a multi-page article fetched and
    joined. Raises ``SourceError`` when the page itself holds no article."""
    return with_parts(extract_article(page, rules), rules, fetcher, request, extract_article)


def _single_page(
    article: Article,
    rules: ExtractRules | None,
    fetcher: Fetcher,
    request: RequestOptions,
    extract: Callable[[Page, ExtractRules | None], Article],
) -> Article | None:
    """The article as its one-page version gives it (kept at the article's own address),
    or None when that page cannot be had (the parts are joined then)."""
    assert article.single_page is not None
    try:
        whole = extract(fetcher.fetch(article.single_page, request=request), rules)
    except SourceError as error:
        log.info(
            "single page %s of %s left out: %s", article.single_page, article.url, error.message
        )
        return None
    return replace(
        whole,
        url=article.url,
        canonical_url=article.canonical_url,
        next_page=None,
        single_page=None,
    )


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
    if article.single_page:
        whole = _single_page(article, rules, fetcher, request, extract)
        if whole is not None:
            return whole
    max_pages = rules.max_pages if rules is not None else MAX_PARTS
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
