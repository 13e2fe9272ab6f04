"""The optional parts of feeds (pip extras) and the check that one is installed before
the code that needs it is imported: ``cluster`` (psycopg, Celery, Redis) and ``browser``
(Playwright), each named in the error a user gets without it."""

from __future__ import annotations

from importlib.util import find_spec

from feeds.errors import MissingExtraError

EXTRAS: dict[str, tuple[str, ...]] = {
    "cluster": ("psycopg", "celery", "redis"),
    "browser": ("playwright", "psutil"),
}
"""Each extra with the modules it installs."""


def installed(extra: str) -> bool:
    """Whether every module of ``extra`` can be imported."""
    return all(find_spec(module) is not None for module in EXTRAS[extra])


def require(extra: str, what: str) -> None:
    """Raise ``MissingExtraError`` naming ``extra`` unless it is installed; ``what`` is
    the setting that asks for it (``settings.cluster``)."""
    if not installed(extra):
        raise MissingExtraError(what, extra)
