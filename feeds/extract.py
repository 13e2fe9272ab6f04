"""Article page -> ``Article``: trafilatura, structured metadata and per-site rules.

The only module that imports trafilatura. trafilatura finds the body and most metadata;
the page's structured data (JSON-LD, OpenGraph and other meta tags) is read here too,
because it is usually more exact (full timestamps, clean headlines) and it fills what
trafilatura misses. Per-site rules from the config (CSS selectors) override both.

trafilatura is not safe to call from several threads of one process at once (a "double
free" crash was seen with 8 threads): calls are serialised by a lock, so that feeds run
by the service in several threads are safe; parallel extraction needs processes.
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from copy import deepcopy
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import trafilatura
from trafilatura.htmlprocessing import convert_to_html

from feeds.config import ExtractRules
from feeds.dates import find_date, parse_date, plausible
from feeds.errors import ExtractionError
from feeds.html import (
    HtmlElement,
    base_url,
    block_text,
    collapse_whitespace,
    drop_elements,
    parse_document,
    parse_fragment,
    select,
    serialize_inner,
    text_of,
    to_html,
)
from feeds.leftovers import drop_leftovers
from feeds.media import restore_media
from feeds.metadata import clean_author, date_from_url, strip_site_name
from feeds.models import Article, Page
from feeds.urls import is_web_url, resolve

log = logging.getLogger(__name__)
_TRAFILATURA = threading.Lock()

_ARTICLE_TYPES = {
    "article", "newsarticle", "blogposting", "report", "reportagenewsarticle",
    "analysisnewsarticle", "opinionnewsarticle", "backgroundnewsarticle", "reviewnewsarticle",
    "techarticle", "scholarlyarticle", "liveblogposting", "socialmediaposting", "posting",
}  # fmt: skip
_DATE_LINE_HINT = re.compile(r"date|time|publish|posted|byline|meta", re.I)
_MAX_CATEGORIES = 20
_PART_SUFFIX = re.compile(
    r"/?(?:page/|part/|p/)?\d{1,3}/?|[-_](?:page-?|part-?)?\d{1,3}(?:\.(?:html?|php))?/?"
)
_PAGE_PARAMETERS = {"page", "p", "pg", "part", "pagina", "seite", "start"}
_INLINE_TAGS = ("hi", "ref")  # trafilatura's names for formatting and links
_MIN_WORDS = 3
_STRUCTURED_MIN_CHARS = 500


@dataclass(slots=True)
class _PageMetadata:
    """What the page's structured data and meta tags say about the article."""

    title: str | None = None
    author: str | None = None
    """From JSON-LD: names of Person objects, the most reliable source."""
    meta_author: str | None = None
    """From meta tags, which sometimes hold the site's name: trusted after trafilatura."""
    published: datetime | None = None
    description: str | None = None
    image: str | None = None
    language: str | None = None
    site_name: str | None = None
    application_name: str | None = None
    canonical: str | None = None
    body_paragraphs: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)


def extract_article(page: Page, rules: ExtractRules | None = None) -> Article:
    """Extract the article of a fetched page; raises ``ExtractionError`` if there is none."""
    document = parse_document(page.text)
    base = base_url(document, page.final_url)
    meta = read_page_metadata(document, base)
    if rules is not None:
        for css in rules.remove:
            drop_elements(document, css)
    found = _run_trafilatura(document, page.final_url)

    body = _article_body(document, rules, found, meta)
    if body is None:
        raise ExtractionError(page.final_url, "no article text found on the page")
    restore_media(body, document, base)
    description = meta.description or _attr(found, "description")
    if description and _standfirst_missing(description, body):
        standfirst = parse_fragment(f"<p>{html.escape(description, quote=False)}</p>")[0]
        body.insert(0, standfirst)
        standfirst.tail, body.text = body.text, None
    body_html = to_html(body, inner=True).strip()
    text = block_text(body)
    if len(text.split()) < _MIN_WORDS and body.find(".//img") is None:
        raise ExtractionError(page.final_url, "no article text found on the page")

    title = (
        _rule_text(document, rules.title if rules else None)
        or meta.title
        or _attr(found, "title")
        or _head_title(document)
    )
    # dates the page states, then dates guessed from its URL, its text, trafilatura
    exact_date = _rule_date(document, rules.date if rules else None) or meta.published
    guessed_date = None
    if exact_date is None:
        guessed_date = (
            date_from_url(page.final_url) or _date_line(document) or _trafilatura_date(found)
        )
    site_names = (meta.site_name, _attr(found, "sitename"), meta.application_name)
    return Article(
        url=page.final_url,
        title=strip_site_name(title, site_names, _headline(document)) if title else "",
        html=body_html,
        text=text,
        base_url=base,
        canonical_url=meta.canonical,
        author=clean_author(
            _rule_text(document, rules.author if rules else None)
            or meta.author
            or _attr(found, "author")
            or meta.meta_author
        ),
        published=exact_date or guessed_date,
        date_guessed=exact_date is None and guessed_date is not None,
        description=meta.description or _attr(found, "description"),
        image=meta.image or _attr(found, "image"),
        language=meta.language or _attr(found, "language"),
        categories=_unique(
            [*meta.categories, *(_list_attr(found, "categories")), *_list_attr(found, "tags")]
        ),
        next_page=continuation(document, base, page.final_url, rules),
    )


