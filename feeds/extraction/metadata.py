"""Clean-up of an article's metadata: titles, author names, dates in URLs (pure text)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from feeds.dates import find_date
from feeds.html import collapse_whitespace

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
