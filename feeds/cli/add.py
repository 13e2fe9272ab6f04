"""``feeds add URL``: from a page to a working config entry.

The page is fetched and looked at three ways: the feeds it advertises (``<link
rel="alternate">``), the groups of links it holds (automatic detection's articles, then
each container's links, with the selector that picks them: ``ul#latest a``), and the
site's sitemaps (listed in robots.txt, or at ``/sitemap.xml``). Each way that works is a
candidate; the best one (a feed, else a listing of likely articles, else the sitemaps)
becomes a ready YAML entry, unless the user chose another (``--kind``, ``--links``). A
page whose scripts write its content is rendered when a browser is installed (and
suggested with ``render: true``); without one, the user is told how to install it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lxml import etree

from feeds.config import Config, SourceConfig
from feeds.errors import SourceError
from feeds.extraction.metadata import read_page_metadata, site_name_in_title
from feeds.fetching.browser import browser_available
from feeds.fetching.client import Fetcher, RequestOptions
from feeds.html import HtmlElement, base_url, parse_document, select, text_of
from feeds.models import Link, Page
from feeds.sources import Discovery, detect_kind, discover
from feeds.sources.listing import link_groups, score_links, suggest_selector
from feeds.urls import clean_url, is_web_url, resolve

log = logging.getLogger(__name__)
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
    "application/rdf+xml",
)
KINDS = ("feed", "listing", "sitemap")
"""The kinds of candidates, in order of preference."""
SAMPLE_TITLES = 2
SCRIPTED_TEXT = 600
"""Characters of text below which a page with scripts is taken to write its content with
them (an app shell, a list filled in by JavaScript)."""
_VISIBLE_TEXT = etree.XPath(
    "//body//text()[not(ancestor::script or ancestor::style or ancestor::noscript"
    " or ancestor::template)]"
)


@dataclass(frozen=True, slots=True)
class Option:
    """One way to follow the site: a candidate source."""

    kind: str
    """``feed``, ``listing`` or ``sitemap``."""
    url: str
    detail: str
    links: int = 0
    selector: str | None = None
    source: dict[str, Any] = field(default_factory=dict)
    """The source as it goes into the config."""
    samples: tuple[str, ...] = ()
    """Titles of the first links it yields."""
    title: str | None = None
    """The source's own name (a feed's title)."""
    likely: bool = True
    """Whether it is good enough to suggest without being chosen (a list of articles,
    not a box of two loose links)."""

    def line(self) -> str:
        """The candidate as ``add`` lists it."""
        samples = ", ".join(f'"{_shorter(title)}"' for title in self.samples)
        return f"{self.kind:<8} {self.detail}" + (f": {samples}" if samples else "")


@dataclass(frozen=True, slots=True)
class Findings:
    """What ``feeds add`` found on a page."""

    url: str
    title: str
    """The site's name, as the page gives it."""
    options: list[Option]
    scripted: str | None = None
    """Why the page seems to write its content with scripts (None: it does not, or it
    was rendered)."""

    def best(self, kind: str | None = None) -> Option | None:
        """The candidate to suggest (of ``kind`` when given): a feed, else a listing of
        likely articles, else the sitemaps; the earliest found of a kind."""
        fitting = [o for o in self.options if (o.kind == kind if kind else o.likely)]
        return min(fitting, key=lambda o: KINDS.index(o.kind), default=None)


