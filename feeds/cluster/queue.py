"""The queue of feed runs of a cluster: Celery, with a Redis or RabbitMQ broker
(``settings.cluster.broker``). The only module that imports Celery.

The scheduler (``feeds run``) sends one message per due run: the feed's id and the time
it was due. A worker (``feeds worker``) acknowledges a message only once the run is over
(late acknowledgement): a worker killed in the middle of a run leaves its message
unacknowledged; RabbitMQ gives it to another worker as soon as the dead worker's
connection drops, Redis once the visibility timeout has passed. The run is redone; items
are stored by URL, so nothing is duplicated. A message whose run is already done
(``Store.due_run_done``) is acknowledged without running; one whose feed is running
elsewhere is put back for a little later, and one that met the database away is put back
with a growing delay (never counted as the feed's failure). A message lost with the
broker is sent again by the scheduler (its schedule is kept in the database).

Workers send Celery's events (Flower sees them) and, with RabbitMQ, answer its remote
control (``celery inspect ping``)."""

from __future__ import annotations

import logging
import os
import socket
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

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
UNAVAILABLE_RETRY_SECONDS = (2, 60)
"""The first and the longest delay before a run that met the database away is tried again
(doubling in between)."""


def worker_name() -> str:
    """This worker's name, as Celery, Flower and ``feeds status`` show it."""
    return f"feeds-{os.getpid()}@{socket.gethostname()}"


def celery_app(settings: Settings) -> Celery:
    """The Celery application of a cluster's settings."""
    cluster = settings.cluster
    assert cluster is not None, "not a cluster's settings"
    app = Celery("feeds", broker=cluster.broker, set_as_current=False)
    visibility = cluster.visibility_timeout.total_seconds()
    redis_options = {
        "visibility_timeout": visibility,
        "unacked_restore_interval": RESTORE_INTERVAL_SECONDS,
        "unacked_restore_throttle": 1,
        "global_keyprefix": f"{cluster.prefix}:queue:",
    }
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
        broker_transport_options=redis_options if cluster.redis_broker else {},
        task_queue_durable=True,  # RabbitMQ keeps the queue (and its messages) on disk
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # wait for Redis however long it is away
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        # Celery's events (Flower) and, with RabbitMQ, its remote control (`celery
        # inspect`): kombu's consumer of Redis's fan-out dies with a Redis restart (seen:
        # the worker stops with "Unrecoverable error"), so over Redis it stays off
        worker_enable_remote_control=not cluster.redis_broker,
        worker_send_task_events=True,
        task_send_sent_event=True,
        control_exchange=f"{cluster.prefix}.control",
        event_exchange=f"{cluster.prefix}.events",
    )
    return app


class Dispatcher:
    """The scheduler's side: sends the due runs to the queue."""

    def __init__(self, settings: Settings) -> None:
        self.app = celery_app(settings)

    def enqueue(self, feed_id: str, due: datetime) -> None:
        """Ask the cluster for one run of ``feed_id``, due at ``due``. The broker being
        away a moment is waited out (about two seconds); longer, the error is raised and
        the scheduler sends the run again at its next tick."""
        self.app.send_task(
            RUN_TASK,
            args=[feed_id, due.astimezone(UTC).isoformat()],
            retry=True,
            retry_policy={
                "max_retries": 3,
                "interval_start": 0.2,
                "interval_step": 0.4,
                "interval_max": 1,
            },
        )

    def queue_length(self) -> int | None:
        """How many runs wait in the queue (None: the broker cannot say now)."""
        queue = self.app.conf.task_default_queue
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1)
                declared = connection.default_channel.queue_declare(queue=queue, passive=True)
                return int(declared.message_count)
        except Exception as exc:  # the broker away, the queue not made yet
            log.debug("queue length unknown: %s", exc)
            return None

    def workers(self, timeout: float = 1.0) -> list[str]:
        """The workers that answer a ping within ``timeout`` seconds (their names)."""
        try:
            answers = self.app.control.ping(timeout=timeout)
        except Exception as exc:  # the broker away
            log.debug("no ping: %s", exc)
            return []
        return sorted(name for answer in answers for name in answer)

    def close(self) -> None:
        """Give up the connections to the broker."""
        self.app.close()


RunOutcome = Literal["done", "busy", "unavailable", "deferred"]
"""How a run asked for ended: done (or failed, recorded); or not run, to try again later:
its feed running elsewhere, the database away, or its hosts busy with other runs."""
RunDue = Callable[[str, datetime, int], RunOutcome]
"""Runs a feed for its due time; the third argument says how many times the run was put
back already."""
DEFER_SECONDS = 2
"""How soon a run put back because its hosts were busy is tried again."""


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

    first, longest = UNAVAILABLE_RETRY_SECONDS

    @app.task(name=RUN_TASK, bind=True, max_retries=None)  # type: ignore[untyped-decorator]
    def run_feed(task: Task[Any, Any], feed_id: str, due: str) -> None:
        outcome = run_due(feed_id, datetime.fromisoformat(due), task.request.retries)
        if outcome == "deferred":
            raise task.retry(countdown=DEFER_SECONDS)
        if outcome == "busy":
            raise task.retry(countdown=busy_retry)
        if outcome == "unavailable":
            raise task.retry(countdown=min(longest, first * 2**task.request.retries))

    def stopping(**kwargs: object) -> None:
        on_stop()

    signals.worker_shutting_down.connect(stopping, weak=False)
    # a run goes on when the broker's connection drops (its message is acknowledged on
    # the new connection, or redone and found done): Celery 5 warns of its next default
    warnings.filterwarnings("ignore", category=CPendingDeprecationWarning)
    worker = app.Worker(
        hostname=worker_name(),
        pool_cls="threads",
        concurrency=threads,
        loglevel=logging.getLevelName(logging.getLogger().getEffectiveLevel()),
        quiet=True,
        without_mingle=True,
        without_gossip=True,
        optimization="fair",
    )
    worker.start()
    return int(worker.exitcode or 0)
