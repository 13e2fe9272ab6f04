"""Article page -> ``Article``: trafilatura, structured metadata and per-site rules.

The only module that imports trafilatura, on first use: a process that only fetches,
stores and publishes (the parent of the extraction workers) never loads it, and the
workers' fork server loads it once. trafilatura finds the article's text blocks; the
page's structured data (JSON-LD, OpenGraph and other meta tags) gives its metadata,
which is more exact (full timestamps, clean headlines) than guesses from the text, and
the page itself its images, captions and embeds. Per-site rules from the config (CSS
selectors) override both.

trafilatura is not safe to call from several threads of one process at once (a "double
free" crash was seen with 8 threads): calls are serialised by a lock, so that feeds run
by the service in several threads are safe; parallel extraction needs processes.
"""

from __future__ import annotations

import html
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lxml import etree

from feeds.dates import find_date, parse_date
from feeds.errors import ExtractionError
from feeds.extraction.inline import restore_inline
from feeds.extraction.leftovers import drop_leftovers, drop_repeated_blocks
from feeds.extraction.media import restore_media
from feeds.extraction.metadata import (
    PageMetadata,
    clean_author,
    date_from_url,
    read_page_metadata,
    strip_site_name,
)
from feeds.extraction.rules import ExtractRules, Selectors, alternatives
from feeds.html import (
    HtmlElement,
    base_url,
    block_text,
    collapse_whitespace,
    drop_elements,
    fold,
    parse_document,
    parse_fragment,
    select,
    select_values,
    serialize_inner,
    text_of,
    to_html,
)
from feeds.models import Article, Page
from feeds.timing import stage
from feeds.urls import is_web_url, origin_of, resolve

log = logging.getLogger(__name__)
_TRAFILATURA = threading.Lock()

_DATE_LINE_HINT = re.compile(r"date|time|publish|posted|byline|meta", re.I)
_PART_SUFFIX = re.compile(
    r"/?(?:page/|part/|p/)?\d{1,3}/?|[-_](?:page-?|part-?)?\d{1,3}(?:\.(?:html?|php))?/?"
)
_PAGE_PARAMETERS = {"page", "p", "pg", "part", "pagina", "seite", "start"}
_INLINE_TAGS = ("hi", "ref")  # trafilatura's names for formatting and links
_MIN_WORDS = 3
_STRUCTURED_MIN_CHARS = 500
_STANDFIRST_TAGS = frozenset(["p", "h2", "div", "span"])
_STANDFIRST_HINT = re.compile(
    r"(?:^|[\s_-])(?:dek|deck|standfirst|strapline|sub-?title|sub-?head(?:line|ing)?"
    r"|article-?summary|lede|kicker-?text)(?:$|[\s_-])",
    re.I,
)
_STANDFIRST_WORDS = (6, 80)
_STANDFIRST_REACH = 40  # elements after the headline where a standfirst may stand
_STANDFIRST_PROBE = 60  # folded characters compared with the body
_MASTHEAD_HINT = re.compile(r"logo|brand|masthead|site-?(?:title|name)|navbar", re.I)
_BYLINE_XPATH = etree.XPath(
    '//*[@rel="author" or @itemprop="author" or contains(@class, "byline")'
    ' or contains(@class, "author")]'
)
_BYLINE_CLASS = re.compile(r"(?:^|\s)(?:byline|author|author-name|byline__name)(?:$|\s)")
_BYLINE_MAX_CHARS = 80
_COPYRIGHT = re.compile(
    r"(?:©|\(c\)|copyright)\s*(?:\d{4}(?:\s*[-–]\s*\d{4})?,?\s*)?"
    r"((?:the\s+)?[A-Z][\w&'’-]*(?:\s+[A-Z][\w&'’-]*){0,4})",
    re.IGNORECASE,
)
_MIN_HOST_LABEL = 3


