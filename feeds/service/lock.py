"""One feeds process per state directory: a lock file."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from feeds.errors import StorageError

REFRESH_DIR = "refresh"
"""Where ``feeds refresh`` leaves a request (a file per feed) for the running service."""


def request_refresh(state_dir: Path, feed_id: str) -> Path:
    """Ask the service running on ``state_dir`` to run a feed now: a file it picks up
    within seconds (a request left while no service runs waits for the next one)."""
    folder = state_dir / REFRESH_DIR
    folder.mkdir(parents=True, exist_ok=True)
    request = folder / feed_id
    request.touch()
    return request


def take_refresh_requests(state_dir: Path) -> list[str]:
    """The feeds asked for since last time (their requests taken away)."""
    folder = state_dir / REFRESH_DIR
    taken = []
    for request in sorted(folder.glob("*")) if folder.is_dir() else []:
        try:
            request.unlink()
        except OSError:
            continue
        taken.append(request.name)
    return taken


def service_running(state_dir: Path) -> bool:
    """Whether a feeds process holds the state directory's lock."""
    lock = StateLock(state_dir)
    try:
        lock.acquire()
    except StorageError:
        return True
    lock.release()
    return False


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
                "one feeds process per state directory: if it is the service, `feeds refresh "
                "FEED` asks it to run a feed now; else stop it first"
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
