"""Feed files made from real pages pass the repository's strict check (tests/feedcheck.py).

    python bench/feed_validity.py [--pages ../shared/datasets/news-pages]
                                  [--pages ../shared/datasets/reader-view-pages]

Each dataset's pages are served by a simulated site on 127.0.0.2, linked from one listing
page; ``feeds once`` (in a subprocess, as a user runs it) makes a feed of every page, in
every format. Each file is then checked: well-formed, RFC 4287's schema for Atom, RSS 2.0's
required elements, JSON Feed 1.1's, feedparser reads it without complaint, dates with a
time zone, every URL absolute (in the document and in its HTML), no CDATA, no U+FFFD.
The check has no warnings: whatever it looks for fails the file. Prints the problems of
each file (none is the aim) and how many items each holds.
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.publishing.channel import file_name  # noqa: E402
from feeds.publishing.formats import FORMATS  # noqa: E402
from tests.feedcheck import FeedProblemError, check_feed  # noqa: E402
from tests.sitesim import SiteSim  # noqa: E402

DATASETS = ("news-pages", "reader-view-pages")


def check_dataset(pages_dir: Path) -> int:
    """Make a feed of the dataset's pages and check its files; returns the problems."""
    # news-pages: html/<id>.html.gz; reader-view-pages: pages/<id>/source.html.gz
    pages = {
        path.name.split(".")[0]: path for path in sorted(pages_dir.glob("html/*.html.gz"))
    } or {path.parent.name: path for path in sorted(pages_dir.glob("pages/*/source.html.gz"))}
    if not pages:
        sys.exit(f"no pages in {pages_dir}; give --pages DIR (a dataset directory)")
    feed_id = pages_dir.name
    site = SiteSim("127.0.0.2", forked=True)  # filled before it starts
    links = []
    for page_id, page in pages.items():
        path = f"/a/{page_id}"
        site.add(path, gzip.decompress(page.read_bytes()), content_type="text/html")
        links.append(f'<li><a class="story" href="{path}">{path}</a></li>')
    site.add("/", f"<html><body><main><ul>{''.join(links)}</ul></main></body></html>")
    with tempfile.TemporaryDirectory() as tmp, site:
        config = Path(tmp) / "feeds.yaml"
        config.write_text(
            "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
            f"feeds:\n  {feed_id}:\n    max_items: {len(pages)}\n"
            f"    max_new_per_run: {len(pages)}\n"
            f"    formats: [{', '.join(FORMATS)}]\n"
            f"    sources:\n      - url: {site.url('/')}\n        links: a.story\n"
        )
        run = subprocess.run(
            [sys.executable, "-m", "feeds", "--config", str(config), "once"],
            capture_output=True,
            text=True,
            check=False,
        )
        print(f"{feed_id}: {len(pages)} pages; feeds once: {run.stdout.strip()}")
        if run.returncode:
            sys.exit(f"feeds once failed ({run.returncode}): {run.stderr.strip()}")
        problems = 0
        for fmt in FORMATS.values():
            document = (Path(tmp) / "output" / file_name(feed_id, fmt)).read_bytes()
            try:
                parsed = check_feed(document, fmt.name)
            except FeedProblemError as problem:
                problems += 1
                print(f"  {fmt.label:<9} FAILED: {problem}")
                continue
            items = len(parsed["items"] if fmt is FORMATS["json"] else parsed.entries)
            print(f"  {fmt.label:<9} {items} items, {len(document):,} bytes: 0 problems")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pages",
        type=Path,
        action="append",
        help="a dataset directory (default: both of ../shared/datasets)",
    )
    args = parser.parse_args()
    datasets = args.pages or [ROOT.parent / "shared" / "datasets" / name for name in DATASETS]
    problems = sum(check_dataset(directory) for directory in datasets)
    print(f"problems: {problems}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
