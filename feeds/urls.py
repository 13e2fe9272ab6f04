"""Pure URL helpers: resolving, cleaning tracking parameters, comparing sites."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

# Query parameters that only track where a click came from; they never select content.
_TRACKING_PARAMS = re.compile(
    r"^(?:utm_[a-z_]+|fbclid|gclid|gclsrc|dclid|gbraid|wbraid|msclkid|yclid|twclid|igshid"
    r"|mc_cid|mc_eid|_ga|_gl|_hsenc|_hsmi|__hssc|__hstc|__hsfp|hsctatracking|mkt_tok"
    r"|oly_anon_id|oly_enc_id|vero_id|wickedid|rb_clickid|s_cid|ncid|sr_share|cmpid"
    r"|at_medium|at_campaign|xtor|ref_src|ref_url)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# an absolute http(s) URL of unreserved, reserved and escaped characters only
_PLAIN_ABSOLUTE = re.compile(r"https?://[\w.~:/?#\[\]@!$&'()*+,;=%-]+\Z", re.ASCII)
WEB_SCHEMES = ("http", "https")
_URL_CHARACTERS = "/:?#[]@!$&'()*+,;=%~"  # reserved and escapes, besides letters and digits


def resolve(base: str, href: str) -> str | None:
    """``href`` made absolute against ``base``, as a browser resolves it; None for empty
    references, in-page ones (``#top``) and unusable ones: what a link to another page
    needs. Content keeps in-page links: ``resolve_reference``."""
    href = url_attribute(href)
    if not href or href.startswith("#"):
        return None
    return resolve_reference(base, href)


def resolve_reference(base: str, href: str) -> str | None:
    """``href`` made absolute against the document's ``base`` exactly as a browser does:
    spaces around it and tabs and newlines in it ignored, ``""`` the document itself,
    ``#note-1`` a place in it, ``b.html`` and ``?page=2`` beside it. None when it cannot
    be resolved (a malformed host)."""
    href = url_attribute(href)
    if _PLAIN_ABSOLUTE.match(href) and "/." not in href:
        return href  # already absolute and plain: nothing for urljoin to resolve
    try:
        return urljoin(base, href)
    except ValueError:
        return None


_IGNORED_IN_URLS = str.maketrans("", "", "\t\n\r")


def url_attribute(href: str) -> str:
    """A URL attribute as a browser reads it: C0 controls and spaces around it dropped,
    tabs and newlines inside it too (WHATWG URL parsing)."""
    return href.strip(
        "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f"
        "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d"
        "\x1e\x1f "
    ).translate(_IGNORED_IN_URLS)


def clean_url(url: str) -> str:
    """The URL with tracking parameters and fragment removed, scheme and host lower-cased
    and the default port dropped. Other query parameters keep their order."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if not host:
        return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))
    netloc = host if ":" not in host else f"[{host}]"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(key, value) for key, value in pairs if not _TRACKING_PARAMS.match(key)]
    # rebuild the query only when something was removed, so encodings stay as the site wrote them
    query = parts.query if len(kept) == len(pairs) else urlencode(kept, doseq=True)
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def site_of(url: str) -> str:
    """The host of a URL without a leading ``www.``, for same-site comparisons."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
    return host.removeprefix("www.")


def origin_of(url: str) -> tuple[str, int | None]:
    """The site of a URL and its port, None for the default port of http or https: a
    link to the same host on another port is another site (another server)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ("", None)
    if port == _DEFAULT_PORTS.get(parts.scheme.lower()):
        port = None
    return site_of(url), port


def host_key(url: str) -> str:
    """The server a URL is sent to, as politeness counts it: ``name:port`` as written
    (lowercase), without the user name and password a URL may carry."""
    return urlsplit(url).netloc.rpartition("@")[2].lower()


def same_site(url: str, other: str) -> bool:
    """Whether two URLs are on the same site (``www.`` ignored)."""
    return site_of(url) == site_of(other)


def is_web_url(url: str) -> bool:
    """Whether the URL is http(s) with a host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in WEB_SCHEMES and bool(parts.hostname)


def escaped(url: str) -> str:
    """The URL with every character that may not stand in a URL (spaces, quotes, angle
    brackets, backticks...) percent-encoded, as a browser sends it: safe in any field."""
    return quote(url, safe=_URL_CHARACTERS)


def scheme_of(url: str) -> str:
    """The lower-cased scheme of a URL ('' when it has none)."""
    return urlsplit(url).scheme.lower()


def path_of(url: str) -> str:
    """The path of a URL ('/' when empty)."""
    return urlsplit(url).path or "/"


def userinfo(url: str) -> str:
    """The ``user:password`` a URL carries before its host ('' when none)."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return ""
    return netloc.rpartition("@")[0]


def without_credentials(url: str) -> str:
    """The URL without a user name and password (a source's credentials, which the pages
    found through it inherit, are for fetching, never for publishing)."""
    credentials = userinfo(url) if "@" in url else ""
    return url.replace(credentials + "@", "", 1) if credentials else url


def same_document(url: str, other: str) -> bool:
    """Whether two URLs name the same document: fragments aside, scheme, host and
    default port normalised, and escapes compared by what they stand for (a browser sends
    ``'`` in a query as ``%27``)."""
    return unquote(clean_url(url)) == unquote(clean_url(other))


def public_url(url: str) -> str:
    """The URL as public output may show it: without user name, password, query and
    fragment (a query stands as ``?...``), which may hold a key the config was given."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(an unreadable URL)"
    netloc = (host if ":" not in host else f"[{host}]") + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "..." if parts.query else "", ""))
