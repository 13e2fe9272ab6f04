"""Syndication feeds as sources: RSS, Atom and RDF (feedparser), and JSON Feed.

The only module that imports feedparser. Each entry becomes a link to its article page,
carrying the entry's title, date, author, categories, image and content, which fill in
what the page does not give, and stand in for the page when it cannot be fetched.
"""

from __future__ import annotations

import calendar
import html
import json
from datetime import UTC, datetime
from typing import Any

import feedparser

from feeds.dates import parse_date
from feeds.errors import SourceError
from feeds.html import block_text, collapse_whitespace, parse_fragment
from feeds.models import Link, Page
from feeds.sources.found import Found, read_each
from feeds.sources.rules import SourceRules
from feeds.urls import clean_url, is_web_url, resolve

_IMAGE_TYPES = ("image/",)


def read_feed(page: Page, source: SourceRules) -> Found:
    """The entries of an RSS, Atom, RDF or JSON feed, as links with hints, and the feed's
    icon."""
    if page.body.lstrip()[:1] == b"{":
        return _json_feed(page, source)
    # bytes, never str: feedparser would take a str that looks like a URL and fetch it
    parsed = feedparser.parse(
        page.body,
        response_headers={
            "content-location": page.final_url,
            "content-type": f"{page.content_type or 'application/xml'}; charset={page.encoding}",
        },
        sanitize_html=False,  # content is sanitised once, last, by normalise
    )
    problems: list[str] = []
    links = read_each(
        parsed.entries, lambda entry: _feed_entry(entry, page.final_url, source), problems
    )
    if not links and parsed.bozo:
        reason = parsed.get("bozo_exception")
        raise SourceError(page.final_url, f"not a readable feed: {reason}")
    channel = parsed.get("feed", {})
    image = channel.get("image")
    icon_candidates = [
        channel.get("icon"),
        image.get("href") if isinstance(image, dict) else None,
        channel.get("logo"),
    ]
    icon = _first_web_url(icon_candidates, page.final_url)
    return Found(links, icon=icon, problems=problems, title=_plain(channel.get("title")))


def _feed_entry(entry: Any, base: str, source: SourceRules) -> Link | None:
    """The link of an RSS, Atom or RDF entry, with what the entry says of its article."""
    url = _entry_url(entry, base)
    if url is None:
        return None
    content = _entry_content(entry)
    summary = entry.get("summary")
    return Link(
        url=url,
        source=source.location,
        title_hint=_plain(entry.get("title")),
        summary_hint=_plain(summary) if summary and summary != content else None,
        # dict.get: feedparser's own get maps a missing date to the other one, with a warning
        published_hint=_struct_time(
            dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
        ),
        author_hint=_plain(entry.get("author")),
        image_hint=_entry_image(entry, base),
        categories_hint=tuple(
            term for tag in entry.get("tags", []) if (term := _plain(tag.get("term")))
        ),
        content_hint=content or summary or None,
    )


def _entry_url(entry: Any, base: str) -> str | None:
    candidates = [entry.get("link")]
    candidates += [
        link.get("href") for link in entry.get("links", []) if link.get("rel") == "alternate"
    ]
    guid = entry.get("id")
    if guid and entry.get("guidislink", True):
        candidates.append(guid)
    for candidate in candidates:
        url = resolve(base, candidate) if isinstance(candidate, str) else None
        if url is not None and is_web_url(url):
            return clean_url(url)
    return None


def _entry_content(entry: Any) -> str | None:
    for content in entry.get("content", []):
        value = content.get("value")
        if value and "html" in content.get("type", "html"):
            return str(value)
        if value:
            return f"<p>{html.escape(str(value), quote=False)}</p>"
    return None


def _entry_image(entry: Any, base: str) -> str | None:
    candidates = [
        m.get("url") for m in entry.get("media_content", []) if m.get("medium", "image") == "image"
    ]
    candidates += [m.get("url") for m in entry.get("media_thumbnail", [])]
    candidates += [
        e.get("href")
        for e in entry.get("enclosures", [])
        if e.get("type", "").startswith(_IMAGE_TYPES)
    ]
    image = entry.get("image")
    if isinstance(image, dict):
        candidates.append(image.get("href"))
    return _first_web_url(candidates, base)


def _first_web_url(candidates: list[Any], base: str) -> str | None:
    for candidate in candidates:
        url = resolve(base, candidate) if isinstance(candidate, str) else None
        if url is not None and is_web_url(url):
            return url
    return None


def _json_feed(page: Page, source: SourceRules) -> Found:
    try:
        data = json.loads(page.text)
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise SourceError(page.final_url, f"not a readable JSON feed: {reason}") from None
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise SourceError(page.final_url, "JSON, but not a JSON Feed (no jsonfeed.org version)")
    items = data.get("items")
    problems: list[str] = []
    links = read_each(
        items if isinstance(items, list) else [],
        lambda entry: _json_entry(entry, page.final_url, source),
        problems,
    )
    icon = _first_web_url([data.get("icon"), data.get("favicon")], page.final_url)
    return Found(links, icon=icon, problems=problems, title=_string(data, "title"))


def _json_entry(entry: Any, base: str, source: SourceRules) -> Link | None:
    """The link of a JSON Feed item. Every field is checked for its type: a field of the
    wrong type (``"image": 7``) is left out, not taken for what it should have been."""
    if not isinstance(entry, dict):
        return None
    raw = _string(entry, "url") or _string(entry, "external_url")
    identifier = _string(entry, "id")
    if raw is None and identifier and is_web_url(identifier):
        raw = identifier  # an id may be the item's URL, or just a string
    url = resolve(base, raw) if raw else None
    if url is None or not is_web_url(url):
        return None
    text = _string(entry, "content_text")
    content = _string(entry, "content_html") or (
        f"<p>{html.escape(text, quote=False)}</p>" if text else None
    )
    authors = entry.get("authors")
    if not isinstance(authors, list):
        authors = [entry.get("author")]
    names = [name for a in authors if isinstance(a, dict) and (name := _string(a, "name"))]
    tags = entry.get("tags")
    categories = tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()
    return Link(
        url=clean_url(url),
        source=source.location,
        title_hint=_plain(entry.get("title")),
        summary_hint=_plain(entry.get("summary")),
        published_hint=parse_date(
            _string(entry, "date_published") or _string(entry, "date_modified")
        ),
        author_hint=", ".join(names) or None,
        image_hint=_first_web_url([entry.get("image"), entry.get("banner_image")], base),
        categories_hint=categories,
        content_hint=content,
    )


def _string(entry: dict[str, Any], name: str) -> str | None:
    """A JSON Feed field that must be a string, or None (missing, or of another type)."""
    value = entry.get(name)
    return value if isinstance(value, str) and value.strip() else None


def _plain(value: Any) -> str | None:
    """Text of a feed field that may hold HTML."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = block_text(parse_fragment(value)) if "<" in value or "&" in value else value
    return collapse_whitespace(text) or None


def _struct_time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, TypeError):
        return None
