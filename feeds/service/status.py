"""How every feed is doing, from the state: for ``feeds status`` and ``/healthz``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from feeds.config import Config, Feed
from feeds.publishing.channel import FeedFormat
from feeds.publishing.outlets import feed_document_names
from feeds.run.policy import failed_in_a_row, run_result
from feeds.run.publish import feed_formats, on_demand_feeds, outlet_for
from feeds.storage.interface import RunRecord, ScheduledRun, SourceHealth, Store, WorkerSeen

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
    config: Config,
    store: Store,
    now: datetime,
    next_run: NextRun | None = None,
    feeds: Iterable[Feed] | None = None,
) -> list[FeedStatus]:
    """The status of every feed of the config (or of ``feeds``: the config's and those
    made on demand). Without ``next_run`` (no scheduler), the next run is the last one plus
    the feed's interval. Source URLs and errors are shown without the config's secrets
    (``/healthz`` is public)."""
    redact = config.redactor
    statuses = []
    for feed in config.feeds.values() if feeds is None else feeds:
        runs = store.recent_runs(feed.id, _RUNS_READ)
        last = runs[0] if runs else None
        failed_runs = failed_in_a_row([_result(run) for run in runs])
        configured = {source.location for source in feed.sources}
        health = {
            source: state
            for source, state in store.sources_health(feed.id).items()
            if source in configured
        }
        broken = {
            redact(source): redact(state.broken) for source, state in health.items() if state.broken
        }
        if next_run is not None:
            upcoming = next_run(feed.id)
        else:
            upcoming = last.started + feed.interval if last else None
        upcoming = _first_real_run(upcoming, [health.get(s) for s in configured])
        statuses.append(
            FeedStatus(
                feed=feed.id,
                last_run=last.started if last else None,
                result=_result(last) if last else "never run",
                items=min(store.count_items(feed.id), feed.max_items),
                new_last_day=store.new_items_since(feed.id, now - timedelta(days=1)),
                next_run=upcoming,
                failed_runs=failed_runs,
                last_error=redact(last.first_error) if last and last.first_error else None,
                broken=broken,
                healthy=failed_runs <= config.settings.unhealthy_after and not broken,
            )
        )
    return statuses


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """One feed as ``/status`` shows it: its status, and the files it has."""

    status: FeedStatus
    formats: tuple[FeedFormat, ...]
    published: bool
    """Whether its files are there to link to."""
    on_demand: bool = False


def feed_statuses(
    config: Config, store: Store, now: datetime, next_run: NextRun | None = None
) -> list[StatusEntry]:
    """Every feed's status (those made on demand too, which are last), with its files."""
    every = [*config.feeds.values(), *on_demand_feeds(config, store)]
    outlet = outlet_for(config.settings, store)
    entries = []
    for feed, status in zip(
        every, collect_status(config, store, now, next_run, every), strict=True
    ):
        formats = tuple(feed_formats(feed))
        published = outlet.in_place(feed_document_names(feed.id, formats))
        entries.append(StatusEntry(status, formats, published, feed.id not in config.feeds))
    return entries


WORKER_GONE_AFTER = timedelta(minutes=1)
"""A worker not heard from for this long is not listed (it says it is there every 10 s)."""


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """What a cluster's schedule, queue and workers are doing."""

    queue_length: int | None
    """Runs waiting in the queue (None: the broker could not say)."""
    workers: list[WorkerSeen]
    sent: list[ScheduledRun]
    """Runs sent to the queue and not done yet."""
    resent: int
    """Of those, how many were sent more than once (lost, or long in the queue)."""

    @property
    def unrecorded(self) -> int:
        """Runs the workers listed could not record (the database away)."""
        return sum(worker.unrecorded for worker in self.workers)

    def lines(self, now: datetime) -> list[str]:
        """What ``feeds status`` says of the cluster."""
        queue = "unknown (broker away)" if self.queue_length is None else str(self.queue_length)
        workers = ", ".join(
            f"{w.name} ({w.running} running, seen {(now - w.seen).total_seconds():.0f}s ago)"
            for w in self.workers
        )
        lines = [
            f"cluster: {queue} runs queued; workers: {workers or 'none seen in the last minute'}",
            f"cluster: {len(self.sent)} runs sent and not done yet ({self.resent} sent again)",
        ]
        if self.unrecorded:
            lines.append(
                f"cluster: {self.unrecorded} runs could not be recorded (the database was away); "
                "each was tried again"
            )
        return lines


def collect_cluster_status(store: Store, now: datetime, queue_length: int | None) -> ClusterStatus:
    """The cluster's side of ``feeds status``, from the state (and the queue's length)."""
    sent = [row for row in store.schedule() if row.sent_due is not None]
    return ClusterStatus(
        queue_length=queue_length,
        workers=store.workers_seen(now - WORKER_GONE_AFTER),
        sent=sent,
        resent=sum(1 for row in sent if row.sends > 1),
    )


_RUNS_READ = 100
"""Runs read to count the failed ones in a row (more is reported as 100)."""


def _result(run: RunRecord) -> str:
    return run_result(run.sources, run.sources_failed, run.failed, run.sources_skipped)


def _first_real_run(
    upcoming: datetime | None, sources: list[SourceHealth | None]
) -> datetime | None:
    """When the feed next reads a source: its next run, or, when every source waits for
    its next attempt past that, the first of those attempts (the runs before read none)."""
    waits = [health.next_attempt if health else None for health in sources]
    if upcoming is None or not waits or any(w is None or w <= upcoming for w in waits):
        return upcoming
    return min(w for w in waits if w is not None)
