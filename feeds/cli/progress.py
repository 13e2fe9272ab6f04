"""The progress bars of ``feeds once``, on a terminal only (rich): one for the feeds, one
for each feed while it runs; lines printed above them, not torn by their redraws."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichProgress

from feeds.config import Feed


class Bars:
    """Progress bars of ``feeds once``, on a terminal only: one for the feeds, and one for
    each feed while it runs."""

    def __init__(self, progress: RichProgress | None, feeds: int) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        if progress is not None and feeds > 1:
            self.overall: TaskID | None = progress.add_task("all", total=feeds, what="feeds")
        else:
            self.overall = None

    def echo(self, line: str, *, err: bool = False) -> None:
        """Print a line: above the bars when they share its terminal (printed into them,
        it would be torn by their next redraw), else where it goes."""
        stream = sys.stderr if err else sys.stdout
        if self.progress is not None and stream.isatty():
            self.progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(line, err=err)

    def feed(self, feed: Feed) -> FeedBar | None:
        if self.progress is None:
            return None
        sources = len(feed.sources)
        task = self.progress.add_task(feed.id, total=0, what=f"articles · 0/{sources} sources")
        self.tasks[feed.id] = task
        return FeedBar(self.progress, task, sources)

    def feed_finished(self, feed: Feed) -> None:
        if self.progress is None:
            return
        task = self.tasks.pop(feed.id, None)
        if task is not None:
            self.progress.remove_task(task)
        if self.overall is not None:
            self.progress.advance(self.overall)


class FeedBar:
    def __init__(self, progress: RichProgress, task: TaskID, sources: int) -> None:
        self.progress, self.task, self.sources, self.done = progress, task, sources, 0

    def articles(self, count: int) -> None:
        total = self.progress.tasks[self.task].total or 0
        self.progress.update(self.task, total=total + count)

    def article_done(self) -> None:
        self.progress.advance(self.task)

    def source_done(self) -> None:
        self.done += 1
        self.progress.update(self.task, what=f"articles · {self.done}/{self.sources} sources")


@contextmanager
def progress_bars(feeds: int) -> Iterator[Bars]:
    """Bars on standard error when it is a terminal; nothing when it is piped or logged."""
    if not sys.stderr.isatty():
        yield Bars(None, feeds)
        return
    columns = (
        SpinnerColumn(),  # turns while a feed waits on a host's politeness: not a hang
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[what]}"),
        TimeElapsedColumn(),
    )
    with RichProgress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield Bars(progress, feeds)
