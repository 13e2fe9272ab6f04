"""include / exclude rules and max_age, on plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feeds.config import Feed, FilterRule, SourceConfig
from feeds.models import Item
from feeds.run.filters import field_values, rejection, rules_key

NOW = datetime(2024, 3, 10, tzinfo=UTC)
ITEM = Item(
    id="i",
    feed="f",
    url="https://news.example/2024/ferry-fares",
    title="Ferry fares go up",
    published=NOW - timedelta(days=2),
    updated=NOW,
    summary="Tickets cost more.",
    content_html="<p>Season tickets &amp; <b>single</b> fares rise in April.</p>",
    fingerprint=(1,),
    first_seen=NOW,
    author="Ann Lee",
    categories=("Transport", "Harbour"),
)


def feed(include: tuple[object, ...] = (), exclude: tuple[object, ...] = ()) -> Feed:
    return Feed(
        id="f",
        title="f",
        description="f",
        link=None,
        language=None,
        interval=timedelta(hours=1),
        max_items=50,
        sources=(SourceConfig(url="https://news.example/"),),
        extract=None,
        include=tuple(FilterRule.model_validate(r) for r in include),
        exclude=tuple(FilterRule.model_validate(r) for r in exclude),
    )


@pytest.mark.parametrize(
    ("include", "exclude", "reason"),
    [
        ((), (), None),
        (("FERRY",), (), None),  # case-insensitive, title and content by default
        (("single fares",), (), None),  # content is plain text, entities decoded
        (("bridge",), (), "matched no include rule"),
        (("bridge", "fares"), (), None),  # any include rule
        ((), ("april",), "excluded by 'april'"),
        ((), ({"pattern": "April", "fields": ["title"]},), None),
        ((), ({"pattern": "april", "case_sensitive": True},), None),
        ((), ({"pattern": "^Ann", "fields": ["author"]},), "excluded by '^Ann'"),
        ((), ({"pattern": "^harbour$", "fields": ["categories"]},), "excluded by '^harbour$'"),
        ((), ({"pattern": "/2024/", "fields": ["url"]},), "excluded by '/2024/'"),
        (("ferry",), ("tickets",), "excluded by 'tickets'"),  # exclude wins
    ],
)
def test_rules(
    include: tuple[object, ...], exclude: tuple[object, ...], reason: str | None
) -> None:
    assert rejection(ITEM, feed(include, exclude), max_age=None, now=NOW) == reason


def test_max_age() -> None:
    assert rejection(ITEM, feed(), max_age=timedelta(days=3), now=NOW) is None
    assert (
        rejection(ITEM, feed(), max_age=timedelta(days=1), now=NOW)
        == "older than max_age (2024-03-08)"
    )


def test_rules_key_changes_with_the_rules() -> None:
    assert rules_key(feed(), None) == rules_key(feed(), None)
    assert rules_key(feed(("a",)), None) != rules_key(feed(), None)
    assert rules_key(feed(), timedelta(days=1)) != rules_key(feed(), None)


def test_field_values() -> None:
    assert field_values(ITEM, "content") == [
        "Season tickets & single fares rise in April.",
        "Tickets cost more.",
    ]
    assert field_values(ITEM, "categories") == ["Transport", "Harbour"]