def web_address(text: str) -> list[str]:
    """The addresses to try for what the user typed: itself when it has a scheme;
    ``www.example.com`` is tried as https, then http."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text):
        return [text]
    bare = text if "/" in text else text + "/"
    return [f"https://{bare}", f"http://{bare}"]


def explore(
    url: str, fetcher: Fetcher, *, render: bool = False, links: str | None = None
) -> Findings:
    """Fetch ``url`` (rendered in the browser with ``render``) and find every way to
    follow it (with ``links``, the listing that selector picks); raises ``FetchError``."""
    page = fetcher.fetch(url, request=RequestOptions(render=render))
    kind = detect_kind(page).name
    if kind != "listing":  # the address is itself a feed or a sitemap
        found = _discovered(page, SourceConfig(url=url, kind=kind))
        count = len(found.links) or len(found.more)  # a sitemap index: its child sitemaps
        noun = "entries" if kind == "feed" else "URLs"
        option = Option(
            kind,
            url,
            f"{url}: a {kind}, {count} {noun}",
            count,
            source={"url": url},
            samples=_samples(found.links),
            title=found.title,
        )
        return Findings(url, found.title or _host_name(url), [option])
    document = parse_document(page.text)
    base = base_url(document, page.final_url)
    listings = (
        [_chosen_listing(document, base, page, links)] if links else _listings(document, base, page)
    )
    options = [*_advertised_feeds(document, base, fetcher), *listings]
    if render:
        options = [_rendered(option) for option in options]
    scripted = None if render else scripted_page(document)
    if scripted and browser_available() is None and not any(o.likely for o in options):
        try:
            return explore(url, fetcher, render=True, links=links)
        except SourceError as error:  # what the page gives without its scripts, then
            log.info("%s: rendering failed (%s)", url, error.message)
    options += _sitemaps(page.final_url, fetcher)
    return Findings(page.final_url, site_name(document, page.final_url), options, scripted)


def scripted_page(document: HtmlElement) -> str | None:
    """Why the page seems to be written by its scripts (None: it has its text already):
    scripts, and little text outside them, or an empty application root."""
    scripts = len(select(document, "script"))
    if not scripts:
        return None
    text = " ".join("".join(_VISIBLE_TEXT(document)).split())
    roots = select(document, "#root, #app, #__next, #__nuxt, [data-reactroot], app-root")
    empty_root = any(not text_of(root) for root in roots)
    if len(text) >= SCRIPTED_TEXT and not empty_root:
        return None
    plural = "s" if scripts > 1 else ""
    return f"{scripts} script{plural} and {len(text)} characters of text"


def site_name(document: HtmlElement, url: str) -> str:
    """The site's name: as its metadata gives it (JSON-LD publisher, ``og:site_name``,
    ``application-name``), else the part of its title that names it ("Bench News" of
    "Bench News - page 1"), else its host."""
    meta = read_page_metadata(document, base_url(document, url))
    title_element = document.find(".//title")
    title = text_of(title_element) if title_element is not None else ""
    host = _host_name(url)
    return meta.site_name or meta.application_name or site_name_in_title(title, host) or host


def feed_id_for(name: str, url: str, taken: set[str]) -> str:
    """A feed id from the site's name (``bench-news``), else from its address
    (``news-example-com``); unique in ``taken``."""
    stem = _slug(name)
    if not stem or stem.replace("-", "").isdigit():  # an address for a name: 127.0.0.2
        parts = urlsplit(url)
        words = [parts.hostname or "feed", *[p for p in parts.path.split("/") if p][:2]]
        stem = _slug("-".join(words).removeprefix("www."))
    stem = stem or "feed"
    candidate, number = stem, 2
    while candidate in taken:
        candidate, number = f"{stem}-{number}", number + 1
    return candidate


def feed_entry(findings: Findings, option: Option, title: str | None = None) -> dict[str, Any]:
    """The config entry of a feed following ``option``: titled ``title``, else by the
    feed it follows, else by the site's name."""
    return {"title": title or option.title or findings.title, "sources": [option.source]}


def followed_by(config: Config | None, urls: list[str]) -> tuple[str, str] | None:
    """The feed (and its source) that follows one of ``urls`` already, if any."""
    if config is None:
        return None
    wanted = {_same_page(url) for url in urls}
    for feed in config.feeds.values():
        for source in feed.sources:
            if source.url is not None and _same_page(source.url) in wanted:
                return feed.id, source.url
    return None


def _same_page(url: str) -> str:
    """An address with what does not change the page left out: scheme, ``www.``, a
    trailing slash."""
    parts = urlsplit(clean_url(url))
    host = (parts.netloc or "").lower().removeprefix("www.")
    return urlunsplit(("", host, parts.path.rstrip("/"), parts.query, ""))


