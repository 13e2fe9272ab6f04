"""JSON Feed 1.1, with the standard json module."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from feeds.models import MAX_CATEGORIES, Item
from feeds.publishing.channel import Channel, FeedFormat, display_html, rfc3339


def render_json_feed(channel: Channel, items: Sequence[Item]) -> bytes:
    """JSON Feed 1.1, with the standard json module: the head's fields one per line, then
    an item per line."""
    head: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": channel.title,
        "home_page_url": channel.site_url,
        "feed_url": channel.url(JSON_FEED),
        "description": channel.description,
    }
    if channel.icon:
        head["icon"] = channel.icon
        head["favicon"] = channel.icon
    if channel.language:
        head["language"] = channel.language
    if channel.hub:
        head["hubs"] = [{"type": "WebSub", "url": channel.hub}]
    head["authors"] = [{"name": channel.title, "url": channel.site_url}]
    lines = ["{", *(f"  {json.dumps(key)}: {_json(value)}," for key, value in head.items())]
    lines.append('  "items": [')
    if items:
        lines.append(",\n".join(f"    {_json(json_feed_item(item))}" for item in items))
    lines += ["  ]", "}", ""]
    return "\n".join(lines).encode()


def json_feed_item(item: Item) -> dict[str, Any]:
    """An item as JSON Feed 1.1 publishes it."""
    entry: dict[str, Any] = {
        "id": item.id,
        "url": item.url,
        "title": item.title,
        "content_html": display_html(item),
        "summary": item.summary,
        "date_published": rfc3339(item.published),
        "date_modified": rfc3339(item.updated),
    }
    if item.image:
        entry["image"] = item.image
    if item.author:
        entry["authors"] = [{"name": item.author}]
    if item.categories:
        entry["tags"] = list(item.categories[:MAX_CATEGORIES])
    if item.language:
        entry["language"] = item.language
    return entry


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


JSON_FEED = FeedFormat("json", ".json", "application/feed+json", "JSON Feed", render_json_feed)
