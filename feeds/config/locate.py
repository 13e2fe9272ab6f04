"""Where the config file is when no ``--config`` is given, and what ``feeds init`` writes.

The places, in order: ``$FEEDS_CONFIG``; ``./feeds.yaml``; ``config/feeds.yaml`` (a
checkout of feeds, or a project laid out like it); the user's config directory
(``$XDG_CONFIG_HOME/feeds/feeds.yaml``, ``~/.config/feeds/feeds.yaml`` by default). The
first that exists is used; ``init`` writes to the first of them when none exists.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CONFIG_ENVIRONMENT = "FEEDS_CONFIG"
CONFIG_NAME = "feeds.yaml"


@dataclass(frozen=True, slots=True)
class ConfigLocation:
    """The config file a command uses, and how it was chosen."""

    path: Path
    exists: bool
    looked_at: tuple[Path, ...]
    """The places looked at, in order (for a message when none holds a config)."""
    given: bool = False
    """Named by ``--config`` or ``$FEEDS_CONFIG``: used whether it exists or not."""

    def missing_message(self) -> str:
        """What to say when the file does not exist: where it was looked for, and that
        ``feeds init`` writes one."""
        if self.given:
            init = f"feeds --config {self.path} init"
            return f"{self.path}: no such config file; write one with `{init}`"
        places = ", ".join(str(place) for place in self.looked_at)
        return f"no config file found (looked at {places}); write one with `feeds init`"


def config_places(environ: Mapping[str, str], home: Path) -> tuple[Path, ...]:
    """Where a config is looked for when none is named, in order."""
    config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    return (Path(CONFIG_NAME), Path("config") / CONFIG_NAME, config_home / "feeds" / CONFIG_NAME)


def locate_config(
    given: Path | None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> ConfigLocation:
    """The config file to use: ``given`` (``--config``), else ``$FEEDS_CONFIG``, else the
    first of ``config_places`` that exists, else the first of them (where ``init`` writes)."""
    environ = os.environ if environ is None else environ
    named = given or (
        Path(environ[CONFIG_ENVIRONMENT]) if environ.get(CONFIG_ENVIRONMENT) else None
    )
    if named is not None:
        return ConfigLocation(named, named.exists(), (named,), given=True)
    places = config_places(environ, home or Path.home())
    for place in places:
        if place.is_file():
            return ConfigLocation(place, True, places)
    return ConfigLocation(places[0], False, places)


def starter_paths(config_file: Path, environ: Mapping[str, str], home: Path) -> dict[str, str]:
    """Where a starter config at ``config_file`` keeps its output and state: beside it
    (``output``, ``state``), one level up from a ``config/`` directory (``../output``), or,
    for the user's config directory, in the user's data and state directories."""
    places = config_places(environ, home)
    if config_file.absolute() == places[-1].absolute():
        data = Path(environ.get("XDG_DATA_HOME") or home / ".local/share") / "feeds"
        state = Path(environ.get("XDG_STATE_HOME") or home / ".local/state") / "feeds"
        return {"output_dir": str(data / "output"), "state_dir": str(state)}
    if config_file.absolute().parent.name == "config":
        return {"output_dir": "../output", "state_dir": "../state"}
    return {"output_dir": "output", "state_dir": "state"}
