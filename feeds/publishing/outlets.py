"""Where published documents go: files in the output directory (one machine, the
default), or the state's database, from which any number of ``feeds serve`` processes
serve them without a shared disk (``settings.publish_to: database``).

Either way a feed's documents are replaced all at once (files renamed into place after
every one is written; rows in one transaction), only those whose bytes changed, so an
unchanged document keeps its ETag and Last-Modified."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from feeds.errors import PublishError
from feeds.models import Item
from feeds.publishing.channel import Channel, FeedFormat, file_name, page_name
from feeds.publishing.files import write_files
from feeds.publishing.pages import render_feed_page
from feeds.storage.interface import Store


class Outlet(Protocol):
    """A place published documents are kept and served from."""

    def replace(self, documents: Mapping[str, bytes]) -> tuple[str, ...]:
        """Put the documents in place, all or none, those whose bytes changed; returns
        the names changed."""
        ...

    def in_place(self, names: Iterable[str]) -> bool:
        """Whether every one of these documents is there."""
        ...

    def remove(self, names: Iterable[str]) -> list[str]:
        """Take these documents away; returns the names there were."""
        ...


class DirectoryOutlet:
    """Documents as files of a directory, each replaced atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def replace(self, documents: Mapping[str, bytes]) -> tuple[str, ...]:
        return write_files(self.directory, documents)

    def in_place(self, names: Iterable[str]) -> bool:
        return all((self.directory / name).is_file() for name in names)

    def remove(self, names: Iterable[str]) -> list[str]:
        removed = []
        for name in names:
            try:
                (self.directory / name).unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise PublishError(
                    f"cannot delete {self.directory / name}: {exc.strerror}"
                ) from exc
            removed.append(name)
        return removed


class DatabaseOutlet:
    """Documents as rows of the state's database, replaced in one transaction."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        """``clock`` gives the modification time of a changed document."""
        self.store = store
        self.clock = clock

    def replace(self, documents: Mapping[str, bytes]) -> tuple[str, ...]:
        with self.store.transaction():
            return self.store.put_documents(documents, self.clock())

    def in_place(self, names: Iterable[str]) -> bool:
        wanted = set(names)
        return self.store.document_names(wanted) == wanted

    def remove(self, names: Iterable[str]) -> list[str]:
        with self.store.transaction():
            return self.store.remove_documents(names)


def feed_document_names(feed_id: str, formats: Iterable[FeedFormat]) -> list[str]:
    """The names of a feed's documents: one per format, and its page."""
    return [*(file_name(feed_id, fmt) for fmt in formats), page_name(feed_id)]


def publish(
    channel: Channel, items: Iterable[Item], formats: Sequence[FeedFormat], outlet: Outlet
) -> tuple[str, ...]:
    """Render the feed in every format, and its page, and put those whose bytes changed
    in place, all at once; returns the names changed."""
    items = tuple(items)
    documents = {file_name(channel.feed_id, fmt): fmt.render(channel, items) for fmt in formats}
    documents[page_name(channel.feed_id)] = render_feed_page(channel, items, formats)
    return outlet.replace(documents)
