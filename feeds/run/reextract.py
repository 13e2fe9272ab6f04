"""Extracting a feed's items again from the pages they were made of, without fetching:
when the feed's extraction rules change (``run_feed`` notices it), or when asked
(``feeds reextract FEED``). Ids and links stay; ``updated`` moves only for items whose
content changed."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from feeds.config import Feed
from feeds.extraction.rules import layered
from feeds.extraction.workers import ArticleJob, ExtractionPool, outcome_of
from feeds.models import Link
from feeds.storage.interface import Store, content_hash

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reextraction:
    """What extracting a feed's items again did."""

    updated: int = 0
    unchanged: int = 0
    kept: int = 0
    """Items left as they were: their page gives no article with the new rules, or it is
    the first of several pages (the others would have to be fetched)."""


def extraction_key(feed: Feed) -> str:
    """A key of every extraction rule the feed's articles are made with."""
    rules: tuple[object, ...] = (
        feed.extract,
        tuple((source.location, source.extract) for source in feed.sources),
    )
    if feed.site_configs is not None:  # (the key of a feed without them stays as it was)
        rules += (tuple(str(directory) for directory in feed.site_configs.directories),)
    return hashlib.sha256(repr(rules).encode()).hexdigest()[:16]


def reextract(feed: Feed, *, store: Store, pool: ExtractionPool, now: datetime) -> Reextraction:
    """Extract the feed's newest items (``max_items``) again from their stored pages, with
    the feed's current rules; record the rules' key."""
    sources = {source.location: source for source in feed.sources}
    jobs = []
    for stored in store.stored_pages(feed.id, feed.max_items):
        source = sources.get(stored.source)
        own = feed.rules_for(source) if source is not None else feed.extract
        rules = layered(own, feed.site_rules(stored.page.final_url))
        link = Link(url=stored.page.url, source=stored.source)
        job = ArticleJob(stored.page, link, feed.id, stored.page.fetched_at, rules)
        jobs.append((stored.item_id, pool.submit(job)))
    updated = unchanged = kept = 0
    with store.transaction():
        for item_id, future in jobs:
            outcome = outcome_of(future)
            stored_hash = store.stored_hash(feed.id, item_id)
            if outcome.item is None or stored_hash is None:
                kept += 1
                continue
            if stored_hash == content_hash(outcome.item):
                unchanged += 1
                continue
            store.replace_content(item_id, outcome.item, now)
            updated += 1
        store.set_extraction_key(feed.id, extraction_key(feed))
    if jobs:
        log.info(
            "feed %s: extracted again from stored pages: %d updated, %d unchanged, %d kept",
            feed.id,
            updated,
            unchanged,
            kept,
        )
    return Reextraction(updated, unchanged, kept)
