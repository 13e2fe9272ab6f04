"""The registry of output formats: each is one ``FeedFormat`` value (name, file suffix,
media type, label, renderer)."""

from __future__ import annotations

from collections.abc import Iterable

from feeds.models import Item
from feeds.publishing.channel import Channel, FeedFormat
from feeds.publishing.json_feed import JSON_FEED
from feeds.publishing.rss_atom import ATOM, RSS

FORMATS: dict[str, FeedFormat] = {}
"""Every output format, by its config name, in the order they were registered."""


def register(fmt: FeedFormat) -> FeedFormat:
    """Add an output format: the config accepts its name, runs write it, the server sends
    it with its media type, and the pages list it."""
    if fmt.name in FORMATS:
        raise ValueError(f"an output format named {fmt.name!r} is registered already")
    FORMATS[fmt.name] = fmt
    return fmt


for _fmt in (RSS, ATOM, JSON_FEED):
    register(_fmt)


SITE_NAMES = ("index", "feeds", "healthz", "metrics", "status")
"""Names of the service's own files and paths: ``index.html``, ``feeds.opml`` (and
``feeds-<format>.opml``), ``/healthz``, ``/metrics``, the status page."""


def reserved_feed_ids() -> frozenset[str]:
    """Feed ids whose files would take the place of the service's own (compared
    lower-cased: some file systems do)."""
    return frozenset(SITE_NAMES) | {f"feeds-{name}" for name in FORMATS}


def render(channel: Channel, items: Iterable[Item], fmt: FeedFormat) -> bytes:
    """The whole feed document in ``fmt``."""
    return fmt.render(channel, tuple(items))
