"""Rendered against plain fetching of the same pages: time and peak memory.

    python bench/render.py [--pages ../shared/datasets/news-pages] [--count 50]
                           [--render-pages 4]

A simulated site on 127.0.0.1 serves ``--count`` article pages (the dataset's real ones,
or generated ones without it). They are fetched twice with one fetcher each: plainly,
then with ``render: true`` (Debian's Chromium through Playwright, ``--render-pages`` at
once). The pages' requests to other hosts are refused at once (no network here; on the
internet they would be made, through the same fetcher). Prints the wall time, the
requests each way made, and the peak memory (PSS) of the whole process tree (this
process, the browser and its renderers), sampled every 50 ms.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.errors import FetchError  # noqa: E402
from feeds.fetching.addresses import AddressGuard, Trust  # noqa: E402
from feeds.fetching.browser import browser_available  # noqa: E402
from feeds.fetching.client import Fetcher, FetchJob, FetchOptions, RequestOptions  # noqa: E402
from feeds.fetching.hosts import Politeness  # noqa: E402
from tests.newssite import article_html, numbered_articles  # noqa: E402
from tests.sitesim import SiteSim  # noqa: E402


class LocalOnly(AddressGuard):
    """Lets requests reach the simulated site only: any other host is refused at once,
    before its name is looked up (no DNS here: each lookup would wait for its timeout)."""

    def __init__(self, origin: str) -> None:
        super().__init__([origin])
        self.origin = origin

    def check(self, url: str, scope: Trust | None = None) -> None:
        if not url.startswith(self.origin):
            raise FetchError(url, "no network in this benchmark")
        super().check(url, scope)


def tree_memory(root: int) -> int:
    """Proportional set size (PSS: shared pages divided among their sharers, so the
    browser's many processes are not counted each with its shared libraries) of ``root``
    and every process below it, in bytes."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
        todo += children.get(pid, [])
    return total


class PeakMemory:
    """Samples the process tree's memory while the block runs."""

    def __enter__(self) -> PeakMemory:
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        import os

        while not self._done.wait(0.05):
            self.peak = max(self.peak, tree_memory(os.getpid()))

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()


def pages(dataset: Path, count: int, origin: str) -> list[bytes]:
    """``count`` article pages: the dataset's, repeated, or generated ones."""
    if (dataset / "html").is_dir():
        real = [gzip.decompress(p.read_bytes()) for p in sorted((dataset / "html").glob("*.gz"))]
        return [real[n % len(real)] for n in range(count)]
    articles = numbered_articles(count)
    return [article_html(origin, article, articles).encode() for article in articles]


def fetch_all(site: SiteSim, count: int, render: bool, render_pages: int) -> tuple[float, int]:
    """Seconds to fetch every page (rendered or not), and the pages that came."""
    options = FetchOptions(
        user_agent="feeds-bench",
        retries=0,
        render_pages=render_pages,
        politeness=Politeness(per_host_concurrency=8, per_host_delay=0, concurrency=8),
    )
    request = RequestOptions(obey_robots=False, render=render)
    jobs = [FetchJob(site.url(f"/a/{n}"), request) for n in range(count)]
    with Fetcher(options, guard=LocalOnly(site.origin)) as fetcher:
        started = time.perf_counter()
        done = sum(not isinstance(page, Exception) for _, page in fetcher.fetch_all(jobs))
        return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=Path, default=ROOT.parent / "shared/datasets/news-pages")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--render-pages", type=int, default=4)
    args = parser.parse_args()
    missing = browser_available()
    if missing:
        sys.exit(missing)
    with SiteSim("127.0.0.1") as site:
        for number, body in enumerate(pages(args.pages, args.count, site.origin)):
            site.add(f"/a/{number}", body)
        source = "dataset" if (args.pages / "html").is_dir() else "generated"
        print(f"{args.count} article pages ({source}); {args.render_pages} rendered at once")
        for label, render in (("plain", False), ("rendered", True)):
            site.hits.clear()
            with PeakMemory() as memory:
                seconds, done = fetch_all(site, args.count, render, args.render_pages)
            print(
                f"{label:>8}: {seconds:6.2f} s ({seconds / args.count * 1000:5.0f} ms a page), "
                f"{done} pages, {len(site.hits)} requests to the site; peak memory (PSS) of the "
                f"process tree {memory.peak / 2**20:5.0f} MB"
            )


if __name__ == "__main__":
    main()
