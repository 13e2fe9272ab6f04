"""Serves the published documents over HTTP, for feed readers, plus ``/healthz``.

A small WSGI application run by waitress (a production WSGI server), serving either the
output directory's files (``DirectorySource``) or the documents kept in the state's
database (``DatabaseSource``: any number of servers, no shared disk):

- only files that sit directly in the output directory are served, by their exact name;
  anything else (``../state/...``, absolute paths, encoded traversals, temporary files,
  which start with a dot) is a 404; from the database, only a document's exact name;
- a strong ETag (a hash of the bytes) and Last-Modified on every file; 304 for a matching
  If-None-Match or a current If-Modified-Since; HEAD; gzip when the client accepts it;
- the content types readers expect, with ``charset=utf-8``; ``Cache-Control`` from the
  feed's interval;
- ``/healthz``: the service's view of every feed, 503 when one has failed too often.
- ``/metrics``: the service's metrics in the Prometheus text format.
- ``/full?url=``: a full-text version of a feed, made on demand (``feeds run`` with
  ``settings.on_demand``): the service says which document to serve, or why not.

The only module that imports waitress.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl

from waitress import wasyncore
from waitress.server import create_server

from feeds.errors import CannotServeError, StorageError
from feeds.publishing.formats import FORMATS
from feeds.storage.interface import Store, document_etag

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Health = Callable[[], tuple[bool, dict[str, Any]]]
"""Returns whether everything is healthy, and the details to show."""

_PAGE_TYPES = {".opml": "text/x-opml", ".html": "text/html"}
_GZIP_MIN_BYTES = 512
_DEFAULT_MAX_AGE = 300


@dataclass(frozen=True, slots=True)
class Representation:
    """A document as served: its bytes (and gzipped), its validators."""

    body: bytes
    etag: str
    gzipped: bytes | None
    last_modified: datetime

    @classmethod
    def of(cls, body: bytes, etag: str, last_modified: datetime) -> Representation:
        """The representation of ``body`` (gzipped once, when it is worth it)."""
        gzipped = gzip.compress(body, 6, mtime=0) if len(body) >= _GZIP_MIN_BYTES else None
        return cls(body, etag, gzipped, last_modified)


class DocumentSource(Protocol):
    """Where the served documents come from."""

    description: str
    """What is served, for the log."""

    def representation(self, name: str) -> Representation | None:
        """The document of that name, None when there is none."""
        ...


def _plain_name(name: str) -> bool:
    """Whether ``name`` can only be a document's own name (no path, no hidden file)."""
    return bool(name) and not (name.startswith(".") or "/" in name or "\\" in name or "\0" in name)


class DirectorySource:
    """The files directly in a directory, read again when they change."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.description = str(directory)
        self._cache: dict[str, tuple[tuple[int, int], Representation]] = {}
        self._lock = threading.Lock()

    def representation(self, name: str) -> Representation | None:
        """The file's bytes and validators; None for anything but a plain file of the
        directory (so no path can lead elsewhere, whatever its encoding)."""
        if not _plain_name(name):
            return None
        try:
            entries = {entry.name for entry in self.directory.iterdir()}
        except OSError:
            return None
        if name not in entries:
            return None
        path = self.directory / name
        try:
            stat = path.stat()
            if not path.is_file():
                return None
            key = (stat.st_mtime_ns, stat.st_size)
            with self._lock:
                cached = self._cache.get(name)
            if cached is not None and cached[0] == key:
                return cached[1]
            body = path.read_bytes()
        except OSError:
            return None
        modified = datetime.fromtimestamp(int(stat.st_mtime), tz=UTC)
        representation = Representation.of(body, document_etag(body), modified)
        with self._lock:
            self._cache[name] = (key, representation)
        return representation


class DatabaseSource:
    """The documents kept in the state's database; a document's bytes are read again
    only when its ETag changed, so a revalidation costs one small query."""

    def __init__(self, connect: Callable[[], Store], description: str) -> None:
        self.connect = connect
        self.description = description
        self._cache: dict[str, Representation] = {}
        self._lock = threading.Lock()
        self._stores = threading.local()  # a connection per serving thread, kept

    def representation(self, name: str) -> Representation | None:
        """The document's bytes and validators, None when there is no such document."""
        if not _plain_name(name):
            return None
        store = self._store()
        try:
            version = store.document_version(name)
            if version is None:
                return None
            with self._lock:
                cached = self._cache.get(name)
            if cached is not None and cached.etag == version[0]:
                return cached
            document = store.document(name)
        except StorageError:  # a connection that broke (a database restart): a new one next
            self._stores.store = None
            store.close()
            raise
        if document is None:
            return None
        representation = Representation.of(
            document.body, document.etag, document.modified.replace(microsecond=0)
        )
        with self._lock:
            self._cache[name] = representation
        return representation

    def _store(self) -> Store:
        store: Store | None = getattr(self._stores, "store", None)
        if store is None:
            store = self._stores.store = self.connect()
        return store