def continuation(
    document: HtmlElement, base: str, page_url: str, rules: ExtractRules | None
) -> str | None:
    """The URL of the next part of a multi-page article: the site rule's ``next_page``
    link, else a ``rel=next`` link whose address continues this page's (``/story/2/``,
    ``/story/page/2``, ``/story-2.html``, ``?page=2``): a ``rel=next`` to another article
    (some blogs link the next post that way) is not followed."""
    if rules is not None and rules.next_page:
        for element in select(document, rules.next_page):
            anchor = element if element.tag == "a" else next(element.iter("a"), None)
            url = resolve(base, anchor.get("href", "")) if anchor is not None else None
            if url is not None and is_web_url(url) and url != page_url:
                return url
        return None
    for element in document.iter("link", "a"):
        if "next" not in (element.get("rel") or "").lower().split():
            continue
        url = resolve(base, element.get("href", ""))
        if url is not None and _continues(page_url, url):
            return url
    return None


def join_parts(first: Article, parts: list[Article]) -> Article:
    """One article from the parts of a multi-page article: the first part's metadata, the
    bodies one after the other."""
    if not parts:
        return first
    return replace(
        first,
        html=first.html + "".join(part.html for part in parts),
        text="\n".join([first.text, *(part.text for part in parts)]),
        next_page=None,
    )


def _continues(page_url: str, candidate: str) -> bool:
    page, following = urlsplit(page_url), urlsplit(candidate)
    if (page.hostname or "") != (following.hostname or "") or candidate == page_url:
        return False
    stem = re.sub(r"(?:\.(?:html?|php|aspx?))?/?$", "", page.path)
    # from a part ("/story/2/") the parts continue the article's own path ("/story")
    stem = re.sub(r"(?:/(?:page/|part/|p/)?|[-_](?:page-?|part-?)?)\d{1,3}$", "", stem)
    if following.path != page.path:
        rest = following.path[len(stem) :] if following.path.startswith(stem) else None
        return rest is not None and bool(_PART_SUFFIX.fullmatch(rest))
    added = set(parse_qsl(following.query)) - set(parse_qsl(page.query))
    return any(key.lower() in _PAGE_PARAMETERS and value.isdigit() for key, value in added)


