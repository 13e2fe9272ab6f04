"""What publishing a feed costs, by its size: 50 items (the default ``max_items``), 500
and 5,000.

    python bench/publishing.py [--sizes 50,500,5000] [--repeat 5] [--body-paragraphs 20]

For each size, in a fresh process: the items are stored in a state database, then
``publish_feed`` (read the items, render every format and the feed's page, compare with
the files in place, write) runs ``--repeat`` times on fresh output directories, and each
format's renderer alone runs ``--repeat`` times on the items in memory. Figures are the
median wall time and the process CPU time of one run, the per-item cost, the size of each
file, and the process's peak resident memory (which includes Python and the libraries).
Each item has a body of ``--body-paragraphs`` paragraphs of about 190 characters, an
image, an author and two categories (20 paragraphs: a 4 KB article, a common length).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.config import load_config  # noqa: E402
from feeds.models import Item  # noqa: E402
from feeds.publishing.formats import FORMATS, render  # noqa: E402
from feeds.publishing.pages import render_feed_page  # noqa: E402
from feeds.run.publish import (  # noqa: E402
    channel_for,
    publish_feed,
)
from feeds.storage import open_store  # noqa: E402

T = TypeVar("T")
PARAGRAPH = (
    "<p>The council met on Tuesday to discuss the harbour, the ferries and the new "
    "pier; residents asked about parking, noise and the opening hours of the library.</p>"
)


def measure(directory: Path, size: int, repeat: int, paragraphs: int) -> dict[str, object]:
    """(In a fresh process) store ``size`` items, then time publishing them."""
    formats = ", ".join(FORMATS)
    config_path = directory / "feeds.yaml"
    config_path.write_text(
        "settings:\n  output_dir: output\n  state_dir: state\n"
        f"feeds:\n  big:\n    max_items: {size}\n    formats: [{formats}]\n"
        "    sources: [{url: 'http://127.0.0.2/'}]\n"
    )
    config = load_config(config_path)
    feed = config.feeds["big"]
    now = datetime(2026, 11, 1, tzinfo=UTC)
    items = [_item(n, now, paragraphs) for n in range(size)]
    with open_store(config.settings.state_dir) as store, store.transaction():
        for item in items:
            store.add_item(item)

    whole: list[tuple[float, float]] = []
    files: dict[str, int] = {}
    with open_store(config.settings.state_dir) as store:
        for run in range(repeat):
            settings = config.settings.model_copy(update={"output_dir": directory / f"out{run}"})
            written, timing = _timed(
                lambda settings=settings: publish_feed(feed, settings=settings, store=store)
            )
            whole.append(timing)
            files = {name: (settings.output_dir / name).stat().st_size for name in written}
    channel = channel_for(feed, config.settings, updated=now)
    renderers: dict[str, Callable[[], bytes]] = {
        fmt.label: (lambda fmt=fmt: render(channel, items, fmt)) for fmt in FORMATS.values()
    }
    renderers["feed page"] = lambda: render_feed_page(channel, items, list(FORMATS.values()))
    alone = {
        label: [_timed(renderer)[1] for _ in range(repeat)] for label, renderer in renderers.items()
    }
    return {
        "size": size,
        "whole": _medians(whole),
        "alone": {label: _medians(timings) for label, timings in alone.items()},
        "files": files,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _item(n: int, now: datetime, paragraphs: int) -> Item:
    return Item(
        id=f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        feed="big",
        url=f"http://127.0.0.2/news/{n}",
        title=f"Story number {n} about the harbour & the bay",
        published=now - timedelta(minutes=n),
        updated=now - timedelta(minutes=n),
        summary="The council met on Tuesday to discuss the harbour.",
        content_html=PARAGRAPH * paragraphs + f'<p><img src="http://127.0.0.2/{n}.jpg"></p>',
        fingerprint=(),
        first_seen=now - timedelta(minutes=n),
        author="A. Reporter",
        categories=("harbour", "council"),
        image=f"http://127.0.0.2/{n}.jpg",
    )


def _timed(work: Callable[[], T]) -> tuple[T, tuple[float, float]]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, (time.perf_counter() - wall, time.process_time() - cpu)


def _medians(timings: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(t[0] for t in timings), statistics.median(t[1] for t in timings)


def report(figures: dict[str, object]) -> None:
    size = int(figures["size"])  # type: ignore[call-overload]
    wall, cpu = figures["whole"]  # type: ignore[misc]
    files = figures["files"]
    assert isinstance(files, dict)
    sizes = ", ".join(f"{name} {bytes_ / 2**20:.2f} MB" for name, bytes_ in files.items())
    print(
        f"{size:>5} items  publish_feed (all formats and the page): {wall * 1000:8.1f} ms wall, "
        f"{cpu * 1000:8.1f} ms CPU, {cpu / size * 1000:.2f} ms CPU per item; "
        f"peak RSS {figures['peak_rss_mb']:.0f} MB"
    )
    alone = figures["alone"]
    assert isinstance(alone, dict)
    for label, (wall, cpu) in alone.items():
        print(
            f"{'':>13}{label:<10} rendered alone: {wall * 1000:8.1f} ms wall, "
            f"{cpu * 1000:8.1f} ms CPU"
        )
    print(f"{'':>13}files: {sizes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50,500,5000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--body-paragraphs", type=int, default=20)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.size, args.repeat, args.body_paragraphs)))
        return
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            command = [
                sys.executable,
                __file__,
                "--child",
                tmp,
                "--size",
                str(size),
                "--repeat",
                str(args.repeat),
                "--body-paragraphs",
                str(args.body_paragraphs),
            ]
            result = subprocess.run(command, capture_output=True, text=True, check=True)
        report(json.loads(result.stdout))


if __name__ == "__main__":
    main()