def extract_article(page: Page, rules: ExtractRules | None = None) -> Article:
    """Extract the article of a fetched page; raises ``ExtractionError`` if there is none.

    The page is parsed once; trafilatura picks the article's text blocks (without images,
    which change which blocks it keeps), and the page's own images, captions and embeds
    are then put back between the blocks they stood between."""
    text = page.text
    for find, replacement in rules.replace if rules is not None else ():
        text = text.replace(find, replacement)
    with stage("parse"):
        document = parse_document(text)
    base = base_url(document, page.final_url)
    with stage("metadata"):
        meta = read_page_metadata(document, base)
    _drop_code(document)
    if rules is not None:
        for selector in rules.remove:
            drop_elements(document, selector)
        _strip_images(document, rules.strip_image_src)
    site_names: tuple[str | None, ...] = (
        meta.site_name,
        meta.application_name,
        _copyright_holder(document),
    )
    headline = _headline(document, site_names)

    found = _article_body(document, rules, page.final_url, meta)
    if found is None:
        raise ExtractionError(page.final_url, "no article text found on the page")
    body, automatic = found
    if automatic:
        with stage("inline markup"):
            restore_inline(body, document, base)
    with stage("media"):
        restore_media(body, document, base, images=automatic)
    standfirst = _standfirst(headline, body)
    if standfirst is not None:
        body.insert(0, standfirst)
        standfirst.tail, body.text = body.text, None
    body_html = to_html(body, inner=True).strip()
    text = block_text(body)
    if len(text.split()) < _MIN_WORDS and body.find(".//img") is None:
        raise ExtractionError(page.final_url, "no article text found on the page")

    headline_text = text_of(headline) or None if headline is not None else None
    site_names = (*site_names, *_host_names(page.final_url))
    title = (
        _rule_text(document, rules.title if rules else None)
        or _best_title(
            [*meta.titles, *filter(None, [_head_title(document)])], site_names, headline_text
        )
        or headline_text
    )
    # dates the page states, then dates guessed from its URL or a visible date line
    exact_date = _rule_date(document, rules.date if rules else None) or meta.published
    guessed_date = None
    if exact_date is None:
        guessed_date = date_from_url(page.final_url) or _date_line(document)
    return Article(
        url=page.final_url,
        title=strip_site_name(title, site_names, headline_text) if title else "",
        html=body_html,
        text=text,
        base_url=base,
        canonical_url=meta.canonical,
        author=clean_author(
            _rule_text(document, rules.author if rules else None)
            or meta.author
            or meta.meta_author
            or _byline(document)
        ),
        published=exact_date or guessed_date,
        date_guessed=exact_date is None and guessed_date is not None,
        description=meta.description,
        image=meta.image,
        language=meta.language,
        categories=tuple(meta.categories),
        next_page=continuation(document, base, page.final_url, rules),
        single_page=_single_page(document, base, page.final_url, rules),
    )


def _drop_code(document: HtmlElement) -> None:
    """Remove scripts and style sheets, once their structured data has been read: every
    later step would skip them, after walking and copying them (they are most of the
    bytes of many pages). JSON-LD stays: trafilatura reads it too."""
    for element in list(document.iter("script", "style")):
        if (element.get("type") or "").strip().lower() != "application/ld+json":
            element.drop_tree()


def _single_page(
    document: HtmlElement, base: str, page_url: str, rules: ExtractRules | None
) -> str | None:
    """The address of the whole article on one page, where the rules say its link is."""
    if rules is None or not rules.single_page:
        return None
    return _linked(document, base, page_url, rules.single_page)


def _linked(document: HtmlElement, base: str, page_url: str, selector: str) -> str | None:
    """The first web address other than the page's own that ``selector`` finds: a link,
    or the first link inside what it finds."""
    for element in select(document, selector):
        anchor = element if element.tag == "a" else next(element.iter("a"), None)
        url = resolve(base, anchor.get("href", "")) if anchor is not None else None
        if url is not None and is_web_url(url) and url != page_url:
            return url
    return None


