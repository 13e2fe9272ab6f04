"""RSS 2.0 and Atom 1.0, written by feedgen (with its dc and media extensions).

What feedgen cannot express is added on its document by a feedgen extension
(``_FeedAdditions``, ``_EntryAdditions``), never by a second writer. Every date is given
to feedgen (it would write the current time), entries are appended in order.

- RSS: the item description holds the summary as escaped HTML; ``content:encoded`` holds
  the article's HTML, escaped (never CDATA); ``dc:creator`` names the author; the main
  image is ``media:content``.
- Atom has ``type="html"`` content, a feed-level author (so every entry has one), a
  ``rel="self"`` link to where the file is served, RFC 3339 dates, and the main image as
  an ``enclosure`` link.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from feeds import __version__
from feeds.html import strip_xml_illegal
from feeds.models import MAX_CATEGORIES, Item
from feeds.publishing.channel import Channel, FeedFormat, display_html, image_type


def render_rss(channel: Channel, items: Sequence[Item]) -> bytes:
    """RSS 2.0, written by feedgen (with its dc and media extensions)."""
    document = _feedgen_document(channel, items).rss_str(pretty=True, encoding="UTF-8")
    return _pretty(_PLAIN_TEXT_ELEMENT.sub(_hexadecimal_references, document))


# RSS's plain-text elements, whose "&" and "<" the W3C validator wants as hexadecimal
# references (CharacterData): a reader that takes them for HTML then shows the character
_PLAIN_TEXT_ELEMENT = re.compile(rb"(<(title|dc:creator|category)(?: [^>]*)?>)([^<]*)(</\2>)")


def _hexadecimal_references(match: re.Match[bytes]) -> bytes:
    text = match.group(3).replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")
    return match.group(1) + text + match.group(4)


def render_atom(channel: Channel, items: Sequence[Item]) -> bytes:
    """Atom 1.0, written by feedgen."""
    return _pretty(_feedgen_document(channel, items).atom_str(pretty=True, encoding="UTF-8"))


def _pretty(document: bytes) -> bytes:
    # lxml's declaration uses single quotes; the usual form, and a final newline
    return document.replace(b"<?xml version='1.0' encoding='UTF-8'?>", _DECLARATION, 1)


_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'


_RSS_IMAGE_TYPES = ("image/gif", "image/jpeg", "image/png")


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
        if image_type(channel.icon) in _RSS_IMAGE_TYPES:
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
    # feedgen adds categories in quadratic time: an item stored with thousands is cut
    for category in item.categories[:MAX_CATEGORIES]:
        entry.category(term=_text(category))
    if item.summary:
        entry.summary(_text(item.summary))
    # RSS's description is HTML: the summary (or the title) as escaped text
    entry.description(html.escape(_text(item.summary or item.title), quote=False))
    entry.content(_text(display_html(item)), type="html")
    additions: _EntryAdditions = entry.feeds
    if item.image:
        media_type = image_type(item.image)
        entry.media.content(url=item.image, medium="image", type=media_type, group=None)
        additions.enclosure = (item.image, media_type)
    if item.language:
        entry.dc.dc_language(item.language)
        additions.language = item.language


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
    1.0 drops a link's attributes), the main image as an enclosure link, and the entry's
    language (``xml:lang``: an item in Korean in a feed in English)."""

    def __init__(self) -> None:
        self.enclosure: tuple[str, str] | None = None
        self.language: str | None = None

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        if self.language:
            entry.set(_XML_LANG, self.language)
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
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_ATOM_ENTRY_LINK = "link"  # feedgen builds entries without a namespace; the feed's applies


def _text(text: str) -> str:
    """Text as XML can hold it: printable text (most) is kept as is."""
    return text if text.isprintable() else strip_xml_illegal(text)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)


RSS = FeedFormat("rss", ".xml", "application/rss+xml", "RSS", render_rss)
ATOM = FeedFormat("atom", ".atom", "application/atom+xml", "Atom", render_atom)
