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

from feeds.config import SourceConfig
from feeds.dates import parse_date
from feeds.errors import SourceError
from feeds.html import block_text, collapse_whitespace, parse_fragment
from feeds.models import Link, Page
from feeds.sources.found import Found
from feeds.urls import clean_url, is_web_url, resolve

_IMAGE_TYPES = ("image/",)


def read_feed(page: Page, source: SourceConfig) -> Found:
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
    links = []
    for entry in parsed.entries:
        url = _entry_url(entry, page.final_url)
        if url is None:
            continue
        content = _entry_content(entry)
        summary = entry.get("summary")
        links.append(
            Link(
                url=url,
                source=source.location,
                title_hint=_plain(entry.get("title")),
                summary_hint=_plain(summary) if summary and summary != content else None,
                published_hint=_struct_time(
                    entry.get("published_parsed") or entry.get("updated_parsed")
                ),
                author_hint=_plain(entry.get("author")),
                image_hint=_entry_image(entry, page.final_url),
                categories_hint=tuple(
                    term for tag in entry.get("tags", []) if (term := _plain(tag.get("term")))
                ),
                content_hint=content or summary or None,
            )
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
    return Found(links, icon=_first_web_url(icon_candidates, page.final_url))


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


def _json_feed(page: Page, source: SourceConfig) -> Found:
    try:
        data = json.loads(page.text)
    except ValueError as exc:
        raise SourceError(page.final_url, f"not a readable JSON feed: {exc}") from None
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise SourceError(page.final_url, "JSON, but not a JSON Feed (no jsonfeed.org version)")
    links = []
    for entry in data.get("items") or []:
        if not isinstance(entry, dict):
            continue
        raw = entry.get("url") or entry.get("external_url")
        if raw is None and is_web_url(str(entry.get("id", ""))):
            raw = entry["id"]  # an id may be the item's URL, or just a string
        url = resolve(page.final_url, raw) if isinstance(raw, str) else None
        if url is None or not is_web_url(url):
            continue
        text = entry.get("content_text")
        content = entry.get("content_html") or (
            f"<p>{html.escape(text, quote=False)}</p>" if text else None
        )
        authors = entry.get("authors") or ([entry["author"]] if entry.get("author") else [])
        names = [str(a["name"]) for a in authors if isinstance(a, dict) and a.get("name")]
        links.append(
            Link(
                url=clean_url(url),
                source=source.location,
                title_hint=_plain(entry.get("title")),
                summary_hint=_plain(entry.get("summary")),
                published_hint=parse_date(
                    entry.get("date_published") or entry.get("date_modified")
                ),
                author_hint=", ".join(names) or None,
                image_hint=entry.get("image") or entry.get("banner_image") or None,
                categories_hint=tuple(t for t in entry.get("tags") or [] if isinstance(t, str)),
                content_hint=content,
            )
        )
    return Found(
        links, icon=_first_web_url([data.get("icon"), data.get("favicon")], page.final_url)
    )


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
