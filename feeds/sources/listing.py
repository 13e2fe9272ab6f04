"""Listing pages: HTML pages that link articles (and may link their next page).

Articles are found, in order of preference, by ``item`` selectors (each entry of the
listing, with fields read inside it), by a ``links`` selector, by taking every link of a
local directory's index, or automatically.

Without selectors, article links are detected by scoring every link of the page on three
kinds of evidence, none decisive alone:

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

import logging
import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import islice

from feeds.dates import find_date, parse_date
from feeds.html import (
    HtmlElement,
    base_url,
    collapse_whitespace,
    parse_document,
    select,
    text_of,
    to_html,
)
from feeds.models import Link, Page
from feeds.sources.found import Found, read_each
from feeds.sources.rules import ItemRules, SourceRules
from feeds.urls import clean_url, path_of, resolve, same_site, scheme_of

log = logging.getLogger(__name__)

_ICON_RELS = ("apple-touch-icon", "icon", "shortcut icon")

ARTICLE_THRESHOLD = 4
_ARTICLE_PATH_SCORE = 4
"""An address this article-like (a date and a slug of words) is enough on its own."""
_SHORT_TEXT_PENALTY = 2

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


def read_listing(page: Page, source: SourceRules) -> Found:
    """The article links of a listing page, in page order, its next page if any, and the
    icon it declares."""
    document = parse_document(page.text)
    base = base_url(document, page.final_url)
    problems: list[str] = []
    if source.item is not None:
        links = links_by_item_selectors(document, base, source, source.item, problems)
    elif source.links:
        links = _dedupe(_links_by_selector(document, base, source))
    elif source.is_directory:
        links = _dedupe(_links_by_selector(document, base, source, css="a[href]"))
    else:
        local = source.path is not None
        links = [c.link for c in score_links(document, base, source.location, allow_file=local)]
    following = next_page(document, base, source)
    more = [following] if following and following != clean_url(page.final_url) else []
    return Found(links, more, site_icon(document, base), problems)


def site_icon(document: HtmlElement, base: str) -> str | None:
    """The icon a page declares (the largest kind first), as an absolute web URL."""
    icons: dict[str, str] = {}
    for link in document.iter("link"):
        rel = " ".join((link.get("rel") or "").lower().split())
        if rel in _ICON_RELS and link.get("href"):
            url = resolve(base, link.get("href", ""))
            if url is not None and scheme_of(url) in ("http", "https"):
                icons.setdefault(rel, url)
    return next((icons[rel] for rel in _ICON_RELS if rel in icons), None)


def next_page(document: HtmlElement, base: str, source: SourceRules) -> str | None:
    """The listing's next page: the ``next_page`` selector's link, else ``rel=next``."""
    if source.next_page:
        candidates = select(document, source.next_page)
    else:
        candidates = [
            element
            for element in document.iter("link", "a")
            if "next" in (element.get("rel") or "").lower().split()
        ]
    for element in candidates:
        href = element.get("href")
        if href is None and element.tag != "a":
            anchor = next(element.iter("a"), None)
            href = anchor.get("href") if anchor is not None else None
        url = resolve(base, href or "")
        if url is not None and scheme_of(url) in _schemes(source):
            return clean_url(url)
    return None


def links_by_item_selectors(
    document: HtmlElement,
    base: str,
    source: SourceRules,
    fields: ItemRules,
    problems: list[str] | None = None,
) -> list[Link]:
    """One link per listing entry, with what the entry says about its article; what
    cannot be read (a date in another format, once; an entry a library chokes on) is
    added to ``problems``."""
    problems = problems if problems is not None else []
    links = read_each(
        select(document, fields.selector),
        lambda entry: _listing_entry(entry, base, source, fields, problems),
        problems,
    )
    unique: dict[str, Link] = {}
    for link in links:
        unique.setdefault(link.url, link)
    return list(unique.values())


def _listing_entry(
    entry: HtmlElement, base: str, source: SourceRules, fields: ItemRules, problems: list[str]
) -> Link | None:
    href = _field(entry, fields.link) if fields.link else _first_href(entry)
    url = resolve(base, href or "")
    if url is None or scheme_of(url) not in _schemes(source):
        log.debug("listing entry without a usable link skipped")
        return None
    title = _field(entry, fields.title) if fields.title else _entry_title(entry)
    date_text = _field(entry, fields.date) if fields.date else None
    image = _field(entry, fields.image, image=True) if fields.image else None
    content = _inner_html(entry, fields.content) if fields.content else None
    summary = _field(entry, fields.summary) if fields.summary else None
    published = _entry_date(date_text, fields.date_format)
    if date_text and published is None and not problems:
        format_note = f"date_format {fields.date_format!r}" if fields.date_format else "any format"
        problems.append(f"the date {date_text!r} does not match {format_note}")
    return Link(
        url=clean_url(url),
        source=source.location,
        title_hint=title or None,
        summary_hint=summary or None,
        published_hint=published,
        author_hint=(_field(entry, fields.author) if fields.author else None) or None,
        image_hint=resolve(base, image) if image else None,
        content_hint=content or None,
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    """A link of a page with its article score."""

    link: Link
    score: int
    pattern: str
    anchor: HtmlElement
    path_score: int = 0
    """What the link's address alone says (a date, a slug of words: an article's)."""


def score_links(
    document: HtmlElement, base: str, source: str, *, allow_file: bool = False
) -> list[Candidate]:
    """Every same-site link of the page that scores as an article, best anchor per URL.
    ``allow_file`` admits ``file://`` links, for a listing page read from disk."""
    scored = _scored_links(document, base, source, allow_file=allow_file)
    # repeated markup (a list of teasers) is evidence too: a link marked up as the
    # articles are is one, however short its text ("Tuesday", a name)
    near = Counter(c.pattern for c in scored.values() if c.score >= ARTICLE_THRESHOLD - 1)
    sure = Counter(c.pattern for c in scored.values() if c.score >= ARTICLE_THRESHOLD)
    chosen = [
        candidate
        for candidate in scored.values()
        if candidate.score + (1 if near[candidate.pattern] >= 3 else 0) >= ARTICLE_THRESHOLD
        or (sure[candidate.pattern] >= 2 and candidate.path_score >= 0)
    ]
    if not chosen:
        # a listing of one or two links has no repetition to go by: an address shaped
        # like an article's (a date, a slug of words) in the page's content says enough
        chosen = [
            candidate
            for candidate in scored.values()
            if candidate.path_score >= _ARTICLE_PATH_SCORE
            and candidate.score >= ARTICLE_THRESHOLD - _SHORT_TEXT_PENALTY
        ]
    # the articles' dates beside them, looked for around the chosen links only
    return [replace(c, link=replace(c.link, published_hint=_teaser_date(c.anchor))) for c in chosen]


