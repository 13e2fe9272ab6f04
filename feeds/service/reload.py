"""Taking up a changed config file while running: the file is read again when it changed
(or when asked, SIGHUP); a config with a mistake is refused, its error logged, and the
running one kept; changed ``settings`` need a restart, so the running ones are kept."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from feeds.config import Config, load_config
from feeds.errors import ConfigError

log = logging.getLogger(__name__)


class ConfigWatch:
    """Watches a config file for changes."""

    def __init__(self, path: Path, config: Config) -> None:
        self.path = path
        self.config = config
        self._mtime = _mtime(path)

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
        if new.settings != self.config.settings:
            log.warning("config reloaded; changes to `settings` take effect after a restart")
            new = dataclasses.replace(new, settings=self.config.settings)
        self.config = new
        return new


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
