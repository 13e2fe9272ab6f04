"""HTTP and local-file fetching: the only module that talks to the network.

A ``Fetcher`` turns a URL into a ``Page`` or raises ``FetchError``. It enforces a timeout
on the whole download, a size cap on the decompressed body, a redirect limit and the
content types feeds can use, and it decodes the body's charset once for every stage.
``file://`` URLs are served from the directories of the config's local sources only.
"""

from __future__ import annotations

import codecs
import html
import logging
import mimetypes
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import charset_normalizer
import requests

from feeds.config import Settings
from feeds.errors import FetchError
from feeds.models import Page

log = logging.getLogger(__name__)

ACCEPTED_TYPES = (
    "text/html",
    "application/xhtml+xml",
    "application/xml",
    "text/xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/json",
    "application/feed+json",
    "text/plain",
)
_CHUNK = 64 * 1024
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""")
# WHATWG: these labels mean windows-1252 on the web
_WEB_ALIASES = {"iso8859-1": "cp1252", "ascii": "cp1252"}  # codecs.lookup() names
_LOCAL_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".json": "application/json",
    ".txt": "text/plain",
}


@dataclass(frozen=True, slots=True)
class FetchOptions:
    """How pages are fetched; built from the config's settings."""

    user_agent: str
    timeout: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchOptions:
        """The fetch options a config's settings ask for."""
        return cls(
            user_agent=settings.user_agent,
            timeout=settings.timeout.total_seconds(),
            max_bytes=int(settings.max_page_size),
        )


class Fetcher:
    """Fetches pages over HTTP(S), and ``file://`` pages below the allowed local roots."""

    def __init__(self, options: FetchOptions, *, local_roots: Sequence[Path] = ()) -> None:
        self.options = options
        self.local_roots = tuple(root.resolve() for root in local_roots)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = options.user_agent
        self.session.headers["Accept"] = (
            "text/html,application/xhtml+xml,application/xml;q=0.9,"
            "application/rss+xml,application/atom+xml,application/json;q=0.8,*/*;q=0.5"
        )
        self.session.max_redirects = options.max_redirects

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self.session.close()

    def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Page:
        """Fetch ``url``. With ``etag``/``last_modified`` the request is conditional and a
        ``Page`` with status 304 and an empty body comes back when nothing changed."""
        scheme = urlsplit(url).scheme.lower()
        if scheme == "file":
            return self._read_local(url)
        if scheme not in ("http", "https"):
            raise FetchError(url, f"unsupported URL scheme {scheme!r}; use http or https")
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        started = time.monotonic()
        try:
            response = self.session.get(
                url, headers=headers, timeout=self.options.timeout, stream=True
            )
        except requests.exceptions.Timeout as exc:
            raise FetchError(url, f"timed out after {self.options.timeout:g}s") from exc
        except requests.exceptions.TooManyRedirects as exc:
            raise FetchError(url, f"more than {self.options.max_redirects} redirects") from exc
        except requests.exceptions.ConnectionError as exc:
            raise FetchError(url, f"cannot connect: {_root_cause(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise FetchError(url, f"request failed: {_root_cause(exc)}") from exc
        with response:
            return self._read_response(url, response, started)

    def _read_response(self, url: str, response: requests.Response, started: float) -> Page:
        status = response.status_code
        if status == 304:
            return self._page(url, response, b"", "utf-8")
        if status >= 400:
            reason = response.reason or "error"
            raise FetchError(url, f"HTTP {status} {reason}", status=status)
        content_type = _media_type(response.headers.get("Content-Type", ""))
        if content_type and not content_type.startswith(ACCEPTED_TYPES):
            raise FetchError(
                url, f"content type {content_type!r} is not a page (HTML, XML or JSON)"
            )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.options.max_bytes:
            raise FetchError(url, self._too_large(int(declared)))
        body = bytearray()
        try:
            for chunk in response.iter_content(_CHUNK):
                body += chunk
                if len(body) > self.options.max_bytes:
                    raise FetchError(url, self._too_large(len(body)))
                if time.monotonic() - started > self.options.timeout:
                    raise FetchError(url, f"timed out after {self.options.timeout:g}s")
        except requests.exceptions.RequestException as exc:
            raise FetchError(url, f"download failed: {_root_cause(exc)}") from exc
        encoding = detect_encoding(bytes(body), response.headers.get("Content-Type", ""))
        return self._page(url, response, bytes(body), encoding)

    def _page(self, url: str, response: requests.Response, body: bytes, encoding: str) -> Page:
        return Page(
            url=url,
            final_url=response.url or url,
            status=response.status_code,
            content_type=_media_type(response.headers.get("Content-Type", "")),
            body=body,
            encoding=encoding,
            fetched_at=datetime.now(UTC),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )

    def _too_large(self, size: int) -> str:
        limit = self.options.max_bytes
        return f"larger than the {_megabytes(limit)} limit (at least {_megabytes(size)})"

    def _read_local(self, url: str) -> Page:
        path = Path(unquote(urlsplit(url).path)).resolve()
        if not any(path == root or path.is_relative_to(root) for root in self.local_roots):
            raise FetchError(url, "local file outside the directories of the config's sources")
        try:
            if path.is_dir():
                body = _directory_index(path)
                content_type = "text/html"
            else:
                if path.stat().st_size > self.options.max_bytes:
                    raise FetchError(url, self._too_large(path.stat().st_size))
                body = path.read_bytes()
                content_type = _LOCAL_TYPES.get(path.suffix.lower()) or (
                    mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                )
        except FileNotFoundError as exc:
            raise FetchError(url, "file not found", status=404) from exc
        except OSError as exc:
            raise FetchError(url, f"cannot read the file: {exc.strerror}") from exc
        return Page(
            url=url,
            final_url=url,
            status=200,
            content_type=content_type,
            body=body,
            encoding=detect_encoding(body, content_type),
            fetched_at=datetime.now(UTC),
        )


def detect_encoding(body: bytes, content_type_header: str) -> str:
    """The charset of a body: from the HTTP header, else the document's own declaration
    (``<meta charset>``, XML declaration, BOM), else detected from the bytes."""
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    message = Message()
    message["Content-Type"] = content_type_header
    candidates = [message.get_content_charset()]
    head = body[:4096]
    for pattern in (_XML_ENCODING, _META_CHARSET):
        match = pattern.search(head)
        if match:
            candidates.append(match.group(1).decode("ascii", "ignore"))
    for name in candidates:
        codec = _codec(name)
        if codec is not None:
            return codec
    if _decodes(body, "utf-8"):
        return "utf-8"
    guess = charset_normalizer.from_bytes(body[: 256 * 1024]).best()
    return (guess.encoding if guess is not None else None) or "cp1252"


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None
    return _WEB_ALIASES.get(codec, codec)


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _media_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _root_cause(exc: BaseException) -> str:
    """The innermost cause of a requests/urllib3 error, as a short phrase."""
    cause: BaseException = exc
    while cause.__cause__ is not None or (cause.__context__ is not None and cause.args == ()):
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = str(cause) or type(cause).__name__
    # urllib3 wraps the useful part in "...: [Errno 111] Connection refused'))"
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return match.group(1) if match else text


def _directory_index(directory: Path) -> bytes:
    """An HTML page linking every HTML file of a directory, like a web server's index."""
    files = sorted(
        p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in (".html", ".htm")
    )
    items = "".join(f'<li><a href="{quote(p.name)}">{html.escape(p.stem)}</a></li>' for p in files)
    return f"<!DOCTYPE html><html><body><ul>{items}</ul></body></html>".encode()
