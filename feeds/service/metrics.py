"""The service's metrics, in the Prometheus text format (``GET /metrics``): runs, items,
failures and run times per feed; requests and their times; extraction times; in a
cluster, runs in progress, runs retried because the database or the broker was away, runs
that could not be recorded, the runs the scheduler sent (and sent again), its last tick and
the queue's length. The only module that imports prometheus_client."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    start_http_server,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from feeds.errors import CannotServeError
from feeds.extraction.workers import ArticleOutcome
from feeds.models import RunReport
from feeds.run.policy import run_result

_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    """What the service counts, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # CPU, memory, open files, start time of the process
        self.runs = Counter(
            "feeds_runs", "Runs of a feed, by result", ["feed", "result"], registry=r
        )
        self.new = Counter("feeds_items_new", "New items stored", ["feed"], registry=r)
        self.updated = Counter("feeds_items_updated", "Items updated", ["feed"], registry=r)
        self.articles_failed = Counter(
            "feeds_articles_failed", "Articles that could not be taken", ["feed"], registry=r
        )
        self.sources_failed = Counter(
            "feeds_sources_failed", "Sources that could not be read", ["feed"], registry=r
        )
        self.items = Gauge("feeds_items", "Items a feed has stored", ["feed"], registry=r)
        self.run_seconds = Histogram(
            "feeds_run_seconds",
            "How long a feed's run took",
            ["feed"],
            buckets=_SECONDS,
            registry=r,
        )
        self.requests = Counter(
            "feeds_requests", "HTTP requests made, by status class", ["status"], registry=r
        )
        self.request_seconds = Histogram(
            "feeds_request_seconds", "How long a request took", buckets=_SECONDS, registry=r
        )
        self.extraction_seconds = Histogram(
            "feeds_extraction_seconds",
            "CPU time to extract an article",
            buckets=_SECONDS,
            registry=r,
        )

        self.in_progress = Gauge(
            "feeds_runs_in_progress", "Runs going on in this process", registry=r
        )
        self.retried = Counter(
            "feeds_runs_retried",
            "Runs put back to be tried later: their feed ran elsewhere (busy), or the "
            "database could not be reached (database)",
            ["reason"],
            registry=r,
        )
        self.unrecorded = Counter(
            "feeds_runs_unrecorded",
            "Runs whose outcome could not be recorded (the database was away)",
            registry=r,
        )
        self.sent = Counter(
            "feeds_runs_sent",
            "Due runs the scheduler sent to the queue (queued), and sent again because "
            "they were not done in time (resent)",
            ["kind"],
            registry=r,
        )
        self.send_failures = Counter(
            "feeds_runs_send_failures", "Due runs the broker did not take", registry=r
        )
        self.last_tick = Gauge(
            "feeds_scheduler_last_tick_seconds",
            "When the scheduler last went through the schedule (Unix time)",
            registry=r,
        )
        self.queue_length = Gauge(
            "feeds_queue_length", "Runs waiting in the cluster's queue", registry=r
        )

    def run(self, report: RunReport) -> None:
        """Count a feed's run."""
        feed = report.feed
        result = run_result(
            report.sources, report.sources_failed, report.failed, report.sources_skipped
        )
        self.runs.labels(feed, result).inc()
        self.new.labels(feed).inc(report.new)
        self.updated.labels(feed).inc(report.updated)
        self.articles_failed.labels(feed).inc(report.failed)
        self.sources_failed.labels(feed).inc(report.sources_failed)
        self.items.labels(feed).set(report.items)
        self.run_seconds.labels(feed).observe(report.duration)

    def request(self, seconds: float, status: int | None) -> None:
        """Count a request (``status`` None: no answer)."""
        self.requests.labels(f"{status // 100}xx" if status else "none").inc()
        self.request_seconds.observe(seconds)

    def extraction(self, outcome: ArticleOutcome) -> None:
        """Count an article's extraction."""
        self.extraction_seconds.observe(outcome.seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The metrics as Prometheus reads them, and their content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def serve(self, host: str, port: int) -> int:
        """Serve ``/metrics`` on ``host``:``port`` (0: a free port) from a thread of its
        own; returns the port."""
        try:
            server, _ = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise CannotServeError(
                "/metrics", host, port, exc, "--metrics-port (or settings.cluster.metrics_port)"
            ) from None
        return int(server.server_port)