def _scored_links(
    document: HtmlElement, base: str, source: str, *, allow_file: bool = False
) -> dict[str, Candidate]:
    """Every same-site link of the page but the page's own, scored, best anchor per URL."""
    page_url = clean_url(base)
    scored: dict[str, Candidate] = {}
    for anchor in document.iter("a"):
        url = _link_url(anchor, base, allow_file=allow_file)
        if url is None or url == page_url or not same_site(url, base):
            continue
        title = _anchor_text(anchor)
        path_score = _path_score(url)
        score = _text_score(title) + path_score + _context_score(anchor)
        best = scored.get(url)
        if best is None or score > best.score:
            link = Link(url=url, source=source, title_hint=title or None)
            scored[url] = Candidate(link, score, _pattern(anchor), anchor, path_score)
    return scored


@dataclass(frozen=True, slots=True)
class LinkGroup:
    """Links of a page that sit in one container, with a selector that picks them: a
    candidate for a source's ``links`` rule."""

    selector: str
    links: tuple[Link, ...]
    best_score: int
    """The article score of its most article-like link."""

    @property
    def likely_articles(self) -> bool:
        """Whether its best link scores as an article on its own."""
        return self.best_score >= ARTICLE_THRESHOLD


_CONTAINER_TAGS = {"ul", "ol", "dl", "main", "section", "article", "nav", "aside", "header"}
_CONTAINER_TAGS |= {"footer", "table", "div"}
MAX_LINK_GROUPS = 5


