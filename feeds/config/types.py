"""The scalar values a config holds, each checked where it is read: durations, selectors,
URLs, patterns, domains, cron expressions, languages, database, Redis and proxy URLs."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import partial
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
)

from feeds.html import compile_selector
from feeds.patterns import compile_pattern
from feeds.schedule import cron_trigger

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?")
_DURATION_HINT = "write a duration such as 30s, 15m, 1h or 2d"
FEED_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_ATTRIBUTE = re.compile(r"[A-Za-z_:][-A-Za-z0-9_:.]*")
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}|localhost")
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


def parse_duration(value: object, *, allow_zero: bool = False) -> timedelta:
    """``30s``, ``15m``, ``1h``, ``2d`` or combinations such as ``1h30m`` -> timedelta.
    Fractions of seconds are written ``0.5s``; ``0`` is accepted only with ``allow_zero``."""
    if isinstance(value, timedelta):
        duration = value
    elif allow_zero and value in (0, "0"):
        duration = timedelta(0)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.replace(" ", "").lower())):
        if not any(match.groups()):
            raise ValueError(f"{value!r} is not a duration; {_DURATION_HINT}")
        days, hours, minutes = (int(part or 0) for part in match.groups()[:3])
        seconds = float(match.group(4) or 0)
        duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    else:
        raise ValueError(f"{value!r} is not a duration; {_DURATION_HINT}")
    if not duration and not allow_zero:
        raise ValueError("must be longer than 0s")
    return duration


def _check_selector(value: str) -> str:
    compile_selector(value)
    return value


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


def _check_regex(value: str) -> str:
    compile_pattern(value)  # PatternError, a ValueError, says what RE2 cannot run
    return value


def _check_field_selector(value: str) -> str:
    css, at, attribute = value.rpartition("@")
    if not at:
        css = value
    elif not _ATTRIBUTE.fullmatch(attribute):
        raise ValueError(f"{attribute!r} after '@' is not an attribute name")
    if css:  # empty: the entry element itself
        compile_selector(css)
    return value


def _check_domain(value: str) -> str:
    domain = value.strip().lower().removeprefix("www.")
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"{value!r} is not a domain name such as example.com")
    return domain


def check_cron(value: str) -> str:
    cron_trigger(value)  # APScheduler's own check, in our words (ValueError)
    return value


def check_database_url(value: str) -> str:
    if urlsplit(value).scheme not in ("postgresql", "postgres"):
        raise ValueError(
            f"{value!r} is not a PostgreSQL URL (postgresql://user@host:5432/database); "
            "leave `database` out to keep the state in SQLite"
        )
    return value


def check_redis_url(value: str) -> str:
    if urlsplit(value).scheme not in ("redis", "rediss"):
        raise ValueError(f"{value!r} is not a Redis URL (redis://host:6379/0)")
    return value


BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps")


def check_broker_url(value: str) -> str:
    if urlsplit(value).scheme not in BROKER_SCHEMES:
        raise ValueError(
            f"{value!r} is not a broker URL: Redis (redis://host:6379/0) or RabbitMQ "
            "(amqp://user:password@host:5672//)"
        )
    return value


def check_language(value: str) -> str:
    if not _LANGUAGE.fullmatch(value):
        raise ValueError(f"{value!r} is not a language tag such as en or en-GB")
    return value


def check_proxy_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https", "socks5", "socks5h") or not parts.hostname:
        raise ValueError(f"{value!r} is not a proxy URL (http://host:port)")
    return value


Regex = Annotated[str, AfterValidator(_check_regex)]
FieldSelector = Annotated[str, AfterValidator(_check_field_selector)]
"""A CSS selector, optionally followed by ``@attribute`` to read that attribute's value."""
Domain = Annotated[str, AfterValidator(_check_domain)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Delay = Annotated[timedelta, BeforeValidator(partial(parse_duration, allow_zero=True))]
Selector = Annotated[str, AfterValidator(_check_selector)]
HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
