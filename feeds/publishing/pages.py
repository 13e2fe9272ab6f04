"""The pages for people: a page per feed (its items as a browser shows them), the output
directory's ``index.html``, and the OPML subscription lists. No script; every field
escaped."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from email.utils import format_datetime
from functools import cache
from importlib.resources import files
from string import Template

from lxml import etree

from feeds import __version__
from feeds.models import Item
from feeds.publishing.channel import (
    EMPTY_FEED_DATE,
    Channel,
    FeedFormat,
    file_name,
    page_name,
    rfc3339,
)
from feeds.publishing.formats import FORMATS
from feeds.urls import is_web_url


def render_feed_page(
    channel: Channel, items: Sequence[Item], formats: Sequence[FeedFormat]
) -> bytes:
    """``<feed>.html``: the feed's items as a person reads them, with a link to each of
    the feed's formats (and autodiscovery of them). No script; every field escaped."""
    entries = "".join(_page_entry(item) for item in items)
    page = Template(_template("feed.html")).substitute(
        head=page_head(
            channel.title, channel.language, _alternates(channel, formats), _FEED_PAGE_STYLE
        ),
        title=html.escape(channel.title),
        description=html.escape(channel.description),
        site=html.escape(channel.site_url),
        subscribe=subscribe_links(channel.feed_id, formats),
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
        f'      <p class="meta"><time datetime="{rfc3339(item.published)}">{when}</time>'
        f"{byline}</p>\n"
        f"{image}"
        f"      <p>{html.escape(item.summary)}</p>\n"
        # the whole text on demand, without a script (the content is sanitised HTML)
        f"      <details><summary>Full text</summary>\n"
        f'        <div class="content">{item.content_html}</div>\n'
        "      </details>\n"
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


def subscribe_links(feed_id: str, formats: Sequence[FeedFormat]) -> str:
    return ", ".join(
        f'<a href="{html.escape(file_name(feed_id, fmt))}" type="{fmt.media_type}">{fmt.label}</a>'
        for fmt in formats
    )


# the output directory's index page and OPML


@dataclass(frozen=True, slots=True)
class Listing:
    """One feed as the index page and the OPML files list it."""

    channel: Channel
    formats: tuple[FeedFormat, ...]
    items: int
    published: bool = True
    """Whether its files are in the output directory (not before a first run read one of
    its sources): the pages link only to files that are there."""


def _index_row(listing: Listing) -> str:
    """One feed of the index page."""
    channel = listing.channel
    updated = "never"
    if channel.updated != EMPTY_FEED_DATE:
        when = f"{channel.updated:%Y-%m-%d %H:%M} UTC"
        updated = f'<time datetime="{rfc3339(channel.updated)}">{when}</time>'
    page = html.escape(page_name(channel.feed_id))
    site = html.escape(channel.site_url)
    name = html.escape(channel.title)
    heading = f'<a href="{page}">{name}</a>' if listing.published else name
    subscribe = (
        f"Subscribe: {subscribe_links(channel.feed_id, listing.formats)}"
        if listing.published
        else "Not published yet: no source of this feed could be read so far."
    )
    return f"""    <li>
      <h2>{heading}</h2>
      <p>{html.escape(channel.description)}</p>
      <p>{_count(listing.items, "item")} · updated {updated} · from <a href="{site}">{site}</a></p>
      <p>{subscribe}</p>
    </li>"""


def render_index(
    listings: Sequence[Listing],
    *,
    title: str = "Feeds",
    on_demand: Sequence[Listing] = (),
    status_link: bool = False,
) -> bytes:
    """``index.html``: every feed with its description, item count, last update, its page
    and a subscribe link per format, the feeds made on demand apart; the OPML files;
    autodiscovery of every feed; with ``status_link``, a link to the service's ``/status``."""
    rows = [_index_row(listing) for listing in listings]
    if on_demand:
        rows.append("  </ul>\n  <h2>Made on demand (<code>/full?url=</code>)</h2>\n  <ul>")
        rows += [_index_row(listing) for listing in on_demand]
    opml = ", ".join(
        f'<a href="{opml_name(fmt)}">{opml_name(fmt)}</a>'
        + (f" ({fmt.label})" if fmt is not None else " (each feed in its first format)")
        for fmt in (None, *FORMATS.values())
    )
    alternates = "\n".join(
        _alternates(listing.channel, listing.formats)
        for listing in (*listings, *on_demand)
        if listing.published
    )
    page = Template(_template("index.html")).substitute(
        head=page_head(title, "en", alternates, _INDEX_STYLE),
        title=html.escape(title),
        count=_count(len(listings), "feed"),
        opml=opml,
        status=STATUS_LINK if status_link else "",
        feeds="\n".join(rows),
        version=__version__,
    )
    return page.encode()


STATUS_LINK = (
    '  <p>How the feeds are doing (last run, errors, next run): <a href="status">status</a>.</p>\n'
)
_INDEX_STYLE = """    ul { padding: 0; }
    li { list-style: none; margin: 0 0 1.5rem; }
    p { margin: .2rem 0; }"""
_FEED_PAGE_STYLE = """    article { margin: 0 0 2.5rem; overflow-wrap: anywhere; }
    p { margin: .3rem 0; }
    .meta { color: #555; font-size: .9rem; }
    summary { cursor: pointer; color: #555; }
    .content { border-left: 3px solid #ddd; padding-left: .8rem; }
    pre { white-space: pre-wrap; }
    table { display: block; overflow-x: auto; }
    img, video { display: block; max-width: 100%; width: auto; height: auto;
                 aspect-ratio: auto; margin: 0; }
    figure { margin: .5rem 0; }"""


def page_head(title: str, language: str | None, alternates: str, style: str) -> str:
    """The head the pages for people share: language, title, no icon request,
    autodiscovery links, the common style and ``style``."""
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
        if chosen not in listing.formats or not listing.published:
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
    return (files("feeds.publishing") / "templates" / name).read_text(encoding="utf-8")
