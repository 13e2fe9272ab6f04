"""Items -> RSS 2.0, Atom 1.0 and JSON Feed 1.1 files, plus index.html and OPML.

Rendering is pure and streams: items are written one by one (with lxml's incremental
``xmlfile`` for XML), so a 10,000-item feed never sits in memory as a tree. Every date in
a feed comes from its items, so the same items always give the same bytes; a file whose
new bytes hash the same as the old ones is left untouched (same ETag, same modification
time). A changed file is written to a temporary file in the same directory, flushed and
renamed into place: readers see the old file or the new one, never half of one.

What readers and the W3C validator expect, and how it is met:

- RSS plain-text elements (titles, categories, creators) encode ``&``, ``<`` and ``>`` as
  hexadecimal character references (RSS Best Practices Profile); the item description
  holds the summary as escaped HTML; ``content:encoded`` holds the article's HTML.
- Atom has ``type="html"`` content, a feed-level author (so every entry has one), a
  ``rel="self"`` link to where the file is served, and RFC 3339 dates.
- The main image is ``media:content`` (RSS), an ``enclosure`` link (Atom) and ``image``
  (JSON Feed), with a type; it is also put at the top of the content when the content
  does not show it, for readers that ignore all of these.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import io
import json
import logging
import mimetypes
import os
import re
import tempfile
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlsplit, urlunsplit

from lxml import etree

from feeds import __version__
from feeds.config import Feed, Settings
from feeds.errors import PublishError
from feeds.html import strip_xml_illegal
from feeds.models import Item
from feeds.urls import is_web_url

EMPTY_FEED_DATE = datetime(1970, 1, 1, tzinfo=UTC)
"""The date of a feed with no items yet: fixed, so an empty feed is stable too."""
_NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "media": "http://search.yahoo.com/mrss/",
}
_RSS_IMAGE_TYPES = ("image/gif", "image/jpeg", "image/png")

log = logging.getLogger(__name__)


class Writable(Protocol):
    """Where documents are written: a binary file, or anything with ``write(bytes)``."""

    def write(self, data: bytes, /) -> int: ...


@dataclass(frozen=True, slots=True)
class FeedFormat:
    """One output format: its config name, file suffix, media type and label."""

    name: str
    suffix: str
    media_type: str
    label: str
    """What people call it."""


RSS = FeedFormat("rss", ".xml", "application/rss+xml", "RSS")
ATOM = FeedFormat("atom", ".atom", "application/atom+xml", "Atom")
JSON_FEED = FeedFormat("json", ".json", "application/feed+json", "JSON Feed")
FORMATS = {fmt.name: fmt for fmt in (RSS, ATOM, JSON_FEED)}


@dataclass(frozen=True, slots=True)
class Channel:
    """What a feed says about itself, whatever the format."""

    feed_id: str
    title: str
    description: str
    site_url: str
    base_url: str
    updated: datetime
    ttl_minutes: int
    language: str | None = None
    icon: str | None = None
    hub: str | None = None

    def url(self, fmt: FeedFormat) -> str:
        """Where the file of ``fmt`` is served: its self link."""
        return self.base_url + file_name(self.feed_id, fmt)


def file_name(feed_id: str, fmt: FeedFormat) -> str:
    """The file a feed is published to in the output directory."""
    return f"{feed_id}{fmt.suffix}"


def page_name(feed_id: str) -> str:
    """The feed's page for people (its items as a browser shows them)."""
    return f"{feed_id}.html"


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


# writing files


def publish(
    channel: Channel, items: Iterable[Item], formats: Sequence[FeedFormat], output_dir: Path
) -> tuple[str, ...]:
    """Write the feed in every format whose bytes changed; returns the files written.
    The items (newest first) are read once, each written in every format as it comes, so
    a big feed is never all in memory."""
    with ExitStack() as stack:
        files = {
            file_name(channel.feed_id, fmt): stack.enter_context(
                _Replacement(output_dir / file_name(channel.feed_id, fmt))
            )
            for fmt in formats
        }
        page = page_name(channel.feed_id)
        files[page] = stack.enter_context(_Replacement(output_dir / page))
        writers = [_writer(channel, fmt, files[file_name(channel.feed_id, fmt)]) for fmt in formats]
        writers.append(_feed_page_document(channel, formats, files[page]))
        _write_all(channel, items, writers)
        # every file written out in full before any is put in place: a full disk (or any
        # write error) leaves every old file, not a new RSS beside an old Atom
        changed = [(name, out) for name, out in files.items() if out.finish()]
        for _, out in changed:
            out.put_in_place()
        if changed:
            _fsync_directory(output_dir)
    return tuple(name for name, _ in changed)


