"""Reading a source: its first page (or, for a sitemap on a site's home page, the sitemaps
its robots.txt names), then the pages it leads to (the next listing page, child
sitemaps) up to its ``max_pages``, each fetched conditionally."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from feeds.config import SourceConfig
from feeds.errors import SourceError
from feeds.fetching.client import Fetcher, RequestOptions
from feeds.models import Link, Page
from feeds.sources import discover, max_pages
from feeds.sources.kinds import KINDS
from feeds.storage.interface import Validators
from feeds.timing import stage
from feeds.urls import is_web_url, path_of, resolve

log = logging.getLogger(__name__)

MAX_LINKS = 50_000
"""Links one source's pages may yield in a run (a sitemap file's own limit): the rest
are not read. The feed's ``max_new_per_run`` then bounds the articles fetched."""


@dataclass(slots=True)
class Discovered:
    """What the pages of one source yielded in this run."""

    links: list[Link]
    pages: list[Page]
    kind: str
    complete: bool
    """False when a further page of the source (next page, child sitemap) failed."""
    problems: list[SourceError] = field(default_factory=list)
    """Further pages that failed, and entries that could not be read."""
    icon: str | None = None
    """The site's icon, as the first page showed it."""
    matched: int = 0
    """Links the pages held before the source's filters (``Discovery.matched``)."""

    @property
    def empty_fails(self) -> bool:
        """Whether, for pages of this kind, yielding no link is a failure."""
        return KINDS[self.kind].empty_fails


def read_source(
    source: SourceConfig,
    request: RequestOptions,
    *,
    fetcher: Fetcher,
    saved: Callable[[str], Validators],
    max_age: timedelta | None,
    now: datetime,
) -> Discovered | None:
    """Read the source's pages, each asked for with the validators ``saved`` returns for
    it. None when every page answered 304; raises the first page's ``SourceError`` when
    no page could be read."""
    start = _start_urls(source, fetcher)
    queue = deque(start)
    queued = set(start)
    links: dict[str, Link] = {}
    pages: list[Page] = []
    result = Discovered([], pages, "listing", True)
    limit = len(start)
    first_error: SourceError | None = None
    while queue:
        url = queue.popleft()
        validators = saved(url)
        try:
            page = fetcher.fetch(
                url, request=request, etag=validators.etag, last_modified=validators.last_modified
            )
        except SourceError as error:
            first_error = first_error or error
            result.complete = False
            if url not in start or len(start) > 1:
                result.problems.append(error)  # a further page: the source still counts
            continue
        if page.status == 304:
            continue
        with stage("discovery"):
            found = discover(page, source, max_age=max_age, now=now)
        log.debug(
            "%s: a %s page; its rules found %d links, the source's filters kept %d; %d more "
            "pages to read",
            url,
            found.kind,
            found.matched,
            len(found.links),
            len(found.more),
        )
        result.problems += [SourceError(url, problem) for problem in found.problems]
        if not pages:
            result.kind = found.kind
            result.icon = found.icon
            limit = max(limit, max_pages(source, found.kind))
        pages.append(page)
        result.matched += found.matched
        for link in found.links[: max(0, MAX_LINKS - len(links))]:
            links.setdefault(link.url, link)
        if len(links) >= MAX_LINKS:
            log.info("%s: %d links read, the most a source gives a run: no further page read",
                     url, len(links))  # fmt: skip
            result.complete = False  # read again next time, not taken as seen
            break
        for following in found.more:
            if following not in queued and len(queued) < limit:
                queue.append(following)
                queued.add(following)
    if not pages:
        if first_error is not None:
            raise first_error
        return None
    result.links = list(links.values())
    return result


def _start_urls(source: SourceConfig, fetcher: Fetcher) -> list[str]:
    """Where a source's reading starts: its URL; for ``kind: sitemap`` on a site's home
    page, the sitemaps its robots.txt lists (else ``/sitemap.xml``)."""
    if source.kind != "sitemap" or source.url is None or path_of(source.url) != "/":
        return [source.location]
    sitemaps = [url for url in fetcher.robots_sitemaps(source.url) if is_web_url(url)]
    return sitemaps or [resolve(source.url, "/sitemap.xml") or source.url]
