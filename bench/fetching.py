"""Cold and warm runs of one feed against a local site: what a steady state costs.

    python bench/fetching.py [--pages ../shared/datasets/news-pages] [--articles 500]
                             [--latency 0.05]

A simulated site on 127.0.0.1 (tests/sitesim.py: ETag/304, added latency) serves listing
pages of 50 links each and the article pages, made from the real pages of the dataset
(repeated as needed) or, without it, from generated articles. The feed is run twice with
fresh state: cold (everything new) and warm (nothing changed). Prints requests made,
seconds and the warm/cold ratio. Target: warm <= 5% of cold.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.config import load_config  # noqa: E402
from feeds.models import RunReport  # noqa: E402
from feeds.run.feed import run_feed  # noqa: E402
from feeds.service.setup import fetcher_for  # noqa: E402
from feeds.storage import open_store  # noqa: E402
from tests.newssite import article_html, numbered_articles  # noqa: E402
from tests.sitesim import SiteSim  # noqa: E402

LINKS_PER_LISTING = 50


def article_pages(pages_dir: Path | None, count: int, origin: str) -> list[bytes]:
    """``count`` article pages: the dataset's, repeated, or generated ones."""
    if pages_dir is not None and (pages_dir / "html").is_dir():
        real = [gzip.decompress(p.read_bytes()) for p in sorted((pages_dir / "html").glob("*.gz"))]
        return [real[n % len(real)] for n in range(count)]
    articles = numbered_articles(count)
    return [article_html(origin, article, articles).encode() for article in articles]


def populate(site: SiteSim, pages: list[bytes]) -> int:
    """Serve the pages at /a/<n> and listings at /list/<k>; returns the listing count."""
    for number, body in enumerate(pages):
        site.add(f"/a/{number}", body)
    listings = (len(pages) + LINKS_PER_LISTING - 1) // LINKS_PER_LISTING
    for k in range(listings):
        numbers = range(k * LINKS_PER_LISTING, min(len(pages), (k + 1) * LINKS_PER_LISTING))
        links = "".join(
            f'<li><a class="story" href="/a/{n}">Story number {n}</a></li>' for n in numbers
        )
        site.add(f"/list/{k}", f"<html><body><ul>{links}</ul></body></html>")
    return listings


def run(config_path: Path) -> tuple[float, RunReport]:
    config = load_config(config_path)
    feed = config.feeds["bench"]
    with (
        open_store(config.settings.state_dir) as store,
        fetcher_for(config) as fetcher,
    ):
        started = time.perf_counter()
        report = run_feed(feed, settings=config.settings, fetcher=fetcher, store=store)
        return time.perf_counter() - started, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=Path, default=ROOT.parent / "shared/datasets/news-pages")
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--per-host-concurrency", type=int, default=4)
    args = parser.parse_args()

    with SiteSim("127.0.0.1", latency=args.latency) as site, tempfile.TemporaryDirectory() as tmp:
        pages = article_pages(args.pages, args.articles, site.origin)
        listings = populate(site, pages)
        sources = "".join(
            f"      - url: {site.url(f'/list/{k}')}\n        links: a.story\n"
            for k in range(listings)
        )
        config_path = Path(tmp) / "feeds.yaml"
        config_path.write_text(
            "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
            f"  per_host_concurrency: {args.per_host_concurrency}\n  max_items: 1000\n"
            f"feeds:\n  bench:\n    sources:\n{sources}"
        )
        source = "dataset" if (args.pages / "html").is_dir() else "generated"
        print(
            f"site: {len(pages)} article pages ({source}), {listings} listings, "
            f"{args.latency * 1000:.0f} ms latency, per-host concurrency "
            f"{args.per_host_concurrency}"
        )
        results = []
        for label in ("cold", "warm"):
            site.hits.clear()
            seconds, report = run(config_path)
            results.append(seconds)
            print(
                f"{label}: {len(site.hits):5d} requests  {seconds:7.2f} s  "
                f"new {report.new}, duplicate {report.skipped}, failed {report.failed}, "
                f"sources not modified {report.sources_unchanged}"
            )
        print(f"warm/cold: {results[1] / results[0]:.1%} (target <= 5%)")


if __name__ == "__main__":
    main()
