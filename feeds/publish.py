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

import hashlib
import html
import io
import json
import mimetypes
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import cache, partial
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any, Protocol
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
STYLESHEET_NAME = "feed.xsl"
_NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "media": "http://search.yahoo.com/mrss/",
}
_PLAIN_SPECIALS = re.compile(r"[&<>]")
_CHARACTER_REFERENCES = {"&": "#x26", "<": "#x3C", ">": "#x3E"}
_RSS_IMAGE_TYPES = ("image/gif", "image/jpeg", "image/png")


class Writable(Protocol):
    """Where documents are written: a binary file, or anything with ``write(bytes)``."""

    def write(self, data: bytes, /) -> int: ...


@dataclass(frozen=True, slots=True)
class FeedFormat:
    """One output format: its config name, file suffix and media type."""

    name: str
    suffix: str
    media_type: str


RSS = FeedFormat("rss", ".xml", "application/rss+xml")
ATOM = FeedFormat("atom", ".atom", "application/atom+xml")
JSON_FEED = FeedFormat("json", ".json", "application/feed+json")
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
    stylesheet: bool = False

    def url(self, fmt: FeedFormat) -> str:
        """Where the file of ``fmt`` is served: its self link."""
        return self.base_url + file_name(self.feed_id, fmt)


def file_name(feed_id: str, fmt: FeedFormat) -> str:
    """The file a feed is published to in the output directory."""
    return f"{feed_id}{fmt.suffix}"


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
        stylesheet=settings.stylesheet,
    )


# writing files


def publish(
    channel: Channel,
    items: Callable[[], Iterable[Item]],
    formats: Sequence[FeedFormat],
    output_dir: Path,
) -> tuple[str, ...]:
    """Write the feed in every format whose bytes changed; returns the files written.
    ``items`` gives the items (newest first) afresh for each format."""
    written = []
    for fmt in formats:
        name = file_name(channel.feed_id, fmt)
        if replace_if_changed(output_dir / name, partial(_write_items, channel, items, fmt)):
            written.append(name)
    if channel.stylesheet and write_if_changed(
        output_dir / STYLESHEET_NAME, _template(STYLESHEET_NAME).encode()
    ):
        written.append(STYLESHEET_NAME)
    return tuple(written)


