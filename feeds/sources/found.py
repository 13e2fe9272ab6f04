"""What a reader of one kind of source page returns."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from feeds.models import Link

log = logging.getLogger(__name__)
Entry = TypeVar("Entry")


@dataclass(frozen=True, slots=True)
class Found:
    """The links of one source page, the further pages to read, and the site's icon."""

    links: list[Link]
    more: list[str] = field(default_factory=list)
    icon: str | None = None
    problems: list[str] = field(default_factory=list)
    """What the source's rules could not read (a date in another format), for the report."""
    title: str | None = None
    """The source's own name for itself (a feed's title)."""


def read_each(
    entries: Iterable[Entry], read: Callable[[Entry], Link | None], problems: list[str]
) -> list[Link]:
    """``read`` applied to every entry of a source page, each inside its own failure
    boundary: an entry that ``read`` chokes on (a field of the wrong type, a date out of
    range, a bug) is skipped and said in ``problems``; the other entries are kept."""
    links = []
    for number, entry in enumerate(entries, 1):
        try:
            link = read(entry)
        except Exception as exc:
            log.warning("source entry %d skipped", number, exc_info=True)
            problems.append(
                f"entry {number} skipped: unexpected error ({type(exc).__name__}: {exc})"
            )
            continue
        if link is not None:
            links.append(link)
    return links
