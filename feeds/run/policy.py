"""What a run decides, as pure functions of what it found and what the state knows: no
I/O, no clock (times are passed in), so tests reach every rule without servers."""

from __future__ import annotations

from datetime import datetime, timedelta

BACKOFF_LIMIT = timedelta(days=1)


def run_result(sources: int, sources_failed: int, failed_articles: int) -> str:
    """``ok``, ``partial`` (some sources or articles failed) or ``failed`` (no source
    could be read)."""
    if sources and sources_failed == sources:
        return "failed"
    return "partial" if sources_failed or failed_articles else "ok"


def next_attempt(
    failures: int, interval: timedelta, now: datetime, retry_after: float | None = None
) -> datetime | None:
    """When a source that has now failed ``failures`` times in a row is tried next.

    After one failure it keeps its schedule (None); then it waits 2, 4, 8... intervals, at
    most a day; never sooner than the server's Retry-After.
    """
    when = None
    if failures >= 2:
        when = now + min(interval * (1 << min(failures - 1, 16)), BACKOFF_LIMIT)
    if retry_after:
        pause = now + timedelta(seconds=retry_after)
        when = max(when, pause) if when else pause
    return when


def edit_date(stored_hash: str, now: datetime) -> datetime | None:
    """The new ``updated`` date of a stored item whose content changed: now; None (the
    date stays) for an item stored before hashes were kept, whose first check is not an
    edit readers should see."""
    return now if stored_hash else None