def read_page_metadata(document: HtmlElement, base: str) -> _PageMetadata:
    """JSON-LD first, then OpenGraph / article / Dublin Core meta tags, then plain HTML."""
    meta = _PageMetadata()
    for item in _json_ld_articles(document):
        meta.title = meta.title or _string(item.get("headline") or item.get("name"))
        meta.author = meta.author or _person_names(item.get("author"))
        meta.published = meta.published or _date(item.get("datePublished"))
        meta.description = meta.description or _string(item.get("description"))
        meta.image = meta.image or _image_url(item.get("image"), base)
        meta.language = meta.language or _string(item.get("inLanguage"))
        meta.body_paragraphs = meta.body_paragraphs or _paragraphs(item.get("articleBody"))
        meta.categories += _strings(item.get("articleSection")) + _keywords(item.get("keywords"))
        publisher = item.get("publisher")
        if isinstance(publisher, dict):
            meta.site_name = meta.site_name or _string(publisher.get("name"))

    tags = _meta_tags(document)
    meta.title = meta.title or tags.get("og:title") or tags.get("twitter:title")
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
    for name in ("article:author", "author", "dc.creator", "parsely-author", "sailthru.author"):
        value = tags.get(name)
        if value and not is_web_url(value):
            meta.meta_author = meta.meta_author or value
    meta.categories += [tags[n] for n in ("article:section",) if tags.get(n)]
    meta.categories += tags.all("article:tag")
    meta.language = meta.language or document.get("lang") or _locale(tags.get("og:locale"))
    canonical = next(
        (link.get("href") for link in document.iter("link") if _rel(link) == "canonical"), None
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
        content = collapse_whitespace(element.get("content") or "")
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


def _run_trafilatura(document: HtmlElement, url: str) -> Any:
    try:
        with _TRAFILATURA:
            return trafilatura.bare_extraction(
                document,
                url=url,
                with_metadata=True,
                include_comments=False,
                include_tables=True,
                include_images=True,
                include_links=True,
                include_formatting=True,
            )
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        # trafilatura raises these on some malformed trees; the page then has no body
        log.debug("trafilatura failed on %s: %s", url, exc)
        return None


def _article_body(
    document: HtmlElement, rules: ExtractRules | None, found: Any, meta: _PageMetadata
) -> HtmlElement | None:
    """The article's HTML as a ``<div>``: the site rule's body, else trafilatura's (with
    its leftovers removed), else JSON-LD ``articleBody``; None when there is none."""
    rule_html = _rule_body(document, rules) if rules else None
    if rule_html is not None:
        return parse_fragment(rule_html)
    page_text = _page_text(document)
    body = None
    if found is not None and found.body is not None:
        body = _trafilatura_body(found.body, page_text)
    if body is None:  # nothing to compare with: a page built by scripts, say
        return _paragraphs_html(meta.body_paragraphs) if meta.body_paragraphs else None
    structured = _structured_body(meta.body_paragraphs, page_text)
    if structured is not None and _much_longer(structured, body):
        return structured
    return body


def _standfirst_missing(description: str, body: HtmlElement) -> bool:
    text = collapse_whitespace(body.text_content())
    start = collapse_whitespace(description)[:60].rstrip(".…")
    return len(description.split()) >= 5 and start not in text


def _structured_body(paragraphs: list[str], page_text: str) -> HtmlElement | None:
    """JSON-LD ``articleBody`` as HTML, when most of it is really on the page (so that it
    is this page's article, not a teaser or a stale copy)."""
    checked = [p for p in paragraphs if len(p) >= 30]
    if not checked or sum(p in page_text for p in checked) < 0.6 * len(checked):
        return None
    return _paragraphs_html(paragraphs)


def _paragraphs_html(paragraphs: list[str]) -> HtmlElement:
    return parse_fragment("".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs))


def _much_longer(structured: HtmlElement, extracted: HtmlElement) -> bool:
    """Whether the structured body holds far more text than automatic extraction found:
    then extraction missed the article (a paywall overlay, a script-built page)."""
    length = len(collapse_whitespace(structured.text_content()))
    return length >= _STRUCTURED_MIN_CHARS and length > 2 * len(
        collapse_whitespace(extracted.text_content())
    )


def _trafilatura_body(body: Any, page_text: str) -> HtmlElement | None:
    body = deepcopy(body)
    _restore_spaces(body, page_text)
    body_element = convert_to_html(body).find("body")
    if body_element is None:
        return None
    if not "".join(body_element.itertext()).strip() and body_element.find(".//img") is None:
        return None
    html_body = parse_fragment(serialize_inner(body_element))
    drop_leftovers(html_body)
    return html_body


def _page_text(document: HtmlElement) -> str:
    """All the text of the page, whitespace collapsed: what spacing is checked against."""
    return collapse_whitespace(document.text_content())


def _restore_spaces(body: Any, page_text: str) -> None:
    """Put back the spaces trafilatura trims around inline elements ("entitled <i>Beautiful
    Code</i>" came out as "entitled<i>Beautiful Code</i>"): where the words on both sides
    of a boundary appear in the page's text with a space between them, and not without
    one, the space comes back. Mid-word markup ("O'<i>Reilly</i>") stays glued."""
    for element in body.iter(_INLINE_TAGS):
        parent = element.getparent()
        if parent is None:
            continue
        previous = element.getprevious()
        before = previous.tail if previous is not None else parent.text
        inside = "".join(element.itertext())
        if _needs_space(before, inside, page_text):
            if previous is not None:
                previous.tail = (previous.tail or "") + " "
            else:
                parent.text = (parent.text or "") + " "
        if _needs_space(inside, element.tail, page_text):
            element.tail = " " + (element.tail or "")


