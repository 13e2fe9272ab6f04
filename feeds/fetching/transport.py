"""How the fetcher's requests reach a server: requests' transport adapter, pinned to the
addresses the guard has just checked (a second lookup cannot lead elsewhere: DNS
rebinding), the proxies the environment names, and the download deadline of the request
under way in this thread, which closes its socket when it passes."""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from feeds.errors import FetchError
from feeds.fetching.addresses import AddressGuard, Trust
from feeds.fetching.deadlines import Deadlines


class EnvironmentProxies:
    """The proxies that ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY``
    give each origin, looked up once per origin."""

    def __init__(self) -> None:
        self._named = bool(urllib.request.getproxies())
        self._by_origin: dict[tuple[str, str], dict[str, str]] = {}
        self._lock = threading.Lock()

    def for_url(self, url: str) -> dict[str, str]:
        """``{scheme: proxy URL}`` for ``url``, empty when it goes direct."""
        if not self._named:
            return {}
        parts = urlsplit(url)
        origin = (parts.scheme, parts.netloc)
        with self._lock:
            proxies = self._by_origin.get(origin)
            if proxies is None:
                proxies = self._by_origin[origin] = requests.utils.get_environ_proxies(url)
        return proxies


class GuardedAdapter(requests.adapters.HTTPAdapter):
    """Checks every request with the address guard before sending it, and sends it
    through the source's proxy or else the environment's: the first request and each
    redirect (requests sends every hop through its adapter). Direct connections are made
    only to addresses the guard has just checked (``PinnedConnection``)."""

    def __init__(
        self, guard: AddressGuard, environment_proxies: EnvironmentProxies, **kwargs: Any
    ) -> None:
        self.guard = guard
        self.environment_proxies = environment_proxies
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        guard = self.guard

        def pinned(pool_class: type[HTTPConnectionPool], connection: type[Any]) -> Any:
            def new_pool(host: str, port: int | None = None, **options: Any) -> Any:
                pool = pool_class(host, port, **options)
                pool.ConnectionCls = connection
                pool.conn_kw["address_guard"] = guard
                return pool

            return new_pool

        self.poolmanager.pool_classes_by_scheme = {
            "http": pinned(HTTPConnectionPool, PinnedConnection),
            "https": pinned(HTTPSConnectionPool, PinnedHTTPSConnection),
        }

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        url = request.url or ""
        self.guard.check(url, getattr(current_download, "trust", None))
        if not kwargs.get("proxies"):
            kwargs["proxies"] = self.environment_proxies.for_url(url)
        try:
            return super().send(request, *args, **kwargs)
        except FetchError as refused:  # by the connection: the name now resolves inside
            raise FetchError(url, refused.message) from None


class PinnedConnection(HTTPConnection):
    """Connects only to the addresses the address guard has just checked for its host."""

    def __init__(self, *args: Any, address_guard: AddressGuard, **kwargs: Any) -> None:
        self.address_guard = address_guard
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        name = self._dns_host
        try:
            addresses = self.address_guard.connectable(name, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to resolve {name}: {exc}") from exc
        if addresses is None:
            return super()._new_conn()
        failures: list[ConnectTimeoutError] = []
        try:
            for address in addresses:  # in the resolver's order, as urllib3 would
                self._dns_host = address
                try:
                    return super()._new_conn()
                except ConnectTimeoutError as exc:  # NewConnectionError too
                    failures.append(exc)
        finally:
            self._dns_host = name
        raise failures[-1]  # connectable gives at least one address

    def getresponse(self) -> Any:
        """Read the response's status line and headers within the download's deadline:
        a server sending them a byte at a time (each read quick, so no read timeout
        fires) has its socket shut when the time is up."""
        deadline = getattr(current_download, "deadline", NO_DEADLINE)
        if deadline.deadlines is None:
            return super().getresponse()
        watchdog = deadline.deadlines.call_at(
            deadline.at, functools.partial(_shut, self.sock, deadline.expired)
        )
        try:
            return super().getresponse()
        finally:
            deadline.deadlines.cancel(watchdog)


class Deadline:
    """When the download the current thread makes must be over, and the ``Deadlines``
    that cut it then."""

    def __init__(self, deadlines: Deadlines | None, at: float) -> None:
        self.deadlines = deadlines
        self.at = at
        self.expired = threading.Event()


class CurrentDownload(threading.local):
    deadline: Deadline
    trust: Trust | None = None


NO_DEADLINE = Deadline(None, float("inf"))
current_download = CurrentDownload()
current_download.deadline = NO_DEADLINE


def _shut(sock: socket.socket | None, expired: threading.Event) -> None:
    expired.set()
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class PinnedHTTPSConnection(PinnedConnection, HTTPSConnection):
    """``PinnedConnection`` over TLS (the certificate is checked against the name)."""