def files_in_place(channel: Channel, formats: Sequence[FeedFormat], output_dir: Path) -> bool:
    """Whether every file ``publish`` writes for the feed is in ``output_dir``."""
    names = [*(file_name(channel.feed_id, fmt) for fmt in formats), page_name(channel.feed_id)]
    return all((output_dir / name).is_file() for name in names)


def publication_key(channel: Channel, formats: Sequence[FeedFormat], items: str) -> str:
    """What a feed's files are made of: the channel, the formats, a signature of the items
    and the version of feeds (whose output may change). Equal keys, equal files."""
    made_of = (__version__, repr(channel), [fmt.name for fmt in formats], items)
    return hashlib.sha256(repr(made_of).encode()).hexdigest()


def prepare_output_dir(directory: Path) -> None:
    """Create ``directory`` if needed and prove a file can be written in it, so a run
    fails at its start, not after fetching everything."""
    hint = "set settings.output_dir to a writable directory, or fix its permissions"
    if directory.exists() and not directory.is_dir():
        raise PublishError(f"output directory {directory} is a file, not a directory; {hint}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(dir=directory, prefix=".feeds-probe.")
        os.close(descriptor)
        Path(probe).unlink()
    except OSError as exc:
        raise PublishError(
            f"cannot write in output directory {directory}: {exc.strerror or exc}; {hint}"
        ) from exc


def remove_leftovers(directory: Path) -> None:
    """Remove the temporary files a killed run left in ``directory`` (a new file is written
    beside the old one, then renamed over it). Call it with the state lock held, so that
    no other run of the config is writing."""
    removed = 0
    for path in directory.glob(".*"):
        if _LEFTOVER.fullmatch(path.name) and path.is_file():
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    if removed:
        log.info("removed %d temporary files left by an interrupted run", removed)


# the names of _Replacement's and prepare_output_dir's temporary files
_LEFTOVER = re.compile(r"\.(?:feeds-probe|.+\.(?:xml|atom|json|html|opml|xsl))\.[a-z0-9_]{8}")


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically replace ``path`` with ``data`` unless it already holds exactly that."""
    with _Replacement(path) as out:
        out.write(data)
        return out.commit()


_BLOCK = 256 * 1024


class _Replacement:
    """The new version of a file, written to a temporary file beside it and compared with
    the old one on the way; ``commit`` renames it into place, unless the old file holds
    the same bytes. Leaving the ``with`` block without a commit (an error) removes it:
    the old file stays whole. Writes are gathered into blocks of ``_BLOCK`` bytes: the
    feed writers write an item at a time, and a system call and a comparison per item
    made writing a big feed take 15 to 20% more CPU."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._reporting():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        self._temporary: Path | None = Path(temporary)
        self._handle = os.fdopen(descriptor, "wb")
        self._pending: list[bytes] = []
        self._pending_size = 0
        try:
            self._old: BinaryIO | None = path.open("rb")
        except OSError:
            self._old = None  # no old file (or an unreadable one): the new one is a change

    def __enter__(self) -> _Replacement:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._handle.close()
        self._forget_old()
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)

    def write(self, data: bytes) -> int:
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= _BLOCK:
            self._write_pending()
        return len(data)

    def commit(self) -> bool:
        """Put the new version in place, durably; returns whether the file changed."""
        changed = self.finish()
        if changed:
            self.put_in_place()
            _fsync_directory(self.path.parent)
        return changed

    def finish(self) -> bool:
        """Write out the new version, durably, beside the old file; returns whether it
        differs from the old one (an unchanged one is dropped when the block ends)."""
        assert self._temporary is not None
        self._write_pending()
        unchanged = self._old is not None and self._old.read(1) == b""
        self._forget_old()
        with self._reporting():
            if unchanged:
                self._handle.close()
                return False
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
        return True

    def put_in_place(self) -> None:
        """Rename the finished new version over the old file (atomic; no space needed)."""
        assert self._temporary is not None
        with self._reporting():
            self._temporary.chmod(0o644)
            self._temporary.replace(self.path)
        self._temporary = None

    def _write_pending(self) -> None:
        block = b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        if self._old is not None and self._old.read(len(block)) != block:
            self._forget_old()
        with self._reporting():
            self._handle.write(block)

    def _forget_old(self) -> None:
        if self._old is not None:
            self._old.close()
            self._old = None

    @contextmanager
    def _reporting(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise PublishError(
                f"cannot write {self.path}: {exc.strerror or exc}; check that the output "
                "directory exists, is writable and has free space"
            ) from exc


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


# rendering


def render(channel: Channel, items: Iterable[Item], fmt: FeedFormat) -> bytes:
    """The whole document in ``fmt``, in memory (for tests and small feeds)."""
    buffer = io.BytesIO()
    write(channel, items, fmt, buffer)
    return buffer.getvalue()


def write(channel: Channel, items: Iterable[Item], fmt: FeedFormat, out: Writable) -> None:
    """Stream the feed document in ``fmt`` to ``out``."""
    _write_all(channel, items, [_writer(channel, fmt, out)])


DocumentWriter = Generator[None, Item | None, None]
"""A feed document being written: sent each item in turn, then None to finish it."""


def _writer(channel: Channel, fmt: FeedFormat, out: Writable) -> DocumentWriter:
    if fmt is JSON_FEED:
        return _json_feed_document(channel, out)
    if fmt is RSS:
        return _rss_document(channel, _XmlWriter(out))
    return _atom_document(channel, _XmlWriter(out))


def _write_all(channel: Channel, items: Iterable[Item], writers: list[DocumentWriter]) -> None:
    for writer in writers:
        next(writer)  # the document's head
    for item in items:
        for writer in writers:
            writer.send(item)
    for writer in writers:
        try:
            writer.send(None)
        except StopIteration:
            continue
        raise RuntimeError("a feed writer did not finish its document")


class _XmlWriter:
    """Indented XML written straight to a stream.

    lxml's incremental writer cannot write ``xml:lang`` (it binds the XML namespace to a
    made-up prefix, which is an error) nor text between the prolog and the root, so the
    few constructs a feed needs are written here; every document is parsed and validated
    by the tests. Text and attribute values are escaped, and characters XML cannot hold
    are dropped.
    """

    def __init__(self, out: Writable) -> None:
        self.out = out
        self.depth = 0
        self._indent = ""
        self._parts: list[str] = []

    def start(self) -> None:
        self._write('<?xml version="1.0" encoding="utf-8"?>\n')

    def pi(self, target: str, text: str) -> None:
        self._write(f"<?{target} {text}?>\n")

    def flush(self) -> None:
        """Write out what is buffered (a few writes per item, not one per element)."""
        self.out.write("".join(self._parts).encode("utf-8"))
        self._parts.clear()

    @contextmanager
    def element(self, tag: str, attributes: dict[str, str] | None = None) -> Iterator[None]:
        self.open(tag, attributes)
        yield
        self.close(tag)

    def open(self, tag: str, attributes: dict[str, str] | None = None) -> None:
        """A start tag (``element`` without the ``with``, for the items of big feeds)."""
        self._write(f"{self._indent}<{tag}{_attributes(attributes)}>")
        self.depth += 1
        self._indent = "\n" + "  " * self.depth

    def close(self, tag: str) -> None:
        self.depth -= 1
        self._indent = "\n" + "  " * self.depth if self.depth else ""
        self._write(f"\n{'  ' * self.depth}</{tag}>" if self.depth else f"\n</{tag}>\n")

    def leaf(
        self,
        tag: str,
        text: str | None = None,
        attributes: dict[str, str] | None = None,
        *,
        plain: bool = False,
    ) -> None:
        """An element with text only (or empty). ``plain`` text gets character references
        for ``&``, ``<`` and ``>`` (RSS plain-text elements)."""
        start = (
            f"{self._indent}<{tag}{_attributes(attributes)}"
            if attributes
            else self._indent + "<" + tag
        )
        if not text:
            self._parts.append(start + "/>")
            return
        body = _plain(text) if plain else _escape(text)
        self._parts.append(f"{start}>{body}</{tag}>")

    def _write(self, text: str) -> None:
        self._parts.append(text)


@lru_cache(maxsize=64)
def _escape(text: str) -> str:
    # cached: the formats are written side by side, so an item's content escaped for RSS
    # is escaped again for Atom a moment later
    return _clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attributes(attributes: dict[str, str] | None) -> str:
    if not attributes:
        return ""
    return "".join(
        f' {name}="{_escape(value).replace(chr(34), "&quot;").replace(chr(10), "&#10;")}"'
        for name, value in attributes.items()
    )


def _plain(text: str) -> str:
    """RSS plain text: character references for the three XML specials."""
    return _clean(text).replace("&", "&#x26;").replace("<", "&#x3C;").replace(">", "&#x3E;")


def _clean(text: str) -> str:
    # printable characters are all legal in XML: most text skips the slower regex
    return text if text.isprintable() else strip_xml_illegal(text)


def _rss_document(channel: Channel, w: _XmlWriter) -> DocumentWriter:
    w.start()
    namespaces = {f"xmlns:{prefix}": uri for prefix, uri in _NS.items()}
    with w.element("rss", {"version": "2.0", **namespaces}), w.element("channel"):
        w.leaf("title", channel.title, plain=True)
        w.leaf("link", channel.site_url)
        w.leaf("description", channel.description, plain=True)
        w.leaf("atom:link", None, _link(channel.url(RSS), "self", RSS.media_type))
        if channel.hub:
            w.leaf("atom:link", None, {"href": channel.hub, "rel": "hub"})
        if channel.language:
            w.leaf("language", channel.language)
        w.leaf("lastBuildDate", _rfc822(channel.updated))
        w.leaf("generator", f"feeds {__version__}")
        w.leaf("docs", "https://www.rssboard.org/rss-specification")
        w.leaf("ttl", str(channel.ttl_minutes))
        if channel.icon and _image_type(channel.icon) in _RSS_IMAGE_TYPES:
            with w.element("image"):
                w.leaf("url", channel.icon)
                w.leaf("title", channel.title, plain=True)
                w.leaf("link", channel.site_url)
        w.flush()
        while (item := (yield)) is not None:
            _rss_item(item, w)
            w.flush()
    w.flush()


def _rss_item(item: Item, w: _XmlWriter) -> None:
    w.open("item")
    w.leaf("title", item.title, plain=True)
    w.leaf("link", item.url)
    w.leaf("guid", item.id, {"isPermaLink": "false"})
    w.leaf("pubDate", _rfc822(item.published))
    if item.author:
        w.leaf("dc:creator", item.author, plain=True)
    for category in item.categories:
        w.leaf("category", category, plain=True)
    w.leaf("description", html.escape(item.summary or item.title, quote=False))
    w.leaf("content:encoded", display_html(item))
    if item.image:
        image = {"url": item.image, "medium": "image", "type": _image_type(item.image)}
        w.leaf("media:content", None, image)
    w.close("item")


def _atom_document(channel: Channel, w: _XmlWriter) -> DocumentWriter:
    w.start()
    attributes = {"xmlns": _NS["atom"]}
    if channel.language:
        attributes["xml:lang"] = channel.language
    with w.element("feed", attributes):
        w.leaf("id", channel.url(ATOM))
        w.leaf("title", channel.title)
        w.leaf("subtitle", channel.description)
        w.leaf("updated", _rfc3339(channel.updated))
        w.leaf("link", None, _link(channel.url(ATOM), "self", ATOM.media_type))
        w.leaf("link", None, _link(channel.site_url, "alternate", "text/html"))
        if channel.hub:
            w.leaf("link", None, {"href": channel.hub, "rel": "hub"})
        with w.element("author"):  # every entry then has an author (RFC 4287, 4.1.1)
            w.leaf("name", channel.title)
            w.leaf("uri", channel.site_url)
        w.leaf("generator", "feeds", {"version": __version__})
        if channel.icon:
            w.leaf("icon", channel.icon)
        w.flush()
        while (item := (yield)) is not None:
            _atom_entry(item, w)
            w.flush()
    w.flush()


def _atom_entry(item: Item, w: _XmlWriter) -> None:
    w.open("entry")
    w.leaf("id", item.id)
    w.leaf("title", item.title)
    w.leaf("link", None, _link(item.url, "alternate", "text/html"))
    w.leaf("published", _rfc3339(item.published))
    w.leaf("updated", _rfc3339(item.updated))
    if item.author:
        w.open("author")
        w.leaf("name", item.author)
        w.close("author")
    for category in item.categories:
        w.leaf("category", None, {"term": category})
    if item.summary:
        w.leaf("summary", item.summary)
    w.leaf("content", display_html(item), {"type": "html"})
    if item.image:
        w.leaf("link", None, _link(item.image, "enclosure", _image_type(item.image)))
    w.close("entry")


def _feed_page_document(
    channel: Channel, formats: Sequence[FeedFormat], out: Writable
) -> DocumentWriter:
    """``<feed>.html``: the feed's items as a person reads them, with a link to each of
    the feed's formats (and autodiscovery of them). No script; every field escaped."""
    head, foot = _template("feed.html").split("${items}")
    fields = {
        "head": _page_head(
            channel.title, channel.language, _alternates(channel, formats), _FEED_PAGE_STYLE
        ),
        "title": html.escape(channel.title),
        "description": html.escape(channel.description),
        "site": html.escape(channel.site_url),
        "subscribe": _subscribe_links(channel.feed_id, formats),
        "version": __version__,
    }
    out.write(Template(head).substitute(fields).encode())
    count = 0
    while (item := (yield)) is not None:
        count += 1
        out.write(_page_entry(item).encode())
    empty = "" if count else "    <p>No items yet: the feed has not found any.</p>\n"
    out.write((empty + Template(foot).substitute(fields)).encode())


def _page_entry(item: Item) -> str:
    image = (
        f'      <img src="{html.escape(item.image)}" alt="" loading="lazy">\n'
        if item.image and is_web_url(item.image)
        else ""
    )
    byline = f" · {html.escape(item.author)}" if item.author else ""
    when = f"{item.published:%Y-%m-%d %H:%M} UTC"
    return (
        "    <article>\n"
        f'      <h2><a href="{html.escape(item.url)}">{html.escape(item.title)}</a></h2>\n'
        f'      <p class="meta"><time datetime="{_rfc3339(item.published)}">{when}</time>'
        f"{byline}</p>\n"
        f"{image}"
        f"      <p>{html.escape(item.summary)}</p>\n"
        f'      <p><a href="{html.escape(item.url)}">Read the article</a></p>\n'
        "    </article>\n"
    )


def _alternates(channel: Channel, formats: Sequence[FeedFormat]) -> str:
    """``<link rel="alternate">`` for each format of a feed (readers and browsers find
    the feed from the page)."""
    return "\n".join(
        f'  <link rel="alternate" type="{fmt.media_type}" '
        f'title="{html.escape(channel.title)} ({fmt.label})" '
        f'href="{html.escape(file_name(channel.feed_id, fmt))}">'
        for fmt in formats
    )


def _subscribe_links(feed_id: str, formats: Sequence[FeedFormat]) -> str:
    return ", ".join(
        f'<a href="{html.escape(file_name(feed_id, fmt))}" type="{fmt.media_type}">{fmt.label}</a>'
        for fmt in formats
    )


def _json_feed_document(channel: Channel, out: Writable) -> DocumentWriter:
    head: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": channel.title,
        "home_page_url": channel.site_url,
        "feed_url": channel.url(JSON_FEED),
        "description": channel.description,
    }
    if channel.icon:
        head["icon"] = channel.icon
        head["favicon"] = channel.icon
    if channel.language:
        head["language"] = channel.language
    if channel.hub:
        head["hubs"] = [{"type": "WebSub", "url": channel.hub}]
    head["authors"] = [{"name": channel.title, "url": channel.site_url}]
    out.write(b"{\n")
    for key, value in head.items():
        out.write(f"  {json.dumps(key)}: {_json(value)},\n".encode())
    out.write(b'  "items": [')
    separator = b"\n"
    while (item := (yield)) is not None:
        out.write(separator + b"    " + _json(json_feed_item(item)).encode())
        separator = b",\n"
    out.write(b"\n  ]\n}\n")


