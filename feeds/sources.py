"""From a source page to the article links it holds.

Pure: takes a fetched ``Page`` and the source's config, returns ``Link`` values.

Without a ``links`` selector, article links are detected by scoring every link of the
page on three kinds of evidence, none decisive alone:

- where it sits: inside headings, ``<article>`` or the main content scores up; inside
  nav, header, footer, aside, menus, share bars or "related" boxes scores down;
- what it says: headline-like anchor text (several words) scores up, one-word menu
  labels score down;
- where it points: article-like paths (dates, long slugs, numeric ids, ``.html``) score
  up; section, tag, author, search, account and file paths score down;

and links that repeat the same markup pattern as other good candidates (a list of
teasers) get a bonus. Links scoring at least ``ARTICLE_THRESHOLD`` are articles.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from feeds.config import SourceConfig
from feeds.html import (
    HtmlElement,
    base_url,
    collapse_whitespace,
    parse_document,
    select,
    text_of,
)
from feeds.models import Link, Page
from feeds.urls import clean_url, path_of, resolve, same_site, scheme_of

ARTICLE_THRESHOLD = 4

_BOILERPLATE_TAGS = {"nav", "header", "footer", "aside", "form", "menu"}
_BOILERPLATE_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "menu"}
_BOILERPLATE_HINT = re.compile(
    r"(?:^|[-_ ])(?:nav|navbar|navigation|menu|footer|header|masthead|sidebar|breadcrumbs?"
    r"|share|sharing|social|cookie|consent|related|recommended|promo|advert|ads?|widget"
    r"|newsletter|subscribe|pagination|pager|tags?|comments?|login|skip)(?:$|[-_ ])",
    re.IGNORECASE,
)
_CONTENT_HINT = re.compile(
    r"(?:^|[-_ ])(?:main|content|articles?|posts?|stories|story|teasers?|cards?|entry|entries"
    r"|headlines?|feed|list|latest|news)(?:$|[-_ ])",
    re.IGNORECASE,
)
_NON_ARTICLE_SEGMENTS = {
    "tag", "tags", "category", "categories", "topic", "topics", "section", "sections",
    "author", "authors", "profile", "page", "search", "login", "logout", "signin",
    "signup", "register", "account", "subscribe", "newsletter", "newsletters", "about",
    "about-us", "contact", "contact-us", "privacy", "privacy-policy", "terms", "cookies",
    "help", "faq", "careers", "jobs", "advertise", "feed", "rss", "cart", "shop",
    "wp-login.php", "wp-admin", "cdn-cgi",
}  # fmt: skip
_FILE_EXTENSIONS = re.compile(
    r"\.(?:jpe?g|png|gif|webp|svg|pdf|zip|gz|mp3|mp4|m4a|webm|mov|avi|docx?|xlsx?|pptx?|css|js"
    r"|xml|rss|json|ico)$",
    re.IGNORECASE,
)
_DATE_IN_PATH = re.compile(r"/(?:19|20)\d{2}/(?:0?[1-9]|1[0-2])(?:/|$)|/(?:19|20)\d{2}-\d{2}-\d{2}")
_LONG_NUMBER = re.compile(r"\d{5,}")
_SLUG_WORD = re.compile(r"[a-z0-9]+", re.IGNORECASE)


def find_links(page: Page, source: SourceConfig) -> list[Link]:
    """The article links of a source page, in page order, without duplicates."""
    document = parse_document(page.text)
    base = base_url(document, page.final_url)
    if source.links:
        return _dedupe(_links_by_selector(document, base, source))
    if source.is_directory:
        return _dedupe(_links_by_selector(document, base, source, css="a[href]"))
    local = source.path is not None
    return [c.link for c in score_links(document, base, source.location, allow_file=local)]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A link of a page with its article score."""

    link: Link
    score: int
    pattern: str


def score_links(
    document: HtmlElement, base: str, source: str, *, allow_file: bool = False
) -> list[Candidate]:
    """Every same-site link of the page that scores as an article, best anchor per URL.
    ``allow_file`` admits ``file://`` links, for a listing page read from disk."""
    page_url = clean_url(base)
    scored: dict[str, Candidate] = {}
    for anchor in document.iter("a"):
        url = _link_url(anchor, base, allow_file=allow_file)
        if url is None or url == page_url or not same_site(url, base):
            continue
        title = _anchor_text(anchor)
        pattern = _pattern(anchor)
        score = _text_score(title) + _path_score(url) + _context_score(anchor)
        link = Link(url=url, source=source, title_hint=title or None)
        best = scored.get(url)
        if best is None or score > best.score:
            scored[url] = Candidate(link, score, pattern)
    # repeated markup (a list of teasers) is evidence too
    patterns = Counter(c.pattern for c in scored.values() if c.score >= ARTICLE_THRESHOLD - 1)
    return [
        candidate
        for candidate in scored.values()
        if candidate.score + (1 if patterns[candidate.pattern] >= 3 else 0) >= ARTICLE_THRESHOLD
    ]