def _needs_space(left: str | None, right: str | None, page_text: str) -> bool:
    if not left or not right or left[-1].isspace() or right[0].isspace():
        return False
    left_word, right_word = left.split()[-1], right.split()[0]
    spaced = f"{left_word} {right_word}"
    return spaced in page_text and f"{left_word}{right_word}" not in page_text


def _attr(found: Any, name: str) -> str | None:
    value = getattr(found, name, None) if found is not None else None
    return value.strip() or None if isinstance(value, str) else None


def _list_attr(found: Any, name: str) -> list[str]:
    value = getattr(found, name, None) if found is not None else None
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _trafilatura_date(found: Any) -> datetime | None:
    value = parse_date(_attr(found, "date"))
    return value if value is not None and plausible(value) else None


def _rule_text(document: HtmlElement, css: str | None) -> str | None:
    if not css:
        return None
    for element in select(document, css):
        text = text_of(element) or collapse_whitespace(element.get("content") or "")
        if text:
            return text
    log.debug("site rule %r matched no text", css)
    return None


def _rule_date(document: HtmlElement, css: str | None) -> datetime | None:
    if not css:
        return None
    for element in select(document, css):
        for candidate in (element.get("datetime"), element.get("content"), text_of(element)):
            value = parse_date(candidate) or (find_date(candidate) if candidate else None)
            if value is not None:
                return value
    return None


def _rule_body(document: HtmlElement, rules: ExtractRules) -> str | None:
    if not rules.body:
        return None
    matches = select(document, rules.body)
    if not matches:
        log.warning("site rule body %r matched nothing; using automatic extraction", rules.body)
        return None
    for element in matches:
        for unwanted in list(element.iter("script", "style", "noscript", "template")):
            unwanted.drop_tree()
    return "".join(to_html(element, inner=True) for element in matches).strip() or None


def _head_title(document: HtmlElement) -> str | None:
    title = document.find(".//title")
    return text_of(title) or None if title is not None else None


def _headline(document: HtmlElement) -> str | None:
    """The page's own headline: its first ``h1``."""
    heading = next(document.iter("h1"), None)
    return text_of(heading) or None if heading is not None else None


def _date_line(document: HtmlElement) -> datetime | None:
    """A date written in a visible date line, such as ``<div class="date">15th Aug 2021``."""
    for element in document.iter():
        hints = f"{element.get('class', '')} {element.get('id', '')}"
        if _DATE_LINE_HINT.search(hints):
            text = text_of(element)
            if len(text) <= 120:
                value = find_date(text)
                if value is not None:
                    return value
    return None


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


def _string(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), None)
    return (collapse_whitespace(value) or None) if isinstance(value, str) else None


def _paragraphs(value: Any) -> list[str]:
    """Paragraphs of a plain-text body such as JSON-LD ``articleBody``."""
    if not isinstance(value, str):
        return []
    return [collapse_whitespace(p) for p in re.split(r"\n\s*\n|\n", value) if p.strip()]


def _strings(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [collapse_whitespace(v) for v in values if isinstance(v, str) and v.strip()]


def _keywords(value: Any) -> list[str]:
    if isinstance(value, str):
        return [k.strip() for k in value.split(",") if k.strip()]
    return _strings(value)


def _person_names(value: Any) -> str | None:
    people = value if isinstance(value, list) else [value]
    names = []
    for person in people:
        name = person.get("name") if isinstance(person, dict) else person
        if isinstance(name, str) and name.strip() and not is_web_url(name.strip()):
            names.append(collapse_whitespace(name))
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


def _rel(element: HtmlElement) -> str:
    return " ".join((element.get("rel") or "").lower().split())


def _locale(value: str | None) -> str | None:
    return value.replace("_", "-") if value else None


def _unique(values: list[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for value in values:
        cleaned = collapse_whitespace(value)
        if cleaned and cleaned.lower() not in seen:
            seen[cleaned.lower()] = cleaned
    return tuple(seen.values())[:_MAX_CATEGORIES]
