"""One feeds process per state directory: a lock file."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from feeds.errors import StorageError


class StateLock:
    """The lock that keeps a second feeds process off a state directory.

    Two processes writing one state would each miss the other's items and validators; the
    second one is refused at start, with the first one's process id in the message.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "feeds.lock"
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, or raise ``StorageError`` saying who holds it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise StorageError(f"cannot create the lock file {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StorageError(
                f"the state directory {self.path.parent} is in use by feeds process {holder}; "
                "stop it first (one feeds process per state directory)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        """Give the lock up."""
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> StateLock:
        if self._handle is None:  # taken already when acquire() was called first
            self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
