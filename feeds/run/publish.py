"""Publishing a configured feed from the state: its channel made from the config, its
items read from the store, its files written when they changed, the hub told; and the
output directory's index and OPML files."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from feeds.config import Config, Feed, Settings
from feeds.errors import FetchError
from feeds.fetching.client import Fetcher
from feeds.publishing.channel import EMPTY_FEED_DATE, Channel, FeedFormat, file_name
from feeds.publishing.files import publication_key
from feeds.publishing.formats import FORMATS
from feeds.publishing.outlets import (
    DatabaseOutlet,
    DirectoryOutlet,
    Outlet,
    feed_document_names,
    publish,
)
from feeds.publishing.pages import Listing, opml_name, render_index, render_opml
from feeds.storage.interface import Store
from feeds.urls import is_web_url, public_url

log = logging.getLogger(__name__)


def feed_formats(feed: Feed) -> list[FeedFormat]:
    """The formats a feed is published in, in its configured order."""
    return [FORMATS[name] for name in feed.formats]


def site_url(feed: Feed, base_url: str) -> str:
    """The site a feed comes from: its ``link``, else its first web source's home page
    (without the source's user name and password)."""
    if feed.link:
        return feed.link
    for source in feed.sources:
        if source.url and is_web_url(source.url):
            home = urlsplit(public_url(source.url))
            return urlunsplit((home.scheme, home.netloc, "/", "", ""))
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


def outlet_for(
    settings: Settings, store: Store, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Outlet:
    """Where the settings say documents go (``publish_to``): the state's database, whose
    ``clock`` dates the changed documents, or the output directory."""
    if settings.publishes_to_database:
        return DatabaseOutlet(store, clock)
    return DirectoryOutlet(settings.output_dir)


def document_location(settings: Settings, name: str) -> str:
    """Where a published document is, for people: its path, or its name in the database."""
    if settings.publishes_to_database:
        return f"{name} (in the database)"
    return str(settings.output_dir / name)


def publish_feed(feed: Feed, *, settings: Settings, store: Store) -> tuple[str, ...]:
    """Write the feed's documents from its stored items; returns those that changed.

    When neither the items nor the channel changed since the documents were last
    written, and they are all there, nothing is read or written (the steady state). The
    key of what was written is stored only once the documents are in place: after a
    failed write the next run writes them again."""
    updated, items = store.newest_state(feed.id, feed.max_items)
    channel = channel_for(feed, settings, updated=updated, icon=store.feed_icon(feed.id))
    formats = feed_formats(feed)
    key = publication_key(channel, formats, items)
    outlet = outlet_for(settings, store)
    if store.published_key(feed.id) == key and outlet.in_place(
        feed_document_names(feed.id, formats)
    ):
        return ()
    written = publish(channel, store.iter_items(feed.id, feed.max_items), formats, outlet)
    with store.transaction():
        store.set_published_key(feed.id, key)
    return written


def remove_feed_documents(outlet: Outlet, feed: Feed) -> list[str]:
    """Delete a feed's documents (in every format, and its page); returns the names
    deleted."""
    return outlet.remove(feed_document_names(feed.id, FORMATS.values()))


def publish_index(config: Config, store: Store, *, status_link: bool = False) -> tuple[str, ...]:
    """Write ``index.html`` and the OPML files listing every feed of the config (and, on
    the page, apart, the feeds made on demand); ``status_link``: the page links to the
    service's ``/status`` (when a feeds service serves the output)."""
    settings = config.settings
    outlet = outlet_for(settings, store)

    def listing(feed: Feed) -> Listing:
        channel = channel_for(
            feed,
            settings,
            updated=store.newest_update(feed.id, feed.max_items),
            icon=store.feed_icon(feed.id),
        )
        formats = tuple(feed_formats(feed))
        return Listing(
            channel=channel,
            formats=formats,
            items=min(store.count_items(feed.id), feed.max_items),
            published=outlet.in_place(feed_document_names(feed.id, formats)),
        )

    listings = [listing(feed) for feed in config.feeds.values()]
    on_demand = [listing(feed) for feed in on_demand_feeds(config, store)]
    index = render_index(listings, on_demand=on_demand, status_link=status_link)
    files = {"index.html": index}
    for fmt in (None, *FORMATS.values()):
        files[opml_name(fmt)] = render_opml(listings, fmt)
    return outlet.replace(files)


def on_demand_feeds(config: Config, store: Store) -> list[Feed]:
    """The feeds made on demand (``GET /full``) that the state keeps, when the config
    serves them."""
    if config.settings.on_demand is None:
        return []
    return [config.on_demand_feed(url, count) for url, count in store.on_demand_feeds()]


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
