"""Parse the many ways web pages and feeds write dates into aware UTC datetimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

# "15th Aug 2021" -> "15 Aug 2021"; "Aug. 15" -> "Aug 15"
_ORDINAL = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b", re.IGNORECASE)
_MONTH_DOT = re.compile(r"\b([A-Za-z]{3,9})\.", re.IGNORECASE)
_TEXT_FORMATS = (
    "%d %b %Y",
    "%d %B %Y",
    "%b %d %Y",
    "%B %d %Y",
    "%d %b %Y %H:%M",
    "%d %B %Y %H:%M",
    "%b %d %Y %H:%M",
    "%B %d %Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%d.%m.%Y",
)
_DATE_IN_TEXT = re.compile(
    r"\b(?:\d{1,2}(?:st|nd|rd|th)?\s+[A-Z][a-z]{2,8}\.?,?\s+\d{4}"
    r"|[A-Z][a-z]{2,8}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
    r"|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?)\b"
)
# a plausible publication date: not before the web, not more than a day in the future
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=1)
"""A date further ahead than this is not believed: a year-2999 date would pin an item on
top of its feed for good (a day covers time zones and clocks a little ahead)."""


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; naive values are taken to be UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_date(text: str | None, fmt: str | None = None) -> datetime | None:
    """Parse ISO 8601, RFC 822 or a written date ("15th Aug 2021") into aware UTC.

    With ``fmt`` (a ``strptime`` format) only that format is tried. Returns None when the
    text holds no date.
    """
    if not text:
        return None
    text = text.strip()
    if fmt is not None:
        try:
            return as_utc(datetime.strptime(text, fmt))
        except (ValueError, OverflowError):
            return None
    for parse in (_parse_iso, _parse_rfc822, _parse_written):
        value = parse(text)
        if value is not None:
            return value
    return None


def find_date(text: str) -> datetime | None:
    """The first date written in free text such as a date line ("Published 15th Aug 2021")."""
    for match in _DATE_IN_TEXT.finditer(text):
        value = parse_date(match.group(0))
        if value is not None and plausible(value):
            return value
    return None


def plausible(value: datetime, now: datetime | None = None) -> bool:
    """Whether a publication date is believable: after 1990 and not more than a day in the
    future."""
    now = now or datetime.now(UTC)
    return _EARLIEST <= value <= now + FUTURE_TOLERANCE


def _parse_iso(text: str) -> datetime | None:
    candidate = text.replace("Z", "+00:00").replace("z", "+00:00")
    # "+0000" -> "+00:00", which fromisoformat needs on Python 3.11 for some forms
    candidate = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", candidate)
    try:
        return as_utc(datetime.fromisoformat(candidate))
    except (ValueError, OverflowError):  # OverflowError: a date at the end of time, in UTC
        return None


def _parse_rfc822(text: str) -> datetime | None:
    try:
        return as_utc(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _parse_written(text: str) -> datetime | None:
    cleaned = _ORDINAL.sub(r"\1", text)
    cleaned = _MONTH_DOT.sub(r"\1", cleaned).replace(",", " ")
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    for fmt in _TEXT_FORMATS:
        try:
            return as_utc(datetime.strptime(cleaned, fmt))
        except (ValueError, OverflowError):
            continue
    return None
