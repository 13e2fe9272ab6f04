"""What a feed says about itself (its channel), the formats it is written in, and the
helpers every format shares."""

from __future__ import annotations

import html
import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from feeds.models import Item

EMPTY_FEED_DATE = datetime(1970, 1, 1, tzinfo=UTC)
"""The date of a feed with no items yet: fixed, so an empty feed is stable too."""


@dataclass(frozen=True, slots=True)
class FeedFormat:
    """One output format: its config name, file suffix, media type, label and writer."""

    name: str
    suffix: str
    media_type: str
    label: str
    """What people call it."""
    render: Callable[[Channel, Sequence[Item]], bytes]
    """The whole document of a feed with these items (newest first)."""


@dataclass(frozen=True, slots=True)
class Channel:
    """What a feed says about itself, whatever the format."""

    feed_id: str
    title: str
    description: str
    site_url: str
    base_url: str
    updated: datetime
    ttl_minutes: int
    language: str | None = None
    icon: str | None = None
    hub: str | None = None

    def url(self, fmt: FeedFormat) -> str:
        """Where the file of ``fmt`` is served: its self link."""
        return self.base_url + file_name(self.feed_id, fmt)


def file_name(feed_id: str, fmt: FeedFormat) -> str:
    """The file a feed is published to in the output directory."""
    return f"{feed_id}{fmt.suffix}"


def page_name(feed_id: str) -> str:
    """The feed's page for people (its items as a browser shows them)."""
    return f"{feed_id}.html"


def display_html(item: Item) -> str:
    """The item's HTML as published: its main image on top when the content lacks it."""
    if not item.image:
        return item.content_html
    src = html.escape(item.image)  # as it appears in the sanitised HTML
    if src in item.content_html or item.image in item.content_html:
        return item.content_html
    return f'<p><img src="{src}" alt=""></p>' + item.content_html


def image_type(url: str) -> str:
    guessed = mimetypes.guess_type(urlsplit(url).path)[0]
    return guessed if guessed and guessed.startswith("image/") else "image/jpeg"


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"
