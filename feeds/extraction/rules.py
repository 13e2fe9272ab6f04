"""What extraction needs to know of a site's rules, as a Protocol (the config's
``ExtractRules`` meets it), so that extraction neither imports nor needs the config's
schema; and ``SiteRules``, the same rules read from a site config file
(``extraction/site_config.py``), where a selector may have alternatives, the first that
finds something winning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

Selectors = str | tuple[str, ...] | None
"""One selector (CSS or XPath), or alternatives tried in order."""


class ExtractRules(Protocol):
    """Selectors that override automatic extraction, what to cut or rewrite first, and
    how many pages of a multi-page article to join."""

    @property
    def title(self) -> Selectors: ...
    @property
    def body(self) -> Selectors: ...
    @property
    def author(self) -> Selectors: ...
    @property
    def date(self) -> Selectors: ...
    @property
    def remove(self) -> tuple[str, ...]: ...
    @property
    def next_page(self) -> str | None: ...
    @property
    def single_page(self) -> str | None: ...
    @property
    def max_pages(self) -> int: ...
    @property
    def strip_image_src(self) -> tuple[str, ...]: ...
    @property
    def replace(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def autodetect(self) -> bool: ...
    @property
    def prune(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class SiteRules:
    """A site's extraction rules as a site config file gives them (``ExtractRules``)."""

    title: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    date: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    next_page: str | None = None
    single_page: str | None = None
    """Where the link to the whole article on one page is (``single_page_link``)."""
    max_pages: int = 5
    strip_image_src: tuple[str, ...] = ()
    replace: tuple[tuple[str, str], ...] = ()
    """Text to find in the page's HTML and what to put instead, before it is parsed."""
    autodetect: bool = True
    """Whether automatic extraction takes over when ``body`` finds nothing."""
    prune: bool = True
    """Whether what ``body`` finds is cleaned as automatic extraction cleans a page (menus,
    related links, sharing tools out), as Full-Text RSS prunes it unless told not to."""
    headers: tuple[tuple[str, str], ...] = ()
    """HTTP headers the site's pages are asked for with (``http_header(name): value``)."""
    origin: str = ""
    """The file(s) the rules were read from."""


def alternatives(selectors: Selectors) -> tuple[str, ...]:
    """A rule's selectors, in the order they are tried."""
    if not selectors:
        return ()
    return (selectors,) if isinstance(selectors, str) else selectors


def layered(top: ExtractRules | None, base: SiteRules | None) -> ExtractRules | None:
    """``top`` (the config's own rules) over ``base`` (a site config's): each selector
    ``top`` sets wins, what to remove, strip and replace adds up."""
    if base is None or top is None:
        return top if base is None else base
    return SiteRules(
        title=alternatives(top.title) or base.title,
        body=alternatives(top.body) or base.body,
        author=alternatives(top.author) or base.author,
        date=alternatives(top.date) or base.date,
        remove=base.remove + tuple(s for s in top.remove if s not in base.remove),
        next_page=top.next_page or base.next_page,
        single_page=top.single_page or base.single_page,
        max_pages=top.max_pages,
        strip_image_src=base.strip_image_src + top.strip_image_src,
        replace=base.replace + top.replace,
        autodetect=top.autodetect and base.autodetect,
        prune=top.prune if alternatives(top.body) else base.prune,  # whoever gave the body
        headers=base.headers,
        origin=base.origin,
    )
