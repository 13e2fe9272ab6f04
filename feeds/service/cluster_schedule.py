"""A cluster's schedule, kept in the state's database (``Store.schedule``): each feed's
next due time is a row, and the run last sent to the queue stays on it until a worker has
done it. The scheduler that holds the cluster's lock goes through the rows every tick:

- a row whose time has come is claimed (its next time set from the feed's trigger, in the
  same statement) and its run sent; a claim is a compare-and-set, so a run is sent once
  even if two schedulers ever overlapped;
- a sent run not done within ``resend_after`` (its message lost with the broker, say) is
  sent again; a run sent twice runs once (workers skip a due run that is done);
- a run the broker refused is sent again at the next tick.

A restart or a failover resumes the stored schedule: only the runs that are overdue are
sent (``run_at_start: false`` moves them to their next time instead), never every feed at
once. The clock is passed in; nothing here waits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger

from feeds.config import Config, Feed
from feeds.schedule import cron_trigger, interval_trigger
from feeds.service.metrics import Metrics
from feeds.storage.interface import Store

log = logging.getLogger(__name__)

MAX_JITTER = timedelta(seconds=30)
_AFTER_NOW = timedelta(microseconds=1)

Send = Callable[[str, datetime], None]
"""Sends one run (feed id, due time) to the queue; raises when the broker refuses it."""


def feed_trigger(
    feed: Feed, jitter: timedelta | None, start: datetime | None = None
) -> BaseTrigger:
    """When ``feed`` is due: its cron expression, or its interval (from ``start``) moved
    by up to ``jitter`` (none: a tenth of the interval, 30 s at most)."""
    if feed.cron:
        return cron_trigger(feed.cron)
    if jitter is None:
        jitter = min(MAX_JITTER, feed.interval / 10)
    return interval_trigger(feed.interval, jitter, start=start)


@dataclass(frozen=True, slots=True)
class Tick:
    """What one pass over the schedule did."""

    sent: tuple[tuple[str, datetime], ...] = ()
    """The runs sent: feed and due time."""
    resent: tuple[tuple[str, datetime], ...] = ()
    """The runs sent again."""
    settled: int = 0
    refused: str | None = None
    """The broker's refusal, when it refused a run (the rest wait for the next tick)."""


class ClusterSchedule:
    """The schedule of a config's feeds, kept through ``connect``'s store."""

    def __init__(
        self,
        config: Config,
        connect: Callable[[], Store],
        send: Send,
        clock: Callable[[], datetime],
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.connect = connect
        self.send = send
        self.clock = clock
        self.metrics = metrics

    def next_due(self, feed: Feed, after: datetime, now: datetime) -> datetime:
        """The feed's first due time after the one at ``after`` that is later than ``now``."""
        start = after + feed.interval if not feed.cron else None
        trigger = feed_trigger(feed, self.config.settings.jitter, start)
        upcoming = trigger.get_next_fire_time(None, now + _AFTER_NOW)
        assert upcoming is not None, "a feed's trigger always fires again"
        return upcoming  # type: ignore[no-any-return]

    def resume(self) -> None:
        """Bring the stored schedule in line with the config (a scheduler taking over):
        feeds new to it are due now (``run_at_start``) or after their interval, feeds no
        longer in the config leave it, and those overdue stay so (sent at the next tick)
        unless ``run_at_start`` is off, which moves them to their next time."""
        now = self.clock()
        at_start = self.config.settings.run_at_start
        with self.connect() as store, store.transaction():
            rows = {row.feed: row for row in store.schedule()}
            store.unschedule(rows.keys() - self.config.feeds.keys())
            for feed in self.config.feeds.values():
                row = rows.get(feed.id)
                if row is None:
                    store.schedule_feed(feed.id, now if at_start else self.next_due(feed, now, now))
                elif row.next_due <= now and not at_start:
                    store.schedule_feed(feed.id, self.next_due(feed, row.next_due, now))

    def follow(
        self, config: Config, added: Iterable[Feed], removed: Iterable[str], changed: Iterable[Feed]
    ) -> None:
        """Take up a reloaded config: added feeds are due now, removed ones leave the
        schedule, changed ones are due at their new trigger's next time."""
        self.config = config
        now = self.clock()
        with self.connect() as store, store.transaction():
            store.unschedule(removed)
            for feed in added:
                store.schedule_feed(feed.id, now)
            for feed in changed:
                store.schedule_feed(feed.id, self.next_due(feed, now, now))

    def run_now(self, feed_id: str) -> bool:
        """Make a feed due now (``feeds refresh``); False when it is not in the config."""
        if feed_id not in self.config.feeds:
            return False
        with self.connect() as store:
            store.schedule_feed(feed_id, self.clock())
        return True

    def next_runs(self) -> dict[str, datetime]:
        """Each scheduled feed's next due time."""
        with self.connect() as store:
            return {row.feed: row.next_due for row in store.schedule()}

    def tick(self) -> Tick:
        """Send the runs whose time has come, and again those sent long ago and not done."""
        now = self.clock()
        cluster = self.config.settings.cluster
        assert cluster is not None, "not a cluster's config"
        grace = cluster.resend_after
        sent: list[tuple[str, datetime]] = []
        resent: list[tuple[str, datetime]] = []
        with self.connect() as store:
            settled = store.settle_done()
            for row in store.schedule():
                feed = self.config.feeds.get(row.feed)
                if feed is None:
                    continue
                if row.next_due <= now:
                    claimed = store.claim_due(
                        feed.id, row.next_due, self.next_due(feed, row.next_due, now), now
                    )
                    due, sending = row.next_due, sent
                elif row.sent_due is not None:
                    claimed = store.claim_resend(feed.id, row.sent_due, now, now - grace)
                    due, sending = row.sent_due, resent
                else:
                    continue
                if not claimed:
                    continue
                try:
                    self.send(feed.id, due)
                except Exception as exc:  # the broker away: sent again at the next tick
                    store.unsend(feed.id, due)
                    if self.metrics is not None:
                        self.metrics.send_failures.inc()
                    return Tick(tuple(sent), tuple(resent), settled, str(exc) or type(exc).__name__)
                sending.append((feed.id, due))
        if self.metrics is not None:
            self.metrics.sent.labels("queued").inc(len(sent))
            self.metrics.sent.labels("resent").inc(len(resent))
            self.metrics.last_tick.set(now.timestamp())
        return Tick(tuple(sent), tuple(resent), settled)
