"""Article -> Item: canonical URL, stable id, clean absolute HTML, summary, fingerprint.

Pure. The only module that imports nh3; sanitising is the last step on content, after
every URL has been made absolute, so nothing added later can slip past it.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import re
import uuid
from array import array
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape, unescape

import nh3

from feeds.dates import FUTURE_TOLERANCE
from feeds.extraction.media import EMBED_MARK, image_source
from feeds.html import (
    HtmlElement,
    collapse_whitespace,
    fold,
    parse_fragment,
    serialize_inner,
    strip_xml_illegal,
)
from feeds.models import MAX_CATEGORIES, Article, Item, Link
from feeds.urls import (
    clean_url,
    escaped,
    is_web_url,
    path_of,
    resolve,
    resolve_reference,
    same_site,
    scheme_of,
    userinfo,
    without_credentials,
)

log = logging.getLogger(__name__)
SUMMARY_LENGTH = 300
REPLACEMENT = "\ufffd"
"""The character a decoder puts for bytes it could not read: never published."""
SKETCH_SIZE = 64
NEAR_DUPLICATE_RESEMBLANCE = 0.8
"""Texts sharing at least this share of their word 3-grams are the same story."""
_MIN_WORDS_FOR_FINGERPRINT = 40

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd",
    "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "picture", "pre",
    "q", "s", "samp", "small", "source", "span", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "var",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "srcset", "alt", "title", "width", "height"},
    "source": {"srcset", "type", "media"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
    "ol": {"start", "reversed"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "abbr": {"title"},
}
SAFE_SCHEMES = {"http", "https", "mailto"}
_URL_ATTRIBUTES = {"a": ("href",), "img": ("src",), "blockquote": ("cite",), "q": ("cite",)}
_WORD = re.compile(r"\w+", re.UNICODE)
_TAG = re.compile(r"<[^>]*>")
_FORMATTING = "b|i|em|strong|u|s|span|small|big|mark|sup|sub|font|br|wbr"


def _tags(names: str) -> re.Pattern[str]:
    """A pattern of the opening, closing and empty tags of these elements."""
    return re.compile(rf"</?(?:{names})(?:\s[^<>]*)?/?>", re.IGNORECASE)


# inline formatting that leaks into titles from CMSs: removed; any other markup is text
_FORMATTING_TAG = _tags(_FORMATTING)
_TAG_LIKE = re.compile(r"</?[A-Za-z][^<>]*>")
# tags a CMS leaves in a summary, its links and paragraphs too: removed (other
# markup-like text stays text)
_MARKUP_IN_TEXT = _tags(f"{_FORMATTING}|a|p|div|img|abbr|cite|q|time")
# what a site puts where it cut its summary: "[…]", "[...]", "… Read more", "Continue reading →"
_MORE_MARKER = re.compile(
    r"\s*(?:\[\s*(?:…|\.\.\.|more|read more|continue reading)\s*\]"
    r"|(?:…|\.\.\.)\s*(?:read more|continue reading|more)?\s*(?:»|→|›)?"
    r"|(?:read more|continue reading)\s*(?:»|→|›|…)?)\s*$",
    re.IGNORECASE,
)
_SENTENCE_ENDS = ".!?…\"'”’)»"
_CUT_MIN_CHARS = 40
# controls that reorder what follows them (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI)
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def normalise(article: Article, link: Link, *, feed: str, first_seen: datetime) -> Item:
    """Turn an extracted article into the item a feed publishes (id not yet fixed: storage
    keeps the id of an item already known by one of its URLs)."""
    url = text_url(canonical_url(article, link))
    title = clean_title(article.title or link.title_hint or _opening_words(article.text) or url)
    base = article.base_url or article.url
    content = clean_html(article.html, base=base, title=title)
    image = _absolute_web_url(base, article.image or link.image_hint) or _first_image(
        article.html, base
    )
    summary = clean_summary(article.description or link.summary_hint or "", article.text) or (
        summarise(_without_headline(article.text, title))
    )
    # a date the page's metadata gives wins; then the source's (a feed entry's), then one
    # guessed from the page's text; without any, the item keeps the time it was first seen
    if article.published is not None and not article.date_guessed:
        published = article.published
    else:
        published = link.published_hint or article.published or first_seen
    if published > first_seen + FUTURE_TOLERANCE:
        log.info("%s: its date %s is in the future: taken as unknown", url, f"{published:%Y-%m-%d}")
        published = first_seen
    published = with_time_of_day(published, first_seen)
    return Item(
        id=item_id(url, feed),
        feed=feed,
        url=url,
        title=title,
        published=published,
        updated=published,
        summary=summary,
        content_html=content,
        fingerprint=fingerprint(_without_headline(article.text, title)),
        first_seen=first_seen,
        author=clean_text(article.author or link.author_hint or "") or None,
        image=image,
        categories=tuple(
            dict.fromkeys(clean_text(c) for c in (article.categories or link.categories_hint))
        )[:MAX_CATEGORIES],
        aliases=tuple(dict.fromkeys(text_url(clean_url(u)) for u in (link.url, article.url))),
        language=article.language,
    )


def link_article(link: Link) -> Article:
    """An article made of what the source said about it (a feed entry, a listing item),
    for sources that are not followed and for pages that cannot be fetched."""
    html = link.content_hint or (
        f"<p>{escape(link.summary_hint, quote=False)}</p>" if link.summary_hint else ""
    )
    text = collapse_whitespace(_TAG.sub(" ", html))
    return Article(
        url=link.url,
        title=link.title_hint or link.url,
        html=html,
        text=unescape(text),
        author=link.author_hint,
        published=link.published_hint,
        description=link.summary_hint,
        image=link.image_hint,
        categories=link.categories_hint,
    )


def with_time_of_day(published: datetime, first_seen: datetime) -> datetime:
    """A date given without a time (it reads as midnight UTC) takes the time of day the
    item was first seen (its whole first-seen time on that day): items of one day then
    keep their order and do not all share one timestamp, which readers sort by and the
    W3C validator flags. (A time of exactly 00:00:00 UTC is taken as no time: a real one
    is rare, and moving it within its day does no harm.)"""
    midnight = (published.hour, published.minute, published.second, published.microsecond)
    if midnight != (0, 0, 0, 0):
        return published
    seen = first_seen.astimezone(UTC)
    return datetime.combine(published.astimezone(UTC).date(), seen.timetz())


def item_id(url: str, feed: str) -> str:
    """A stable id for an item first seen at ``url`` by ``feed``: an RFC 4122 name-based
    URN, another in each feed (a reader that merges items by id shows the article in
    every feed that follows it). Items stored before kept the URL's alone: storage finds
    an item by its URLs and keeps the id it has."""
    return f"urn:uuid:{uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, url), feed)}"


def canonical_url(article: Article, link: Link) -> str:
    """The page's rel=canonical when it is believable, else its URL; cleaned of tracking
    parameters and fragment. A canonical on another site or pointing at the site's home
    page (a common misconfiguration) is ignored."""
    page_url = clean_url(article.url or link.url)
    if article.canonical_url:
        candidate = clean_url(article.canonical_url)
        saved_page = scheme_of(page_url) == "file"  # a local copy names its real address
        points_home = path_of(candidate) == "/" and path_of(page_url) != "/"
        if (
            is_web_url(candidate)
            and not points_home
            and (saved_page or same_site(candidate, page_url))
        ):
            return candidate
    return page_url


def clean_html(html: str, *, base: str, title: str | None = None) -> str:
    """Article HTML made safe for a feed reader: lazy images resolved, every URL absolute,
    the headline not repeated at the top, then sanitised with nh3."""
    root = parse_fragment(html)
    _resolve_lazy_images(root)
    _make_urls_absolute(root, base)
    if title:
        _drop_repeated_headline(root, title)
    cleaned = nh3.clean(
        serialize_inner(root),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        url_schemes=SAFE_SCHEMES,
        url_relative="deny",
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return strip_xml_illegal(_drop_empty_paragraphs(cleaned)).replace(REPLACEMENT, "").strip()


def clean_title(text: str) -> str:
    """A title as plain text: markup in it is text ("a guide to <script> tags"), but the
    inline formatting CMSs leak into titles (``<b>``, ``</em>``) is removed, unless
    removing it would join what is around it into a new tag (``<scr<b>ipt>``)."""
    stripped = _FORMATTING_TAG.sub("", text)
    if set(_TAG_LIKE.findall(stripped)) - set(_TAG_LIKE.findall(text)):
        stripped = text
    return clean_text(stripped)


def clean_text(text: str) -> str:
    """Plain text for titles, names and summaries: one line, no XML-illegal characters,
    no U+FFFD (what a broken encoding left: every reader shows it as a box), and no
    bidirectional override or isolate controls (which make a text read as another)."""
    text = _BIDI_CONTROLS.sub("", strip_xml_illegal(text).replace(REPLACEMENT, ""))
    return collapse_whitespace(text)


def text_url(url: str) -> str:
    """A URL fit to publish: no user name or password, no characters XML forbids (a lone
    surrogate), no bidirectional controls, and what may not stand in a URL
    percent-encoded."""
    return escaped(_BIDI_CONTROLS.sub("", strip_xml_illegal(without_credentials(url))))


def clean_summary(description: str, article_text: str = "") -> str:
    """A summary the page or source gave, as plain text: the markup CMSs leave in it
    (``[<a class="more-link" href=...>more</a>]``) and character references
    (``[&hellip;]``) read, a "read more" marker taken as the cut it says it is, and an
    ellipsis where the site cut the article's own text mid-sentence."""
    text = _MARKUP_IN_TEXT.sub(" ", description) if "<" in description else description
    if "&" in text:
        text = unescape(text)
    text = clean_text(text)
    marker = _MORE_MARKER.search(text)
    cut = False
    if marker:
        text = text[: marker.start()].rstrip(" ,;:-–—")
        cut = bool(text) and text[-1] not in _SENTENCE_ENDS
    elif text and text[-1] not in _SENTENCE_ENDS and len(text) >= _CUT_MIN_CHARS:
        cut = fold(text) in fold(article_text)  # the article's words, stopped short
    return f"{text}…" if cut and text and not text.endswith("…") else text


