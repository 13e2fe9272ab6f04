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

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from feeds.config import SourceConfig
from feeds.models import Link, Page
from feeds.patterns import compile_pattern
from feeds.sources.listing import read_listing
from feeds.sources.sitemap import gunzip, read_sitemap
from feeds.sources.syndication import read_feed
from feeds.urls import origin_of, site_of

Kind = Literal["listing", "feed", "sitemap"]
MAX_SITEMAPS = 50
"""Sitemap files read for one source and run, when its ``max_pages`` does not say."""

_FIRST_TAG = re.compile(
    rb"^(?:\s|<\?[^>]*\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)",
    re.DOTALL | re.IGNORECASE,
)
_FEED_ROOTS = {b"rss", b"feed", b"rdf", b"channel"}
_SITEMAP_ROOTS = {b"urlset", b"sitemapindex"}


@dataclass(frozen=True, slots=True)
class Discovery:
    """What one page of a source yielded."""

    kind: Kind
    links: tuple[Link, ...]
    more: tuple[str, ...] = ()
    """Further pages of the same source to read: the next listing page, child sitemaps."""
    icon: str | None = None
    """The site's icon, as the page declares it."""
    problems: tuple[str, ...] = ()
    """What the source's rules could not read on the page."""


def discover(
    page: Page, source: SourceConfig, *, max_age: timedelta | None, now: datetime
) -> Discovery:
    """The links of a source page, filtered by the source's rules, and the pages to read next."""
    kind = detect_kind(page) if source.kind == "auto" else source.kind
    if kind == "feed":
        found = read_feed(page, source)
    elif kind == "sitemap":
        found = read_sitemap(page, source, oldest=now - max_age if max_age else None)
    else:
        found = read_listing(page, source)
    kept = filter_links(found.links, source, site=page.final_url, max_age=max_age, now=now)
    return Discovery(kind, tuple(kept), tuple(found.more), found.icon, tuple(found.problems))


def max_pages(source: SourceConfig, kind: Kind) -> int:
    """How many pages of a source one run reads: listing pages, or sitemap files."""
    if source.max_pages is not None:
        return source.max_pages
    return MAX_SITEMAPS if kind == "sitemap" else 1


def detect_kind(page: Page) -> Kind:
    """What a source page is, from its first element (the content type is often wrong)."""
    body = page.body
    if body[:2] == b"\x1f\x8b":
        body = gunzip(body, limit=64 * 1024, strict=False)
    if body.lstrip()[:1] in (b"{", b"[") or "json" in page.content_type:
        return "feed"
    match = _FIRST_TAG.match(body[:4096].removeprefix(b"\xef\xbb\xbf"))
    root = match.group(2).lower() if match else b""
    if root in _FEED_ROOTS:
        return "feed"
    if root in _SITEMAP_ROOTS:
        return "sitemap"
    return "listing"


def filter_links(
    links: list[Link],
    source: SourceConfig,
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


__all__ = ["Discovery", "Kind", "detect_kind", "discover", "filter_links", "max_pages"]
