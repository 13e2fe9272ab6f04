"""Small helpers over lxml's HTML trees, shared by the stages that read HTML.

lxml is the common tree type of feeds: sources, extract and normalise all work on
``lxml.html.HtmlElement`` trees, so parsing, CSS selection and text collection live here once.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from functools import lru_cache
from html import escape as html_escape
from html.entities import html5, name2codepoint
from urllib.parse import urlsplit

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector, SelectorError
from lxml.html import HtmlElement as HtmlElement

from feeds.urls import resolve_reference

# Characters XML 1.0 forbids, plus the C1 controls and non-characters readers choke on.
_XML_ILLEGAL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
)

# HTML5 void elements that libxml2 takes for containers: it would nest the rest of the
# paragraph (or the page, after an <embed>) inside them, out of the article
_UNKNOWN_VOID = re.compile(
    r"<(embed|source|track|wbr|keygen)\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.IGNORECASE
)
_CHARACTER_REFERENCE = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));?")
# the references every page is full of are HTML 4's, which libxml2 knows: not matched
_NAMED_REFERENCE = re.compile(
    r"&(?!(?:amp|lt|gt|quot|nbsp|apos|copy|hellip|mdash|ndash);)([A-Za-z][A-Za-z0-9]{1,31});"
)
_HTML4_NAMES = frozenset(name2codepoint) | {"apos"}
_HTML5_ENTITIES = html5


def strip_xml_illegal(text: str) -> str:
    """Remove characters that XML 1.0 forbids (control characters, lone surrogates)."""
    # most pages hold none: a search is a third cheaper than a substitution finding none
    return _XML_ILLEGAL.sub("", text) if _XML_ILLEGAL.search(text) else text


def _parseable(html: str) -> str:
    html = _CHARACTER_REFERENCE.sub(_legal_reference, strip_xml_illegal(html))
    html = _NAMED_REFERENCE.sub(_html5_reference, html)
    return _UNKNOWN_VOID.sub(r"<\1\2></\1>", html)


def _html5_reference(match: re.Match[str]) -> str:
    """An HTML5 named reference libxml2 does not know (it knows HTML 4's: ``&percnt;``,
    ``&period;``, ``&lpar;`` would stay as text) as the characters it stands for, escaped
    where they are markup."""
    name = match.group(1)
    if name in _HTML4_NAMES:
        return match.group()
    characters = _HTML5_ENTITIES.get(name + ";")
    return html_escape(characters) if characters is not None else match.group()


def _legal_reference(match: re.Match[str]) -> str:
    """A character reference as a browser reads it: ``&#128;`` to ``&#159;`` as the
    Windows-1252 characters they name (``&#146;`` is an apostrophe, as HTML says), one
    that stands for an illegal character as nothing (``&#14;`` in an attribute would
    otherwise come back as the character itself), any other as it was."""
    hexadecimal, decimal = match.groups()
    code = int(hexadecimal, 16) if hexadecimal else int(decimal)
    if 0x80 <= code <= 0x9F:
        meant = bytes([code]).decode("cp1252", "ignore")  # five codes name nothing
        return f"&#x{ord(meant):X};" if meant else ""
    if code > 0x10FFFF or _XML_ILLEGAL.match(chr(code)):
        return ""
    return match.group()


def _html_parser() -> lxml.html.HTMLParser:
    """lxml's HTML parser giving every element the ``HtmlElement`` class through a lookup
    done in C: lxml.html's own lookup (special classes for forms and inputs, which feeds
    never uses) is a Python call per element visited, a tenth of extraction's time."""
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)
    parser.set_element_class_lookup(
        etree.ElementDefaultClassLookup(element=HtmlElement, comment=lxml.html.HtmlComment)
    )
    return parser


class _Parsers(threading.local):
    """A parser per thread: one lxml parser is used by one thread at a time."""

    def __init__(self) -> None:
        self.document = _html_parser()
        self.fragment = _html_parser()


_PARSERS = _Parsers()
_EMPTY_DOCUMENT = b"<html><body></body></html>"
_EMPTY_FRAGMENT = b"<html><body><div></div></body></html>"


def parse_document(text: str | bytes) -> HtmlElement:
    """Parse a whole HTML document; never raises on malformed markup. Characters XML
    cannot hold (and references to them) are dropped first: they mean nothing in a page,
    and trafilatura gives up on a tree that contains one. Void elements libxml2 does not
    know as void are closed where they start."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    # bytes for lxml: it refuses str input that declares an encoding in an XML declaration
    data = _parseable(text).encode("utf-8")
    try:
        return lxml.html.document_fromstring(data, parser=_PARSERS.document)
    except (etree.ParserError, ValueError):
        return lxml.html.document_fromstring(_EMPTY_DOCUMENT, parser=_PARSERS.document)


def parse_fragment(html: str) -> HtmlElement:
    """Parse an HTML fragment into a ``<div>`` wrapping it (cleaned as ``parse_document``
    cleans a page). The wrapper is the parsed ``<body>`` renamed, so that every element
    stays in a document of this module's parser (and its element lookup)."""
    html = _parseable(html)
    parts = lxml.html.fragments_fromstring(html, parser=_PARSERS.fragment) if html.strip() else []
    for part in parts:
        if not isinstance(part, str):
            wrapper = part.getparent()
            if wrapper is not None:
                wrapper.tag = "div"
                return wrapper
    root = lxml.html.document_fromstring(_EMPTY_FRAGMENT, parser=_PARSERS.fragment)
    wrapper = root.find(".//div")
    assert wrapper is not None
    wrapper.text = parts[0] if parts and isinstance(parts[0], str) else None
    return wrapper


