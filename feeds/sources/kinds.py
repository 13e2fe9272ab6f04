"""The registry of source kinds: each is one ``SourceKind`` value saying how a page of
that kind is recognised, read and paged, and whether a reading without links is a
failure. The config takes the names it accepts from here, ``discover`` the reader."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from feeds.models import Page
from feeds.sources.found import Found
from feeds.sources.listing import read_listing
from feeds.sources.rules import SourceRules
from feeds.sources.sitemap import gunzip, read_sitemap
from feeds.sources.syndication import read_feed


@dataclass(frozen=True, slots=True)
class SourceKind:
    """One kind of source page."""

    name: str
    recognises: Callable[[Page, bytes], bool]
    """Whether a page is of this kind, given the page and the (lower-case) local name of
    its first XML or HTML element."""
    read: Callable[[Page, SourceRules, datetime | None], Found]
    """The links of a page (the oldest date links may have, when the source has a
    ``max_age``), the further pages of the source to read, the site's icon."""
    pages: int
    """How many pages of the source one run reads when its ``max_pages`` does not say."""
    empty_fails: bool
    """Whether a reading that yields no link is a failure (a listing whose links were not
    found), or can be just that (an empty feed)."""


KINDS: dict[str, SourceKind] = {}
"""Every source kind, by name, in the order they are tried on a page of unknown kind."""


def register(kind: SourceKind) -> SourceKind:
    """Add a source kind (tried on unknown pages before those registered earlier, the
    listing last of all)."""
    if kind.name in KINDS:
        raise ValueError(f"a source kind named {kind.name!r} is registered already")
    KINDS[kind.name] = kind
    # the listing recognises any page: it stays the last one tried
    KINDS["listing"] = KINDS.pop("listing", kind)
    return kind


_FIRST_TAG = re.compile(
    rb"^(?:\s|<\?[^>]*\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)",
    re.DOTALL | re.IGNORECASE,
)


def detect_kind(page: Page) -> SourceKind:
    """What a source page is, from its first element (the content type is often wrong)."""
    body = page.body
    if body[:2] == b"\x1f\x8b":
        body = gunzip(body, limit=64 * 1024, strict=False)
    match = _FIRST_TAG.match(body[:4096].removeprefix(b"\xef\xbb\xbf"))
    root = match.group(2).lower() if match else b""
    return next(kind for kind in KINDS.values() if kind.recognises(page, root))


def _is_feed(page: Page, root: bytes) -> bool:
    first = page.body.lstrip()[:1]
    return first in (b"{", b"[") or "json" in page.content_type or root in _FEED_ROOTS


_FEED_ROOTS = {b"rss", b"feed", b"rdf", b"channel"}
_SITEMAP_ROOTS = {b"urlset", b"sitemapindex"}
MAX_SITEMAPS = 50
"""Sitemap files read for one source and run, when its ``max_pages`` does not say."""

register(
    SourceKind(
        "listing",
        recognises=lambda page, root: True,
        read=lambda page, source, oldest: read_listing(page, source),
        pages=1,
        empty_fails=True,
    )
)
register(
    SourceKind(
        "feed",
        recognises=_is_feed,
        read=lambda page, source, oldest: read_feed(page, source),
        pages=1,
        empty_fails=False,
    )
)
register(
    SourceKind(
        "sitemap",
        recognises=lambda page, root: root in _SITEMAP_ROOTS,
        read=lambda page, source, oldest: read_sitemap(page, source, oldest=oldest),
        pages=MAX_SITEMAPS,
        empty_fails=False,
    )
)