def continuation(
    document: HtmlElement, base: str, page_url: str, rules: ExtractRules | None
) -> str | None:
    """The URL of the next part of a multi-page article: the site rule's ``next_page``
    link, else a ``rel=next`` link whose address continues this page's (``/story/2/``,
    ``/story/page/2``, ``/story-2.html``, ``?page=2``): a ``rel=next`` to another article
    (some blogs link the next post that way) is not followed."""
    if rules is not None and rules.next_page:
        return _linked(document, base, page_url, rules.next_page)
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
    if origin_of(page_url) != origin_of(candidate) or candidate == page_url:
        return False  # another site, or the same host on another port
    stem = re.sub(r"(?:\.(?:html?|php|aspx?))?/?$", "", page.path)
    # from a part ("/story/2/") the parts continue the article's own path ("/story")
    stem = re.sub(r"(?:/(?:page/|part/|p/)?|[-_](?:page-?|part-?)?)\d{1,3}$", "", stem)
    if following.path != page.path:
        rest = following.path[len(stem) :] if following.path.startswith(stem) else None
        return rest is not None and bool(_PART_SUFFIX.fullmatch(rest))
    added = set(parse_qsl(following.query)) - set(parse_qsl(page.query))
    return any(key.lower() in _PAGE_PARAMETERS and value.isdigit() for key, value in added)


def _run_trafilatura(document: HtmlElement, url: str) -> Any:
    """trafilatura's article body (its XML tree), or None. Images, links and formatting
    are left out: taking them into account changes which text blocks trafilatura keeps
    (a widget kept, a paragraph lost), and it resolves links against the site's root;
    ``restore_inline`` and ``restore_media`` put them back from the page afterwards. The
    metadata pass is skipped too (half of trafilatura's time, mostly date guessing): the
    page's structured data is read here, and the output format is not Python, so no
    plain-text copy of the body is made that nothing reads. So is the comparison with
    readability and jusText (``fast``: a third of the rest): the leftover rules and the
    structured body do its work here; with it, the checking halves scored the same F1 on
    news pages and 0.010 lower on reader-view pages, at 1.5 times the CPU (its baseline
    rescue of pages with little text still runs)."""
    try:
        with _TRAFILATURA, stage("trafilatura"):
            from trafilatura import bare_extraction  # on first use: see the module docstring

            found = bare_extraction(
                document,
                url=url,
                output_format="txt",
                with_metadata=False,
                include_comments=False,
                include_tables=True,
                include_images=False,
                include_links=False,
                include_formatting=False,
                fast=True,
            )
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        # trafilatura raises these on some malformed trees; the page then has no body
        log.debug("trafilatura failed on %s: %s", url, exc)
        return None
    return getattr(found, "body", None)


def _article_body(
    document: HtmlElement, rules: ExtractRules | None, url: str, meta: PageMetadata
) -> tuple[HtmlElement, bool] | None:
    """The article's HTML as a ``<div>``: the site rule's body, else trafilatura's (with
    its leftovers removed), else JSON-LD ``articleBody``; None when there is none. The
    flag says whether the body came from automatic extraction (which leaves images out)."""
    rule_html = _rule_body(document, rules) if rules else None
    if rule_html is not None:
        pruned = _pruned(rule_html, url) if rules is not None and rules.prune else None
        if pruned is not None:
            return pruned, True
        return parse_fragment(rule_html), False
    if rules is not None and alternatives(rules.body) and not rules.autodetect:
        return None  # the site's rules say no automatic extraction when theirs fails
    page_text = _page_text(document)
    found = _run_trafilatura(document, url)
    with stage("trafilatura's body"):
        body = _trafilatura_body(found, page_text) if found is not None else None
    if body is None:  # nothing to compare with: a page built by scripts, say
        paragraphs = meta.body_paragraphs
        return (_paragraphs_html(paragraphs), True) if paragraphs else None
    structured = _structured_body(meta.body_paragraphs, page_text)
    if structured is not None and _much_longer(structured, body):
        return structured, True
    return body, True