def _advertised_feeds(document: HtmlElement, base: str, fetcher: Fetcher) -> list[Option]:
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
            found = _discovered(fetcher.fetch(href), SourceConfig(url=href, kind="feed"))
        except SourceError:
            continue
        if not found.links:
            continue
        options.append(
            Option(
                "feed",
                href,
                f'{href}: feed "{name}", {len(found.links)} entries',
                len(found.links),
                source={"url": href},
                samples=_samples(found.links),
                title=found.title,
            )
        )
    return options


def _listings(document: HtmlElement, base: str, page: Page) -> list[Option]:
    """Automatic detection's articles (when it finds two or more), then each group of
    links of the page, best first."""
    options = []
    candidates = score_links(document, base, page.final_url)
    if len(candidates) >= 2:
        selector = suggest_selector(document, base, candidates)
        links = [candidate.link for candidate in candidates]
        source: dict[str, Any] = {"url": page.final_url}
        if selector:
            source["links"] = selector
        how = f"under `{selector}`" if selector else "found by automatic detection"
        options.append(
            Option(
                "listing",
                page.final_url,
                f"{len(links)} article links {how}",
                len(links),
                selector,
                source,
                _samples(links),
            )
        )
    for group in link_groups(document, base, page.final_url):
        urls = {link.url for link in group.links}
        if options and urls == {candidate.link.url for candidate in candidates}:
            continue  # the articles detection found, under another selector
        noun = "link" if len(group.links) == 1 else "links"
        options.append(
            Option(
                "listing",
                page.final_url,
                f"{len(group.links)} {noun} under `{group.selector}`",
                len(group.links),
                group.selector,
                {"url": page.final_url, "links": group.selector},
                _samples(group.links),
                likely=group.likely_articles and not options,
            )
        )
    return options


def _chosen_listing(document: HtmlElement, base: str, page: Page, selector: str) -> Option:
    """The listing a user's ``--links`` selector picks; a ``SourceError`` when it picks
    nothing."""
    source = SourceConfig(url=page.final_url, kind="listing", links=selector)
    found = _discovered(page, source)
    if not found.links:
        raise SourceError(page.final_url, f"--links {selector!r} picks no link on the page")
    noun = "link" if len(found.links) == 1 else "links"
    return Option(
        "listing",
        page.final_url,
        f"{len(found.links)} {noun} under `{selector}` (--links)",
        len(found.links),
        selector,
        {"url": page.final_url, "links": selector},
        _samples(found.links),
    )


def _rendered(option: Option) -> Option:
    if option.kind != "listing":
        return option
    return replace(
        option,
        detail=option.detail + " once its scripts ran",
        source={**option.source, "render": True},
    )


def _sitemaps(url: str, fetcher: Fetcher) -> list[Option]:
    parts = urlsplit(url)
    home = urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
    listed = [u for u in fetcher.robots_sitemaps(url) if is_web_url(u)]
    if listed:
        detail = f"{home}: {len(listed)} sitemap{'s' * (len(listed) > 1)} listed in robots.txt"
        return [Option("sitemap", home, detail, source={"url": home, "kind": "sitemap"})]
    candidate = home + "sitemap.xml"
    try:
        page = fetcher.fetch(candidate)
    except SourceError:
        return []
    if detect_kind(page).name != "sitemap":
        return []
    found = _discovered(page, SourceConfig(url=candidate, kind="sitemap"))
    count = len(found.links) or len(found.more)
    detail = f"{candidate}: a sitemap, {count} URLs"
    return [Option("sitemap", candidate, detail, count, source={"url": candidate})]


def _discovered(page: Page, source: SourceConfig) -> Discovery:
    return discover(page, source, max_age=None, now=datetime.now(UTC))


def _samples(links: Iterable[Link]) -> tuple[str, ...]:
    titles = (link.title_hint for link in links if link.title_hint)
    return tuple(title for title, _ in zip(titles, range(SAMPLE_TITLES), strict=False))


def _shorter(title: str, limit: int = 60) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48].strip("-")


def _host_name(url: str) -> str:
    return (urlsplit(url).hostname or url).removeprefix("www.")