def json_feed_item(item: Item) -> dict[str, Any]:
    """An item as JSON Feed 1.1 publishes it."""
    entry: dict[str, Any] = {
        "id": item.id,
        "url": item.url,
        "title": item.title,
        "content_html": display_html(item),
        "summary": item.summary,
        "date_published": _rfc3339(item.published),
        "date_modified": _rfc3339(item.updated),
    }
    if item.image:
        entry["image"] = item.image
    if item.author:
        entry["authors"] = [{"name": item.author}]
    if item.categories:
        entry["tags"] = list(item.categories)
    return entry


def display_html(item: Item) -> str:
    """The item's HTML as published: its main image on top when the content lacks it."""
    if not item.image:
        return item.content_html
    src = html.escape(item.image)  # as it appears in the sanitised HTML
    if src in item.content_html or item.image in item.content_html:
        return item.content_html
    return f'<p><img src="{src}" alt=""></p>' + item.content_html


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


def _link(href: str, rel: str, media_type: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": media_type}


def _image_type(url: str) -> str:
    guessed = mimetypes.guess_type(urlsplit(url).path)[0]
    return guessed if guessed and guessed.startswith("image/") else "image/jpeg"


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _rfc822(value: datetime) -> str:
    # what email.utils.format_datetime writes, at a tenth of its cost (10,000-item feeds)
    t = value.astimezone(UTC)
    return (
        f"{_WEEKDAYS[t.weekday()]}, {t.day:02d} {_MONTHS[t.month - 1]} {t.year:04d} "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} +0000"
    )


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


