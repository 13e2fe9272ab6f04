"""Site config files: the Instapaper / Full-Text RSS format that fivefilters'
ftr-site-config collection (about 2,000 sites, kept up to date by their users) and
wallabag read. One plain-text file per host, ``directive: value`` a line, ``#`` comments:
``example.com.txt`` serves ``example.com`` and ``www.example.com``; ``.example.com.txt``
serves every subdomain of ``example.com`` (not the bare host).

What changes the result is implemented (``IMPLEMENTED``), as ``SiteRules``: ``body``,
``title``, ``author``, ``date`` (XPath, alternatives tried in order), ``strip`` (XPath),
``strip_id_or_class`` (elements whose id or class contains the text, as Full-Text RSS
matches it), ``strip_image_src``, ``find_string``/``replace_string`` and
``replace_string(find): value``, ``next_page_link``, ``single_page_link``,
``autodetect_on_failure``, ``http_header(name): value`` (asked of the site's article pages),
``prune`` (yes by default: what ``body`` finds is cleaned as automatic extraction cleans a
page);
``test_url``/``test_contains`` are read for ``feeds check --site-configs``. Every other
directive is read and counted, never applied (``feeds check`` lists them once).

``SiteConfigs`` indexes directories of such files (the file names only: each file is
read on first use); a later directory's file wins over an earlier one's."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from feeds.extraction.rules import SiteRules
from feeds.html import compile_selector

log = logging.getLogger(__name__)

SELECTOR_DIRECTIVES = (
    "title",
    "body",
    "author",
    "date",
    "strip",
    "next_page_link",
    "single_page_link",
)
IMPLEMENTED = frozenset(
    {
        *SELECTOR_DIRECTIVES,
        "strip_id_or_class",
        "strip_image_src",
        "find_string",
        "replace_string",
        "autodetect_on_failure",
        "prune",
        "http_header",
        "test_url",
        "test_contains",
    }
)
_LINE = re.compile(r"^\s*([A-Za-z_]+)(?:\((.*)\))?\s*:\s?(.*?)\s*$")
_QUOTES = "'\""


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """One file's directives, as read."""

    path: Path
    rules: SiteRules
    test_urls: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Each ``test_url`` with the ``test_contains`` that follow it."""
    unimplemented: tuple[tuple[str, int], ...] = ()
    """Directives read and not applied, with their line."""
    mistakes: tuple[tuple[int, str], ...] = ()
    """Lines that could not be used: line number and why (a broken XPath...)."""


def parse_site_config(text: str, path: Path) -> SiteConfig:
    """Read a site config file's text (``path`` names it in messages and ``origin``)."""
    selectors: dict[str, list[str]] = {name: [] for name in SELECTOR_DIRECTIVES}
    strip_text: list[str] = []
    strip_images: list[str] = []
    replace: list[tuple[str, str]] = []
    finds: list[str] = []
    autodetect = prune = True
    headers: list[tuple[str, str]] = []
    tests: list[tuple[str, list[str]]] = []
    unimplemented: list[tuple[str, int]] = []
    mistakes: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            mistakes.append((number, "not a 'directive: value' line"))
            continue
        name, argument, value = match.group(1).lower(), match.group(2), match.group(3)
        if name in selectors:
            expression = _xpath(value)
            try:
                compile_selector(expression)
            except ValueError as exc:
                mistakes.append((number, f"{name}: {exc}"))
                continue
            selectors[name].append(expression)
        elif name == "strip_id_or_class":
            strip_text.append(value.strip(_QUOTES))
        elif name == "strip_image_src":
            strip_images.append(value.strip(_QUOTES))
        elif name == "find_string":
            finds.append(value)
        elif name == "replace_string" and argument is not None:
            replace.append((argument, value))
        elif name == "replace_string":
            if finds:
                replace.append((finds.pop(0), value))
            else:
                mistakes.append((number, "replace_string without a find_string before it"))
        elif name == "autodetect_on_failure":
            autodetect = _yes(value)
        elif name == "prune":
            prune = _yes(value)
        elif name == "http_header" and argument:
            headers.append((argument.strip(), value))
        elif name == "test_url":
            tests.append((value, []))
        elif name == "test_contains" and tests:
            tests[-1][1].append(value)
        else:
            unimplemented.append((name, number))
    removed = tuple(selectors["strip"]) + tuple(_id_or_class(text) for text in strip_text if text)
    rules = SiteRules(
        title=tuple(selectors["title"]),
        body=tuple(selectors["body"]),
        author=tuple(selectors["author"]),
        date=tuple(selectors["date"]),
        remove=removed,
        next_page=" | ".join(selectors["next_page_link"]) or None,
        single_page=" | ".join(selectors["single_page_link"]) or None,
        strip_image_src=tuple(strip_images),
        replace=tuple(replace),
        autodetect=autodetect,
        prune=prune,
        headers=tuple(headers),
        origin=str(path),
    )
    return SiteConfig(
        path,
        rules,
        tuple((url, tuple(contains)) for url, contains in tests),
        tuple(unimplemented),
        tuple(mistakes),
    )


def _yes(value: str) -> bool:
    return value.strip().lower() not in ("no", "false", "0")


def _xpath(value: str) -> str:
    """A site config's XPath as the rules read it: an expression that does not start with
    ``/`` or ``(`` (``id("story")``) is put in parentheses, so it is not taken for CSS."""
    value = value.strip()
    return value if value.startswith(("/", "(")) else f"({value})"


def _id_or_class(text: str) -> str:
    """The XPath of ``strip_id_or_class``: an id or class attribute containing ``text``."""
    literal = f"'{text}'" if "'" not in text else f'"{text}"'
    return f"//*[contains(@class, {literal}) or contains(@id, {literal})]"


def candidate_names(host: str) -> list[str]:
    """The file names (without ``.txt``) that may serve ``host``, the most specific
    first: the host without ``www.``, then ``.parent`` for each parent domain."""
    host = host.lower().rstrip(".").removeprefix("www.")
    names = [host]
    labels = host.split(".")
    names += ["." + ".".join(labels[start:]) for start in range(1, len(labels) - 1)]
    return names


@dataclass
class SiteConfigs:
    """The site config files of some directories, found by host."""

    directories: Sequence[Path]
    _files: dict[str, Path] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._files = {}
        for directory in self.directories:  # a later directory's file wins
            for path in sorted(directory.glob("*.txt")):
                self._files[path.name[: -len(".txt")].lower()] = path

    def __len__(self) -> int:
        return len(self._files)

    def for_host(self, host: str) -> SiteConfig | None:
        """The config that serves ``host`` (``name`` or ``name:port``), if any."""
        name = urlsplit(f"//{host}").hostname or ""
        for candidate in candidate_names(name):
            path = self._files.get(candidate)
            if path is not None:
                return _read(path)
        return None

    def all(self) -> Iterable[SiteConfig]:
        """Every config, read."""
        return (_read(path) for path in self._files.values())

    def unimplemented(self) -> Counter[str]:
        """How many files use each directive that is read and not applied."""
        counts: Counter[str] = Counter()
        for config in self.all():
            counts.update({name for name, _ in config.unimplemented})
        return counts


@lru_cache(maxsize=4096)
def _read(path: Path) -> SiteConfig:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        log.warning("site config %s cannot be read: %s", path, exc)
        text = ""
    return parse_site_config(text, path)
