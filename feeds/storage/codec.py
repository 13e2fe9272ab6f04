"""How the database stores share their values: a near-duplicate sketch as bytes, a run's
errors as JSON."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from feeds.models import Page, RunReport
from feeds.storage.interface import StoredPage, document_etag


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


PAGE_COLUMNS = "item_id, source, url, final_url, content_type, encoding, fetched_at, body"
"""The columns of a kept page's row, in the order ``page_values`` gives them."""


def page_values(item_id: str, source: str, page: Page, fetched_at: object) -> tuple[object, ...]:
    """A kept page's row (``PAGE_COLUMNS``), its body compressed; ``fetched_at`` as the
    store keeps times."""
    return (
        item_id,
        source,
        page.url,
        page.final_url,
        page.content_type,
        page.encoding,
        fetched_at,
        zlib.compress(page.body, 6),
    )


def stored_page(row: tuple[Any, ...], fetched_at: datetime) -> StoredPage:
    """A kept page from its row (``PAGE_COLUMNS``), ``fetched_at`` read back as a time."""
    item_id, source, url, final_url, content_type, encoding, _, body = row
    page = Page(
        url=url,
        final_url=final_url,
        status=200,
        content_type=content_type,
        body=zlib.decompress(bytes(body)),
        encoding=encoding,
        fetched_at=fetched_at,
    )
    return StoredPage(item_id, source, page)


def changed_documents(
    documents: Mapping[str, bytes], etags: Mapping[str, str]
) -> list[tuple[str, bytes, str]]:
    """Of ``documents``, those whose ETag differs from the kept one (``etags`` by name):
    ``(name, body, etag)``, in order."""
    changed = []
    for name, body in documents.items():
        etag = document_etag(body)
        if etags.get(name) != etag:
            changed.append((name, body, etag))
    return changed
