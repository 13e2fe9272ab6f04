"""Where requests may go: the guard against server-side request forgery.

A page (or a feed, a sitemap, a redirect) can point anywhere, including at addresses that
only the machine running feeds can reach: its own services on loopback, the private
network, a cloud provider's metadata service. The config is trusted; pages are not. So:

- the origins the config names (scheme-independent host and port of source URLs and of
  the WebSub hub; the domains of ``allow_domains`` with their subdomains, on any port)
  may be requested whatever they resolve to (tests and intranet sources on 127.0.0.1
  work), and each feed's requests only those its own sources name (``Trust``): a
  redirect on one feed's site does not reach a host:port only another feed names;
- any other host is requested only over http or https, and only when every address its
  name resolves to is a public one (not loopback, private, link-local, shared, reserved,
  multicast or unspecified); an IP literal is checked as it is.

The check runs before every request the fetcher sends, and so again on every redirect;
and when a connection is opened to a host the config does not name, the name is resolved
once more, checked, and the connection made to the addresses checked (``connectable``), so
a name that resolves to a public address for the check and to an internal one a moment
later (DNS rebinding) is refused too.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from feeds.errors import FetchError

Resolver = Callable[[str, int], list[str]]
"""Gives the IP addresses a host name resolves to (raises ``OSError`` when it cannot)."""

VERDICT_SECONDS = 60.0
"""How long the verdict on a host name is kept (DNS answers change; lookups cost)."""


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses of ``host`` from the system resolver."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def is_public_address(address: str) -> bool:
    """Whether ``address`` (IPv4 or IPv6, as text) is one the public internet routes to."""
    ip = _ip(address)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in network for network in _LOCAL_TRANSLATION):
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour or _embedded_ipv4(ip)
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast


# IPv6 forms that carry an IPv4 address in their last 32 bits: IPv4-compatible (::/96),
# IPv4-translated (::ffff:0:0:0/96) and NAT64's well-known prefix (64:ff9b::/96); each
# reaches the IPv4 address it carries, so it is judged as that address
_EMBEDDING_IPV4 = tuple(
    ipaddress.IPv6Network(network) for network in ("::/96", "::ffff:0:0:0/96", "64:ff9b::/96")
)
# NAT64 for local use (RFC 8215): where it leads is the local network's business
_LOCAL_TRANSLATION = (ipaddress.IPv6Network("64:ff9b:1::/48"),)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if any(ip in network for network in _EMBEDDING_IPV4):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True, slots=True)
class Trust:
    """What requests may reach whatever it resolves to: origins (host and port; a port of
    None: any port of that host) and domains (with their subdomains, on any port)."""

    origins: frozenset[tuple[str, int | None]] = frozenset()
    domains: frozenset[str] = frozenset()

    @classmethod
    def of(cls, named: Iterable[str], domains: Iterable[str] = ()) -> Trust:
        """The trust of URLs (their host and port) and bare host names (any port)."""
        origins = {origin for entry in named if (origin := _origin(entry)) is not None}
        return cls(frozenset(origins), _names(domains))

    def allows(self, host: str, port: int) -> bool:
        """Whether ``host`` on ``port`` is named."""
        host = host.lower().rstrip(".")
        return (
            (host, port) in self.origins
            or (host, None) in self.origins
            or any(host == domain or host.endswith("." + domain) for domain in self.domains)
        )


class AddressGuard:
    """Refuses requests to non-web schemes and to internal addresses, except to the
    origins the config names. Safe to use from several threads."""

    def __init__(
        self,
        trusted: Iterable[str] = (),
        trusted_domains: Iterable[str] = (),
        *,
        resolver: Resolver = resolve_host,
    ) -> None:
        self._resolver = resolver
        self._verdicts: dict[tuple[str, int], tuple[float, str | None]] = {}
        self._lock = threading.Lock()
        self.scope = Trust()
        self.trust(trusted, trusted_domains)

    def trust(self, named: Iterable[str], domains: Iterable[str] = ()) -> None:
        """Trust these URLs' origins (or bare hosts, on any port) and domains instead of
        the previous ones: what a config names, when it is loaded again."""
        self.scope = Trust.of(named, domains)

    def check(self, url: str, scope: Trust | None = None) -> None:
        """Raise ``FetchError`` if ``url`` may not be requested by a feed trusting
        ``scope`` (by default: all that the config names)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchError(url, f"refused: {scheme or 'no'} scheme (only http and https)")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise FetchError(url, "refused: the URL names no host")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise FetchError(url, "refused: the URL's port is not a number") from None
        if (scope or self.scope).allows(host, port):
            return
        refusal = self._refusal(host, port)
        if refusal is not None:
            raise FetchError(url, refusal)

    def connectable(self, host: str, port: int) -> list[str] | None:
        """The addresses a connection to ``host`` may be made to, resolved now and checked
        (``FetchError`` if one is internal); None when the host is trusted or an IP
        address (nothing to resolve: connect as usual). ``OSError`` when the name does
        not resolve."""
        host = host.rstrip(".")
        if self.scope.allows(host, port):
            return None
        literal = _ip(host) is not None
        addresses = [host] if literal else list(dict.fromkeys(self._resolver(host, port)))
        refusal = _refusal_of(host, addresses)
        if refusal is not None:
            raise FetchError(host, refusal)
        if not addresses:
            raise OSError(f"{host} resolves to no address")
        return None if literal else addresses

    def _refusal(self, host: str, port: int) -> str | None:
        """Why ``host`` may not be requested, or None (verdicts on names kept a while)."""
        if _ip(host) is not None:
            return _refusal_of(host, [host])
        now = time.monotonic()
        with self._lock:
            known = self._verdicts.get((host, port))
        if known is not None and known[0] > now:
            return known[1]
        try:
            addresses = self._resolver(host, port)
        except OSError:
            return None  # the request fails on its own, with the resolver's message
        verdict = _refusal_of(host, addresses)
        with self._lock:
            self._verdicts[(host, port)] = (now + VERDICT_SECONDS, verdict)
        return verdict


def _origin(entry: str) -> tuple[str, int | None] | None:
    """(host, port) of a URL, the port filled in from its scheme; (host, None) for a bare
    host name; None for neither."""
    if "://" not in entry:
        host = entry.lower().rstrip(".")
        return (host, None) if host else None
    parts = urlsplit(entry)
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".")
    return (host, port) if host else None


def _names(hosts: Iterable[str]) -> frozenset[str]:
    return frozenset(host.lower().rstrip(".") for host in hosts if host)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address ``text`` spells, or None (a host name)."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 zone is not a host
    except ValueError:
        return None


def _refusal_of(host: str, addresses: Iterable[str]) -> str | None:
    """Why ``host`` may not be requested at ``addresses`` (its first internal one), or None."""
    internal = next((address for address in addresses if not is_public_address(address)), None)
    if internal is None:
        return None
    where = host if host == internal else f"{host} ({internal})"
    return (
        f"refused: {where} is an internal address (loopback, private, link-local or "
        "reserved); a link on a page may not lead there. Name the host in a source URL "
        "of the config to allow it"
    )