def _pruned(rule_html: str, url: str) -> HtmlElement | None:
    """What a site rule's body keeps once cleaned as a page is (trafilatura and the
    leftover rules, within the rule's element only); None when the cleaning keeps less
    than half of its words (the rule knows the site better)."""
    scoped = parse_document(f"<html><body><div>{rule_html}</div></body></html>")
    found = _run_trafilatura(scoped, url)
    body = _trafilatura_body(found, _page_text(scoped)) if found is not None else None
    if body is None:
        return None
    kept, whole = len(block_text(body).split()), len(scoped.text_content().split())
    return body if kept * 2 >= whole else None


def _standfirst(headline: HtmlElement | None, body: HtmlElement) -> HtmlElement | None:
    """The article's standfirst (dek, subtitle) as a paragraph, when the page shows one
    just after its headline and the body does not hold it already. Only visible markup
    counts: a meta description is most often an SEO summary, sometimes the whole story.
    Texts are compared folded (quotes, dashes, spaces and case)."""
    if headline is None:
        return None
    body_text: str | None = None
    low, high = _STANDFIRST_WORDS
    for element in _following(headline, _STANDFIRST_REACH):
        marked = element.tag in _STANDFIRST_TAGS and _STANDFIRST_HINT.search(
            f"{element.get('class', '')} {element.get('id', '')}"
        )
        if not marked and element.tag != "p":
            continue
        text = text_of(element)
        if not text:
            continue
        body_text = body_text if body_text is not None else fold(body.text_content())
        if fold(text)[:_STANDFIRST_PROBE] in body_text:
            return None  # the body has begun: a standfirst comes before it or not at all
        if marked and low <= len(text.split()) <= high:
            return parse_fragment(f"<p>{html.escape(text, quote=False)}</p>")[0]
    return None


def _following(element: HtmlElement, limit: int) -> Iterator[HtmlElement]:
    """Up to ``limit`` elements that come after ``element`` in the document, in order
    (what its ``following`` axis holds, without evaluating the whole axis)."""
    count = 0
    node: HtmlElement | None = element
    while node is not None:
        for sibling in node.itersiblings():
            for following in sibling.iter():
                if count >= limit:
                    return
                count += 1
                yield following
        node = node.getparent()


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
    _restore_spaces(body, page_text)
    from trafilatura.htmlprocessing import convert_to_html

    body_element = convert_to_html(body).find("body")
    if body_element is None:
        return None
    has_text = any(not text.isspace() for text in body_element.itertext() if text)
    if not has_text and body_element.find(".//img") is None:
        return None
    html_body = parse_fragment(serialize_inner(body_element))
    drop_leftovers(html_body)
    drop_repeated_blocks(html_body)
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


def _strip_images(document: HtmlElement, parts: tuple[str, ...]) -> None:
    """Remove the images whose address contains one of ``parts``."""
    if not parts:
        return
    for image in list(document.iter("img")):
        source = image.get("src") or ""
        if any(part in source for part in parts) and image.getparent() is not None:
            image.drop_tree()


def _rule_text(document: HtmlElement, selectors: Selectors) -> str | None:
    for selector in alternatives(selectors):
        text = _first_text(document, selector)
        if text:
            return text
    return None


def _first_text(document: HtmlElement, selector: str) -> str | None:
    for found in select_values(document, selector):
        if isinstance(found, str):
            text = collapse_whitespace(found)
        else:
            text = text_of(found) or collapse_whitespace(found.get("content") or "")
        if text:
            return text
    log.debug("site rule %r matched no text", selector)
    return None


def _rule_date(document: HtmlElement, selectors: Selectors) -> datetime | None:
    for selector in alternatives(selectors):
        value = _first_date(document, selector)
        if value is not None:
            return value
    return None


def _first_date(document: HtmlElement, selector: str) -> datetime | None:
    for found in select_values(document, selector):
        if isinstance(found, str):
            candidates: tuple[str | None, ...] = (found,)
        else:
            candidates = (found.get("datetime"), found.get("content"), text_of(found))
        for candidate in candidates:
            value = parse_date(candidate) or (find_date(candidate) if candidate else None)
            if value is not None:
                return value
    return None


