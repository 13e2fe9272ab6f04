"""How every feed is doing, from the state: for ``feeds status`` and ``/healthz``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from feeds.config import Config
from feeds.run.policy import run_result
from feeds.storage.interface import RunRecord, Store

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
        runs = store.recent_runs(feed.id, _RUNS_READ)
        last = runs[0] if runs else None
        failed_runs = _failed_in_a_row(runs)
        broken = {
            source: state.broken
            for source, state in store.sources_health(feed.id).items()
            if state.broken and source in {s.location for s in feed.sources}
        }
        if next_run is not None:
            upcoming = next_run(feed.id)
        else:
            upcoming = last.started + feed.interval if last else None
        statuses.append(
            FeedStatus(
                feed=feed.id,
                last_run=last.started if last else None,
                result=run_result(last.sources, last.sources_failed, last.failed)
                if last
                else "never run",
                items=min(store.count_items(feed.id), feed.max_items),
                new_last_day=store.new_items_since(feed.id, now - timedelta(days=1)),
                next_run=upcoming,
                failed_runs=failed_runs,
                last_error=last.first_error if last else None,
                broken=broken,
                healthy=failed_runs <= config.settings.unhealthy_after and not broken,
            )
        )
    return statuses


_RUNS_READ = 100
"""Runs read to count the failed ones in a row (more is reported as 100)."""


def _failed_in_a_row(runs: list[RunRecord]) -> int:
    """Runs in a row, up to the last one, in which no source could be read."""
    count = 0
    for run in runs:
        if run_result(run.sources, run.sources_failed, run.failed) != "failed":
            break
        count += 1
    return count
