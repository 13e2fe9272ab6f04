"""What a run decides, as pure functions of what a source yielded, what the state knows
and how the articles went: no I/O and no clock (times are passed in), so tests reach
every rule without servers or a database. ``run/feed.py`` gathers the facts and applies
the decisions (``run/changes.py``), one transaction per source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from feeds.errors import ExtractionError, FetchError, SourceError
from feeds.models import Link
from feeds.storage.interface import SourceHealth

BACKOFF_LIMIT = timedelta(days=1)
"""The longest a failing source waits before it is tried again."""
GIVE_UP_AFTER_RUNS = 3
"""Runs in which a new article fails for a lasting reason before the feed gives up on it."""
BROKEN_AFTER_FAILED_ARTICLES = 2
"""New articles of a source that must all fail, in one run, for it to be called broken."""


def run_result(
    sources: int, sources_failed: int, failed_articles: int, sources_skipped: int = 0
) -> str:
    """``ok``; ``partial`` (some sources or articles failed, or waited); ``failed`` (no
    source could be read, one at least failing now); ``waiting`` (every source waits
    for its next attempt after failing: nothing was tried)."""
    if sources and sources_skipped == sources:
        return "waiting"
    if sources and sources_failed + sources_skipped == sources:
        return "failed"
    return "partial" if sources_failed or sources_skipped or failed_articles else "ok"


def failed_in_a_row(results: Sequence[str]) -> int:
    """Of runs' results, the latest first: how many runs in a row, up to the last one,
    failed. Runs in which every source waited are no news either way: passed over."""
    count = 0
    for result in results:
        if result == "waiting":
            continue
        if result != "failed":
            break
        count += 1
    return count


# a source, before it is read


def skip_reason(health: SourceHealth, now: datetime, key: str) -> str | None:
    """Why a failing source is not read in this run (it waits for its next attempt), or
    None when it is read: its time has come, or its configuration changed since it
    failed (``key``, ``source_key``'s: a fix is tried at once)."""
    if health.next_attempt is None or health.next_attempt <= now:
        return None
    if health.failed_config != key:
        return None
    return (
        f"skipped: {health.failures} failures in a row (last: {health.last_error}); "
        f"next attempt after {health.next_attempt:%Y-%m-%d %H:%M} UTC "
        "(`feeds once --retry` tries it now)"
    )


def source_key(source: object, rules: str) -> str:
    """A key of everything that decides which links a source yields and keeps (its
    configuration and the feed's rules): validators saved under another key cannot say
    "nothing new"."""
    return hashlib.sha256(f"{source!r} {rules}".encode()).hexdigest()[:16]


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


def retry_after(error: SourceError) -> float | None:
    """The pause a server asked for with its error (Retry-After), if any."""
    return error.retry_after if isinstance(error, FetchError) else None


# what a source yielded


@dataclass(frozen=True, slots=True)
class LinksVerdict:
    """What the links a source yielded say about it."""

    broken: str | None
    """Why it is broken now (it yielded none where it yielded some), if it is."""
    failure: str | None
    """Why this reading failed (a listing without links), if it did: the run goes no
    further with the source."""


def links_verdict(
    links: int, empty_fails: bool, health: SourceHealth, selector: str | None, location: str
) -> LinksVerdict:
    """Judge the article links a source's pages yielded (``links`` of them). None where
    there were some marks it broken; none where its kind says an empty reading fails (a
    listing; an empty feed or sitemap can be just that) is a failure too."""
    broken = None
    if not links and health.links_seen:
        broken = (
            f"yielded no article links, after {health.links_seen} last time: the site may "
            "have changed its pages; check the source (`feeds preview --source URL`)"
        )
    if links or not empty_fails:
        return LinksVerdict(broken, None)
    if selector:
        what, hint = f"its `links` selector {selector!r} matched nothing", "check it"
    else:
        what, hint = "no article links found", "set a `links` selector"
    return LinksVerdict(broken, f"{what}; {hint} (`feeds preview --source {location}`)")


@dataclass(frozen=True, slots=True)
class LinkPlan:
    """Which of a source's links this run fetches."""

    new: list[Link]
    """Links to no known item and not left out before, within the run's budget."""
    unchanged: int
    """Known links whose item was not re-checked in this run."""
    budget: int | None
    """New articles the run may still take after these (None: no limit)."""
    postponed: int
    """New links left for a later run (the budget ran out)."""


def plan_links(
    links: Sequence[Link],
    known: Mapping[str, str],
    refreshed: Mapping[str, bool],
    budget: int | None,
) -> LinkPlan:
    """Split a source's links into the new ones to fetch (in the source's order, at most
    ``budget``) and the known ones. ``known`` maps a known URL to its item's id ("" when
    it was left out); ``refreshed`` holds the ids re-checked in this run (counted there)."""
    unchanged = sum(1 for item_id in known.values() if item_id not in refreshed)
    new = [link for link in links if link.url not in known]
    if budget is None:
        return LinkPlan(new, unchanged, None, 0)
    taken = new[:budget]
    return LinkPlan(taken, unchanged, budget - len(taken), len(new) - len(taken))


# how its articles went


def articles_broken(extracted: int, failed_extractions: int) -> str | None:
    """Why a source is broken when none of its new articles could be extracted (and at
    least ``BROKEN_AFTER_FAILED_ARTICLES`` were tried), else None (it works)."""
    if extracted or failed_extractions < BROKEN_AFTER_FAILED_ARTICLES:
        return None
    return (
        f"none of its {failed_extractions} new articles could be extracted: the article "
        "pages may have changed; check the feed's `extract` rules (`feeds preview URL`)"
    )


def keeps_validators(articles_complete: bool, pages_complete: bool, postponed: int) -> bool:
    """Whether the source pages' validators are saved: only when every new article was
    taken and every page read, since a page answered 304 next time is not read again
    (what was left out would never be found)."""
    return articles_complete and pages_complete and not postponed


def lasting(error: SourceError) -> bool:
    """Whether an article's failure is likely to happen again: no article on its page (or
    one too slow or too broken to extract), or an HTTP 4xx other than 408 and 429; not a
    network error or a server's 5xx, which pass."""
    if isinstance(error, ExtractionError):
        return True
    status = error.status if isinstance(error, FetchError) else None
    return status is not None and 400 <= status < 500 and status not in (408, 429)


def give_up_reason(error: SourceError, failures_before: int) -> str | None:
    """Why the feed gives up on a new article that failed again (its failures in earlier
    runs: ``failures_before``): at the ``GIVE_UP_AFTER_RUNS``th run with a lasting
    failure. None while it is still tried again on later runs."""
    failures = failures_before + 1
    if not lasting(error) or failures < GIVE_UP_AFTER_RUNS:
        return None
    return f"{error.message}; given up after it failed in {failures} runs"


def edit_date(stored_hash: str, now: datetime) -> datetime | None:
    """The new ``updated`` date of a stored item whose content changed: now; None (the
    date stays) for an item stored before hashes were kept, whose first check is not an
    edit readers should see."""
    return now if stored_hash else None
