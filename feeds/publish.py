"""Items -> RSS 2.0, Atom 1.0 and JSON Feed 1.1 files, a page per feed, index.html, OPML.

RSS and Atom are written by feedgen (with its dc and media extensions), JSON Feed with the
json module. What feedgen cannot express is added on its document by a feedgen extension
(``_FeedAdditions``, ``_EntryAdditions``), never by a second writer. Every date in a feed
comes from its items, so the same items always give the same bytes; a file whose new
bytes are the same as the old ones is left untouched (same ETag, same modification time).
A changed file is written to a temporary file in the same directory, flushed and renamed
into place: readers see the old file or the new one, never half of one.

What readers and the W3C validator expect, and how it is met:

- RSS: the item description holds the summary as escaped HTML; ``content:encoded`` holds
  the article's HTML, escaped (never CDATA); ``dc:creator`` names the author.
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
import json
import logging
import mimetypes
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from feeds import __version__
from feeds.config import Feed, Settings
from feeds.errors import PublishError
from feeds.html import strip_xml_illegal
from feeds.models import Item
from feeds.urls import is_web_url

EMPTY_FEED_DATE = datetime(1970, 1, 1, tzinfo=UTC)
"""The date of a feed with no items yet: fixed, so an empty feed is stable too."""
_RSS_IMAGE_TYPES = ("image/gif", "image/jpeg", "image/png")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeedFormat:
    """One output format: its config name, file suffix, media type, label and writer."""

    name: str
    suffix: str
    media_type: str
    label: str
    """What people call it."""
    render: Callable[[Channel, Sequence[Item]], bytes]
    """The whole document of a feed with these items (newest first)."""


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
    """Write the feed in every format, and its page, where the bytes changed; returns the
    files written. Every file is written out in full before any is put in place: a full
    disk (or any write error) leaves every old file, not a new RSS beside an old Atom."""
    items = tuple(items)
    documents = {file_name(channel.feed_id, fmt): fmt.render(channel, items) for fmt in formats}
    documents[page_name(channel.feed_id)] = render_feed_page(channel, items, formats)
    with ExitStack() as stack:
        changed = []
        for name, document in documents.items():
            out = stack.enter_context(_Replacement(output_dir / name))
            out.write(document)
            if out.finish():
                changed.append((name, out))
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


class _Replacement:
    """The new version of a file, written to a temporary file beside it and compared with
    the old one on the way; ``commit`` renames it into place, unless the old file holds
    the same bytes. Leaving the ``with`` block without a commit (an error) removes it:
    the old file stays whole."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._reporting():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        self._temporary: Path | None = Path(temporary)
        self._handle = os.fdopen(descriptor, "wb")
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
        if self._old is not None and self._old.read(len(data)) != data:
            self._forget_old()
        with self._reporting():
            return self._handle.write(data)

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
    """The whole feed document in ``fmt``."""
    return fmt.render(channel, tuple(items))


def render_rss(channel: Channel, items: Sequence[Item]) -> bytes:
    """RSS 2.0, written by feedgen (with its dc and media extensions)."""
    return _pretty(_feedgen_document(channel, items).rss_str(pretty=True, encoding="UTF-8"))


def render_atom(channel: Channel, items: Sequence[Item]) -> bytes:
    """Atom 1.0, written by feedgen."""
    return _pretty(_feedgen_document(channel, items).atom_str(pretty=True, encoding="UTF-8"))


def _pretty(document: bytes) -> bytes:
    # lxml's declaration uses single quotes; the usual form, and a final newline
    return document.replace(b"<?xml version='1.0' encoding='UTF-8'?>", _DECLARATION, 1)


_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'


def _feedgen_document(channel: Channel, items: Sequence[Item]) -> FeedGenerator:
    """The feed as feedgen models it: what both RSS and Atom are written from. Every
    date is set from the channel and items (feedgen would otherwise say "now")."""
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.load_extension("media", atom=False, rss=True)
    fg.register_extension("feeds", _FeedAdditions, _EntryAdditions)
    fg.id(channel.url(ATOM))
    fg.title(_text(channel.title))
    fg.subtitle(_text(channel.description) or _text(channel.title))
    fg.updated(_utc(channel.updated))
    fg.link(href=channel.url(ATOM), rel="self", type=ATOM.media_type)
    if channel.hub:
        fg.link(href=channel.hub, rel="hub")
    fg.link(href=channel.site_url, rel="alternate", type="text/html")
    fg.author(name=_text(channel.title), uri=channel.site_url)
    fg.generator("feeds", version=__version__)
    fg.docs("https://www.rssboard.org/rss-specification")
    fg.ttl(channel.ttl_minutes)
    if channel.language:
        fg.language(channel.language)
    if channel.icon:
        fg.icon(channel.icon)
        if _image_type(channel.icon) in _RSS_IMAGE_TYPES:
            fg.image(channel.icon, title=_text(channel.title), link=channel.site_url)
    additions: _FeedAdditions = fg.feeds
    additions.rss_self = channel.url(RSS)
    additions.hub = channel.hub
    for item in items:
        _add_entry(fg, item)
    return fg


