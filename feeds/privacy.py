"""What the config holds that no public output and no log may show: the user names,
passwords and queries of source URLs (``?api_key=...``) and proxies, and the values of
the cookies and credential headers (``Authorization``, ``X-Api-Key``...) a source sends.
``Redactor`` takes them out of any text; the logs run every line through the one ``LOGS``
holds (``RedactingFormatter``), which every loaded config adds its secrets to. Pure but
for that holder; imports only the standard library and ``feeds.urls``."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

from feeds.urls import public_url, userinfo

HIDDEN = "***"
SHORTEST_SECRET = 4
"""A value shorter than this is not looked for on its own (it would blank out words)."""


class Redactor:
    """Replaces every secret it knows in a text."""

    def __init__(self, replacements: dict[str, str] | None = None) -> None:
        self._replacements: dict[str, str] = dict(replacements or {})
        self._by_folded = {secret.casefold(): r for secret, r in self._replacements.items()}
        # the longest first: a whole URL before its query; any case (hosts are folded)
        secrets = sorted(self._replacements, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(map(re.escape, secrets)), re.IGNORECASE) if secrets else None
        )

    @classmethod
    def of(cls, urls: Iterable[str], values: Iterable[str] = ()) -> Redactor:
        """The secrets of these source URLs (credentials, queries) and of these header
        and cookie values."""
        replacements: dict[str, str] = {}
        for url in urls:
            replacements.update(_url_secrets(url))
        for value in values:
            if len(value) >= SHORTEST_SECRET:
                replacements[value] = HIDDEN
        return cls(replacements)

    def __call__(self, text: str) -> str:
        """``text`` with every secret replaced."""
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._by_folded.get(m[0].casefold(), HIDDEN), text)

    def merged(self, other: Redactor) -> Redactor:
        """A redactor that knows the secrets of both."""
        return Redactor({**self._replacements, **other._replacements})


def _url_secrets(url: str) -> dict[str, str]:
    try:
        parts = urlsplit(url)
        password = parts.password
        username = parts.username
    except ValueError:
        return {}
    if not (parts.query or username or password):
        return {}
    found = {url: public_url(url)}
    if username or password:
        credentials = userinfo(url)
        found[credentials + "@"] = ""
        found[credentials.partition(":")[0] + "@"] = ""
        if password and len(password) >= SHORTEST_SECRET:
            found[password] = HIDDEN
    if parts.query:
        found["?" + parts.query] = "?..."
        found[parts.query] = "..."
    return found


_SECRET_HEADER_WORDS = ("auth", "cookie", "key", "token", "secret", "session", "password")


def is_secret_header(name: str) -> bool:
    """Whether a header's value is a credential (``Authorization``, ``X-Api-Key``...)."""
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_HEADER_WORDS)


class _LogSecrets:
    """The secrets of every config loaded in this process (a reloaded config's too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.redactor = Redactor()

    def add(self, redactor: Redactor) -> None:
        """Keep these secrets out of the logs from now on."""
        with self._lock:
            self.redactor = self.redactor.merged(redactor)


LOGS = _LogSecrets()


class RedactingFormatter(logging.Formatter):
    """Formats a record with ``inner``, then takes the config's secrets out of it
    (tracebacks included)."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return LOGS.redactor(self.inner.format(record))
