"""The exception tree of feeds.

Every error a user can cause is a ``FeedsError``; its ``str()`` reads
"what failed: detail: cause" and is meant to be shown as is, on one line.

::

    FeedsError                  root
    +-- ConfigError             a mistake in the YAML config: file, line, field
    +-- SourceError             one source or article failed; recorded, never crashes a run
    |   +-- FetchError          HTTP status, network cause, too large, wrong content type
    |   |   +-- RobotsDisallowedError  the site's robots.txt disallows the page
    |   |   +-- FetchStoppedError      feeds is shutting down: the request was not made
    |   +-- ExtractionError     nothing usable on the page
    +-- StorageError            the state database cannot be opened or written
    |   +-- DatabaseUnavailableError  the database cannot be reached now (retried)
    +-- FeedBusyError           another process of the cluster runs the feed now
    +-- MissingExtraError       the config asks for an extra that is not installed
    +-- CannotServeError        a server cannot listen where the settings say
    +-- PublishError            a feed file cannot be written

Foreign exceptions are wrapped only in the module that imports the library that raised
them (``raise FetchError(...) from exc``). Bugs (TypeError, KeyError...) are not wrapped.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from pathlib import Path


class FeedsError(Exception):
    """Root of every error feeds raises on purpose."""


class ConfigError(FeedsError):
    """A mistake in the configuration file, located by file, line and field.

    When validation finds several mistakes at once, the first is this error and the
    others are in ``more``; ``str()`` gives one line per mistake.
    """

    def __init__(
        self,
        file: Path | str,
        line: int | None,
        field: str,
        message: str,
        *,
        more: Sequence[ConfigError] = (),
    ) -> None:
        self.file = str(file)
        self.line = line
        self.field = field
        self.message = message
        self.more = tuple(more)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(error.location_message() for error in (self, *self.more))

    def location_message(self) -> str:
        """This mistake alone, as ``file:line: field: message``."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class SourceError(FeedsError):
    """A source or an article page could not be used. Recorded in the run report."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        self.message = message
        super().__init__(f"{url}: {message}")


class FetchError(SourceError):
    """A page could not be fetched: network failure, HTTP status, robots.txt, size or type
    refused. ``retry_after`` is set when the server asked for a pause (seconds)."""

    def __init__(
        self,
        url: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(url, message)


class RobotsDisallowedError(FetchError):
    """The site's robots.txt disallows the page: not a failure of the site, a refusal."""


class FetchStoppedError(FetchError):
    """The fetcher was stopped (the service is shutting down): not the source's fault."""

    def __init__(self, url: str) -> None:
        super().__init__(url, "not fetched: feeds is stopping")


class ExtractionError(SourceError):
    """A page was fetched but holds no usable article."""


class StorageError(FeedsError):
    """The state database cannot be opened, read or written."""


class DatabaseUnavailableError(StorageError):
    """The state's database server cannot be reached now (a restart, a network cut): not
    the feed's fault, so its run is tried again rather than counted as failed."""


class FeedBusyError(FeedsError):
    """The feed is being run by another process of the cluster."""

    def __init__(self, feed: str) -> None:
        self.feed = feed
        super().__init__(
            f"feed {feed} is being run by another feeds process of the cluster; "
            "it is not run twice at once: try again when that run ends"
        )


class MissingExtraError(FeedsError):
    """The config asks for something an optional part of feeds does, not installed."""

    def __init__(self, what: str, extra: str) -> None:
        self.extra = extra
        super().__init__(
            f"{what} needs feeds's {extra} extra, which is not installed: "
            f"pip install 'feeds[{extra}]' (or, in a checkout, pip install '.[{extra}]')"
        )


class CannotServeError(FeedsError):
    """A server cannot listen where the settings say (the port is taken, say)."""

    def __init__(self, what: str, host: str, port: int, error: OSError, setting: str) -> None:
        self.host, self.port = host, port
        reason = (error.strerror or str(error)).lower()
        if error.errno == errno.EADDRINUSE:
            advice = (
                "another program listens there (another `feeds run` or `feeds serve`?): "
                f"stop it, or choose another port with {setting}"
            )
        else:
            advice = f"check {setting}"
        super().__init__(f"cannot serve {what} on {host}:{port}: {reason}; {advice}")


class PublishError(FeedsError):
    """A feed file cannot be written to the output directory."""