def _write_items(
    channel: Channel, items: Callable[[], Iterable[Item]], fmt: FeedFormat, out: Writable
) -> None:
    write(channel, items(), fmt, out)


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


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically replace ``path`` with ``data`` unless it already holds exactly that."""
    return replace_if_changed(path, lambda out: out.write(data))


def replace_if_changed(path: Path, produce: Callable[[Writable], object]) -> bool:
    """Stream ``produce``'s output to a temporary file beside ``path`` and rename it into
    place, unless the old file has the same bytes; returns whether ``path`` changed."""
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(descriptor, "wb") as handle:
            hashing = _HashingWriter(handle)
            produce(hashing)
            handle.flush()
            os.fsync(handle.fileno())
        if hashing.digest() == _file_digest(path):
            return False
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


class _HashingWriter:
    """A binary file wrapper that hashes what goes through it."""

    def __init__(self, handle: Writable) -> None:
        self._handle = handle
        self._hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        return self._handle.write(data)

    def digest(self) -> bytes:
        return self._hash.digest()


def _file_digest(path: Path) -> bytes | None:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").digest()
    except FileNotFoundError:
        return None


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
    if fmt is JSON_FEED:
        _write_json_feed(channel, items, out)
    elif fmt is RSS:
        _write_rss(channel, items, _XmlWriter(out))
    else:
        _write_atom(channel, items, _XmlWriter(out))


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

    def start(self) -> None:
        self.out.write(b'<?xml version="1.0" encoding="utf-8"?>\n')

    def pi(self, target: str, text: str) -> None:
        self.out.write(f"<?{target} {text}?>\n".encode())

    @contextmanager
    def element(self, tag: str, attributes: dict[str, str] | None = None) -> Iterator[None]:
        self._write(f"{self._indent()}<{tag}{_attributes(attributes)}>")
        self.depth += 1
        yield
        self.depth -= 1
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
        start = f"{self._indent()}<{tag}{_attributes(attributes)}"
        if not text:
            self._write(start + "/>")
            return
        body = _PLAIN_SPECIALS.sub(_character_reference, _clean(text)) if plain else _escape(text)
        self._write(f"{start}>{body}</{tag}>")

    def _indent(self) -> str:
        return f"\n{'  ' * self.depth}" if self.depth else ""

    def _write(self, text: str) -> None:
        self.out.write(text.encode("utf-8"))


def _escape(text: str) -> str:
    return _clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attributes(attributes: dict[str, str] | None) -> str:
    if not attributes:
        return ""
    return "".join(
        f' {name}="{_escape(value).replace(chr(34), "&quot;").replace(chr(10), "&#10;")}"'
        for name, value in attributes.items()
    )


def _character_reference(match: re.Match[str]) -> str:
    return f"&{_CHARACTER_REFERENCES[match.group()]};"


def _clean(text: str) -> str:
    return strip_xml_illegal(text)


def _write_rss(channel: Channel, items: Iterable[Item], w: _XmlWriter) -> None:
    w.start()
    if channel.stylesheet:
        w.pi("xml-stylesheet", f'type="text/xsl" href="{STYLESHEET_NAME}"')
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
        for item in items:
            with w.element("item"):
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


def _write_atom(channel: Channel, items: Iterable[Item], w: _XmlWriter) -> None:
    w.start()
    if channel.stylesheet:
        w.pi("xml-stylesheet", f'type="text/xsl" href="{STYLESHEET_NAME}"')
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
        for item in items:
            with w.element("entry"):
                w.leaf("id", item.id)
                w.leaf("title", item.title)
                w.leaf("link", None, _link(item.url, "alternate", "text/html"))
                w.leaf("published", _rfc3339(item.published))
                w.leaf("updated", _rfc3339(item.updated))
                if item.author:
                    with w.element("author"):
                        w.leaf("name", item.author)
                for category in item.categories:
                    w.leaf("category", None, {"term": category})
                if item.summary:
                    w.leaf("summary", item.summary)
                w.leaf("content", display_html(item), {"type": "html"})
                if item.image:
                    w.leaf("link", None, _link(item.image, "enclosure", _image_type(item.image)))


def _write_json_feed(channel: Channel, items: Iterable[Item], out: Writable) -> None:
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
    for item in items:
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


def _rfc822(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC).replace(microsecond=0))


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# the output directory's index page and OPML


@dataclass(frozen=True, slots=True)
class Listing:
    """One feed as the index page and the OPML files list it."""

    channel: Channel
    formats: tuple[FeedFormat, ...]
    items: int


def render_index(listings: Sequence[Listing], *, title: str = "Feeds") -> bytes:
    """``index.html``: every feed with its description, item count, last update and a
    subscribe link per format."""
    rows = []
    for listing in listings:
        channel = listing.channel
        links = " ".join(
            f'<a href="{html.escape(file_name(channel.feed_id, fmt))}" type="{fmt.media_type}">'
            f"{fmt.name.upper() if fmt is not JSON_FEED else 'JSON Feed'}</a>"
            for fmt in listing.formats
        )
        updated = "never"
        if channel.updated != EMPTY_FEED_DATE:
            when = f"{channel.updated:%Y-%m-%d %H:%M} UTC"
            updated = f'<time datetime="{_rfc3339(channel.updated)}">{when}</time>'

        rows.append(
            f"""    <li>
      <h2><a href="{html.escape(channel.site_url)}">{html.escape(channel.title)}</a></h2>
      <p>{html.escape(channel.description)}</p>
      <p>{listing.items} items · updated {updated} · subscribe: {links}</p>
    </li>"""
        )
    alternates = "\n".join(
        f'  <link rel="alternate" type="{listing.formats[0].media_type}" '
        f'title="{html.escape(listing.channel.title)}" '
        f'href="{html.escape(file_name(listing.channel.feed_id, listing.formats[0]))}">'
        for listing in listings
    )
    page = Template(_template("index.html")).substitute(
        title=html.escape(title),
        alternates=alternates,
        count=len(listings),
        feeds="\n".join(rows),
        version=__version__,
    )
    return page.encode()


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
