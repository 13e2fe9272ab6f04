"""HTTP and local-file fetching: the only module that talks to the network.

A ``Fetcher`` turns a URL into a ``Page`` or raises ``FetchError``. For every request it

- honours robots.txt (RFC 9309: fetched once per host and cached; a 4xx robots.txt
  allows everything, an unreachable one disallows everything for a while), unless the
  source says ``robots: ignore``;
- waits for its turn at the host (``hosts.HostGates``: requests in flight per host and
  overall, spacing between requests to one host, robots.txt Crawl-delay, Retry-After);
- retries connection errors, timeouts and HTTP 429/500/502/503/504 with exponential
  backoff and jitter, or after the server's Retry-After when it gives one;
- bounds the whole download in time, and the decompressed body in size; follows a
  limited number of redirects; accepts only HTML, XML, JSON and plain text;
- sends ETag / Last-Modified back when asked (a 304 comes back as a ``Page`` with
  status 304 and no body);
- decodes the body's charset once for every later stage (encoding.py finds it);
- refuses, before the request and again before each redirect, any URL that leads to an
  internal address (loopback, private, link-local...) unless the config names its host
  (``addresses.AddressGuard``).

``file://`` URLs are served from the directories of the config's local sources only.
"""

from __future__ import annotations

import contextlib
import functools
import html
import logging
import mimetypes
import os
import random
import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests
from protego import Protego

from feeds.errors import FetchError, FetchStoppedError, RobotsDisallowedError
from feeds.fetching.addresses import AddressGuard, Trust
from feeds.fetching.clock import SYSTEM_CLOCK, MonotonicClock
from feeds.fetching.deadlines import Deadlines
from feeds.fetching.encoding import detect_encoding
from feeds.fetching.hosts import (
    Gates,
    GatesUnavailableError,
    HostGates,
    Politeness,
    StoppedError,
    TooEarlyError,
)
from feeds.fetching.transport import (
    NO_DEADLINE,
    Deadline,
    EnvironmentProxies,
    GuardedAdapter,
    current_download,
)
from feeds.html import ascii_number
from feeds.models import Page
from feeds.timing import stage
from feeds.urls import host_key

if TYPE_CHECKING:
    from feeds.fetching.browser import Renderer

log = logging.getLogger(__name__)

RENDERED_TYPES = frozenset({"text/html", "application/xhtml+xml"})
"""The pages a ``render`` source loads in the browser (its feeds and sitemaps are read
as they are)."""
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
    "application/x-gzip",  # gzipped sitemaps
    "application/gzip",
)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ROBOTS_MAX_BYTES = 500 * 1024  # RFC 9309: parse at least the first 500 KiB
ROBOTS_TTL = 24 * 3600.0  # RFC 9309: a cached robots.txt is used for 24 hours at most
ROBOTS_UNREACHABLE_TTL = 600.0
MAX_CRAWL_DELAY = 60.0
# Bodies are read in large pieces: a typical article page (~140 KB) in one or two reads.
# Each read releases the GIL; with many fetch threads, 16 KB reads cost 0.5 ms more CPU
# per page (measured: 2.3 against 2.8 ms a page over 4 threads).
_CHUNK = 256 * 1024
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
    """How pages are fetched (``feeds.run.options.fetch_options`` makes them of the settings)."""

    user_agent: str
    timeout: float = 30.0
    connect_timeout: float = 10.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 10
    retries: int = 3
    backoff: float = 1.0
    """First retry waits about this long (0.5x to 1x), each next one twice as long."""
    retry_after_limit: float = 3600.0
    """A Retry-After longer than this is taken to be this long."""
    politeness: Politeness = field(default_factory=Politeness)
    render_pages: int = 4
    """Pages open at once in the browser (``render: true`` sources)."""
    render_memory: int = 512 * 1024 * 1024
    """Memory one rendered page's renderer process may use before it is closed."""


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """What one source asks of the requests made for it."""

    headers: tuple[tuple[str, str], ...] = ()
    cookies: tuple[tuple[str, str], ...] = ()
    user_agent: str | None = None
    proxy: str | None = None
    obey_robots: bool = True
    trust: Trust | None = None
    """What the requests may reach whatever it resolves to: the origins the feed names
    (None: all that the config names)."""
    render: bool = False
    """HTML pages are loaded in the browser, and what its scripts leave is the page."""
    for_rendering: bool = False
    """The request is one a page in the browser made: scripts and data are fetched too,
    not only pages."""


