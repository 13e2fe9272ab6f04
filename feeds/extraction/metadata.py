"""An article's metadata: what the page's structured data (JSON-LD) and meta tags say
(``read_page_metadata``), and its clean-up: titles, author names, dates in URLs (pure)."""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from feeds.dates import find_date, parse_date, plausible
from feeds.html import HtmlElement, collapse_whitespace
from feeds.models import MAX_CATEGORIES
from feeds.urls import is_web_url, resolve

log = logging.getLogger(__name__)

_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " · ", " » ", " // ")
_BYLINE_PREFIX = re.compile(
    r"^\s*(?:by|written by|words by|story by|posted by|reporting by|text by|author)\s*:?\s+",
    re.IGNORECASE,
)
_ROLE = re.compile(
    r"\b(?:staff|senior|chief|deputy|associate|contributing|freelance|special|guest)?\s*"
    r"(?:writer|reporter|correspondent|editor|contributor|columnist|journalist|photographer"
    r"|producer|analyst|intern|news desk|newsroom|staff report|staff|news service reports?)s?\b",
    re.IGNORECASE,
)
# "Jane Doe For The Daily Mail", "Jane Doe PhillyVoice Staff": the tail is not the name
_AFFILIATION = re.compile(
    r"(?:\s+(?:for|from|at)\s+(?:the\s+)?[A-Z][\w.&'’ -]*"
    r"|\s+(?:[A-Z][\w.&'’-]*\s+)?staff(?:\s+(?:writer|reporter)s?)?)$",
    re.IGNORECASE,
)
# values that say nobody in particular wrote it
_NOBODY = {
    "admin", "administrator", "anonymous", "unknown", "no author", "author", "guest",
    "editor", "editorial", "staff", "webmaster", "user", "none",
}  # fmt: skip
_CONTACT = re.compile(r"\S+@\S+\.\S+|https?://\S+|(?<!\w)@\w+")
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|,|\band\b|&|\||·|•)\s*", re.IGNORECASE)
_DATE_IN_URL = re.compile(
    r"/((?:19|20)\d{2})[/-](0[1-9]|1[0-2])[/-](0[1-9]|[12]\d|3[01])(?:[/.-]|$)"
    r"|/((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?:[/.-]|$)"
)


def strip_site_name(title: str, site_names: Iterable[str | None], headline: str | None) -> str:
    """The title without the site's name around it ("Headline | The Herald"). The site's
    name comes from the page's metadata; without it, the page's own headline (its ``h1``)
    shows where the article's title ends."""
    title = collapse_whitespace(title)
    names = {_squashed(name) for name in site_names if name}
    for separator in _SEPARATORS:
        if separator not in title:
            continue
        head, _, tail = title.rpartition(separator)
        if _squashed(tail) in names and head:
            return head.strip()
        first, _, rest = title.partition(separator)
        if _squashed(first) in names and rest:
            return rest.strip()
    if headline:
        headline = collapse_whitespace(headline)
        for separator in _SEPARATORS:
            if title.startswith(headline + separator) or title.endswith(separator + headline):
                return headline
    return title


_TITLE_PARTS = re.compile("|".join(map(re.escape, _SEPARATORS)))
_NOT_A_NAME = re.compile(r"^(?:page \d+|home(?: ?page)?|start|index|latest|news)$", re.I)


def site_name_in_title(title: str, host: str) -> str | None:
    """The part of a page's title that names its site ("Bench News" of "Bench News -
    page 1" or of "A story | Bench News"): of the parts between separators, page numbers
    and labels like "Home" left out, the one that reads like the host, else the last;
    None for a title with nothing else."""
    parts = [part.strip() for part in _TITLE_PARTS.split(collapse_whitespace(title))]
    parts = [part for part in parts if part and not _NOT_A_NAME.match(part)]
    if len(parts) > 1:
        named = [part for part in parts if _squashed(part) in _squashed(host)]
        return named[0] if named else parts[-1]
    return parts[0] if parts else None


def _squashed(name: str) -> str:
    """A site's name as compared: letters and digits only ("The Verge" as "theverge",
    to match the host name www.theverge.com)."""
    return "".join(character for character in name.casefold() if character.isalnum())


def clean_author(text: str | None) -> str | None:
    """Author names without "By", job titles, e-mail addresses or handles; several
    authors joined with commas ("By Ann Lee and Bo Chen, Staff Writers" -> "Ann Lee, Bo Chen")."""
    if not text:
        return None
    text = _CONTACT.sub(" ", collapse_whitespace(text))
    text = _BYLINE_PREFIX.sub("", text)
    names = []
    parts = _AUTHOR_SPLIT.split(text)
    if any(len(part.strip()) <= 2 for part in parts if part.strip()):
        parts = [text]  # "Mac & i", "Ann B, Bo C": not a list of names
    for part in parts:
        part = _balanced(_BYLINE_PREFIX.sub("", part).strip(" .,:;-–—"))
        if len(part.split()) >= 3:
            part = _AFFILIATION.sub("", part).strip(" .,:;-–—()")
        if (
            not part
            or find_date(part) is not None  # "By Ann Lee · 20 November 2026"
            or part.casefold() in _NOBODY
            or part.casefold().endswith(" by")  # "Article by", with the name elsewhere
            or _ROLE.fullmatch(part)
            or (_ROLE.search(part) and len(part.split()) <= 3)  # "Senior Editor"
        ):
            continue
        if part.isupper() and len(part) > 3:
            part = part.title()
        names.append(part)
    return ", ".join(dict.fromkeys(names)) or None


