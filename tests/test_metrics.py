"""The service's metrics: counted from runs, requests and extractions, served as
Prometheus text on /metrics."""

from __future__ import annotations

import http.client
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from feeds.extraction.workers import ArticleOutcome
from feeds.models import RunError, RunReport
from feeds.service.metrics import Metrics
from feeds.service.server import DirectorySource, FeedServer


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, _ = metrics.exposition()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def test_runs_requests_and_extractions_are_counted() -> None:
    metrics = Metrics()
    metrics.run(RunReport(feed="news", new=3, updated=1, sources=1, duration=2.0, items=12))
    metrics.run(
        RunReport(feed="news", sources=1, sources_failed=1, errors=(RunError("s", "u", "m"),))
    )
    metrics.request(0.2, 200)
    metrics.request(5.0, None)
    metrics.extraction(ArticleOutcome(seconds=0.04))
    seen = samples(metrics)
    assert seen["feeds_runs_total", (("feed", "news"), ("result", "ok"))] == 1
    assert seen["feeds_runs_total", (("feed", "news"), ("result", "failed"))] == 1
    assert seen["feeds_items_new_total", (("feed", "news"),)] == 3
    assert seen["feeds_items_updated_total", (("feed", "news"),)] == 1
    assert seen["feeds_sources_failed_total", (("feed", "news"),)] == 1
    assert seen["feeds_items", (("feed", "news"),)] == 0  # the last run's count
    assert seen["feeds_run_seconds_count", (("feed", "news"),)] == 2
    assert seen["feeds_requests_total", (("status", "2xx"),)] == 1
    assert seen["feeds_requests_total", (("status", "none"),)] == 1
    assert seen["feeds_extraction_seconds_count", ()] == 1


def test_the_server_serves_them(tmp_path: Path) -> None:
    metrics = Metrics()
    metrics.request(0.1, 304)
    server = FeedServer(
        DirectorySource(tmp_path),
        host="127.0.0.1",
        port=0,
        health=lambda: (True, {}),
        metrics=metrics.exposition,
    )
    server.start()
    try:
        connection = http.client.HTTPConnection(*server.address, timeout=5)
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        body = response.read().decode()
    finally:
        server.stop()
    assert response.status == 200
    assert response.getheader("Content-Type", "").startswith("text/plain; version=")
    assert 'feeds_requests_total{status="3xx"} 1.0' in body
