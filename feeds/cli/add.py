"""``feeds add URL``: from a page to a working config entry.

The page is fetched and looked at three ways: the feeds it advertises (``<link
rel="alternate">``), the article links automatic detection finds on it (with a CSS
selector that picks them), and the site's sitemaps (listed in robots.txt, or at
``/sitemap.xml``). Each way that works is an option; the best one (a feed, else the
listing, else the sitemaps) becomes a ready YAML entry. A page with no article links
whose scripts write them (where a browser is installed) is suggested with ``render: true``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from feeds.config import SourceConfig
from feeds.errors import SourceError
from feeds.fetching.browser import browser_available
from feeds.fetching.client import Fetcher, RequestOptions
from feeds.html import base_url, parse_document, text_of
from feeds.models import Page
from feeds.sources import detect_kind, discover
from feeds.sources.listing import score_links, suggest_selector
from feeds.urls import is_web_url, resolve

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
    "application/rdf+xml",
)
_PREFERENCE = {"feed": 0, "listing": 1, "sitemap": 2}


@dataclass(frozen=True, slots=True)
class Option:
    """One way to follow the site."""

    kind: str
    """``feed``, ``listing`` or ``sitemap``."""
    url: str
    detail: str
    links: int = 0
    selector: str | None = None
    source: dict[str, Any] = field(default_factory=dict)
    """The source as it goes into the config."""


@dataclass(frozen=True, slots=True)
class Findings:
    """What ``feeds add`` found on a page."""

    url: str
    title: str
    options: list[Option]

    @property
    def best(self) -> Option | None:
        """The option to suggest: a feed, else the listing, else the sitemaps."""
        return min(self.options, key=lambda o: _PREFERENCE[o.kind], default=None)


def explore(url: str, fetcher: Fetcher) -> Findings:
    """Fetch ``url`` and find every way to follow it; raises ``FetchError``."""
    page = fetcher.fetch(url)
    kind = detect_kind(page).name
    if kind != "listing":  # the address is itself a feed or a sitemap
        found = _links(page, SourceConfig(url=url, kind=kind))
        noun = "entries" if kind == "feed" else "URLs"
        option = Option(kind, url, f"a {kind}: {found} {noun}", found, source={"url": url})
        return Findings(url, _title_from_url(url), [option])
    document = parse_document(page.text)
    base = base_url(document, page.final_url)
    title_element = document.find(".//title")
    title = text_of(title_element) if title_element is not None else ""
    options = [*_advertised_feeds(document, base, fetcher), *_listing(document, base, page)]
    if not options:
        options += _rendered_listing(url, fetcher)
    options += _sitemaps(page.final_url, fetcher)
    return Findings(page.final_url, title or _title_from_url(url), options)


def feed_id_for(url: str, taken: set[str]) -> str:
    """A feed id from the site's address: ``news-example-com``, unique in ``taken``."""
    parts = urlsplit(url)
    words = [parts.hostname or "feed", *[p for p in parts.path.split("/") if p][:2]]
    stem = re.sub(r"[^a-z0-9]+", "-", "-".join(words).lower().removeprefix("www.")).strip("-")
    stem = stem[:48].strip("-") or "feed"
    candidate, number = stem, 2
    while candidate in taken:
        candidate, number = f"{stem}-{number}", number + 1
    return candidate


def feed_entry(findings: Findings, option: Option) -> dict[str, Any]:
    """The config entry of a feed following ``option``."""
    return {"title": findings.title, "sources": [option.source]}


def _advertised_feeds(document: Any, base: str, fetcher: Fetcher) -> list[Option]:
    options = []
    seen = set()
    for link in document.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = resolve(base, link.get("href", ""))
        if "alternate" not in rel or kind not in FEED_TYPES or href is None or href in seen:
            continue
        if not is_web_url(href) or "comments" in href.lower():
            continue  # comment feeds are not the site's articles
        seen.add(href)
        name = link.get("title") or kind.split("/")[1].split("+")[0].upper()
        try:
            entries = _links(fetcher.fetch(href), SourceConfig(url=href, kind="feed"))
        except SourceError as error:
            options.append(Option("feed", href, f"{name}: cannot be read ({error.message})"))
            continue
        detail = f'feed "{name}": {entries} entries'
        options.append(Option("feed", href, detail, entries, source={"url": href}))
    return [option for option in options if option.links]


def _listing(document: Any, base: str, page: Page) -> list[Option]:
    candidates = score_links(document, base, page.final_url)
    if len(candidates) < 2:
        return []
    selector = suggest_selector(document, base, candidates)
    source: dict[str, Any] = {"url": page.final_url}
    if selector:
        source["links"] = selector
    detail = f"{len(candidates)} article links" + (
        f" (selector: {selector})" if selector else " (detected automatically)"
    )
    return [Option("listing", page.final_url, detail, len(candidates), selector, source)]


def _rendered_listing(url: str, fetcher: Fetcher) -> list[Option]:
    """The listing the page's scripts write, when there is a browser to run them."""
    if browser_available() is not None:
        return []
    try:
        page = fetcher.fetch(url, request=RequestOptions(render=True))
    except SourceError:
        return []
    document = parse_document(page.text)
    options = _listing(document, base_url(document, page.final_url), page)
    return [
        replace(
            option,
            detail=option.detail + " once its scripts ran (render: true)",
            source={**option.source, "render": True},
        )
        for option in options
    ]


def _sitemaps(url: str, fetcher: Fetcher) -> list[Option]:
    parts = urlsplit(url)
    home = urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
    listed = [u for u in fetcher.robots_sitemaps(url) if is_web_url(u)]
    if listed:
        detail = f"{len(listed)} sitemap{'s' * (len(listed) > 1)} listed in robots.txt"
        return [Option("sitemap", home, detail, source={"url": home, "kind": "sitemap"})]
    candidate = home + "sitemap.xml"
    try:
        page = fetcher.fetch(candidate)
    except SourceError:
        return []
    if detect_kind(page).name != "sitemap":
        return []
    return [Option("sitemap", candidate, "a sitemap at /sitemap.xml", source={"url": candidate})]


def _links(page: Page, source: SourceConfig) -> int:
    found = discover(page, source, max_age=None, now=datetime.now(UTC))
    return len(found.links) or len(found.more)  # a sitemap index: its child sitemaps


def _title_from_url(url: str) -> str:
    return (urlsplit(url).hostname or url).removeprefix("www.")