def _links_by_selector(
    document: HtmlElement, base: str, source: SourceConfig, *, css: str | None = None
) -> list[Link]:
    links = []
    for element in select(document, css or source.links or "a[href]"):
        anchor = element if element.tag == "a" else next(element.iter("a"), None)
        if anchor is None:
            continue
        url = _link_url(anchor, base, allow_file=source.path is not None)
        if url is not None:
            title = _anchor_text(anchor) or text_of(element)
            links.append(Link(url=url, source=source.location, title_hint=title or None))
    return links


def _dedupe(links: list[Link]) -> list[Link]:
    seen: dict[str, Link] = {}
    for link in links:
        seen.setdefault(link.url, link)
    return list(seen.values())


def _link_url(anchor: HtmlElement, base: str, *, allow_file: bool = False) -> str | None:
    url = resolve(base, anchor.get("href", ""))
    if url is None:
        return None
    schemes = ("http", "https", "file") if allow_file else ("http", "https")
    if scheme_of(url) not in schemes:
        return None
    return clean_url(url)


def _anchor_text(anchor: HtmlElement) -> str:
    text = text_of(anchor)
    if not text:
        text = collapse_whitespace(anchor.get("title", "") or anchor.get("aria-label", ""))
    return text


def _text_score(text: str) -> int:
    words = len(text.split())
    if words >= 6:
        return 3 if words <= 30 else 0
    if words >= 4:
        return 2
    if words == 3:
        return 0
    return -2


def _path_score(url: str) -> int:
    path = path_of(url)
    segments = [s for s in path.lower().split("/") if s]
    if not segments:
        return -5
    if _FILE_EXTENSIONS.search(path):
        return -5
    score = 0
    if any(segment in _NON_ARTICLE_SEGMENTS for segment in segments):
        score -= 3
    last = segments[-1].rsplit(".", 1)[0]
    slug_words = len(_SLUG_WORD.findall(last)) if re.search(r"[-_]", last) else 1
    if _DATE_IN_PATH.search(path):
        score += 2
    if slug_words >= 3:
        score += 2
    if _LONG_NUMBER.search(path):
        score += 1
    if path.endswith((".html", ".htm", ".php", ".aspx")):
        score += 1
    if len(segments) == 1 and slug_words < 3 and not _LONG_NUMBER.search(path):
        score -= 2  # /news/, /sport/: a section
    return score


def _context_score(anchor: HtmlElement) -> int:
    score = 0
    boilerplate = in_content = False
    page_part = False  # inside <header>/<footer>: boilerplate unless that is an article's own
    for ancestor in anchor.iterancestors():
        tag = ancestor.tag if isinstance(ancestor.tag, str) else ""
        if tag in ("body", "html"):
            break
        hints = f"{ancestor.get('class', '')} {ancestor.get('id', '')}"
        role = ancestor.get("role", "")
        if tag in ("header", "footer"):
            page_part = True
        elif (
            tag in _BOILERPLATE_TAGS
            or role in _BOILERPLATE_ROLES
            or _BOILERPLATE_HINT.search(hints)
        ):
            boilerplate = True
        if tag in ("h1", "h2", "h3", "h4"):
            score += 2
        elif tag == "article":
            in_content = True
            page_part = False
        elif tag == "main" or role == "main" or _CONTENT_HINT.search(hints):
            in_content = True
    score += 1 if in_content else 0
    return score - 4 if boilerplate or page_part else score


def _pattern(anchor: HtmlElement) -> str:
    """The markup path of an anchor (tags and first class), to spot repeated teasers."""
    parts = []
    for element in [anchor, *anchor.iterancestors()][:4]:
        tag = element.tag if isinstance(element.tag, str) else "?"
        first_class = (element.get("class") or "").split()[:1]
        parts.append(tag + ("." + first_class[0] if first_class else ""))
    return ">".join(reversed(parts))
