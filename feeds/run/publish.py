"""Publishing a configured feed from the state: its channel made from the config, its
items read from the store, its files written when they changed, the hub told; and the
output directory's index and OPML files."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from feeds.config import Config, Feed, Settings
from feeds.errors import FetchError, PublishError
from feeds.fetching.client import Fetcher
from feeds.publishing.channel import EMPTY_FEED_DATE, Channel, FeedFormat, file_name, page_name
from feeds.publishing.files import files_in_place, publication_key, publish, write_if_changed
from feeds.publishing.formats import FORMATS
from feeds.publishing.pages import Listing, opml_name, render_index, render_opml
from feeds.storage.interface import Store
from feeds.urls import is_web_url

log = logging.getLogger(__name__)


def feed_formats(feed: Feed) -> list[FeedFormat]:
    """The formats a feed is published in, in its configured order."""
    return [FORMATS[name] for name in feed.formats]


def site_url(feed: Feed, base_url: str) -> str:
    """The site a feed comes from: its ``link``, else its first web source's home page."""
    if feed.link:
        return feed.link
    for source in feed.sources:
        if source.url and is_web_url(source.url):
            parts = urlsplit(source.url)
            return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
    return base_url


def channel_for(
    feed: Feed, settings: Settings, *, updated: datetime | None, icon: str | None = None
) -> Channel:
    """The channel of a configured feed whose newest item was updated at ``updated``."""
    return Channel(
        feed_id=feed.id,
        title=feed.title,
        description=feed.description,
        site_url=site_url(feed, settings.base_url),
        base_url=settings.base_url,
        updated=updated or EMPTY_FEED_DATE,
        ttl_minutes=max(1, int(feed.interval.total_seconds() // 60)),
        language=feed.language,
        icon=feed.icon or icon,
        hub=settings.websub_hub,
    )


def publish_feed(feed: Feed, *, settings: Settings, store: Store) -> tuple[str, ...]:
    """Write the feed's files from its stored items; returns the files that changed.

    When neither the items nor the channel changed since the files were last written,
    and the files are all there, nothing is read or written (the steady state). The key
    of what was written is stored only once the files are in place: after a failed write
    the next run writes them again."""
    updated, items = store.newest_state(feed.id, feed.max_items)
    channel = channel_for(feed, settings, updated=updated, icon=store.feed_icon(feed.id))
    formats = feed_formats(feed)
    key = publication_key(channel, formats, items)
    if store.published_key(feed.id) == key and files_in_place(
        channel, formats, settings.output_dir
    ):
        return ()
    written = publish(
        channel, store.iter_items(feed.id, feed.max_items), formats, settings.output_dir
    )
    with store.transaction():
        store.set_published_key(feed.id, key)
    return written


def remove_feed_files(output_dir: Path, feed: Feed) -> list[str]:
    """Delete a feed's files (in every format, and its page) from the output directory;
    returns the names deleted."""
    names = [file_name(feed.id, fmt) for fmt in FORMATS.values()] + [page_name(feed.id)]
    removed = []
    for name in names:
        try:
            (output_dir / name).unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise PublishError(f"cannot delete {output_dir / name}: {exc.strerror}") from exc
        removed.append(name)
    return removed


def publish_index(config: Config, store: Store) -> tuple[str, ...]:
    """Write ``index.html`` and the OPML files listing every feed of the config."""
    settings = config.settings
    listings = []
    for feed in config.feeds.values():
        channel = channel_for(
            feed,
            settings,
            updated=store.newest_update(feed.id, feed.max_items),
            icon=store.feed_icon(feed.id),
        )
        formats = tuple(feed_formats(feed))
        listings.append(
            Listing(
                channel=channel,
                formats=formats,
                items=min(store.count_items(feed.id), feed.max_items),
                published=files_in_place(channel, formats, settings.output_dir),
            )
        )
    files = {"index.html": render_index(listings)}
    for fmt in (None, *FORMATS.values()):
        files[opml_name(fmt)] = render_opml(listings, fmt)
    return tuple(
        name for name, data in files.items() if write_if_changed(settings.output_dir / name, data)
    )


def ping_hub(
    hub: str, feed: Feed, settings: Settings, written: tuple[str, ...], fetcher: Fetcher
) -> None:
    """Tell the WebSub hub which of the feed's files changed; a failure is only logged."""
    topics = [
        settings.base_url + file_name(feed.id, fmt)
        for fmt in feed_formats(feed)
        if file_name(feed.id, fmt) in written
    ]
    try:
        fetcher.ping_hub(hub, topics)
    except FetchError as error:
        log.warning("feed %s: %s (%s)", feed.id, error.message, hub)
