"""The fields of an item that filter rules search, each with the text it holds: one
registry, from which the config takes the names it accepts and the filters their text."""

from __future__ import annotations

from collections.abc import Callable

from feeds.html import block_text, parse_fragment
from feeds.models import Item

FIELDS: dict[str, Callable[[Item], list[str]]] = {
    "title": lambda item: [item.title],
    # the content as readable text (inline markup adds no spaces), and the summary
    "content": lambda item: [block_text(parse_fragment(item.content_html)), item.summary],
    "author": lambda item: [item.author or ""],
    "categories": lambda item: list(item.categories),
    "url": lambda item: [item.url],
}
"""Every field a rule may name, with the plain text it searches: one value per category."""
DEFAULT_FIELDS = ("title", "content")
"""What a rule searches when it names no field."""