# the output directory's index page and OPML


@dataclass(frozen=True, slots=True)
class Listing:
    """One feed as the index page and the OPML files list it."""

    channel: Channel
    formats: tuple[FeedFormat, ...]
    items: int


def render_index(listings: Sequence[Listing], *, title: str = "Feeds") -> bytes:
    """``index.html``: every feed with its description, item count, last update, its page
    and a subscribe link per format; the OPML files; autodiscovery of every feed."""
    rows = []
    for listing in listings:
        channel = listing.channel
        updated = "never"
        if channel.updated != EMPTY_FEED_DATE:
            when = f"{channel.updated:%Y-%m-%d %H:%M} UTC"
            updated = f'<time datetime="{_rfc3339(channel.updated)}">{when}</time>'
        page = html.escape(page_name(channel.feed_id))
        site = html.escape(channel.site_url)
        rows.append(
            f"""    <li>
      <h2><a href="{page}">{html.escape(channel.title)}</a></h2>
      <p>{html.escape(channel.description)}</p>
      <p>{_count(listing.items, "item")} · updated {updated} · from <a href="{site}">{site}</a></p>
      <p>Subscribe: {_subscribe_links(channel.feed_id, listing.formats)}</p>
    </li>"""
        )
    opml = ", ".join(
        f'<a href="{opml_name(fmt)}">{opml_name(fmt)}</a>'
        + (f" ({fmt.label})" if fmt is not None else " (each feed in its first format)")
        for fmt in (None, *FORMATS.values())
    )
    alternates = "\n".join(_alternates(listing.channel, listing.formats) for listing in listings)
    page = Template(_template("index.html")).substitute(
        head=_page_head(title, "en", alternates, _INDEX_STYLE),
        title=html.escape(title),
        count=_count(len(listings), "feed"),
        opml=opml,
        feeds="\n".join(rows),
        version=__version__,
    )
    return page.encode()


