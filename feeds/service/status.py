"""How every feed is doing, from the state: for ``feeds status`` and ``/healthz``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from feeds.config import Config
from feeds.storage.sqlite import Store

NextRun = Callable[[str], datetime | None]


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """One feed: its last run, its items, what is wrong with it."""

    feed: str
    last_run: datetime | None
    result: str
    items: int
    new_last_day: int
    next_run: datetime | None
    failed_runs: int
    last_error: str | None
    broken: dict[str, str]
    """Broken sources, each with why."""
    healthy: bool

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values (dates in ISO 8601, UTC)."""
        data = asdict(self)
        for key in ("last_run", "next_run"):
            value = data[key]
            data[key] = value.astimezone(UTC).isoformat(timespec="seconds") if value else None
        return data


def collect_status(
    config: Config, store: Store, now: datetime, next_run: NextRun | None = None
) -> list[FeedStatus]:
    """The status of every feed of the config. Without ``next_run`` (no scheduler), the
    next run is the last one plus the feed's interval."""
    statuses = []
    for feed in config.feeds.values():
        health = store.feed_health(feed.id, now)
        broken = {
            source: state.broken
            for source, state in store.sources_health(feed.id).items()
            if state.broken and source in {s.location for s in feed.sources}
        }
        if next_run is not None:
            upcoming = next_run(feed.id)
        else:
            upcoming = health.last_run + feed.interval if health.last_run else None
        statuses.append(
            FeedStatus(
                feed=feed.id,
                last_run=health.last_run,
                result=health.last_result,
                items=min(store.count_items(feed.id), feed.max_items),
                new_last_day=health.new_last_day,
                next_run=upcoming,
                failed_runs=health.failed_runs,
                last_error=health.last_error,
                broken=broken,
                healthy=health.failed_runs <= config.settings.unhealthy_after and not broken,
            )
        )
    return statuses
