"""Per-host politeness shared by every worker of a cluster, kept in Redis.

The same rules as one process's ``HostGates``, held for all workers together: at most
``per_host_concurrency`` requests in flight to a host (slots leased in a sorted set, so
that a killed worker's slot frees itself when its lease ends), request starts at least
the host's delay apart (the next allowed start, stamped atomically when a request goes),
Crawl-delay and Retry-After pauses seen by one worker obeyed by all. Each check-and-stamp
is one Lua script, so two workers can never both take the last slot or the same start.

Times are the gates' clock (``WALL_CLOCK`` in a cluster: the machines' clocks agree
within their NTP sync); tests give several gates one fake clock. The bound over all hosts
(``concurrency``) stays per process: it protects the worker's own machine.

A Redis outage (a restart) is waited out, up to ``Politeness.max_wait``; a longer one
fails the request (``GatesUnavailableError``), not the worker."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import redis
from redis.commands.core import Script

from feeds.fetching.clock import WALL_CLOCK, MonotonicClock
from feeds.fetching.hosts import (
    GatesUnavailableError,
    Politeness,
    Slots,
    Stop,
    StoppedError,
    TooEarlyError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

_TAKE_SLOT = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 60)
  return 1
end
return 0
"""
"""Take one of a host's slots (KEYS[1]) for ``lease`` seconds, unless all are held."""

_TRY_START = """
local now = tonumber(ARGV[1])
local not_before = tonumber(redis.call('GET', KEYS[2]) or '0')
if not_before - now > tonumber(ARGV[3]) then
  return {'early', string.format('%.6f', not_before - now)}
end
local start = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), not_before)
if start > now then
  return {'wait', string.format('%.6f', start - now)}
end
local delay = math.max(tonumber(ARGV[2]), tonumber(redis.call('GET', KEYS[3]) or '0'))
redis.call('SET', KEYS[1], string.format('%.6f', now + delay), 'EX', math.ceil(delay) + 60)
return {'go', '0'}
"""
"""Start now if the host's spacing and pause allow it (stamping the next allowed start,
KEYS[1]), else say how long to wait (KEYS[2]: the pause; KEYS[3]: a Crawl-delay)."""

_SENDING = """
local delay = math.max(tonumber(ARGV[2]), tonumber(redis.call('GET', KEYS[2]) or '0'))
local next_start = tonumber(ARGV[1]) + delay
if next_start > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], string.format('%.6f', next_start), 'EX', math.ceil(delay) + 60)
end
return 0
"""
"""A request goes now (ARGV[1]): the host's next start (KEYS[1]) is at least its delay
(ARGV[2], or the Crawl-delay at KEYS[2]) from now."""

_RAISE_TO = """
local value = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if value > current then
  redis.call('SET', KEYS[1], string.format('%.6f', value), 'EX', tonumber(ARGV[2]))
end
return 0
"""
"""Raise a number (a delay, a pause's end) to ARGV[1], never lower it."""

SLOT_POLL = (0.05, 0.5)
"""First and longest wait between looks for a free slot of a busy host (seconds)."""
REMEMBERED = 86400
"""Seconds a Crawl-delay is remembered (robots.txt is read again within a day)."""


class SharedGate:
    """One host's gate in Redis (``hosts.Gate``)."""

    def __init__(self, gates: SharedGates, host: str) -> None:
        self._gates = gates
        self._host = host

    def key(self, part: str) -> str:
        """The Redis key of one part of the host's record."""
        return self._gates.key(self._host, part)

    def slow_down(self, delay: float) -> None:
        """Space requests at least ``delay`` apart from now on, on every worker."""
        self._gates.call(lambda: self._gates.raise_to(self.key("delay"), delay, REMEMBERED))

    def pause_for(self, seconds: float) -> None:
        """Start no request for ``seconds`` from now, on any worker (Retry-After)."""
        until = self._gates.clock.now() + seconds
        ttl = int(seconds) + 60
        self._gates.call(lambda: self._gates.raise_to(self.key("not_before"), until, ttl))

    def sending(self) -> None:
        """The request whose turn it is goes now: spacing counts from now."""
        gates = self._gates
        gates.call(
            lambda: gates.sending(
                keys=[self.key("next"), self.key("delay")],
                args=[gates.clock.now(), gates.politeness.per_host_delay],
            )
        )

    def wait_needed(self) -> float:
        """Seconds until this host may be contacted again, as far as it asked."""
        value = self._gates.call(lambda: self._gates.redis.get(self.key("not_before")))
        return max(0.0, float(value or 0) - self._gates.clock.now())

    @contextmanager
    def turn(self, shared: Slots) -> Iterator[None]:
        """Hold one of the host's slots in the cluster and one of ``shared`` (this
        process's limit), started no sooner than the host's spacing allows."""
        gates = self._gates
        token = uuid.uuid4().hex
        self._take_slot(token)
        try:
            self._start(shared)
            try:
                yield
            finally:
                shared.release()
        finally:
            gates.call(lambda: gates.redis.zrem(self.key("slots"), token))

    def _take_slot(self, token: str) -> None:
        gates = self._gates
        poll, longest = SLOT_POLL
        politeness = gates.politeness
        while True:
            taken = gates.call(
                lambda: gates.take_slot(
                    keys=[self.key("slots")],
                    args=[gates.clock.now(), politeness.per_host_concurrency, gates.lease, token],
                )
            )
            if taken:
                return
            if gates.clock.wait(gates.stop, poll):
                raise StoppedError()
            poll = min(poll * 2, longest)

    def _start(self, shared: Slots) -> None:
        gates = self._gates
        politeness = gates.politeness
        keys = [self.key("next"), self.key("not_before"), self.key("delay")]
        while True:
            # the process's slot is taken before the start is stamped, so that waiting
            # for it cannot bring this start closer to the next one
            if not shared.acquire():
                raise StoppedError()
            verdict, seconds = gates.call(
                lambda: gates.try_start(
                    keys=keys,
                    args=[gates.clock.now(), politeness.per_host_delay, politeness.max_wait],
                )
            )
            if verdict == b"go":
                return
            shared.release()
            wait = float(seconds)
            if verdict == b"early":
                raise TooEarlyError(wait)
            if gates.clock.wait(gates.stop, wait):
                raise StoppedError()