_INDEX_STYLE = """    ul { padding: 0; }
    li { list-style: none; margin: 0 0 1.5rem; }
    p { margin: .2rem 0; }"""
_FEED_PAGE_STYLE = """    article { margin: 0 0 2.5rem; }
    p { margin: .3rem 0; }
    .meta { color: #555; font-size: .9rem; }
    img { max-width: 100%; height: auto; margin: .5rem 0; }"""


def _page_head(title: str, language: str | None, alternates: str, style: str) -> str:
    """The head both pages share: language, title, no icon request, autodiscovery links."""
    return Template(_template("head.html")).substitute(
        lang=html.escape(language or "en"),
        title=html.escape(title),
        alternates=alternates,
        style=style,
    )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def render_opml(
    listings: Sequence[Listing], fmt: FeedFormat | None, *, title: str = "Feeds"
) -> bytes:
    """An OPML 2.0 subscription list: each feed once, in ``fmt`` (or, with None, in its
    own first format)."""
    updated = max((listing.channel.updated for listing in listings), default=EMPTY_FEED_DATE)
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateModified").text = _rfc822(updated)
    body = etree.SubElement(root, "body")
    for listing in listings:
        chosen = fmt if fmt is not None else listing.formats[0]
        if chosen not in listing.formats:
            continue
        channel = listing.channel
        etree.SubElement(
            body,
            "outline",
            type="rss",
            text=channel.title,
            title=channel.title,
            description=channel.description,
            xmlUrl=channel.url(chosen),
            htmlUrl=channel.site_url,
        )
    etree.indent(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8") + b"\n"


def opml_name(fmt: FeedFormat | None) -> str:
    """``feeds.opml`` (each feed in its first format), ``feeds-<format>.opml`` otherwise."""
    return "feeds.opml" if fmt is None else f"feeds-{fmt.name}.opml"


@cache
def _template(name: str) -> str:
    return (files("feeds") / "templates" / name).read_text(encoding="utf-8")
