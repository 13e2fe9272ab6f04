"""Date parsing: every way pages write dates ends as an aware UTC datetime."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from feeds.dates import find_date, parse_date, plausible


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-08-15", datetime(2021, 8, 15, tzinfo=UTC)),
        ("2021-08-15T10:30:00Z", datetime(2021, 8, 15, 10, 30, tzinfo=UTC)),
        ("2021-08-15T10:30:00+0200", datetime(2021, 8, 15, 8, 30, tzinfo=UTC)),
        ("2021-08-15T10:30:00.123-04:00", datetime(2021, 8, 15, 14, 30, 0, 123000, tzinfo=UTC)),
        ("Sun, 15 Aug 2021 10:30:00 GMT", datetime(2021, 8, 15, 10, 30, tzinfo=UTC)),
        ("15th Aug 2021", datetime(2021, 8, 15, tzinfo=UTC)),
        ("1st September 2021", datetime(2021, 9, 1, tzinfo=UTC)),
        ("Aug. 15, 2021", datetime(2021, 8, 15, tzinfo=UTC)),
        ("August 15th, 2021 14:05", datetime(2021, 8, 15, 14, 5, tzinfo=UTC)),
    ],
)
def test_parse_date(text: str, expected: datetime) -> None:
    assert parse_date(text) == expected


def test_explicit_format() -> None:
    assert parse_date("15/08/21 10h30", "%d/%m/%y %Hh%M") == datetime(
        2021, 8, 15, 10, 30, tzinfo=UTC
    )
    assert parse_date("2021-08-15", "%d/%m/%y") is None


@pytest.mark.parametrize("text", ["", "yesterday", "Share this article", "32 Foo 2021"])
def test_not_a_date(text: str) -> None:
    assert parse_date(text) is None


def test_find_date_in_a_date_line() -> None:
    assert find_date("News · Published 15th Aug 2021 · 4 min read") == datetime(
        2021, 8, 15, tzinfo=UTC
    )
    assert find_date("No date in here, only 2021 and 15") is None


def test_plausible() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert plausible(datetime(2023, 12, 31, tzinfo=UTC), now)
    assert not plausible(datetime(1970, 1, 1, tzinfo=UTC), now)
    assert not plausible(datetime(2030, 1, 1, tzinfo=UTC), now)
