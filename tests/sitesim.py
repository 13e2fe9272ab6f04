"""A threaded site simulator on a loopback address, which records every request.

Used by tests (politeness, conditional requests, faults) and by the benchmarks. It serves
pages from a dict, answers If-None-Match with 304 when the ETag matches, can add latency
to every response, and logs each request with its start and end times, so tests can
check spacing and concurrency from the server's side.

It only ever listens on 127.0.0.0/8 addresses.
"""

from __future__ import annotations

import hashlib
import http.server
import ipaddress
import json
import os
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from types import TracebackType


@dataclass
class Resource:
    """One page of the simulated site."""

    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True

    @property
    def etag_value(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'


@dataclass(frozen=True)
class Hit:
    """One request as the server saw it."""

    path: str
    start: float
    end: float
    status: int
    headers: dict[str, str]


_LOG_PATH = "/__sitesim_log__"
Responder = Callable[["SimHandler"], None]
"""A custom handler: writes the whole response itself through the request handler."""


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that hung up (its process ended with the connection open)
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class SiteSim:
    """A site served by a threaded HTTP server on ``host`` (a loopback address)."""

    def __init__(
        self, host: str = "127.0.0.1", *, latency: float = 0.0, forked: bool = False
    ) -> None:
        """With ``forked``, the server runs in a child process started by ``with``: the
        site must be filled before, and ``collect()`` brings its log back. Timings seen by
        a server in the test's own process are disturbed by the test's threads (the GIL)."""
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError("the simulator only listens on loopback addresses")
        self.host = host
        self.latency = latency
        self.forked = forked
        self._child = 0
        self.resources: dict[str, Resource] = {}
        self.responders: dict[str, Responder] = {}
        self.post_responders: dict[str, Responder] = {}
        self.hits: list[Hit] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        handler = type("BoundHandler", (SimHandler,), {"site": self})
        self.server = _Server((host, 0), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> SiteSim:
        if not self.forked:
            self._thread.start()
            return self
        self._child = os.fork()
        if self._child == 0:  # the child serves until it is told to stop
            try:
                self.server.serve_forever(poll_interval=0.05)
            finally:
                os._exit(0)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._child:
            os.kill(self._child, signal.SIGKILL)
            os.waitpid(self._child, 0)
        else:
            self.server.shutdown()
        self.server.server_close()

    @property
    def pid(self) -> int:
        """The forked server's process id; 0 when the server runs in this process."""
        return self._child

    def collect(self) -> None:
        """Bring a forked server's log (hits, peak in flight) into this process."""
        with urllib.request.urlopen(self.url(_LOG_PATH), timeout=10) as response:
            log = json.loads(response.read())
        self.hits = [Hit(**hit) for hit in log["hits"]]
        self.max_in_flight = log["max_in_flight"]

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.origin + path

    def add(self, path: str, body: str | bytes, **options: object) -> None:
        """Serve ``body`` at ``path``."""
        data = body.encode() if isinstance(body, str) else body
        self.resources[path] = Resource(data, **options)  # type: ignore[arg-type]

    def respond(self, path: str, responder: Responder) -> None:
        """Answer ``path`` with custom code (faults, retries, slow bodies)."""
        self.responders[path] = responder

    def respond_post(self, path: str, responder: Responder) -> None:
        """Answer POST requests to ``path`` with custom code (a WebSub hub)."""
        self.post_responders[path] = responder

    def ordered(self) -> list[Hit]:
        """The requests in the order they started (``hits`` is in the order they ended)."""
        with self._lock:
            return sorted(self.hits, key=lambda hit: hit.start)

    def hits_for(self, path: str) -> list[Hit]:
        return [hit for hit in self.ordered() if hit.path == path]

    def paths(self) -> list[str]:
        return [hit.path for hit in self.ordered()]

    def _enter(self) -> float:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return time.monotonic()

    def _leave(self, path: str, start: float, status: int, headers: dict[str, str]) -> None:
        with self._lock:
            self.in_flight -= 1
            self.hits.append(Hit(path, start, time.monotonic(), status, headers))


class SimHandler(http.server.BaseHTTPRequestHandler):
    """Request handler of ``SiteSim``; ``site`` is bound per server."""

    site: SiteSim
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        site = self.site
        if self.path == _LOG_PATH:  # a forked server's log, for collect(); not logged itself
            with site._lock:
                log = {
                    "hits": [asdict(hit) for hit in site.hits],
                    "max_in_flight": site.max_in_flight,
                }
            self.send_body(200, json.dumps(log).encode(), "application/json")
            return
        start = site._enter()
        status = 500
        try:
            if site.latency:
                time.sleep(site.latency)
            path = self.path.split("?", 1)[0] if self.path.startswith("/") else self.path
            responder = site.responders.get(path)
            if responder is not None:
                responder(self)
                status = 0  # the responder chose
                return
            resource = site.resources.get(path)
            if resource is None:
                status = 404
                self.send_body(404, b"not found", "text/plain")
                return
            headers = dict(resource.headers)
            if resource.etag:
                headers["ETag"] = resource.etag_value
                if self.headers.get("If-None-Match") == resource.etag_value:
                    status = 304
                    self.send_response(304)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            status = 200
            self.send_body(200, resource.body, resource.content_type, headers)
        finally:
            site._leave(self.path, start, status, dict(self.headers.items()))

    def do_POST(self) -> None:
        site = self.site
        start = site._enter()
        try:
            responder = site.post_responders.get(self.path)
            if responder is None:
                self.send_body(405, b"no POST here", "text/plain")
            else:
                responder(self)
        finally:
            site._leave(self.path, start, 0, dict(self.headers.items()))

    def send_body(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Send a complete response."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the hits list is the log."""