def _balanced(text: str) -> str:
    """The text without a parenthesis left open or closed at its ends ("(Reuters" is
    "Reuters"; "Ann Lee (ann)" stays)."""
    while text.endswith(")") and text.count("(") < text.count(")"):
        text = text[:-1].rstrip()
    while text.startswith("(") and text.count("(") > text.count(")"):
        text = text[1:].lstrip()
    while text.endswith("(") or text.startswith(")"):
        text = text.strip("()").strip()
    return text


def date_from_url(url: str) -> datetime | None:
    """A date written in an article's URL path (``/2021/08/15/``, ``/2021-08-15-``,
    ``/20210815/``), at midnight UTC."""
    match = _DATE_IN_URL.search(urlsplit(url).path)
    if match is None:
        return None
    year, month, day = (part for part in match.groups() if part is not None)
    try:
        return datetime(int(year), int(month), int(day), tzinfo=UTC)
    except ValueError:
        return None


_ARTICLE_TYPES = {
    "article", "newsarticle", "blogposting", "report", "reportagenewsarticle",
    "analysisnewsarticle", "opinionnewsarticle", "backgroundnewsarticle", "reviewnewsarticle",
    "techarticle", "scholarlyarticle", "liveblogposting", "socialmediaposting", "posting",
}  # fmt: skip


_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


@dataclass(slots=True)
class PageMetadata:
    """What the page's structured data and meta tags say about the article."""

    titles: list[str] = field(default_factory=list)
    """What the metadata calls the article, most trusted first (JSON-LD, OpenGraph...)."""
    author: str | None = None
    """From JSON-LD: names of Person objects, the most reliable source."""
    meta_author: str | None = None
    """From meta tags, which sometimes hold the site's name: trusted after JSON-LD."""
    published: datetime | None = None
    description: str | None = None
    image: str | None = None
    language: str | None = None
    site_name: str | None = None
    application_name: str | None = None
    canonical: str | None = None
    body_paragraphs: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)


def read_page_metadata(document: HtmlElement, base: str) -> PageMetadata:
    """JSON-LD first, then OpenGraph / article / Dublin Core meta tags, then plain HTML."""
    meta = PageMetadata()
    for item in _json_ld_articles(document):
        meta.titles += filter(None, (_string(item.get("headline")), _string(item.get("name"))))
        meta.author = meta.author or _person_names(item.get("author"))
        meta.published = meta.published or _date(item.get("datePublished"))
        meta.description = meta.description or _string(item.get("description"))
        meta.image = meta.image or _image_url(item.get("image"), base)
        meta.language = meta.language or _locale(_string(item.get("inLanguage")))
        meta.body_paragraphs = meta.body_paragraphs or _paragraphs(item.get("articleBody"))
        meta.categories += _strings(item.get("articleSection")) + _keywords(item.get("keywords"))
        publisher = item.get("publisher")
        if isinstance(publisher, dict):
            meta.site_name = meta.site_name or _string(publisher.get("name"))

    tags = _meta_tags(document)
    meta.titles += filter(None, (tags.get("og:title"), tags.get("twitter:title")))
    meta.description = (
        meta.description
        or tags.get("og:description")
        or tags.get("description")
        or tags.get("twitter:description")
    )
    image = tags.get("og:image") or tags.get("og:image:url") or tags.get("twitter:image")
    meta.image = meta.image or (_absolute(base, image) if image else None)
    meta.site_name = meta.site_name or tags.get("og:site_name")
    meta.application_name = tags.get("application-name")
    meta.published = meta.published or _first_date(
        tags.get(name)
        for name in (
            "article:published_time",
            "og:published_time",
            "datepublished",
            "publishdate",
            "pubdate",
            "date",
            "dc.date",
            "dc.date.issued",
            "dcterms.date",
            "dcterms.created",
            "parsely-pub-date",
            "sailthru.date",
        )
    )
    meta.published = meta.published or _time_element_date(document)
    # Dublin Core's creator, where a page gives it, is more exact than its "author" meta
    authors = ("article:author", "dc:creator", "dc.creator", "dcterms.creator", "author")
    for name in (*authors, "parsely-author", "sailthru.author"):
        value = tags.get(name)
        if value and not is_web_url(value):
            meta.meta_author = meta.meta_author or value
    meta.categories += [tags[n] for n in ("article:section",) if tags.get(n)]
    meta.categories += tags.all("article:tag")
    meta.categories = list(_unique(meta.categories))
    meta.language = meta.language or _locale(document.get("lang")) or _locale(tags.get("og:locale"))
    canonical = next(
        (link.get("href") for link in document.iter("link") if link_rel(link) == "canonical"), None
    ) or tags.get("og:url")
    meta.canonical = _absolute(base, canonical) if canonical else None
    return meta