def content_type(name: str) -> str:
    """The media type a file of the output directory is served with: a feed format's own
    (``FORMATS``), OPML's or HTML's."""
    suffix = Path(name).suffix
    types = {fmt.suffix: fmt.media_type for fmt in FORMATS.values()} | _PAGE_TYPES
    return f"{types[suffix]}; charset=utf-8" if suffix in types else "application/octet-stream"


CONNECTION_LIMIT = 1000
"""Connections held open at once; beyond this, new ones wait (waitress's default, 100,
let 100 slow clients starve every reader and ``/healthz``)."""
IDLE_TIMEOUT = 30
"""Seconds a connection may stay silent before the server closes it: a reader that reads
nothing of its answer is cut after that long."""
SEND_BLOCK = 64 * 1024
"""Bytes of a document read into a connection's buffer at a time."""


OnDemand = Callable[[dict[str, str]], tuple[int, str]]
"""Answers ``GET /full`` from its query: 200 and the name of the document to serve, or
another status and what to say."""
_STATUS = {
    400: "400 Bad Request",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    429: "429 Too Many Requests",
    502: "502 Bad Gateway",
}


class FeedServer:
    """The HTTP server of the published documents."""

    def __init__(
        self,
        documents: DocumentSource,
        *,
        host: str,
        port: int,
        health: Health,
        max_age: Callable[[str], int] | None = None,
        threads: int = 8,
        metrics: Callable[[], tuple[bytes, str]] | None = None,
        idle_timeout: int = IDLE_TIMEOUT,
        on_demand: OnDemand | None = None,
        status_page: Callable[[], bytes] | None = None,
    ) -> None:
        """``metrics`` gives the body and content type of ``/metrics`` (none: 404); a
        connection that neither sends nor reads for ``idle_timeout`` seconds is closed;
        ``on_demand`` answers ``/full`` (none: 404); ``status_page`` gives the body of
        ``/status`` (none: 404)."""
        self.documents = documents
        self.on_demand = on_demand
        self.health = health
        self.metrics = metrics
        self.status_page = status_page
        self.max_age = max_age or (lambda name: _DEFAULT_MAX_AGE)
        try:
            self._server = self._create_server(host, port, threads, idle_timeout)
        except OSError as exc:
            raise CannotServeError(
                "the feeds",
                host,
                port,
                exc,
                "settings.serve (or $FEEDS_SERVE_HOST, $FEEDS_SERVE_PORT)",
            ) from None
        _close_stalled_channels(self._server, idle_timeout)
        self._thread: threading.Thread | None = None

    def _create_server(self, host: str, port: int, threads: int, idle_timeout: int) -> Any:
        return create_server(
            self.app,
            host=host,
            port=port,
            threads=threads,
            # slow or idle clients hold a connection, not a thread: allow many (poll, not
            # select, which stops at 1,024 descriptors), and close the idle ones soon
            connection_limit=CONNECTION_LIMIT,
            channel_timeout=idle_timeout,
            cleanup_interval=max(1, idle_timeout // 3),
            asyncore_use_poll=True,
        )

    @property
    def address(self) -> tuple[str, int]:
        """The host and port actually listened on (port 0 picks a free one)."""
        host, port = self._server.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Serve from a background thread."""
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)
        self._thread.start()
        log.info("serving %s on http://%s:%d/", self.documents.description, *self.address)

    def stop(self) -> None:
        """Stop accepting connections and close the server.

        The closing runs inside waitress's own loop (through its trigger): closing its
        sockets from another thread would pull them from under a running ``select``.
        """
        server = self._server

        def close_everything() -> None:
            server.task_dispatcher.shutdown(timeout=5)
            wasyncore.close_all(server._map)  # an empty map ends waitress's loop

        server.trigger.pull_trigger(close_everything)
        if self._thread is not None:
            self._thread.join(timeout=10)

    # the WSGI application

    def app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request."""
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return _respond(start_response, "405 Method Not Allowed", b"", [("Allow", "GET, HEAD")])
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            healthy, details = self.health()
            body = json.dumps(details, indent=1, ensure_ascii=False).encode()
            status = "200 OK" if healthy else "503 Service Unavailable"
            headers = [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Cache-Control", "no-store"),
            ]
            return _respond(start_response, status, body, headers, head=method == "HEAD")
        if path == "/status" and self.status_page is not None:
            headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")]
            body = self.status_page()
            return _respond(start_response, "200 OK", body, headers, head=method == "HEAD")
        if path == "/metrics" and self.metrics is not None:
            body, content_type = self.metrics()
            headers = [("Content-Type", content_type), ("Cache-Control", "no-store")]
            return _respond(start_response, "200 OK", body, headers, head=method == "HEAD")
        name = "index.html" if path == "/" else path[1:]
        if path == "/full" and self.on_demand is not None:
            query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
            code, answer = self.on_demand(query)
            if code != 200:
                headers = [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Cache-Control", "no-store"),
                ]
                return _respond(start_response, _STATUS[code], f"{answer}\n".encode(), headers)
            name = answer
        representation = self.documents.representation(name)
        if representation is None and path == "/full":
            body = b"the feed could not be read yet; try again later\n"
            return _respond(start_response, _STATUS[502], body, [("Content-Type", "text/plain")])
        if representation is None:
            return _respond(
                start_response, "404 Not Found", b"not found\n", [("Content-Type", "text/plain")]
            )
        return self._file(environ, start_response, name, representation, method == "HEAD")

    def _file(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        name: str,
        representation: Representation,
        head: bool,
    ) -> Iterable[bytes]:
        accepts_gzip = _accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
        use_gzip = accepts_gzip and representation.gzipped is not None
        etag = f'"{representation.etag}-gz"' if use_gzip else f'"{representation.etag}"'
        headers = [
            ("Content-Type", content_type(name)),
            ("ETag", etag),
            ("Last-Modified", format_datetime(representation.last_modified, usegmt=True)),
            ("Cache-Control", f"public, max-age={self.max_age(name)}"),
            ("Vary", "Accept-Encoding"),
        ]
        if _not_modified(environ, representation):
            return _respond(start_response, "304 Not Modified", b"", headers, head=True)
        body = representation.body
        if use_gzip and representation.gzipped is not None:
            body = representation.gzipped
            headers.append(("Content-Encoding", "gzip"))
        sent = _respond(start_response, "200 OK", body, headers, head=head)
        wrapper = environ.get("wsgi.file_wrapper")
        if not sent or wrapper is None:
            return sent
        # waitress sends a file wrapper's content from the object itself, a block at a
        # time, instead of copying the whole body into the connection's buffer (a
        # temporary file past 1 MB): a slow reader then holds no copy of a big feed
        return wrapper(io.BytesIO(body), SEND_BLOCK)  # type: ignore[no-any-return]


def _close_stalled_channels(server: Any, timeout: int) -> None:
    """Make waitress close a connection idle for ``timeout`` seconds even when its reader
    stopped reading: waitress only marks it, to be closed at its next send, which a full
    socket never gets."""
    marking = server.maintenance

    def maintenance(now: float) -> None:
        marking(now)
        cutoff = now - timeout
        for channel in list(server.active_channels.values()):
            if not channel.requests and channel.last_activity < cutoff:
                channel.handle_close()

    server.maintenance = maintenance


def _not_modified(environ: dict[str, Any], representation: Representation) -> bool:
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or bool(
            tags & {f'"{representation.etag}"', f'"{representation.etag}-gz"'}
        )
    if_modified_since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return representation.last_modified <= since
    return False


def _accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        coding, _, parameters = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            quality = parameters.strip().removeprefix("q=")
            try:
                return float(quality) > 0 if quality else True
            except ValueError:
                return False
    return False


def _respond(
    start_response: StartResponse,
    status: str,
    body: bytes,
    headers: list[tuple[str, str]],
    *,
    head: bool = False,
) -> list[bytes]:
    if status.startswith("304"):
        start_response(status, [h for h in headers if h[0] != "Content-Type"])
        return []
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [] if head else [body]