class HostRuns:
    """Which hosts the cluster's feed runs are busy with: each run holds a lease on its
    hosts (a sorted set per host, as request slots are), at most ``per_host_concurrency``
    runs a host. A worker takes a run only where a host of it is free, and puts the others
    back for a little later, so that its threads go to hosts that can answer rather than
    queue behind one host's spacing."""

    def __init__(self, gates: SharedGates, lease: float) -> None:
        self._gates = gates
        self.lease = lease

    def take(self, hosts: Iterable[str]) -> str | None:
        """A token for a run on ``hosts``, holding each of them that is free; None when
        every one of them is busy with other runs. Redis away: the run goes ahead."""
        gates = self._gates
        token = uuid.uuid4().hex
        hosts = sorted(set(hosts))
        limit = gates.politeness.per_host_concurrency
        try:
            taken = [
                host
                for host in hosts
                if gates.take_slot(
                    keys=[gates.key(host, "runs")],
                    args=[gates.clock.now(), limit, self.lease, token],
                )
            ]
        except redis.RedisError as exc:
            log.warning("cannot tell which hosts are busy (%s): running the feed", exc)
            return token
        return token if taken or not hosts else None

    def release(self, hosts: Iterable[str], token: str) -> None:
        """Give up what ``take`` held."""
        gates = self._gates
        with contextlib.suppress(redis.RedisError):
            for host in set(hosts):
                gates.redis.zrem(gates.key(host, "runs"), token)


class SharedGates:
    """Every host's gate, kept in Redis for all the workers (``hosts.Gates``)."""

    def __init__(
        self,
        url: str,
        politeness: Politeness,
        *,
        lease: float,
        prefix: str = "feeds",
        clock: MonotonicClock = WALL_CLOCK,
    ) -> None:
        """``url`` is the Redis server's; ``lease`` the longest a request may hold a
        host's slot (its download deadline, and some): a killed worker's slot is free
        again after it. ``prefix`` starts every key (several clusters on one Redis)."""
        self.politeness = politeness
        self.lease = lease
        self.prefix = prefix
        self.clock = clock
        self.stop = Stop()
        self.redis = redis.Redis.from_url(
            url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30
        )
        self.take_slot: Script = self.redis.register_script(_TAKE_SLOT)
        self.try_start: Script = self.redis.register_script(_TRY_START)
        self._raise_to: Script = self.redis.register_script(_RAISE_TO)
        self.sending: Script = self.redis.register_script(_SENDING)
        self._global = Slots(politeness.concurrency, self.stop)

    def gate(self, host: str) -> SharedGate:
        """The gate of ``host`` (``name:port``)."""
        return SharedGate(self, host)

    def key(self, host: str, part: str) -> str:
        """The Redis key of one of a host's values."""
        return f"{self.prefix}:host:{host}:{part}"

    @contextmanager
    def turn(self, host: str) -> Iterator[None]:
        """Wait for a turn at ``host`` and a slot of this process (``StoppedError``,
        ``TooEarlyError``, ``GatesUnavailableError``)."""
        with self.gate(host).turn(self._global):
            yield

    def raise_to(self, key: str, value: float, ttl: int) -> Any:
        """Raise the number at ``key`` to ``value`` (kept ``ttl`` seconds)."""
        return self._raise_to(keys=[key], args=[value, ttl])

    def call(self, command: Callable[[], T]) -> T:
        """Run a Redis command, waiting out an outage (a restart) up to ``max_wait``."""
        waited, pause = 0.0, 0.25
        while True:
            try:
                return command()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if waited >= self.politeness.max_wait:
                    raise GatesUnavailableError(str(exc) or type(exc).__name__) from None
                if waited == 0:
                    log.warning("politeness store unreachable (%s); waiting for it", exc)
                if self.clock.wait(self.stop, pause):
                    raise StoppedError() from None
                waited += pause
                pause = min(pause * 2, 5.0)

    def close(self) -> None:
        """Stop waiting, and close the connections to Redis."""
        self.stop.set()
        self.redis.close()