class _MetaTags(dict[str, str]):
    """Meta tags by lower-cased name or property; the first value of a name wins."""

    def __init__(self) -> None:
        super().__init__()
        self.repeated: dict[str, list[str]] = {}

    def add(self, name: str, value: str) -> None:
        self.setdefault(name, value)
        self.repeated.setdefault(name, []).append(value)

    def all(self, name: str) -> list[str]:
        return self.repeated.get(name, [])


def _meta_tags(document: HtmlElement) -> _MetaTags:
    tags = _MetaTags()
    for element in document.iter("meta"):
        name = element.get("property") or element.get("name") or element.get("itemprop") or ""
        # the parser decoded the attribute; a reference left in it was written twice by
        # the site (``&amp;#8230;``), and a reader must not see it: decoded once more
        content = collapse_whitespace(html.unescape(element.get("content") or ""))
        if name and content:
            tags.add(name.strip().lower(), content)
    return tags


def _json_ld_articles(document: HtmlElement) -> Iterator[dict[str, Any]]:
    for script in document.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        raw = (script.text or "").strip()
        raw = re.sub(r"^\s*(?://\s*)?<!\[CDATA\[|(?://\s*)?\]\]>\s*$", "", raw)
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            log.debug("unreadable JSON-LD block skipped")
            continue
        yield from (node for node in _json_ld_nodes(data) if _is_article(node))


def _json_ld_nodes(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 6:
        return
    if isinstance(data, list):
        for entry in data:
            yield from _json_ld_nodes(entry, depth + 1)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement"):
            if key in data:
                yield from _json_ld_nodes(data[key], depth + 1)


def _is_article(node: dict[str, Any]) -> bool:
    kinds = node.get("@type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return any(isinstance(k, str) and k.lower() in _ARTICLE_TYPES for k in kinds)


def _time_element_date(document: HtmlElement) -> datetime | None:
    scopes = [*document.iter("article"), document]
    for scope in scopes:
        for element in scope.iter("time"):
            value = parse_date(element.get("datetime"))
            if value is not None and plausible(value):
                return value
    return None


def _first_date(candidates: Iterable[str | None]) -> datetime | None:
    for candidate in candidates:
        value = parse_date(candidate)
        if value is not None and plausible(value):
            return value
    return None


def _date(value: Any) -> datetime | None:
    return _first_date([value if isinstance(value, str) else None])


def _json_text(value: str) -> str:
    """A JSON-LD string as text: JSON holds no markup, yet sites put HTML character
    references in it (``&#8220;``, ``&amp;``); they are decoded, once."""
    return collapse_whitespace(html.unescape(value))


def _string(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), None)
    return (_json_text(value) or None) if isinstance(value, str) else None


def _paragraphs(value: Any) -> list[str]:
    """Paragraphs of a plain-text body such as JSON-LD ``articleBody``."""
    if not isinstance(value, str):
        return []
    return [_json_text(p) for p in re.split(r"\n\s*\n|\n", value) if p.strip()]


def _strings(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [_json_text(v) for v in values if isinstance(v, str) and v.strip()]


def _keywords(value: Any) -> list[str]:
    if isinstance(value, str):
        return [k for k in (_json_text(k) for k in value.split(",")) if k]
    return _strings(value)


def _person_names(value: Any) -> str | None:
    people = value if isinstance(value, list) else [value]
    names = []
    for person in people:
        name = person.get("name") if isinstance(person, dict) else person
        if isinstance(name, str) and name.strip() and not is_web_url(name.strip()):
            names.append(_json_text(name))
    return ", ".join(dict.fromkeys(names)) or None


def _image_url(value: Any, base: str) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl")
    return _absolute(base, value) if isinstance(value, str) and value.strip() else None


def _absolute(base: str, href: str) -> str | None:
    url = resolve(base, href)
    return url if url is not None and is_web_url(url) else None


def _locale(value: str | None) -> str | None:
    """A language tag as BCP 47 writes it (``en_US`` is ``en-US``), None for what is not
    one (``"{{lang}}"``, ``"English"``)."""
    if not value:
        return None
    tag = value.strip().replace("_", "-")
    return tag if _LANGUAGE_TAG.fullmatch(tag) else None


def _unique(values: list[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for value in values:
        cleaned = collapse_whitespace(value)
        if cleaned and cleaned.lower() not in seen:
            seen[cleaned.lower()] = cleaned
    return tuple(seen.values())[:MAX_CATEGORIES]


def link_rel(element: HtmlElement) -> str:
    """An element's ``rel``, lower-cased, its words one space apart."""
    return " ".join((element.get("rel") or "").lower().split())
