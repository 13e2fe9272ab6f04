"""Items -> RSS 2.0 and Atom 1.0 files: rendering is pure, writing is atomic.

The only module that imports feedgen. Rendering takes no clock: every date in a feed
comes from its items, so the same items always give the same bytes, and ``write_feed``
leaves a file untouched (same ETag, same modification time) when its bytes did not change.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from feedgen.feed import FeedGenerator

from feeds import __version__
from feeds.config import Feed
from feeds.errors import PublishError
from feeds.models import Item
from feeds.urls import is_web_url

log = logging.getLogger(__name__)

_EMPTY_FEED_DATE = datetime(1970, 1, 1, tzinfo=UTC)
"""The date of a feed with no items yet: fixed, so an empty feed is stable too."""


@dataclass(frozen=True, slots=True)
class FeedFormat:
    """One output format: its name, file suffix and media type."""

    name: str
    suffix: str
    media_type: str


RSS = FeedFormat("rss", ".xml", "application/rss+xml")
ATOM = FeedFormat("atom", ".atom", "application/atom+xml")
FORMATS = (RSS, ATOM)


def file_name(feed_id: str, fmt: FeedFormat) -> str:
    """The file a feed is published to in the output directory."""
    return f"{feed_id}{fmt.suffix}"


def site_url(feed: Feed, base_url: str) -> str:
    """The site a feed comes from: its ``link``, else its first web source's home page."""
    if feed.link:
        return feed.link
    for source in feed.sources:
        if source.url and is_web_url(source.url):
            parts = urlsplit(source.url)
            return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
    return base_url


def render(feed: Feed, items: Sequence[Item], fmt: FeedFormat, *, base_url: str) -> bytes:
    """The feed document in ``fmt`` for ``items`` (newest first), as UTF-8 bytes."""
    generator = _generator(feed, items, fmt, base_url=base_url)
    try:
        if fmt is RSS:
            data: bytes = generator.rss_str(pretty=True)
        else:
            data = generator.atom_str(pretty=True)
    except ValueError as exc:  # lxml refuses text that XML cannot hold
        raise PublishError(f"feed {feed.id}: cannot render {fmt.name}: {exc}") from exc
    return data


def publish(
    feed: Feed, items: Sequence[Item], *, output_dir: Path, base_url: str
) -> tuple[str, ...]:
    """Render every format and write those whose bytes changed; returns the files written."""
    written = []
    for fmt in FORMATS:
        name = file_name(feed.id, fmt)
        if write_if_changed(output_dir / name, render(feed, items, fmt, base_url=base_url)):
            written.append(name)
    return tuple(written)


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically replace ``path`` with ``data`` unless it already holds exactly that.

    The bytes go to a temporary file in the same directory, are flushed to disk, and the
    file is renamed over the old one: a reader sees the old file or the new one, never a
    half-written one, whatever happens to this process.
    """
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise PublishError(f"cannot read {path}: {exc.strerror}") from exc
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).chmod(0o644)
        Path(temporary).replace(path)
        temporary = None
        _fsync_directory(path.parent)
    except OSError as exc:
        raise PublishError(
            f"cannot write {path}: {exc.strerror or exc}; check that the output directory "
            "exists, is writable and has free space"
        ) from exc
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
    return True


def _fsync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # not supported on every file system; the rename is still atomic
    finally:
        os.close(descriptor)


def _generator(
    feed: Feed, items: Sequence[Item], fmt: FeedFormat, *, base_url: str
) -> FeedGenerator:
    self_url = base_url + file_name(feed.id, fmt)
    updated = max((item.updated for item in items), default=_EMPTY_FEED_DATE)
    generator = FeedGenerator()
    generator.load_extension("dc", atom=False, rss=True)
    generator.load_extension("media", atom=True, rss=True)
    generator.id(base_url + file_name(feed.id, ATOM))
    generator.title(feed.title)
    generator.description(feed.description)
    # feedgen makes the last link added the RSS channel link: the site goes last
    generator.link(href=self_url, rel="self", type=fmt.media_type)
    generator.link(href=site_url(feed, base_url), rel="alternate")
    if feed.language:
        generator.language(feed.language)
    generator.generator("feeds", version=__version__)
    generator.updated(updated)
    generator.lastBuildDate(updated)
    generator.ttl(max(1, int(feed.interval.total_seconds() // 60)))
    for item in items:
        _add_entry(generator, item)
    return generator


def _add_entry(generator: FeedGenerator, item: Item) -> None:
    entry = generator.add_entry(order="append")
    entry.id(item.id)
    entry.guid(item.id, permalink=False)
    entry.title(item.title)
    entry.link(href=item.url, rel="alternate")
    entry.published(item.published)
    entry.updated(item.updated)
    if item.author:
        entry.author({"name": item.author})
        entry.dc.dc_creator(item.author)
    # content first: description(isSummary=True) then sets only the summary
    entry.content(item.content_html, type="html")
    entry.description(item.summary or item.title, isSummary=True)
    for category in item.categories:
        entry.category(term=category)
    if item.image:
        entry.media.content({"url": item.image, "medium": "image"})
