"""Hostile pages: executable content never reaches a feed reader, XML never explodes.

The XSS corpus (tests/data/xss-vectors.txt) goes through the whole path a page takes:
extraction, normalising (nh3), publishing in every format; each feed is then read back as a
reader would, and every piece of HTML in it (and every text a lenient reader might render
as HTML) is checked with two different HTML parsers.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest
from lxml import etree
from lxml import html as lxml_html

from feeds.config import SourceConfig
from feeds.errors import ExtractionError, SourceError
from feeds.extraction.article import extract_article
from feeds.extraction.normalise import clean_html, normalise
from feeds.fetching.encoding import detect_encoding
from feeds.models import Item, Link, Page
from feeds.publishing.formats import FORMATS
from feeds.publishing.outlets import DirectoryOutlet, publish
from feeds.sources import discover
from tests.conftest import DATA
from tests.fakes import fetched_page
from tests.test_publish import CHANNEL

NOW = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
VECTORS = [
    line.replace("\\n", "\n")
    for line in (DATA / "xss-vectors.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]
BEFORE = "Before the vector, the harbour council met on Tuesday to discuss the ferry timetable."
AFTER = "After the vector, residents asked about parking and the library's new opening hours."
FILLER = (
    "The meeting went on until late in the evening, and several councillors spoke about "
    "the cost of the new pier, the noise of the works and the buses that would replace the "
    "boats during the summer months while the harbour wall is repaired."
)

# what a feed reader must never receive
FORBIDDEN_TAGS = {
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form",
    "input", "button", "select", "textarea", "option", "meta", "base", "link", "svg", "math",
    "template", "noscript", "xmp", "noembed", "param", "isindex", "keygen", "image",
    "marquee", "title", "body", "html", "head", "set", "animate", "use", "foreignobject",
}  # fmt: skip
URL_ATTRIBUTES = {
    "href", "src", "srcset", "cite", "action", "formaction", "background", "poster", "data",
    "xlink:href", "lowsrc", "dynsrc", "ping", "longdesc", "usemap", "codebase", "manifest",
}  # fmt: skip
ACTIVE_ATTRIBUTES = {"style", "srcdoc", "http-equiv", "formaction", "action", "autofocus"}
SAFE_URL = re.compile(r"(https?://|mailto:)", re.IGNORECASE)


def executable_parts(fragment: str) -> list[str]:
    """What in ``fragment``, read as HTML, could run code or restyle the reader: forbidden
    elements, event handlers and active attributes, URLs of any scheme but http(s) and
    mailto. Checked with lxml (libxml2) and with Python's own tokenizer, which split
    malformed markup differently."""
    problems: list[str] = []

    def check(tag: str, attributes: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        if tag in FORBIDDEN_TAGS:
            problems.append(f"<{tag}>")
        for name, value in attributes:
            name = name.lower()
            if name.startswith("on") or name in ACTIVE_ATTRIBUTES:
                problems.append(f"<{tag} {name}>")
            elif name in URL_ATTRIBUTES and value is not None:
                urls = (
                    [c.split()[0] for c in value.split(",") if c.split()]
                    if "srcset" in name
                    else [value]
                )
                for url in urls:
                    plain = re.sub(r"[\x00-\x20\x7f]+", "", html.unescape(url))
                    if not SAFE_URL.match(plain):
                        problems.append(f"<{tag} {name}={url!r}>")

    if fragment.strip():
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
        for element in root.iter():
            if not isinstance(element.tag, str):
                problems.append("a comment or processing instruction")
                continue
            if element is not root:
                check(element.tag, [(k, v) for k, v in element.attrib.items()])

    class Tokenizer(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            check(tag, attrs)

        def handle_comment(self, data: str) -> None:
            problems.append("a comment")

        def handle_pi(self, data: str) -> None:
            problems.append("a processing instruction")

    tokenizer = Tokenizer(convert_charrefs=True)
    tokenizer.feed(fragment)
    tokenizer.close()
    return problems


def test_the_checker_sees_what_it_must() -> None:
    """The checker itself, on raw vectors: it must flag nearly all of them (the few it
    passes are harmless as they stand: an unclosed link, a target=_blank, an image)."""
    flagged = sum(1 for vector in VECTORS if executable_parts(vector))
    assert flagged >= len(VECTORS) - 8
    assert (
        executable_parts('<p><a href="https://a.example/">a</a><img src="http://b/x.png"></p>')
        == []
    )


# Malformed vectors after which the rest of the article is lost: an unclosed <script> (a
# browser swallows the rest too), an unclosed <svg> and a tag cut off inside its attributes
# (libxml2 nests what follows inside the broken element, which the sanitiser drops).
SWALLOWING = {
    "<SCRIPT SRC=http://evil.example/xss.js?< B >",
    "<div><script>alert(1)</script</div>",
    "<svg onload=alert(1)>",
    "<svg/onload=alert(1)>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
}
# (An <img> cut off inside its attributes no longer swallows the text after it: text is
# extracted without images, and images come back from the page one by one.)


def article_page(number: int, vector: str) -> Page:
    body = (
        f"<!DOCTYPE html><html><head><title>Story {number} of the harbour</title></head><body>"
        '<header><nav><a href="/">Home</a> <a href="/news/">News</a></nav></header>'
        f"<article><h1>Story {number} of the harbour</h1>"
        f"<p>{BEFORE} {FILLER}</p>\n{vector}\n<p>{AFTER} {FILLER}</p>"
        f"<p>{FILLER}</p></article><footer>All rights reserved</footer></body></html>"
    ).encode()
    url = f"https://herald.example/news/{number}"
    return fetched_page(body, url, encoding=detect_encoding(body, "text/html"), fetched_at=NOW)


def items_from_vectors() -> tuple[list[Item], int]:
    items, no_article = [], 0
    for number, vector in enumerate(VECTORS):
        page = article_page(number, vector)
        try:
            article = extract_article(page)
        except ExtractionError:
            no_article += 1
            continue
        link = Link(page.url, "hostile")
        items.append(normalise(article, link, feed="hostile", first_seen=NOW))
    return items, no_article


def published_fields(output: Path) -> dict[str, list[tuple[str, str]]]:
    """Per format, every (field, value) a reader may render: HTML, and text too."""
    fields: dict[str, list[tuple[str, str]]] = {"rss": [], "atom": [], "json": []}
    rss = etree.parse(str(output / "hostile.xml"))  # strict: no recovery
    for item in rss.iter("item"):
        for child in item:
            if isinstance(child.tag, str) and child.text:
                fields["rss"].append((etree.QName(child).localname, child.text))
    atom = etree.parse(str(output / "hostile.atom"))
    for entry in atom.iter("{http://www.w3.org/2005/Atom}entry"):
        for child in entry.iter():
            if isinstance(child.tag, str) and child.text and child.text.strip():
                fields["atom"].append((etree.QName(child).localname, child.text))
    document = json.loads((output / "hostile.json").read_text(encoding="utf-8"))
    for entry in document["items"]:
        for name, value in entry.items():
            if isinstance(value, str):
                fields["json"].append((name, value))
    return fields


def test_no_executable_content_survives_in_any_format(tmp_path: Path) -> None:
    assert len(VECTORS) >= 100
    items, no_article = items_from_vectors()
    assert no_article == 0
    channel = replace(CHANNEL, feed_id="hostile")
    publish(channel, items, list(FORMATS.values()), DirectoryOutlet(tmp_path))
    survived: list[str] = []
    for fmt, fields in published_fields(tmp_path).items():
        for name, value in fields:
            for problem in executable_parts(value):
                survived.append(f"{fmt} {name}: {problem} in {value[:120]!r}")
    assert survived == []
    # the legitimate text around every vector is still there, in every format
    lost_after = set()
    for item in items:
        text = lxml_html.fragment_fromstring(item.content_html, create_parent="div").text_content()
        assert BEFORE in text, item.url
        if AFTER not in text:
            lost_after.add(VECTORS[int(item.url.rsplit("/", 1)[1])])
    assert lost_after == SWALLOWING
    for fmt in ("hostile.xml", "hostile.atom", "hostile.json"):
        published = (tmp_path / fmt).read_text(encoding="utf-8")
        assert published.count(BEFORE.split(",")[0]) >= len(items)
    parsed = feedparser.parse(str(tmp_path / "hostile.xml"))
    assert parsed.bozo == 0 and len(parsed.entries) == len(VECTORS)


@pytest.mark.parametrize("vector", VECTORS)
def test_the_sanitiser_alone_leaves_nothing_executable(vector: str) -> None:
    """Straight into the sanitiser, without extraction's own filtering first."""
    cleaned = clean_html(f"<p>{BEFORE}</p>{vector}<p>{AFTER}</p>", base="https://herald.example/a")
    assert executable_parts(cleaned) == []
    assert BEFORE in cleaned