def _add_entry(fg: FeedGenerator, item: Item) -> None:
    entry = fg.add_entry(order="append")
    entry.id(item.id)
    entry.title(_text(item.title) or item.url)
    entry.link(href=item.url)
    entry.published(_utc(item.published))
    entry.updated(_utc(item.updated))
    if item.author:
        entry.author(name=_text(item.author))
        entry.dc.dc_creator(_text(item.author))
    for category in item.categories:
        entry.category(term=_text(category))
    if item.summary:
        entry.summary(_text(item.summary))
    # RSS's description is HTML: the summary (or the title) as escaped text
    entry.description(html.escape(_text(item.summary or item.title), quote=False))
    entry.content(_text(display_html(item)), type="html")
    if item.image:
        image_type = _image_type(item.image)
        entry.media.content(url=item.image, medium="image", type=image_type, group=None)
        additions: _EntryAdditions = entry.feeds
        additions.enclosure = (item.image, image_type)


class _FeedAdditions(BaseExtension):  # type: ignore[misc]
    """What feedgen's RSS leaves out: the self link to the RSS file (it links every
    format to the one self link it has) and the WebSub hub."""

    def __init__(self) -> None:
        self.rss_self = ""
        self.hub: str | None = None

    def extend_rss(self, rss: etree._Element) -> etree._Element:
        channel = rss.find("channel")
        assert channel is not None
        self_link = channel.find(_ATOM_LINK)
        assert self_link is not None
        self_link.set("href", self.rss_self)
        self_link.set("type", RSS.media_type)
        if self.hub:
            hub = etree.Element(_ATOM_LINK, href=self.hub, rel="hub")
            self_link.addnext(hub)
        return rss


class _EntryAdditions(BaseEntryExtension):  # type: ignore[misc]
    """What feedgen's Atom entries lose: the rel and type of the article's link (feedgen
    1.0 drops a link's attributes) and the main image as an enclosure link."""

    def __init__(self) -> None:
        self.enclosure: tuple[str, str] | None = None

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        for link in entry.iterfind(_ATOM_ENTRY_LINK):
            link.set("rel", "alternate")
            link.set("type", "text/html")
        if self.enclosure:
            href, media_type = self.enclosure
            etree.SubElement(entry, "link", href=href, rel="enclosure", type=media_type)
        return entry

    def extend_rss(self, item: etree._Element) -> etree._Element:
        return item


_ATOM_LINK = "{http://www.w3.org/2005/Atom}link"
_ATOM_ENTRY_LINK = "link"  # feedgen builds entries without a namespace; the feed's applies


def _text(text: str) -> str:
    """Text as XML can hold it: printable text (most) is kept as is."""
    return text if text.isprintable() else strip_xml_illegal(text)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)


def render_json_feed(channel: Channel, items: Sequence[Item]) -> bytes:
    """JSON Feed 1.1, with the standard json module: the head's fields one per line, then
    an item per line."""
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
    lines = ["{", *(f"  {json.dumps(key)}: {_json(value)}," for key, value in head.items())]
    lines.append('  "items": [')
    if items:
        lines.append(",\n".join(f"    {_json(json_feed_item(item))}" for item in items))
    lines += ["  ]", "}", ""]
    return "\n".join(lines).encode()


RSS = FeedFormat("rss", ".xml", "application/rss+xml", "RSS", render_rss)
ATOM = FeedFormat("atom", ".atom", "application/atom+xml", "Atom", render_atom)
JSON_FEED = FeedFormat("json", ".json", "application/feed+json", "JSON Feed", render_json_feed)
FORMATS = {fmt.name: fmt for fmt in (RSS, ATOM, JSON_FEED)}
"""Every output format, by its config name."""


def render_feed_page(
    channel: Channel, items: Sequence[Item], formats: Sequence[FeedFormat]
) -> bytes:
    """``<feed>.html``: the feed's items as a person reads them, with a link to each of
    the feed's formats (and autodiscovery of them). No script; every field escaped."""
    entries = "".join(_page_entry(item) for item in items)
    page = Template(_template("feed.html")).substitute(
        head=_page_head(
            channel.title, channel.language, _alternates(channel, formats), _FEED_PAGE_STYLE
        ),
        title=html.escape(channel.title),
        description=html.escape(channel.description),
        site=html.escape(channel.site_url),
        subscribe=_subscribe_links(channel.feed_id, formats),
        items=entries or "    <p>No items yet: the feed has not found any.</p>\n",
        version=__version__,
    )
    return page.encode()


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
    etree.SubElement(head, "dateModified").text = format_datetime(updated.astimezone(UTC))
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
