"""Which new items a feed keeps: ``include`` / ``exclude`` rules and ``max_age`` (pure).

A rule is a regular expression searched in the fields it names (title, content, author,
categories, url), case-insensitively unless it says ``case_sensitive: true``. An item is
kept when it matches at least one include rule (if the feed has any) and no exclude rule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from feeds.fields import FIELDS
from feeds.models import Item
from feeds.patterns import compile_pattern


class FilterRule(Protocol):
    """A regular expression searched in some fields of an item (the config's
    ``FilterRule`` is one)."""

    @property
    def pattern(self) -> str: ...
    @property
    def fields(self) -> tuple[str, ...]: ...
    @property
    def case_sensitive(self) -> bool: ...


class FilterRules(Protocol):
    """A feed's include and exclude rules (the config's ``Feed`` has them)."""

    @property
    def include(self) -> Sequence[FilterRule]: ...
    @property
    def exclude(self) -> Sequence[FilterRule]: ...


def rejection(
    item: Item, feed: FilterRules, *, max_age: timedelta | None, now: datetime
) -> str | None:
    """Why the feed leaves ``item`` out, or None when it keeps it."""
    if max_age is not None and item.published < now - max_age:
        return f"older than max_age ({item.published:%Y-%m-%d})"
    for rule in feed.exclude:
        if _matches(rule, item):
            return f"excluded by {rule.pattern!r}"
    if feed.include and not any(_matches(rule, item) for rule in feed.include):
        return "matched no include rule"
    return None


def rules_key(feed: FilterRules, max_age: timedelta | None) -> str:
    """A short fingerprint of the rules that decide rejections: when they change, items
    left out before are considered again."""
    text = repr((feed.include, feed.exclude, max_age))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def field_values(item: Item, field: str) -> list[str]:
    """The plain text of one field of an item, as rules see it (``fields.FIELDS``)."""
    return FIELDS[field](item)


def _matches(rule: FilterRule, item: Item) -> bool:
    pattern = compile_pattern(rule.pattern, case_sensitive=rule.case_sensitive)
    return any(
        pattern.search(value) for field in rule.fields for value in field_values(item, field)
    )