def _rule_body(document: HtmlElement, rules: ExtractRules) -> str | None:
    selectors = alternatives(rules.body)
    if not selectors:
        return None
    matches = next(filter(None, (select(document, s) for s in selectors)), [])
    if not matches:
        log.warning("site rule body %r matched nothing", rules.body)
        return None
    for element in matches:
        for unwanted in list(element.iter("script", "style", "noscript", "template")):
            unwanted.drop_tree()
    return "".join(to_html(element, inner=True) for element in matches).strip() or None


def _best_title(
    candidates: list[str], site_names: Iterable[str | None], headline: str | None
) -> str | None:
    """The first candidate title that agrees with the page's visible headline (once the
    site's name is taken off), else the most trusted one. Metadata sometimes calls a
    page by a description (Wikipedia's JSON-LD headline) and names it elsewhere."""
    if headline:
        wanted = fold(headline)
        for candidate in candidates:
            if fold(strip_site_name(candidate, site_names, headline)) == wanted:
                return candidate
    return candidates[0] if candidates else None


def _copyright_holder(document: HtmlElement) -> str | None:
    """The name in the page's footer copyright line ("© 2024 The Herald"): a site's name
    to take off its titles when its metadata does not give one."""
    for footer in document.iter("footer"):
        match = _COPYRIGHT.search(text_of(footer))
        if match:
            return match.group(1).strip(" .,")
    return None


def _host_names(url: str) -> list[str]:
    """The labels of the page's host name ("theverge" of www.theverge.com), which sites
    use as their name in titles."""
    labels = (urlsplit(url).hostname or "").split(".")[:-1]
    return [label for label in labels if label != "www" and len(label) >= _MIN_HOST_LABEL]


def _head_title(document: HtmlElement) -> str | None:
    title = document.find(".//title")
    return text_of(title) or None if title is not None else None


def _headline(document: HtmlElement, site_names: Iterable[str | None]) -> HtmlElement | None:
    """The page's own headline: its first ``h1`` that is not the site's masthead (a logo
    or the site's name linking home, which some pages also mark up as ``h1``)."""
    names = {fold(name) for name in site_names if name}
    for heading in document.iter("h1"):
        text = text_of(heading)
        if not text or fold(text) in names or _is_masthead(heading):
            continue
        return heading
    return None


def _is_masthead(heading: HtmlElement) -> bool:
    """Whether an ``h1`` is the site's name: marked as a logo or brand (on it or a close
    ancestor), or a link to the site's home page."""
    for element in (heading, *list(heading.iterancestors())[:3]):
        if _MASTHEAD_HINT.search(f"{element.get('class', '')} {element.get('id', '')}"):
            return True
    for anchor in heading.iter("a"):
        href = anchor.get("href", "").strip()
        target = urlsplit(href)
        if href and not href.startswith("#") and target.path in ("", "/") and not target.query:
            return True
    return False


def _byline(document: HtmlElement) -> str | None:
    """The author's name as the page shows it: an element marked ``rel=author`` or
    ``itemprop=author``, else one given a byline or author class."""
    marked, classed = [], []
    for element in _BYLINE_XPATH(document):
        if element.get("rel") == "author" or element.get("itemprop") == "author":
            marked.append(element)
        elif _BYLINE_CLASS.search(element.get("class", "")):
            classed.append(element)
    candidates = [*marked, *classed]
    # the innermost: "By <span class=author>Ann</span> · 3 May" is Ann, not the whole line
    nested = {id(ancestor) for e in candidates for ancestor in e.iterancestors()}
    for element in (e for e in candidates if id(e) not in nested):
        name = element.find('.//*[@itemprop="name"]')
        text = text_of(name if name is not None else element)
        if text and len(text) <= _BYLINE_MAX_CHARS:
            return text
    return None


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
