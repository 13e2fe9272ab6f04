"""Taking up a changed config file while running: the file is read again when it changed
(or when asked, SIGHUP); a config with a mistake is refused, its error logged, and the
running one kept. The settings feeds take as defaults (``FEED_DEFAULTS``: ``interval``...)
take effect at once, with the feeds; the others need a restart: the running values are
kept, and which changed is said once."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from feeds.config import FEED_DEFAULTS, Config, Settings, load_config
from feeds.errors import ConfigError

log = logging.getLogger(__name__)


class ConfigWatch:
    """Watches a config file for changes."""

    def __init__(self, path: Path, config: Config) -> None:
        self.path = path
        self.config = config
        self._mtime = _mtime(path)
        self._waiting: tuple[str, ...] = ()
        """The changed settings that wait for a restart, as last said."""

    def changed(self, *, asked: bool = False) -> Config | None:
        """The config read again, when the file changed since it was last read (or when
        ``asked``) and holds no mistake; otherwise None. It becomes ``config``."""
        mtime = _mtime(self.path)
        if not asked and mtime == self._mtime:
            return None
        self._mtime = mtime
        try:
            new = load_config(self.path)
        except ConfigError as exc:
            log.error("config not reloaded, the running one is kept: %s", exc)
            return None
        running = self.config.settings
        waiting = restart_settings(running, new.settings)
        if waiting and waiting != self._waiting:
            names = ", ".join(f"settings.{name}" for name in waiting)
            log.warning(
                "config reloaded; %s changed: taken after a restart (until then the running "
                "values are kept)",
                names,
            )
        self._waiting = waiting
        taken = {name: getattr(new.settings, name) for name in FEED_DEFAULTS}
        new = dataclasses.replace(new, settings=running.model_copy(update=taken))
        self.config = new
        return new


def restart_settings(running: Settings, new: Settings) -> tuple[str, ...]:
    """The settings that differ and need a restart to take effect."""
    return tuple(
        name
        for name in type(running).model_fields
        if name not in FEED_DEFAULTS and getattr(running, name) != getattr(new, name)
    )


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