def to_html(element: HtmlElement, *, inner: bool = False) -> str:
    """Serialise an element (or only its content, with ``inner``) as HTML."""
    if not inner:
        return str(lxml.html.tostring(element, encoding="unicode", method="html"))
    parts = [element.text or ""]
    parts.extend(
        str(lxml.html.tostring(child, encoding="unicode", method="html")) for child in element
    )
    return "".join(parts)


def serialize_inner(element: etree._Element) -> str:
    """The content of any lxml element (HTML or XML tree) serialised as HTML."""
    parts = [html_escape(element.text or "", quote=False)]
    parts.extend(etree.tostring(child, encoding="unicode", method="html") for child in element)
    return "".join(parts).strip()


@lru_cache(maxsize=512)
def is_xpath(expression: str) -> bool:
    """Whether a rule's selector is XPath (it starts with ``/`` or ``(``), else CSS."""
    return expression.lstrip().startswith(("/", "("))


@lru_cache(maxsize=4096)
def compile_selector(expression: str) -> CSSSelector | etree.XPath:
    """Compile a selector once: XPath when ``is_xpath``, else CSS; raises ``ValueError``
    with a readable reason."""
    if is_xpath(expression):
        try:
            return etree.XPath(expression.strip(), smart_strings=False)
        except etree.XPathSyntaxError as exc:
            raise ValueError(f"not a valid XPath expression: {exc}") from None
    try:
        return CSSSelector(expression, translator="html")
    except SelectorError as exc:
        raise ValueError(f"not a valid CSS selector: {exc}") from None


def select_values(root: HtmlElement, expression: str) -> list[HtmlElement | str]:
    """What a selector finds under ``root``, in document order: elements, and for an
    XPath that ends in an attribute or text (``//meta[@name='author']/@content``) strings.
    An XPath that cannot be evaluated on this page (an unknown function) finds nothing."""
    try:
        found = compile_selector(expression)(root)
    except etree.XPathEvalError as exc:
        logging.getLogger(__name__).debug("rule %r: %s", expression, exc)
        return []
    if not isinstance(found, list):  # an XPath's number, string or boolean
        return [str(found)] if isinstance(found, str) and found.strip() else []
    return [item if isinstance(item, HtmlElement) else str(item) for item in found if _kept(item)]


def _kept(item: object) -> bool:
    return isinstance(item, HtmlElement) or (isinstance(item, str) and bool(item.strip()))


def select(root: HtmlElement, expression: str) -> list[HtmlElement]:
    """Every element under ``root`` matching a selector (CSS or XPath), in document order."""
    return [item for item in select_values(root, expression) if isinstance(item, HtmlElement)]


def base_url(document: HtmlElement, page_url: str) -> str:
    """What relative links and images of a document resolve against: its first
    ``<base href>`` when that is an http(s) (or, for a saved page, file) address, else
    its URL (a ``javascript:`` base is ignored, as it gives no usable address)."""
    for base in document.iter("base"):
        href = base.get("href")
        if href is None or not href.strip():
            continue
        resolved = resolve_reference(page_url, href)
        if resolved is not None and urlsplit(resolved).scheme.lower() in ("http", "https", "file"):
            return resolved
        return page_url
    return page_url


_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "ul",
        "ol",
        "blockquote",
        "pre",
        "table",
        "tr",
        "figure",
        "figcaption",
        "br",
        "hr",
        "section",
        "article",
        "header",
        "footer",
        "dd",
        "dt",
        "dl",
    ]
)


_CELL_TAGS = frozenset(["td", "th"])


def block_text(element: HtmlElement) -> str:
    """Readable plain text: one line per block element, whitespace collapsed inside lines;
    a table's cells on a row are kept apart by " | "."""
    parts: list[str] = []

    def walk(node: HtmlElement) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in _BLOCK_TAGS:
            parts.append("\n")
        elif tag in _CELL_TAGS and node.getprevious() is not None:
            parts.append(" | ")
        if node.text and tag not in ("script", "style"):
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if tag in _BLOCK_TAGS:
            parts.append("\n")

    walk(element)
    lines = (collapse_whitespace(line) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def text_of(element: HtmlElement) -> str:
    """The element's text with whitespace collapsed."""
    return collapse_whitespace(element.text_content())


def ascii_number(value: str) -> bool:
    """Whether a value (an HTTP header, an HTML attribute) is a number in ASCII digits:
    ``str.isdigit`` also takes "²" or "٣", which ``int`` then refuses."""
    return value.isascii() and value.isdigit()


def collapse_whitespace(text: str) -> str:
    """Runs of whitespace become one space; ends trimmed."""
    return " ".join(text.split())


_FOLDED = str.maketrans(
    {
        **dict.fromkeys("‘’‚‛′`´", "'"),
        **dict.fromkeys("“”„‟″«»", '"'),
        **dict.fromkeys("‐‑‒–—―−", "-"),
        "…": "...",
        "\u00ad": None,  # soft hyphen
        "\u200b": None,  # zero-width space
    }
)


def fold(text: str) -> str:
    """Text reduced for comparison: typographic quotes, dashes and ellipses as their
    plain forms, whitespace collapsed, case folded. A page's metadata and its body often
    differ only in those."""
    return collapse_whitespace(unicodedata.normalize("NFKC", text).translate(_FOLDED)).casefold()


def drop_elements(root: HtmlElement, selector: str) -> int:
    """Remove every element matching ``selector`` (with its content, keeping its tail text)."""
    matches = select(root, selector)
    for element in matches:
        if element.getparent() is not None:
            element.drop_tree()
    return len(matches)