def link_groups(document: HtmlElement, base: str, source: str) -> list[LinkGroup]:
    """The page's links grouped by the container they sit in (``ul#latest a``), each group
    with what its selector picks, best first: those with the most article-like links (even
    one or two), never a group of menu labels and boilerplate only."""
    scored = _scored_links(document, base, source)
    groups: dict[str, list[Candidate]] = {}
    for candidate in scored.values():
        groups.setdefault(_container_selector(candidate.anchor), []).append(candidate)
    found = []
    for selector, members in groups.items():
        best = max(candidate.score for candidate in members)
        if best < ARTICLE_THRESHOLD - _SHORT_TEXT_PENALTY:
            continue  # menus, footers, tag clouds
        try:
            picked = _links_by_css(document, base, source, selector)
        except ValueError:
            continue
        page_url = clean_url(base)
        picked = _dedupe([x for x in picked if x.url != page_url and same_site(x.url, base)])
        if picked:
            found.append(LinkGroup(selector, tuple(picked), best))
    found.sort(key=lambda group: (-group.best_score, -len(group.links), group.selector))
    distinct: list[LinkGroup] = []
    for group in found:  # two containers that pick the same links are one candidate
        urls = {link.url for link in group.links}
        if all(urls != {link.url for link in other.links} for other in distinct):
            distinct.append(group)
    return distinct[:MAX_LINK_GROUPS]


def _container_selector(anchor: HtmlElement) -> str:
    """``tag#id a`` of the anchor's nearest container with an id (four levels up at
    most), else ``tag.class a`` or ``tag a`` of its nearest list or section."""
    ancestors = list(anchor.iterancestors())[:4]
    for element in ancestors:
        identifier = element.get("id") or ""
        if isinstance(element.tag, str) and re.fullmatch(r"[A-Za-z][\w-]*", identifier):
            return f"{element.tag}#{identifier} a"
    for element in ancestors:
        if isinstance(element.tag, str) and element.tag in _CONTAINER_TAGS:
            return f"{_css_steps(element)[-1]} a"
    return "a"


def _teaser_date(anchor: HtmlElement) -> datetime | None:
    """The date a listing shows beside a link: the one ``<time>`` of the link's teaser
    (its nearest container, up to four levels up, that holds a ``<time>``; none when
    that container holds several, as a whole list does)."""
    for ancestor in islice(anchor.iterancestors(), 4):
        times = list(islice(ancestor.iter("time"), 2))  # two say it is no single teaser
        if len(times) > 1:
            return None
        if times:
            return parse_date(times[0].get("datetime") or text_of(times[0]))
    return None


def _field(entry: HtmlElement, spec: str, *, image: bool = False) -> str | None:
    """The text (or ``@attribute``) of the first element matching a field selector."""
    css, attribute = _split_field(spec)
    for element in [entry] if css == ":scope" else select(entry, css):
        if attribute:
            value = element.get(attribute)
        elif image and element.tag == "img":
            value = element.get("src") or element.get("data-src")
        else:
            value = text_of(element)
        if value and value.strip():
            return collapse_whitespace(value)
    return None


def _inner_html(entry: HtmlElement, spec: str) -> str | None:
    css, _ = _split_field(spec)
    matches = [entry] if css == ":scope" else select(entry, css)
    return "".join(to_html(element, inner=True) for element in matches).strip() or None


