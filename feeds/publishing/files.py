"""Writing a feed's files: every format and its page, each replaced atomically, and only
when its bytes changed.

Every date in a feed comes from its items, so the same items always give the same bytes;
a file whose new bytes are the same as the old ones is left untouched (same ETag, same
modification time). A changed file is written to a temporary file in the same
directory, flushed and renamed into place: readers see the old file or the new one, never
half of one; and every file of a feed is written out before any is put in place."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO

from feeds import __version__
from feeds.errors import PublishError
from feeds.publishing.channel import Channel, FeedFormat
from feeds.publishing.formats import FORMATS

log = logging.getLogger(__name__)


def write_files(output_dir: Path, documents: Mapping[str, bytes]) -> tuple[str, ...]:
    """Write the documents as files of ``output_dir`` where their bytes changed; returns
    the files written. Every file is written out in full before any is put in place: a
    full disk (or any write error) leaves every old file, not a new RSS beside an old
    Atom."""
    with ExitStack() as stack:
        changed = []
        for name, document in documents.items():
            out = stack.enter_context(_Replacement(output_dir / name))
            out.write(document)
            if out.finish():
                changed.append((name, out))
        for _, out in changed:
            out.put_in_place()
        if changed:
            _fsync_directory(output_dir)
    return tuple(name for name, _ in changed)


def publication_key(channel: Channel, formats: Sequence[FeedFormat], items: str) -> str:
    """What a feed's files are made of: the channel, the formats, a signature of the items
    and the version of feeds (whose output may change). Equal keys, equal files."""
    made_of = (__version__, repr(channel), [fmt.name for fmt in formats], items)
    return hashlib.sha256(repr(made_of).encode()).hexdigest()


def prepare_output_dir(directory: Path) -> None:
    """Create ``directory`` if needed and prove a file can be written in it, so a run
    fails at its start, not after fetching everything."""
    hint = "set settings.output_dir to a writable directory, or fix its permissions"
    if directory.exists() and not directory.is_dir():
        raise PublishError(f"output directory {directory} is a file, not a directory; {hint}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(dir=directory, prefix=".feeds-probe.")
        os.close(descriptor)
        Path(probe).unlink()
    except OSError as exc:
        raise PublishError(
            f"cannot write in output directory {directory}: {exc.strerror or exc}; {hint}"
        ) from exc


def remove_leftovers(directory: Path) -> None:
    """Remove the temporary files a killed run left in ``directory`` (a new file is written
    beside the old one, then renamed over it). Call it with the state lock held, so that
    no other run of the config is writing."""
    # the names of _Replacement's and prepare_output_dir's temporary files
    suffixes = "|".join(re.escape(suffix[1:]) for suffix in _suffixes())
    leftover = re.compile(rf"\.(?:feeds-probe|.+\.(?:{suffixes}))\.[a-z0-9_]{{8}}")
    removed = 0
    for path in directory.glob(".*"):
        if leftover.fullmatch(path.name) and path.is_file():
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    if removed:
        log.info("removed %d temporary files left by an interrupted run", removed)


def _suffixes() -> set[str]:
    """The suffixes of the files written in the output directory."""
    return {fmt.suffix for fmt in FORMATS.values()} | {".html", ".opml"}


class _Replacement:
    """The new version of a file, written to a temporary file beside it and compared with
    the old one on the way; ``finish`` says whether it differs, ``put_in_place`` renames
    it over the old one. Leaving the ``with`` block before it is put in place (an error) removes it:
    the old file stays whole."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._reporting():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        self._temporary: Path | None = Path(temporary)
        self._handle = os.fdopen(descriptor, "wb")
        try:
            self._old: BinaryIO | None = path.open("rb")
        except OSError:
            self._old = None  # no old file (or an unreadable one): the new one is a change

    def __enter__(self) -> _Replacement:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._handle.close()
        self._forget_old()
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)

    def write(self, data: bytes) -> int:
        if self._old is not None and self._old.read(len(data)) != data:
            self._forget_old()
        with self._reporting():
            return self._handle.write(data)

    def finish(self) -> bool:
        """Write out the new version, durably, beside the old file; returns whether it
        differs from the old one (an unchanged one is dropped when the block ends)."""
        assert self._temporary is not None
        unchanged = self._old is not None and self._old.read(1) == b""
        self._forget_old()
        with self._reporting():
            if unchanged:
                self._handle.close()
                return False
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
        return True

    def put_in_place(self) -> None:
        """Rename the finished new version over the old file (atomic; no space needed)."""
        assert self._temporary is not None
        with self._reporting():
            self._temporary.chmod(0o644)
            self._temporary.replace(self.path)
        self._temporary = None

    def _forget_old(self) -> None:
        if self._old is not None:
            self._old.close()
            self._old = None

    @contextmanager
    def _reporting(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise PublishError(
                f"cannot write {self.path}: {exc.strerror or exc}; check that the output "
                "directory exists, is writable and has free space"
            ) from exc


def _fsync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # not supported on every file system; the rename is still atomic
    finally:
        os.close(descriptor)
