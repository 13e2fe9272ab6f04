"""Extraction quality on a set of real pages: feeds against plain trafilatura.

    python bench/extraction.py [--pages ../shared/datasets/news-pages] [--out FILE]
                               [--only feeds|trafilatura] [--worst 10]

The data set holds real article pages (``html/<id>.html.gz``) and, in ``expected.json``,
snippets a correct extraction must contain (``with``) and must not contain (``without``).
A ``with`` snippet found is a true positive, one missing a false negative; a ``without``
snippet found is a false positive. Text is compared with whitespace collapsed.

feeds is scored on exactly what it would publish: the page is decoded as the fetcher
decodes it, extracted by ``extract_article`` and normalised by ``normalise``, and the text
a reader sees (the item's title and content) is searched. Plain trafilatura is scored on
``trafilatura.extract(page)`` with its defaults, in the same run. Per-page results go to
``--out`` (default ``bench/results/extraction.json``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from feeds.errors import ExtractionError  # noqa: E402
from feeds.extract import extract_article  # noqa: E402
from feeds.fetch import detect_encoding  # noqa: E402
from feeds.html import block_text, parse_fragment  # noqa: E402
from feeds.models import Link, Page  # noqa: E402
from feeds.normalise import normalise  # noqa: E402

_SPACE = re.compile(r"\s+")


@dataclass
class Score:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.fn += other.fn
        self.fp += other.fp
        self.tn += other.tn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class PageResult:
    id: str
    score: Score
    missing: list[str] = field(default_factory=list)
    unwanted: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


def normalised(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def feeds_text(body: bytes, page_id: str) -> str:
    """What feeds would publish from this page: title and content, as text."""
    url = f"https://dataset.invalid/{page_id}"
    page = Page(
        url=url,
        final_url=url,
        status=200,
        content_type="text/html",
        body=body,
        encoding=detect_encoding(body, "text/html"),
        fetched_at=datetime.now(UTC),
    )
    article = extract_article(page)
    item = normalise(article, Link(url=url, source=url), feed="bench", first_seen=page.fetched_at)
    return item.title + "\n" + block_text(parse_fragment(item.content_html))


def trafilatura_text(body: bytes, page_id: str) -> str:
    return trafilatura.extract(body) or ""


def score_page(text: str, expected: dict[str, list[str]]) -> tuple[Score, list[str], list[str]]:
    haystack = normalised(text)
    score = Score()
    missing, unwanted = [], []
    for snippet in expected.get("with", []):
        if normalised(snippet) in haystack:
            score.tp += 1
        else:
            score.fn += 1
            missing.append(snippet)
    for snippet in expected.get("without", []):
        if normalised(snippet) in haystack:
            score.fp += 1
            unwanted.append(snippet)
        else:
            score.tn += 1
    return score, missing, unwanted


def run(
    name: str,
    extractor: Callable[[bytes, str], str],
    pages: dict[str, bytes],
    expected: dict[str, dict[str, list[str]]],
) -> tuple[Score, list[PageResult], float]:
    total = Score()
    results = []
    started = time.perf_counter()
    for page_id, body in pages.items():
        page_started = time.perf_counter()
        error = None
        try:
            text = extractor(body, page_id)
        except ExtractionError as exc:
            text, error = "", exc.message
        score, missing, unwanted = score_page(text, expected[page_id])
        total.add(score)
        results.append(
            PageResult(page_id, score, missing, unwanted, time.perf_counter() - page_started, error)
        )
    return total, results, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=Path, default=ROOT.parent / "shared/datasets/news-pages")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/extraction.json")
    parser.add_argument("--only", choices=["feeds", "trafilatura"])
    parser.add_argument("--worst", type=int, default=10)
    args = parser.parse_args()
    expected = json.loads((args.pages / "expected.json").read_text())
    pages = {
        page_id: gzip.decompress((args.pages / "html" / f"{page_id}.html.gz").read_bytes())
        for page_id in sorted(expected)
    }
    extractors = {"feeds": feeds_text, "trafilatura": trafilatura_text}
    report = {}
    print(f"{len(pages)} pages from {args.pages}")
    print(f"{'extractor':<12} {'precision':>9} {'recall':>7} {'F1':>6} {'pages/s':>8}")
    for name, extractor in extractors.items():
        if args.only and name != args.only:
            continue
        total, results, seconds = run(name, extractor, pages, expected)
        print(
            f"{name:<12} {total.precision:9.3f} {total.recall:7.3f} {total.f1:6.3f} "
            f"{len(pages) / seconds:8.1f}"
        )
        report[name] = {
            "precision": total.precision,
            "recall": total.recall,
            "f1": total.f1,
            "pages_per_second": len(pages) / seconds,
            "pages": [asdict(r) for r in results],
        }
        if name == "feeds":
            worst = sorted(results, key=lambda r: (r.score.fn + r.score.fp, r.id), reverse=True)
            for result in worst[: args.worst]:
                if result.score.fn + result.score.fp == 0:
                    break
                reason = f" ({result.error})" if result.error else ""
                print(
                    f"  worst: {result.id} missing {result.score.fn}, "
                    f"unwanted {result.score.fp}{reason}"
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print(f"per-page results: {args.out}")


if __name__ == "__main__":
    main()
