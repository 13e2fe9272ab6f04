"""The service's metrics, in the Prometheus text format (``GET /metrics``): runs, items,
failures and run times per feed; requests and their times; extraction times. The only
module that imports prometheus_client."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from feeds.extraction.workers import ArticleOutcome
from feeds.models import RunReport
from feeds.run.policy import run_result

_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    """What the service counts, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
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
