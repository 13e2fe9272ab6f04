"""Sitemaps as sources: ``urlset`` and ``sitemapindex``, gzipped or not, Google News fields.

XML is parsed with entities and network access off, so a hostile sitemap can neither
expand entities nor make the parser fetch anything.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

from lxml import etree

from feeds.dates import parse_date
from feeds.errors import SourceError
from feeds.models import Link, Page
from feeds.sources.found import Found, read_each
from feeds.sources.rules import SourceRules
from feeds.urls import clean_url, is_web_url, resolve

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemap protocol's own limit, uncompressed
_UNDATED = datetime.min.replace(tzinfo=UTC)
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True, recover=True
)


def read_sitemap(page: Page, source: SourceRules, *, oldest: datetime | None) -> Found:
    """The article links of a ``urlset`` (newest first), or the child sitemaps of a
    ``sitemapindex``. With ``oldest``, entries dated before it are left out, and so are
    URL entries without a date."""
    try:
        body = (
            gunzip(page.body, limit=MAX_SITEMAP_BYTES)
            if page.body[:2] == b"\x1f\x8b"
            else page.body
        )
    except ValueError as exc:
        raise SourceError(page.final_url, str(exc)) from None
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise SourceError(page.final_url, f"not a readable sitemap: {exc}") from None
    if root is None:
        raise SourceError(page.final_url, "not a readable sitemap: empty document")
    kind = etree.QName(root).localname
    if kind == "sitemapindex":
        # a child sitemap without lastmod may hold anything: it is read
        children = [
            url
            for entry in root
            if (url := _loc(entry, page.final_url))
            and _recent(_date(entry, "lastmod"), oldest, undated=True)
        ]
        return Found([], children)
    if kind != "urlset":
        raise SourceError(page.final_url, f"not a sitemap: the document is <{kind}>")
    problems: list[str] = []
    links = read_each(
        root, lambda entry: _url_entry(entry, page.final_url, source, oldest), problems
    )
    # newest first, like a listing: so that max_new_per_run takes the newest
    links.sort(key=lambda link: link.published_hint or _UNDATED, reverse=True)
    return Found(links, problems=problems)


def _url_entry(
    entry: etree._Element, base: str, source: SourceRules, oldest: datetime | None
) -> Link | None:
    """The link of a ``<url>`` entry (None when it has no address, or is too old)."""
    url = _loc(entry, base)
    if url is None:
        return None
    news = _child(entry, "news")
    published = (_date(news, "publication_date") if news is not None else None) or _date(
        entry, "lastmod"
    )
    if not _recent(published, oldest):
        return None
    image = _child(entry, "image")
    keywords = _text(news, "keywords") if news is not None else None
    return Link(
        url=url,
        source=source.location,
        title_hint=_text(news, "title") if news is not None else None,
        published_hint=published,
        image_hint=_loc(image, base) if image is not None else None,
        categories_hint=tuple(k.strip() for k in (keywords or "").split(",") if k.strip()),
    )


def gunzip(data: bytes, *, limit: int, strict: bool = True) -> bytes:
    """Decompress gzip data; more than ``limit`` bytes is a ``ValueError`` (not ``strict``:
    the first ``limit`` bytes, and nothing for corrupt data)."""
    decompressor = zlib.decompressobj(wbits=47)  # gzip or zlib header
    try:
        out = decompressor.decompress(data, limit)
    except zlib.error as exc:
        if not strict:
            return b""
        raise ValueError(f"corrupt gzip data: {exc}") from None
    if decompressor.unconsumed_tail and strict:
        raise ValueError(f"gzip data larger than {limit // (1024 * 1024)} MB uncompressed")
    return out


def _child(element: etree._Element, name: str) -> etree._Element | None:
    for child in element:
        if isinstance(child.tag, str) and etree.QName(child).localname == name:
            return child
    return None


def _text(element: etree._Element, name: str) -> str | None:
    child = _child(element, name)
    text = (child.text or "").strip() if child is not None else ""
    return text or None


def _loc(element: etree._Element, base: str) -> str | None:
    raw = _text(element, "loc")
    url = resolve(base, raw) if raw else None
    return clean_url(url) if url is not None and is_web_url(url) else None


def _date(element: etree._Element, name: str) -> datetime | None:
    return parse_date(_text(element, name))


def _recent(value: datetime | None, oldest: datetime | None, *, undated: bool = False) -> bool:
    if oldest is None:
        return True
    return undated if value is None else value >= oldest