def summarise(text: str, length: int = SUMMARY_LENGTH) -> str:
    """The start of the text, cut at a word boundary, with an ellipsis when cut."""
    text = clean_text(text)
    if len(text) <= length:
        return text
    cut = text[:length].rsplit(" ", 1)[0].rstrip(" ,;:.-–—")
    return f"{cut}…"


def fingerprint(text: str) -> tuple[int, ...]:
    """A bottom-k MinHash sketch of the text: the ``SKETCH_SIZE`` smallest 64-bit hashes of
    its word 3-grams, sorted. Two sketches estimate how much of the texts is shared."""
    words = _WORD.findall(text.casefold())
    shingles = {" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2))}
    blake2b, from_bytes = hashlib.blake2b, int.from_bytes  # a call per shingle: no lookups
    hashes = [from_bytes(blake2b(s.encode(), digest_size=8).digest(), "big") for s in shingles]
    return tuple(sorted(heapq.nsmallest(SKETCH_SIZE, hashes)))


def resemblance(sketch: Sequence[int], other: Sequence[int]) -> float:
    """Estimated Jaccard resemblance (0..1) of the texts behind two sketches (Broder)."""
    size = min(len(sketch), len(other))
    if size == 0:
        return 0.0
    shared = set(sketch) & set(other)
    union_bottom = heapq.nsmallest(size, set(sketch) | set(other))
    return sum(1 for h in union_bottom if h in shared) / size


def is_near_duplicate(item: Item, sketch: Sequence[int], title: str) -> bool:
    """Whether ``item`` tells the same story as an item with that sketch and title: nearly
    the same text, and either the same title or enough text for the match to mean it."""
    if resemblance(item.fingerprint, sketch) < NEAR_DUPLICATE_RESEMBLANCE:
        return False
    words = len(_WORD.findall(_TAG.sub(" ", item.content_html)))
    return item.title.casefold() == title.casefold() or words >= _MIN_WORDS_FOR_FINGERPRINT


INDEXED_HASHES = 16
"""How many hashes of each sketch (its smallest) the ``SketchIndex`` files an item under."""


class SketchIndex:
    """The sketches of a feed's known items, indexed by hash, so that a new item is compared
    only with the items that share hashes with it instead of with every one.

    An item is filed under the ``INDEXED_HASHES`` smallest hashes of its sketch only: the
    smallest hashes of a text are the likeliest to be among those of a near-copy (they are
    the smallest of the union), so a near-duplicate shares nearly all of them, and the index
    takes a quarter of the memory (it lives as long as a feed's run, for every feed running
    at once). Sketches are kept as arrays of 64-bit integers for the same reason."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, array[int]]] = {}
        self._postings: dict[int, list[str]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item_id: str, title: str, sketch: Sequence[int]) -> None:
        """Remember an item's title and sketch."""
        if item_id in self._items:
            return
        self._items[item_id] = (title, array("Q", sketch))
        for value in heapq.nsmallest(INDEXED_HASHES, sketch):
            self._postings.setdefault(value, []).append(item_id)

    def near_duplicate_of(self, item: Item) -> str | None:
        """The id of a known item that tells the same story as ``item``, if any."""
        shared: dict[str, int] = {}
        for value in item.fingerprint:
            for item_id in self._postings.get(value, ()):
                shared[item_id] = shared.get(item_id, 0) + 1
        for item_id, _ in sorted(shared.items(), key=lambda pair: -pair[1]):
            title, sketch = self._items[item_id]
            if is_near_duplicate(item, sketch, title):
                return item_id
        return None


def _opening_words(text: str, words: int = 12) -> str:
    """A title for an article without one: the start of its text."""
    opening = text.split()
    return " ".join(opening[:words]) + ("…" if len(opening) > words else "")


def _without_headline(text: str, title: str) -> str:
    """The article's text without a first line repeating its title: two copies of a story
    are compared on what they say, whatever their headlines, and a summary made of the
    text does not begin by saying the title again."""
    first, _, rest = text.partition("\n")
    return rest if fold(first) == fold(title) else text


def _resolve_lazy_images(root: HtmlElement) -> None:
    for img in root.iter("img", "source"):
        src, srcset = image_source(img)
        if img.tag == "img":
            if src:
                img.set("src", src)
            elif "src" in img.attrib:
                del img.attrib["src"]  # a placeholder: better no image than a grey square
        if srcset:
            img.set("srcset", srcset)


def _make_urls_absolute(root: HtmlElement, base: str) -> None:
    # the page's address carries the source's credentials when the source's URL did:
    # addresses resolved against it inherit them, and must not publish them
    inherited = userinfo(base)
    for element in root.iter():
        attributes = _URL_ATTRIBUTES.get(element.tag if isinstance(element.tag, str) else "")
        for name in attributes or ():
            value = element.get(name)
            if value is not None:
                # a link may lead to the page itself or a place in it; an image must load
                absolute = resolve(base, value) if name == "src" else resolve_reference(base, value)
                if absolute is None:
                    del element.attrib[name]
                else:
                    if inherited and userinfo(absolute) == inherited:
                        absolute = without_credentials(absolute)
                    element.set(name, absolute)
        if element.tag in ("img", "source") and element.get("srcset"):
            element.set("srcset", _absolute_srcset(element.get("srcset", ""), base))


def _absolute_srcset(srcset: str, base: str) -> str:
    candidates = []
    for candidate in srcset.split(","):
        parts = candidate.strip().split()
        if parts:
            url = resolve(base, parts[0])
            if url is not None and is_web_url(url):
                candidates.append(" ".join([url, *parts[1:2]]))
    return ", ".join(candidates)


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "srcset":
        # nh3 does not check the URLs inside srcset: keep only http(s) candidates
        kept = [c for c in value.split(",") if is_web_url(c.strip().split(" ")[0])]
        return ", ".join(c.strip() for c in kept) or None
    if attribute == "cite" and not is_web_url(value):
        return None  # nh3 checks the schemes of href and src, not of cite
    return value


def _drop_repeated_headline(root: HtmlElement, title: str) -> None:
    """Remove a heading repeating the title among the first blocks of the body, before any
    paragraph of text (after a kicker or a byline, say). Texts are compared folded, so
    that typographic quotes or a trailing full stop do not hide the repeat."""
    wanted = fold(title).rstrip(".!?:")
    for checked, element in enumerate(root.iter(*_HEADLINE_BLOCKS)):
        text = fold(element.text_content())
        if element.tag in _HEADINGS and text.rstrip(".!?:") == wanted:
            element.drop_tree()
            return
        sentence = element.tag not in _HEADINGS and text.endswith((".", "!", "?"))
        if checked >= _HEADLINE_REACH or sentence or len(text.split()) > _SHORT_LINE_WORDS:
            return


_HEADINGS = ("h1", "h2", "h3", "h4")
_HEADLINE_BLOCKS = (*_HEADINGS, "p", "li", "blockquote", "pre", "td")
_HEADLINE_REACH = 3  # blocks at the top of the body where a repeated headline may stand
_SHORT_LINE_WORDS = 12  # a longer block (or a sentence) is text: a headline comes before
_EMPTY_PARAGRAPH = re.compile(r"<p>(?:\s|&nbsp;|<br>)*</p>")


def _drop_empty_paragraphs(html: str) -> str:
    return _EMPTY_PARAGRAPH.sub("", html)


def _first_image(html: str, base: str) -> str | None:
    """The first image of the article's own (an embed's thumbnail is not)."""
    for image in parse_fragment(html).iter("img"):
        if image.get(EMBED_MARK) is None:
            url = _absolute_web_url(base, image.get("src") or image.get("data-src"))
            if url is not None:
                return url
    return None


def _absolute_web_url(base: str, href: str | None) -> str | None:
    url = resolve(base, href) if href else None
    return text_url(url) if url is not None and is_web_url(url) else None
