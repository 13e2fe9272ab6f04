"""A strict check of a produced feed document, for tests.

- well-formed XML (or JSON), UTF-8;
- Atom: valid against the RELAX NG schema of RFC 4287 (Appendix B, tests/data/atom), and
  the schema's two schematron rules (an author for every entry; an alternate link or
  content for every entry);
- RSS: the channel and item elements RSS 2.0 requires, a ``guid`` per item;
- JSON Feed 1.1: version, title, and an id per item;
- feedparser reads it with ``bozo`` 0 (RSS and Atom);
- every date parses and has a time zone;
- every URL is absolute, in the document and inside its HTML content;
- no raw ``<![CDATA[`` and no U+FFFD in any text.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import rnc2rng
from lxml import etree
from lxml import html as lxml_html

ATOM_NS = "{http://www.w3.org/2005/Atom}"
_SCHEMA = Path(__file__).parent / "data" / "atom" / "rfc4287.rnc"
_URL_ATTRIBUTES = ("href", "src", "url", "xmlUrl", "htmlUrl")


class FeedProblemError(AssertionError):
    """The document breaks one of the rules above."""


@cache
def atom_schema() -> etree.RelaxNG:
    """RFC 4287's schema, converted from the compact syntax it is published in."""
    rng = rnc2rng.dumps(rnc2rng.load(str(_SCHEMA)))
    # rnc2rng declares the empty "local" namespace, which XML does not allow
    rng = rng.replace(' xmlns:local=""', "")
    return etree.RelaxNG(etree.fromstring(rng.encode()))


def check_feed(data: bytes, fmt: str) -> Any:
    """Check a feed document strictly; returns what feedparser (or json) read from it."""
    text = data.decode("utf-8")
    _require("<![CDATA[" not in text, "raw CDATA section")
    _require("\ufffd" not in text, "U+FFFD replacement character")
    if fmt == "json":
        return _check_json_feed(text)
    root = etree.fromstring(data)
    if fmt == "atom":
        _check_atom(root)
    else:
        _check_rss(root)
        _check_plain_text(text)
    _check_urls(root)
    parsed = feedparser.parse(data)
    _require(parsed.bozo == 0, f"feedparser: {parsed.get('bozo_exception')}")
    return parsed


def _check_atom(root: etree._Element) -> None:
    schema = atom_schema()
    if not schema.validate(root):
        raise FeedProblemError(f"RFC 4287 schema: {schema.error_log}")
    feed_author = root.find(f"{ATOM_NS}author") is not None
    for entry in root.iter(f"{ATOM_NS}entry"):
        _require(feed_author or entry.find(f"{ATOM_NS}author") is not None, "entry without author")
        links = [
            link
            for link in entry.iter(f"{ATOM_NS}link")
            if link.get("rel", "alternate") == "alternate"
        ]
        _require(bool(links) or entry.find(f"{ATOM_NS}content") is not None, "entry without link")
        for name in ("published", "updated"):
            for element in entry.iter(f"{ATOM_NS}{name}"):
                _rfc3339(element.text or "")
    updated = [entry.findtext(f"{ATOM_NS}updated") for entry in root.iter(f"{ATOM_NS}entry")]
    _require(len(updated) == len(set(updated)), "entries sharing an updated time")  # W3C
    for element in root.iter(f"{ATOM_NS}content", f"{ATOM_NS}summary", f"{ATOM_NS}title"):
        if element.get("type") == "html":
            _check_html(element.text or "")
    self_links = [link for link in root.findall(f"{ATOM_NS}link") if link.get("rel") == "self"]
    _require(len(self_links) == 1, "feed without exactly one rel=self link")


def _check_rss(root: etree._Element) -> None:
    _require(root.tag == "rss" and root.get("version") == "2.0", "not RSS 2.0")
    channel = root.find("channel")
    _require(channel is not None, "no channel")
    assert channel is not None
    for required in ("title", "link", "description"):
        _require(bool(channel.findtext(required)), f"channel without {required}")
    atom_self = [link for link in channel.findall(f"{ATOM_NS}link") if link.get("rel") == "self"]
    _require(len(atom_self) == 1, "channel without an atom:link rel=self")
    for name in ("lastBuildDate", "pubDate"):
        for element in channel.iter(name):
            _rfc822(element.text or "")
    for item in channel.iter("item"):
        _require(
            bool(item.findtext("title") or item.findtext("description")),
            "item without title or description",
        )
        _require(item.find("guid") is not None, "item without guid")
        encoded = item.findtext("{http://purl.org/rss/1.0/modules/content/}encoded")
        _check_html(encoded or "")
        _check_html(item.findtext("description") or "")


def _check_plain_text(text: str) -> None:
    """The W3C validator's CharacterData warning: "&" and "<" in RSS's plain text
    elements as hexadecimal references, not named ones."""
    for element in re.findall(r"<(?:title|dc:creator|category)>([^<]*)<", text):
        _require(
            "&amp;" not in element and "&lt;" not in element, f"named reference in {element!r}"
        )


def _check_json_feed(text: str) -> dict[str, Any]:
    feed = json.loads(text)
    _require(feed.get("version") == "https://jsonfeed.org/version/1.1", "JSON Feed version")
    _require(isinstance(feed.get("title"), str) and feed["title"], "JSON Feed without title")
    for key in ("home_page_url", "feed_url", "icon", "favicon"):
        if key in feed:
            _absolute(feed[key])
    for item in feed.get("items", []):
        _require(isinstance(item.get("id"), str) and item["id"], "JSON Feed item without id")
        for key in ("url", "image"):
            if key in item:
                _absolute(item[key])
        for key in ("date_published", "date_modified"):
            if key in item:
                _rfc3339(item[key])
        _check_html(item.get("content_html", ""))
    return dict(feed)


def _check_urls(root: etree._Element) -> None:
    for element in root.iter():
        for name in _URL_ATTRIBUTES:
            if element.get(name) is not None:
                _absolute(element.get(name, ""))
        tag = etree.QName(element).localname if isinstance(element.tag, str) else ""
        if tag in ("link", "url", "icon", "logo", "uri") and element.text and element.text.strip():
            _absolute(element.text.strip())


def _check_html(fragment: str) -> None:
    if not fragment.strip():
        return
    tree = lxml_html.fragment_fromstring(fragment, create_parent="div")
    for element in tree.iter():
        for name in ("href", "src"):
            value = element.get(name)
            if value is not None and not value.startswith("mailto:"):
                _absolute(value)


def _absolute(url: str) -> None:
    parts = urlsplit(url)
    _require(parts.scheme in ("http", "https") and bool(parts.netloc), f"URL not absolute: {url!r}")


def _rfc3339(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    _require(parsed.tzinfo is not None, f"date without time zone: {value!r}")
    return parsed


def _rfc822(value: str) -> datetime:
    parsed = parsedate_to_datetime(value)
    _require(parsed.tzinfo is not None, f"date without time zone: {value!r}")
    return parsed


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise FeedProblemError(problem)
