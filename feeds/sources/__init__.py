"""From a source page to the article links it holds. Pure: pages in, links out.

A source page is read as one of three kinds, detected from the response or set with
``kind:`` in the config:

- ``listing``: an HTML page linking articles (``listing.py``: a CSS selector, item
  selectors, or automatic detection; pagination links);
- ``feed``: RSS, Atom, RDF or JSON Feed (``syndication.py``), usually partial, whose entries
  give each article's link and a title, date, author, categories and teaser;
- ``sitemap``: a sitemap or sitemap index, gzipped or not, Google News fields included
  (``sitemap.py``).

``discover`` returns the links (filtered by the source's rules: same site unless
``allow_domains`` widens it, ``url_pattern``, ``url_exclude``, ``max_age``) and the further
pages of the same source to read (the next listing page, child sitemaps); the pipeline
fetches those, within ``max_pages``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from feeds.models import Link, Page
from feeds.patterns import compile_pattern
from feeds.sources.kinds import KINDS, SourceKind, detect_kind
from feeds.sources.rules import SourceRules
from feeds.urls import origin_of, site_of


@dataclass(frozen=True, slots=True)
class Discovery:
    """What one page of a source yielded."""

    kind: str
    """The name of the page's kind (``kinds.KINDS``)."""
    links: tuple[Link, ...]
    more: tuple[str, ...] = ()
    """Further pages of the same source to read: the next listing page, child sitemaps."""
    icon: str | None = None
    """The site's icon, as the page declares it."""
    problems: tuple[str, ...] = ()
    """What the source's rules could not read on the page."""
    matched: int = 0
    """Links the page held (by the ``links`` or ``item`` rules, or found automatically),
    before the source's filters (its site, ``url_pattern``, ``url_exclude``, ``max_age``)."""
    title: str | None = None
    """The source's own name for itself (a feed's title)."""


def discover(
    page: Page, source: SourceRules, *, max_age: timedelta | None, now: datetime
) -> Discovery:
    """The links of a source page, filtered by the source's rules, and the pages to read next."""
    kind = detect_kind(page) if source.kind == "auto" else KINDS[source.kind]
    found = kind.read(page, source, now - max_age if max_age else None)
    kept = filter_links(found.links, source, site=page.final_url, max_age=max_age, now=now)
    return Discovery(
        kind.name,
        tuple(kept),
        tuple(found.more),
        found.icon,
        tuple(found.problems),
        matched=len(found.links),
        title=found.title,
    )


def max_pages(source: SourceRules, kind: str) -> int:
    """How many pages of a source one run reads: listing pages, or sitemap files."""
    return source.max_pages if source.max_pages is not None else KINDS[kind].pages


def filter_links(
    links: list[Link],
    source: SourceRules,
    *,
    site: str,
    max_age: timedelta | None,
    now: datetime,
) -> list[Link]:
    """Links of the source's own site (its host and port; ``www.`` aside, and the default
    ports of http and https alike) or of ``allow_domains`` (any port), matching
    ``url_pattern``, not ``url_exclude``, not older than ``max_age`` when their date is
    known; no duplicates."""
    own = {origin_of(site), origin_of(source.location)}
    domains = set(source.allow_domains)
    pattern = compile_pattern(source.url_pattern) if source.url_pattern else None
    exclude = compile_pattern(source.url_exclude) if source.url_exclude else None
    oldest = now - max_age if max_age else None
    kept: dict[str, Link] = {}
    for link in links:
        url = link.url
        if link.url.startswith("file:"):
            if source.path is None:
                continue  # a web page cannot send us to local files
        elif not _on_own_site(url, own) and not _on_domains(url, domains):
            continue  # another site, or the same host on another port
        if pattern is not None and not pattern.search(url):
            continue
        if exclude is not None and exclude.search(url):
            continue
        if oldest is not None and link.published_hint is not None and link.published_hint < oldest:
            continue
        kept.setdefault(url, link)
    return list(kept.values())


def _on_own_site(url: str, own: set[tuple[str, int | None]]) -> bool:
    """Whether the URL is on one of the sites (or their subdomains), on its port."""
    host, port = origin_of(url)
    return any(
        port == own_port and (host == own_host or host.endswith("." + own_host))
        for own_host, own_port in own
        if own_host
    )


def _on_domains(url: str, domains: set[str]) -> bool:
    host = site_of(url)
    return any(host == domain or host.endswith("." + domain) for domain in domains)


__all__ = ["Discovery", "SourceKind", "detect_kind", "discover", "filter_links", "max_pages"]
