"""What extraction needs to know of a site's rules (the config's ``ExtractRules`` has
them), as a Protocol, so that extraction neither imports nor needs the config's schema."""

from __future__ import annotations

from typing import Protocol


class ExtractRules(Protocol):
    """CSS selectors that override automatic extraction, and how many pages of a
    multi-page article to join."""

    @property
    def title(self) -> str | None: ...
    @property
    def body(self) -> str | None: ...
    @property
    def author(self) -> str | None: ...
    @property
    def date(self) -> str | None: ...
    @property
    def remove(self) -> tuple[str, ...]: ...
    @property
    def next_page(self) -> str | None: ...
    @property
    def max_pages(self) -> int: ...