# XML bombs and external entities in feeds and sitemaps

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""
QUADRATIC = '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "' + "A" * 50_000 + '">]>\n'
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">
 <!ENTITY remote SYSTEM "http://127.0.0.1:9/dtd">]>
"""


def rss_with(prolog: str, reference: str) -> bytes:
    return (
        prolog + '<rss version="2.0"><channel><title>Bomb</title><link>https://herald.example/'
        f"</link><description>x</description><item><title>Item {reference}</title>"
        f"<link>https://herald.example/news/1</link><description>{reference}</description>"
        "</item></channel></rss>"
    ).encode()


def sitemap_with(prolog: str, reference: str) -> bytes:
    return (
        prolog + '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>'
        f"https://herald.example/news/1?{reference}</loc></url></urlset>"
    ).encode()


BOMBS = {
    "billion laughs": (BILLION_LAUGHS, "&lol9;"),
    "quadratic blowup": (QUADRATIC, "&a;" * 2000),
    "external entities": (EXTERNAL, "&secret;&remote;"),
}


@pytest.mark.parametrize("name", list(BOMBS))
@pytest.mark.parametrize("kind", ["feed", "sitemap"])
def test_xml_bombs_neither_expand_nor_leak(name: str, kind: str) -> None:
    """Entity declarations are not expanded (no memory blowup) and external entities are
    never read (no file or network access): the source fails or yields short links."""
    prolog, reference = BOMBS[name]
    body = rss_with(prolog, reference) if kind == "feed" else sitemap_with(prolog, reference)
    url = f"https://herald.example/{kind}.xml"
    content_type = "application/rss+xml" if kind == "feed" else "application/xml"
    page = Page(url, url, 200, content_type, body, "utf-8", NOW)
    source = SourceConfig(url=url)
    try:
        found = discover(page, source, max_age=None, now=NOW)
    except Exception as exc:  # a refusal must be a clear SourceError, not a crash
        assert isinstance(exc, SourceError), repr(exc)
        return
    text = repr(found)
    assert len(text) < 20_000
    assert "root:" not in text  # /etc/passwd was not read
    assert "lollollol" not in text