DEFAULT_REQUEST = RequestOptions()


@dataclass(frozen=True, slots=True)
class FetchJob:
    """One page to fetch in a batch, with the validators of the copy we have."""

    url: str
    request: RequestOptions = DEFAULT_REQUEST
    etag: str | None = None
    last_modified: str | None = None


class _TransientError(Exception):
    """A failure worth retrying: network trouble, a timeout, HTTP 429 or 5xx."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


@dataclass(slots=True)
class _RobotsRules:
    parser: Protego | None
    """None: everything is allowed."""
    refusal: str | None
    """Why everything is refused (robots.txt unreachable), or None."""
    expires: float


class Fetcher:
    """Fetches pages over HTTP(S), and ``file://`` pages below the allowed local roots.

    Safe to use from several threads; ``fetch_all`` runs a batch in parallel.
    """

    def __init__(
        self,
        options: FetchOptions,
        *,
        local_roots: Sequence[Path] = (),
        guard: AddressGuard | None = None,
        clock: MonotonicClock = SYSTEM_CLOCK,
        transport: requests.adapters.BaseAdapter | None = None,
        gates: Gates | None = None,
    ) -> None:
        """``clock`` times politeness, retries, robots.txt lifetimes and download
        deadlines; ``transport`` sends the requests (by default, over the network through
        the address guard; tests give a fake one); ``gates`` keep the hosts' politeness
        (by default, this process's own)."""
        self.options = options
        self.local_roots = _resolved(local_roots)
        self.guard = guard or AddressGuard()
        self.clock = clock
        self.gates: Gates = gates or HostGates(options.politeness, clock)
        self.observe: Callable[[float, int | None], None] | None = None
        """Told of every request: its seconds (by ``clock``) and status (None: no answer)."""
        self.requests_made = 0
        self.session = requests.Session()
        self.session.headers["User-Agent"] = options.user_agent
        self.session.headers["Accept"] = (
            "text/html,application/xhtml+xml,application/xml;q=0.9,"
            "application/rss+xml,application/atom+xml,application/json;q=0.8,*/*;q=0.5"
        )
        self.session.max_redirects = options.max_redirects
        # requests would read the environment again for every request (proxies, .netrc,
        # CA bundle: psf/requests#5600), a third of its own time per page: read it once
        self.session.trust_env = False
        self.session.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        pool = max(10, options.politeness.concurrency)
        adapter = transport or GuardedAdapter(
            self.guard, EnvironmentProxies(), pool_connections=pool, pool_maxsize=pool
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._robots: dict[str, _RobotsRules] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._deadlines = Deadlines("fetch-timeouts", clock.now)
        self._renderer: Renderer | None = None

    def follow(
        self, local_roots: Sequence[Path], urls: Iterable[str], domains: Iterable[str]
    ) -> None:
        """Take up a reloaded config's local roots and the hosts it names (the settings
        of a running fetcher stay), so that a feed added to it can reach its sources."""
        self.local_roots = _resolved(local_roots)
        self.guard.trust(urls, domains)

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def stop(self) -> None:
        """Start no new request; waiting ones fail with ``FetchStoppedError``."""
        self.gates.stop.set()

    @property
    def stopping(self) -> bool:
        """Whether ``stop`` was called."""
        return self.gates.stop.is_set()

    def close(self) -> None:
        """Stop, and close the HTTP connections, worker threads and host gates."""
        self.stop()
        self.session.close()
        self.gates.close()
        if self._renderer is not None:
            self._renderer.close()
        self._deadlines.close()

    # public API

    def fetch(
        self,
        url: str,
        *,
        request: RequestOptions = DEFAULT_REQUEST,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Page:
        """Fetch ``url``. With ``etag``/``last_modified`` the request is conditional, and a
        ``Page`` with status 304 and an empty body comes back when nothing changed."""
        if urlsplit(url).scheme.lower() == "file":
            return self._read_local(url)
        self.guard.check(url, request.trust)  # refused before robots.txt
        if request.obey_robots:
            self._check_robots(url, request)
        headers = dict(request.headers)
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        page = self._with_retries(url, request, headers)
        if request.render and page.status != 304 and page.content_type in RENDERED_TYPES:
            return self._render(page, request)
        return page

    def _render(self, page: Page, request: RequestOptions) -> Page:
        """The page after its scripts ran in the browser, every request they make made
        (or refused) by this fetcher, under the source's options."""
        from feeds.fetching.browser import Renderer  # Playwright only for rendered sources

        with self._lock:
            if self._renderer is None:
                self._renderer = Renderer(
                    max_pages=self.options.render_pages,
                    timeout=self.options.timeout,
                    user_agent=request.user_agent or self.options.user_agent,
                    max_bytes=self.options.max_bytes,
                    memory_limit=self.options.render_memory,
                )
            renderer = self._renderer
        made_by_page = replace(request, render=False, for_rendering=True)
        return renderer.render(page, lambda url: self.fetch(url, request=made_by_page))

    def fetch_all(self, jobs: Iterable[FetchJob]) -> Iterator[tuple[FetchJob, Page | FetchError]]:
        """Fetch a batch in parallel (within the politeness limits); yields each job with
        its page or error as soon as it is done. Only a few pages wait in memory at once:
        a new fetch starts when a result has been taken.

        Each batch has its own threads, as many as its window: a batch waiting for its
        host's turn never holds up another feed's batch for another host."""
        batch = list(jobs)
        if not batch:
            return
        politeness = self.options.politeness
        hosts = len({host_key(job.url) for job in batch})
        # enough to keep every host's slots busy, with one waiting per slot
        window = min(
            len(batch), 2 * politeness.concurrency, 2 * politeness.per_host_concurrency * hosts
        )
        pending = iter(batch)
        running: dict[Future[Page], FetchJob] = {}
        executor = ThreadPoolExecutor(max_workers=window, thread_name_prefix="fetch")

        def submit_next() -> None:
            job = next(pending, None)
            if job is not None:
                future = executor.submit(
                    self.fetch,
                    job.url,
                    request=job.request,
                    etag=job.etag,
                    last_modified=job.last_modified,
                )
                running[future] = job

        try:
            for _ in range(window):
                submit_next()
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    job = running.pop(future)
                    try:
                        result: Page | FetchError = future.result()
                    except FetchError as error:
                        result = error
                    yield job, result
                    submit_next()
        finally:
            # a consumer that stops early leaves the running fetches to end on their own
            executor.shutdown(wait=False, cancel_futures=True)

    def ping_hub(self, hub: str, topics: Sequence[str]) -> None:
        """Tell a WebSub hub that ``topics`` (feed URLs) changed: one POST, every topic."""
        data = [("hub.mode", "publish")] + [("hub.url", topic) for topic in topics]
        try:
            with self._lock:
                self.requests_made += 1
            response = self.session.post(
                hub, data=data, timeout=(self.options.connect_timeout, self.options.timeout)
            )
        except requests.exceptions.RequestException as exc:
            raise FetchError(hub, f"WebSub hub unreachable: {_root_cause(exc)}") from exc
        if response.status_code >= 300:
            raise FetchError(
                hub, f"WebSub hub answered HTTP {response.status_code}", status=response.status_code
            )

    def robots_sitemaps(self, url: str) -> list[str]:
        """The sitemaps that the robots.txt of ``url``'s host lists."""
        rules = self._robots_rules(url, DEFAULT_REQUEST)
        return list(rules.parser.sitemaps) if rules.parser is not None else []

    # robots.txt

    def _check_robots(self, url: str, request: RequestOptions) -> None:
        rules = self._robots_rules(url, request)
        if rules.refusal is not None:
            raise FetchError(url, rules.refusal)
        agent = _product_token(request.user_agent or self.options.user_agent)
        if rules.parser is not None and not rules.parser.can_fetch(url, agent):
            raise RobotsDisallowedError(
                url,
                "disallowed by the site's robots.txt; not fetched "
                "(`robots: ignore` on the source overrides it)",
            )

    def _robots_rules(self, url: str, request: RequestOptions) -> _RobotsRules:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        with self._lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:  # one robots.txt request per host, however many threads ask
            rules = self._robots.get(origin)
            if rules is None or rules.expires < self.clock.now():
                rules = self._load_robots(origin, request)
                self._robots[origin] = rules
        return rules

    def _load_robots(self, origin: str, request: RequestOptions) -> _RobotsRules:
        robots_url = urlunsplit((*urlsplit(origin)[:2], "/robots.txt", "", ""))
        plain = RequestOptions(
            headers=request.headers, cookies=request.cookies, proxy=request.proxy
        )
        now = self.clock.now()
        try:
            page = self._with_retries(robots_url, plain, dict(plain.headers))
        except FetchError as error:
            if error.status is not None and 400 <= error.status < 500:
                return _RobotsRules(None, None, now + ROBOTS_TTL)  # no robots.txt: all allowed
            log.info("robots.txt of %s unreachable: %s", origin, error.message)
            if error.status is None:  # the host itself is out of reach: say that first
                refusal = f"{error.message} (while reading the site's robots.txt)"
            else:
                refusal = (
                    f"robots.txt is unreachable ({error.message}); the site is treated as "
                    "disallowing everything for now (RFC 9309)"
                )
            return _RobotsRules(None, refusal, now + ROBOTS_UNREACHABLE_TTL)
        text = page.body[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace")
        parser = Protego.parse(text)
        agent = _product_token(request.user_agent or self.options.user_agent)
        delay = parser.crawl_delay(agent)
        if delay:
            self.gates.gate(host_key(origin)).slow_down(min(float(delay), MAX_CRAWL_DELAY))
        return _RobotsRules(parser, None, now + ROBOTS_TTL)

    # requests

    def _with_retries(self, url: str, request: RequestOptions, headers: dict[str, str]) -> Page:
        gate = self.gates.gate(host_key(url))
        attempt = 0
        while True:
            try:
                with self.gates.turn(host_key(url)):
                    gate.sending()
                    with stage("fetch"):
                        return self._attempt(url, request, headers)
            except StoppedError:
                raise FetchStoppedError(url) from None
            except GatesUnavailableError as unavailable:
                raise FetchError(
                    url,
                    f"not fetched: the cluster's politeness store is unreachable ({unavailable});"
                    " check that Redis (settings.cluster.politeness) is running",
                ) from None
            except TooEarlyError as early:
                raise FetchError(
                    url,
                    f"the server asked for a pause of {early.wait:.0f}s more (Retry-After); "
                    "skipped until a later run",
                    retry_after=early.wait,
                ) from None
            except _TransientError as problem:
                if problem.retry_after is not None:
                    pause = min(problem.retry_after, self.options.retry_after_limit)
                    gate.pause_for(pause)
                    if pause > self.options.politeness.max_wait:
                        raise FetchError(
                            url,
                            f"{problem.message}; the server asked for a pause of {pause:.0f}s "
                            "(Retry-After), so it is skipped until a later run",
                            status=problem.status,
                            retry_after=pause,
                        ) from None
                if attempt >= self.options.retries:
                    tries = f" (tried {attempt + 1} times)" if attempt else ""
                    raise FetchError(url, problem.message + tries, status=problem.status) from None
                delay = 0.0 if problem.retry_after is not None else self._backoff(attempt)
                attempt += 1
                log.info("retry %d of %s in %.1fs: %s", attempt, url, delay, problem.message)
                if self.clock.wait(self.gates.stop, delay):
                    raise FetchStoppedError(url) from None

    def _backoff(self, attempt: int) -> float:
        step = self.options.backoff * (1 << attempt)
        return step / 2 + random.uniform(0, step / 2)  # jitter, not cryptography

    def _attempt(self, url: str, request: RequestOptions, headers: dict[str, str]) -> Page:
        if request.user_agent:
            headers = {**headers, "User-Agent": request.user_agent}
        proxies = {"http": request.proxy, "https": request.proxy} if request.proxy else None
        started = self.clock.now()
        with self._lock:
            self.requests_made += 1
        # one deadline for the whole download: headers (of every redirect) and body
        deadline = Deadline(self._deadlines, started + self.options.timeout)
        current_download.deadline = deadline
        current_download.trust = request.trust  # every redirect is checked against the feed's
        try:
            response = self.session.get(
                url,
                headers=headers,
                cookies=dict(request.cookies) or None,
                proxies=proxies,
                timeout=(self.options.connect_timeout, self.options.timeout),
                stream=True,
            )
        except requests.exceptions.Timeout as exc:
            raise _TransientError(f"timed out after {self.options.timeout:g}s") from exc
        except requests.exceptions.TooManyRedirects as exc:
            raise FetchError(url, f"more than {self.options.max_redirects} redirects") from exc
        except requests.exceptions.ConnectionError as exc:
            if deadline.expired.is_set():  # the socket was shut mid-headers
                raise _TransientError(f"timed out after {self.options.timeout:g}s") from exc
            raise _TransientError(f"cannot connect: {_root_cause(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise FetchError(url, f"request failed: {_root_cause(exc)}") from exc
        finally:
            current_download.deadline = NO_DEADLINE
            current_download.trust = None
        with response:
            try:
                if deadline.expired.is_set():  # the socket was shut mid-headers: they are cut
                    raise _TransientError(f"timed out after {self.options.timeout:g}s")
                return self._read_response(url, response, started, request.for_rendering)
            finally:
                seconds = self.clock.now() - started
                log.debug("GET %s -> %d in %.2fs", url, response.status_code, seconds)
                if self.observe is not None:
                    self.observe(seconds, response.status_code)

    def _read_response(
        self, url: str, response: requests.Response, started: float, any_type: bool = False
    ) -> Page:
        status = response.status_code
        if status == 304:
            return self._page(url, response, b"", "utf-8")
        if status >= 400:
            message = f"HTTP {status} {response.reason or 'error'}"
            if status in RETRY_STATUSES:
                raise _TransientError(message, status=status, retry_after=retry_after(response))
            raise FetchError(url, message, status=status)
        content_type = _media_type(response.headers.get("Content-Type", ""))
        if content_type and not content_type.startswith(ACCEPTED_TYPES) and not any_type:
            raise FetchError(
                url, f"content type {content_type!r} is not a page (HTML, XML or JSON)"
            )
        declared = response.headers.get("Content-Length", "")
        if ascii_number(declared) and int(declared) > self.options.max_bytes:
            raise FetchError(url, self._too_large(int(declared)))
        body = self._read_body(url, response, started)
        encoding = detect_encoding(body, response.headers.get("Content-Type", ""))
        return self._page(url, response, body, encoding)

    def _read_body(self, url: str, response: requests.Response, started: float) -> bytes:
        """The decompressed body, abandoned at the size cap or when the time is up (a
        watchdog shuts the socket, so a server trickling bytes cannot hold us)."""
        expired = threading.Event()
        watchdog = self._deadlines.call_at(
            started + self.options.timeout, functools.partial(_abort, response, expired)
        )
        body = bytearray()
        try:
            for chunk in response.iter_content(_CHUNK):
                body += chunk
                if len(body) > self.options.max_bytes:
                    raise FetchError(url, self._too_large(len(body)))
        except (requests.exceptions.RequestException, OSError, ValueError) as exc:
            if expired.is_set():
                raise _TransientError(f"timed out after {self.options.timeout:g}s") from exc
            raise _TransientError(f"download failed: {_root_cause(exc)}") from exc
        finally:
            self._deadlines.cancel(watchdog)
        if expired.is_set():
            raise _TransientError(f"timed out after {self.options.timeout:g}s")
        return bytes(body)

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


def _resolved(roots: Sequence[Path]) -> tuple[Path, ...]:
    return tuple(root.resolve() for root in roots)


def saved_page(path: Path, url: str | None = None) -> Page:
    """A page saved to a file, as if fetched from ``url`` (default: the file's address)."""
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise FetchError(str(path), f"cannot read the file: {exc.strerror}") from exc
    address = url or path.resolve().as_uri()
    content_type = _LOCAL_TYPES.get(path.suffix.lower(), "text/html")
    return Page(
        url=address,
        final_url=address,
        status=200,
        content_type=content_type,
        body=body,
        encoding=detect_encoding(body, content_type),
        fetched_at=datetime.now(UTC),
    )


def retry_after(response: requests.Response) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if ascii_number(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _abort(response: requests.Response, expired: threading.Event) -> None:
    expired.set()
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


def _product_token(user_agent: str) -> str:
    """The name robots.txt groups are matched against: ``feeds`` in ``feeds/0.1 (...)``."""
    return user_agent.split("/", 1)[0].split()[0] if user_agent.strip() else "*"


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
