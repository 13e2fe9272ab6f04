"""How the database stores share their values: a near-duplicate sketch as bytes, a run's
errors as JSON."""

from __future__ import annotations

import json
import struct

from feeds.models import RunReport


def pack_sketch(sketch: tuple[int, ...]) -> bytes:
    """A sketch of 64-bit hashes as bytes (big-endian)."""
    return struct.pack(f">{len(sketch)}Q", *sketch)


def unpack_sketch(blob: bytes) -> tuple[int, ...]:
    """The inverse of ``pack_sketch``."""
    return struct.unpack(f">{len(blob) // 8}Q", bytes(blob))


def errors_json(report: RunReport) -> str:
    """A run's errors as the stores keep them."""
    errors = [{"source": e.source, "url": e.url, "message": e.message} for e in report.errors]
    return json.dumps(errors, ensure_ascii=False)


def first_error(errors: str) -> str | None:
    """The first of a run's errors as kept (``errors_json``): ``url: message``."""
    messages = json.loads(errors)
    return f"{messages[0]['url']}: {messages[0]['message']}" if messages else None


RUN_COLUMNS = (
    "feed, duration, new, updated, unchanged, skipped, failed, sources, sources_failed, "
    "errors, sources_skipped"
)
"""The columns of a run's row but its start, in the order ``run_values`` gives them."""


def run_values(report: RunReport) -> tuple[object, ...]:
    """A run's row but its start (``RUN_COLUMNS``)."""
    return (
        report.feed,
        report.duration,
        report.new,
        report.updated,
        report.unchanged,
        report.skipped,
        report.failed,
        report.sources,
        report.sources_failed,
        errors_json(report),
        report.sources_skipped,
    )
