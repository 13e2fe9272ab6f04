"""Plain typed values passed between the pipeline stages.

All datetimes are timezone-aware and in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched document: an HTML page, a feed, a sitemap or a local file."""

    url: str
    final_url: str
    status: int
    content_type: str
    body: bytes
    encoding: str
    fetched_at: datetime
    etag: str | None = None
    last_modified: str | None = None

    @property
    def text(self) -> str:
        """The body decoded with the charset the fetcher determined."""
        return self.body.decode(self.encoding, errors="replace")


@dataclass(frozen=True, slots=True)
class Link:
    """An article found by a source, with whatever the source said about it."""

    url: str
    source: str
    title_hint: str | None = None
    summary_hint: str | None = None
    published_hint: datetime | None = None
    author_hint: str | None = None
    image_hint: str | None = None
    categories_hint: tuple[str, ...] = ()
    content_hint: str | None = None
    """HTML the source gave for the article (a feed entry's content, a listing item): what
    is published when the page cannot be fetched, or when the source is not followed."""


@dataclass(frozen=True, slots=True)
class Article:
    """What extraction found on an article page. ``html`` is not yet sanitised; ``title``
    is empty when the page has none (the source's title then stands in)."""

    url: str
    title: str
    html: str
    text: str
    base_url: str | None = None
    """What relative URLs in ``html`` are relative to (the page's ``<base href>`` or URL)."""
    canonical_url: str | None = None
    author: str | None = None
    published: datetime | None = None
    date_guessed: bool = False
    """The date was guessed from the page's text or URL, not given by its metadata."""
    description: str | None = None
    image: str | None = None
    language: str | None = None
    categories: tuple[str, ...] = ()
    next_page: str | None = None
    """The page that continues this article (a multi-page article), if it links one."""
    single_page: str | None = None
    """The whole article on one page (a site's print view), where its rules say a link to
    it is: fetched instead of the parts."""


MAX_CATEGORIES = 20
"""Categories an item carries at most, whatever its page or source gave."""


@dataclass(frozen=True, slots=True)
class Item:
    """What a feed publishes. ``id`` is fixed the first time the item is seen."""

    id: str
    feed: str
    url: str
    title: str
    published: datetime
    updated: datetime
    summary: str
    content_html: str
    fingerprint: tuple[int, ...]
    """A MinHash sketch of the text, to spot the same story under another URL."""
    first_seen: datetime
    author: str | None = None
    image: str | None = None
    categories: tuple[str, ...] = ()
    aliases: tuple[str, ...] = field(default=())
    """Other URLs that lead to this item (the link it was found by, before canonicalising)."""
    language: str | None = None
    """The language its page says it is in (a BCP 47 tag), None when it says none."""


@dataclass(frozen=True, slots=True)
class RunError:
    """One failure during a run: which source, which URL, what went wrong."""

    source: str
    url: str
    message: str


@dataclass(frozen=True, slots=True)
class RunReport:
    """The outcome of one feed's run."""

    feed: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    filtered: int = 0
    """New articles left out by the feed's filters or ``max_age``."""
    sources: int = 0
    sources_failed: int = 0
    sources_skipped: int = 0
    """Sources not read: they wait for their next attempt after failing (backoff)."""
    sources_unchanged: int = 0
    """Source pages the server said had not changed (HTTP 304): not read again."""
    postponed: int = 0
    """New links left for later runs: the feed's ``max_new_per_run`` was reached."""
    errors: tuple[RunError, ...] = ()
    broken: tuple[RunError, ...] = ()
    """Sources that stopped working as they did: no links any more, or no article that
    can be extracted. The message says why and what to check."""
    duration: float = 0.0
    files_written: tuple[str, ...] = ()
    items: int = 0
    """The items the feed has stored, after the run."""

    @property
    def failed_entirely(self) -> bool:
        """True when no source of the feed could be read at all."""
        return self.sources > 0 and self.sources_failed + self.sources_skipped == self.sources
