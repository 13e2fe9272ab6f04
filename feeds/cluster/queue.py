"""The queue of feed runs of a cluster: Celery, with a Redis broker
(``settings.cluster.broker``). The only module that imports Celery.

The scheduler (``feeds run``) sends one message per due run: the feed's id and the time
it was due. A worker (``feeds worker``) acknowledges a message only once the run is over
(late acknowledgement): a worker killed in the middle of a run leaves its message
unacknowledged, and Redis hands it to another worker once the visibility timeout has
passed. The run is redone; items are stored by URL, so nothing is duplicated. A message
whose run is already done (``Store.due_run_done``) is acknowledged without running, and
one whose feed is running elsewhere (``FeedBusyError``) is sent again a little later."""

from __future__ import annotations

import logging
import os
import socket
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from celery import Celery, Task, signals
from celery.exceptions import CPendingDeprecationWarning

from feeds.config import Settings

log = logging.getLogger(__name__)

RUN_TASK = "feeds.run_feed"
BUSY_RETRY_SECONDS = 30
"""How soon a run whose feed was busy elsewhere is tried again (sooner when the
visibility timeout is shorter)."""
RESTORE_INTERVAL_SECONDS = 1
"""How often a worker looks for runs a dead worker left, past their visibility timeout."""


def celery_app(settings: Settings) -> Celery:
    """The Celery application of a cluster's settings."""
    cluster = settings.cluster
    assert cluster is not None, "not a cluster's settings"
    app = Celery("feeds", broker=cluster.broker, set_as_current=False)
    visibility = cluster.visibility_timeout.total_seconds()
    app.conf.update(
        task_acks_late=True,
        # a worker process that dies mid-run gives its message back rather than ack it
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_default_queue=f"{cluster.prefix}.runs",
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        broker_transport_options={
            "visibility_timeout": visibility,
            "unacked_restore_interval": RESTORE_INTERVAL_SECONDS,
            "unacked_restore_throttle": 1,
            "global_keyprefix": f"{cluster.prefix}:queue:",
        },
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # wait for Redis however long it is away
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_enable_remote_control=False,
    )
    return app


class Dispatcher:
    """The scheduler's side: sends the due runs to the queue."""

    def __init__(self, settings: Settings) -> None:
        self.app = celery_app(settings)

    def enqueue(self, feed_id: str, due: datetime) -> None:
        """Ask the cluster for one run of ``feed_id``, due at ``due``. Redis being away
        a moment (a restart) is waited out; longer, the error is raised."""
        self.app.send_task(
            RUN_TASK,
            args=[feed_id, due.astimezone(UTC).isoformat()],
            retry=True,
            retry_policy={
                "max_retries": 10,
                "interval_start": 0.5,
                "interval_step": 1,
                "interval_max": 5,
            },
        )

    def close(self) -> None:
        """Give up the connections to the broker."""
        self.app.close()


RunDue = Callable[[str, datetime], bool]
"""Runs a feed for its due time; False when the feed runs elsewhere (to try later)."""


def serve_runs(
    settings: Settings,
    run_due: RunDue,
    *,
    threads: int,
    on_stop: Callable[[], None],
) -> int:
    """Run a Celery worker that takes the cluster's feed runs, ``threads`` at once, until
    SIGTERM or SIGINT (running feeds are told to stop, ``on_stop``, then finish).
    Returns the exit status."""
    app = celery_app(settings)
    assert settings.cluster is not None
    busy_retry = min(BUSY_RETRY_SECONDS, settings.cluster.visibility_timeout.total_seconds())

    @app.task(name=RUN_TASK, bind=True, max_retries=None)  # type: ignore[untyped-decorator]
    def run_feed(task: Task[Any, Any], feed_id: str, due: str) -> None:
        if not run_due(feed_id, datetime.fromisoformat(due)):
            raise task.retry(countdown=busy_retry)

    def stopping(**kwargs: object) -> None:
        on_stop()

    signals.worker_shutting_down.connect(stopping, weak=False)
    # a run goes on when the broker's connection drops (its message is acknowledged on
    # the new connection, or redone and found done): Celery 5 warns of its next default
    warnings.filterwarnings("ignore", category=CPendingDeprecationWarning)
    worker = app.Worker(
        hostname=f"feeds-{os.getpid()}@{socket.gethostname()}",
        pool_cls="threads",
        concurrency=threads,
        loglevel=logging.getLevelName(logging.getLogger().getEffectiveLevel()),
        quiet=True,
        without_mingle=True,
        without_gossip=True,
        without_heartbeat=True,
        optimization="fair",
    )
    worker.start()
    return int(worker.exitcode or 0)
