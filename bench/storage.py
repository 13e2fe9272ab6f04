"""What the state database costs a run, per article, on SQLite and on PostgreSQL.

    python bench/storage.py [--articles 600] [--sources 6] [--postgres URL]

A run's storage calls, as ``run_feed`` makes them, replayed on a fresh database: for each
source its validators, the listing's links looked up (30 a source, half of them new), the
failures counted for the new ones, the near-duplicate sketches, then each new article
stored with its page in one transaction, the source's health; then the run recorded, the
feed's state read, its items read for publishing, old pages pruned and the documents kept.
Printed per back-end: statements sent per article (counted as they reach the database
driver; a batch counts once), wall time per article, and the whole run's time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.models import Item, Page, RunReport  # noqa: E402
from feeds.storage import open_store  # noqa: E402
from feeds.storage.interface import Store, Validators  # noqa: E402

FEED = "bench"
LINKS_PER_SOURCE = 30
BODY = "<p>" + "The council met on Tuesday to discuss the harbour. " * 60 + "</p>"


def article(source: int, number: int, now: datetime) -> tuple[Item, Page]:
    """One new article of a source: its item and the page it came from."""
    url = f"https://site{source}.example/news/{number}.html"
    item = Item(
        id=url,
        feed=FEED,
        url=url,
        title=f"Article {number} of source {source}",
        author="A. Writer",
        published=now - timedelta(minutes=number),
        updated=now - timedelta(minutes=number),
        summary="The council met on Tuesday.",
        content_html=BODY,
        image=f"https://site{source}.example/img/{number}.jpg",
        categories=("news", "harbour"),
        fingerprint=tuple(range(number, number + 16)),
        first_seen=now,
    )
    page = Page(url, url, 200, "text/html", BODY.encode() * 4, "utf-8", now)
    return item, page


def one_run(store: Store, sources: int, articles: int, start: int, now: datetime) -> None:
    """A run of the feed: ``articles`` new ones over ``sources`` sources."""
    per_source = articles // sources
    for source in range(sources):
        listing = f"https://site{source}.example/news/"
        store.validators(listing)
        links = [
            f"https://site{source}.example/news/{n}.html"
            for n in range(start - LINKS_PER_SOURCE + per_source, start + per_source)
        ]
        known = store.known_urls(FEED, links)
        new = [link for link in links if link not in known][:per_source]
        store.article_failures(FEED, new)
        store.newest_fingerprints(FEED)
        for number in range(start, start + per_source):
            item, page = article(source, number, now)
            with store.transaction():
                store.add_item(item, source=listing)
                store.save_page(FEED, item.id, listing, page)
        store.save_validators(listing, Validators(etag='"v1"'), now)
        store.record_links_seen(FEED, listing, len(links))
        store.record_source_success(FEED, listing, now)
    with store.transaction():
        store.record_run(RunReport(feed=FEED, new=articles, sources=sources), now)
    store.newest_state(FEED, 50)
    items = list(store.iter_items(FEED, 50))
    store.prune_pages(FEED, 50)
    store.put_documents({f"{FEED}.{fmt}": repr(items).encode() for fmt in ("xml", "atom")}, now)
    store.set_published_key(FEED, str(start))


def measure(
    name: str,
    opened: Callable[[], Store],
    count: Callable[[Store], Callable[[], int]],
    sources: int,
    articles: int,
) -> None:
    """Two runs (the second finds half its links known); figures of the second."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with opened() as store:
        one_run(store, sources, articles, 0, now)
        statements = count(store)
        began = time.perf_counter()
        one_run(store, sources, articles, articles // sources, now + timedelta(hours=1))
        elapsed = time.perf_counter() - began
        sent = statements()
    print(
        f"{name:<11} {sent / articles:6.1f} statements/article  "
        f"{elapsed / articles * 1000:6.2f} ms/article  run {elapsed:5.2f} s "
        f"({articles} articles, {sources} sources)"
    )


def statement_counter(store: Store) -> Callable[[], int]:
    """Count the statements the store sends from now on."""
    from sqlalchemy import event

    sent = [0]

    def counted(*_: object) -> None:
        sent[0] += 1

    engine = store.engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", counted)
    return lambda: sent[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--sources", type=int, default=6)
    parser.add_argument("--postgres", help="a postgresql:// URL of an empty database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        measure(
            "SQLite",
            lambda: open_store(Path(directory)),
            statement_counter,
            args.sources,
            args.articles,
        )
    if args.postgres:
        measure(
            "PostgreSQL",
            lambda: open_store(Path("unused"), args.postgres),
            statement_counter,
            args.sources,
            args.articles,
        )


if __name__ == "__main__":
    main()
