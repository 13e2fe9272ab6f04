"""What a reader of one kind of source page returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from feeds.models import Link


@dataclass(frozen=True, slots=True)
class Found:
    """The links of one source page, the further pages to read, and the site's icon."""

    links: list[Link]
    more: list[str] = field(default_factory=list)
    icon: str | None = None
    problems: list[str] = field(default_factory=list)
    """What the source's rules could not read (a date in another format), for the report."""