def _split_field(spec: str) -> tuple[str, str | None]:
    """``"time@datetime"`` -> ("time", "datetime"); ``"@href"`` -> the entry itself."""
    css, at, attribute = spec.rpartition("@")
    if not at:
        return spec, None
    return css or ":scope", attribute


def _first_href(entry: HtmlElement) -> str | None:
    if entry.tag == "a" and entry.get("href"):
        return entry.get("href")
    anchor = next((a for a in entry.iter("a") if a.get("href")), None)
    return anchor.get("href") if anchor is not None else None


def _entry_title(entry: HtmlElement) -> str | None:
    for heading in entry.iter("h1", "h2", "h3", "h4", "h5", "h6"):
        text = text_of(heading)
        if text:
            return text
    anchor = next(entry.iter("a"), None)
    return text_of(anchor) if anchor is not None else None


def _entry_date(text: str | None, fmt: str | None) -> datetime | None:
    if not text:
        return None
    return parse_date(text, fmt) if fmt else parse_date(text) or find_date(text)


def _schemes(source: SourceRules) -> tuple[str, ...]:
    return ("http", "https", "file") if source.path is not None else ("http", "https")


def _links_by_selector(
    document: HtmlElement, base: str, source: SourceRules, *, css: str | None = None
) -> list[Link]:
    selector = css or source.links or "a[href]"
    local = source.path is not None
    return _links_by_css(document, base, source.location, selector, allow_file=local)


def _links_by_css(
    document: HtmlElement, base: str, source: str, css: str, *, allow_file: bool = False
) -> list[Link]:
    """The links a selector picks (an element that is no anchor gives its first one)."""
    links = []
    for element in select(document, css):
        anchor = element if element.tag == "a" else next(element.iter("a"), None)
        if anchor is None:
            continue
        url = _link_url(anchor, base, allow_file=allow_file)
        if url is not None:
            title = _anchor_text(anchor) or text_of(element)
            links.append(Link(url=url, source=source, title_hint=title or None))
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


def suggest_selector(document: HtmlElement, base: str, candidates: list[Candidate]) -> str | None:
    """A CSS selector that picks the same article links as automatic detection: built
    from the chosen anchors' tags and classes, kept only if the links it selects on the
    page are (nearly) exactly those; of those, the one matching as many elements as there
    are articles, then the shortest."""
    wanted = {candidate.link.url for candidate in candidates}
    if len(wanted) < 2:
        return None
    fitting = []
    for css in _selector_candidates([candidate.anchor for candidate in candidates]):
        try:
            elements = select(document, css)
        except ValueError:
            continue
        picked = {_link_url(element, base) for element in elements} - {None}
        if len(picked & wanted) >= 0.9 * len(wanted) and len(picked - wanted) <= 1:
            fitting.append((abs(len(elements) - len(candidates)), css.count(" "), len(css), css))
    return min(fitting)[3] if fitting else None


def _selector_candidates(anchors: list[HtmlElement]) -> list[str]:
    """Selectors most anchors share: ``h2 a``, ``a.title``, ``article.teaser h2 a``..."""
    counts: Counter[str] = Counter()
    for anchor in anchors:
        chain = [anchor, *anchor.iterancestors()][:4]
        own = set()
        for size in range(1, len(chain) + 1):
            for top in _css_steps(chain[size - 1]):
                for bottom in _css_steps(anchor) if size > 1 else [top]:
                    own.add(top if size == 1 else f"{top} {bottom}")
        counts.update(own)
    return [css for css, count in counts.items() if count >= 0.9 * len(anchors)]


def _css_steps(element: HtmlElement) -> list[str]:
    """A tag alone, and the tag with its first class."""
    tag = element.tag if isinstance(element.tag, str) else "*"
    classes = [
        c for c in (element.get("class") or "").split() if re.fullmatch(r"[A-Za-z][\w-]*", c)
    ]
    return [tag, f"{tag}.{classes[0]}"] if classes else [tag]
