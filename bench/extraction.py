"""Extraction quality and cost on two sets of real pages: feeds beside plain trafilatura.

    python bench/extraction.py [--shared ../shared] [--out FILE] [--worst 10]
                               [--half tuning|checking|both] [--only DATASET]
                               [--repeat 1]

Each data set is split in two halves fixed by page id (the parity of the first byte of
the id's SHA-256): a *tuning* half, the only one any rule may be tuned on, and a
*checking* half, which says whether a change carries over to pages it was not made for.
Both halves are reported, feeds and plain ``trafilatura.extract`` side by side, from one
run (the two extractors alternate page by page, so that the machine's drift hits both).

- ``news-pages``: snippets a correct extraction must contain (``with``) and must not
  contain (``without``), searched in the text a reader sees (title and content);
  precision, recall and F1 over snippets.
- ``reader-view-pages``: the text of a reader view's extraction, compared with the
  item's content by word 4-gram shingles (precision, recall, F1 summed over pages), and
  how many titles and bylines match the reader view's exactly (whitespace collapsed).
  trafilatura's title and author there come from ``trafilatura.extract_metadata``
  (not timed).

feeds is measured on exactly what it publishes: the bytes are decoded as the fetcher
decodes them, extracted by ``extract_article`` and normalised by ``normalise``. CPU is
process time per page (with ``--repeat N``, the least of N extractions of it by each
extractor, in turns; trafilatura's caches then favour it, so one pass is the default);
the ratio feeds / trafilatura is printed per data set and half.
Per-page results go to ``--out`` (default ``bench/results/extraction.json``).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from feeds.errors import ExtractionError  # noqa: E402
from feeds.extraction.article import extract_article  # noqa: E402
from feeds.extraction.metadata import read_page_metadata  # noqa: E402
from feeds.extraction.normalise import normalise  # noqa: E402
from feeds.extraction.rules import SiteRules  # noqa: E402
from feeds.extraction.site_config import SiteConfig, SiteConfigs  # noqa: E402
from feeds.fetching.encoding import detect_encoding  # noqa: E402
from feeds.html import (  # noqa: E402
    block_text,
    parse_document,
    parse_fragment,
)
from feeds.models import Item, Link, Page  # noqa: E402
from feeds.urls import host_key  # noqa: E402

HALVES = ("tuning", "checking")
EXTRACTORS = ("feeds", "trafilatura", "trafilatura+meta")
FLOOR = "trafilatura+meta"
"""The CPU floor: trafilatura as a user calls it for an article and its metadata."""
SITES = "feeds+sites"
"""feeds with ``--site-config``'s rules."""
READER_VIEW_URL = "http://fakehost/test/page.html"
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")


def half_of(page_id: str) -> str:
    """The half a page belongs to, fixed by its id."""
    return HALVES[hashlib.sha256(page_id.encode()).digest()[0] % 2]


@dataclass
class Score:
    """Counts behind precision and recall (snippets or shingles)."""

    tp: int = 0
    fn: int = 0
    fp: int = 0

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.fn += other.fn
        self.fp += other.fp

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
class Extracted:
    """What one extractor made of one page: ``result`` is timed, ``text`` is not."""

    result: Item | str | None
    title: str | None = None
    author: str | None = None
    error: str | None = None

    def text(self, with_title: bool) -> str:
        if isinstance(self.result, Item):
            content = block_text(parse_fragment(self.result.content_html))
            return f"{self.result.title}\n{content}" if with_title else content
        return self.result or ""


@dataclass
class PageResult:
    id: str
    half: str
    extractor: str
    score: Score
    cpu: float
    title_match: bool = False
    byline_match: bool = False
    missing: list[str] = field(default_factory=list)
    unwanted: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class Case:
    id: str
    body: bytes
    url: str
    expected: dict[str, object]


def normalised(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def feeds_item(
    body: bytes, url: str, first_seen: datetime | None = None, rules: SiteRules | None = None
) -> Item:
    """The item feeds would publish from this page (first seen at ``first_seen``, by
    default now; with a site config's ``rules``, if given)."""
    page = Page(
        url=url,
        final_url=url,
        status=200,
        content_type="text/html",
        body=body,
        encoding=detect_encoding(body, "text/html"),
        fetched_at=first_seen or datetime.now(UTC),
    )
    article = extract_article(page, rules)
    return normalise(article, Link(url=url, source=url), feed="bench", first_seen=page.fetched_at)


def feeds_extract(case: Case) -> Extracted:
    try:
        item = feeds_item(case.body, case.url)
    except ExtractionError as exc:
        return Extracted(None, error=exc.message)
    return Extracted(item, item.title, item.author)


@cache
def page_host(case_id: str, body: bytes, url: str) -> str:
    """The host a page was served from: the data sets hide it (``dataset.invalid``,
    ``fakehost``), so it is read from the page's own canonical address when it states one."""
    document = parse_document(body.decode("utf-8", "replace"))
    canonical = read_page_metadata(document, url).canonical or ""
    hidden = ("dataset.invalid", "fakehost")
    return host_key(canonical if canonical and not any(h in canonical for h in hidden) else url)


def site_config_of(configs: SiteConfigs, case: Case) -> SiteConfig | None:
    """The site config that serves the page's host, if any."""
    return configs.for_host(page_host(case.id, case.body, case.url))


def with_site_configs(configs: SiteConfigs) -> Callable[[Case], Extracted]:
    """feeds, with the rules of the site config that serves each page's host."""

    def extract(case: Case) -> Extracted:
        found = site_config_of(configs, case)
        try:
            item = feeds_item(case.body, case.url, rules=found.rules if found else None)
        except ExtractionError as exc:
            return Extracted(None, error=exc.message)
        return Extracted(item, item.title, item.author)

    return extract


def report_site_configs(
    results: list[PageResult], cases: list[Case], configs: SiteConfigs, halves: tuple[str, ...]
) -> dict[str, object]:
    """F1 on the pages whose host has a site config, without and with it; and how many
    pages without one changed (none should)."""
    configured = {case.id for case in cases if site_config_of(configs, case)}
    summary: dict[str, object] = {}
    print(f"pages whose host has a site config: {len(configured)} of {len(cases)}")
    for half in halves:
        for name in ("feeds", SITES):
            total = Score()
            for result in results:
                if result.half == half and result.extractor == name and result.id in configured:
                    total.add(result.score)
            figures = f"P {total.precision:.3f}, R {total.recall:.3f}"
            print(f"{half:<9} {name:<12} F1 {total.f1:6.3f} ({figures})")
            summary[f"{half}/{name}/configured"] = total.f1
    by_page = {(r.id, r.extractor): r.score for r in results}
    changed = [
        case.id
        for case in cases
        if case.id not in configured
        and asdict(by_page[(case.id, "feeds")]) != asdict(by_page[(case.id, SITES)])
    ]
    print(f"pages without a site config whose result changed: {len(changed)}")
    summary["unconfigured_changed"] = changed
    return summary


def trafilatura_extract(case: Case) -> Extracted:
    return Extracted(trafilatura.extract(case.body))


def trafilatura_with_metadata(case: Case) -> Extracted:
    """What a feed of an article needs from plain trafilatura: the text and the metadata
    (title, author, date: ``bare_extraction``'s document)."""
    document = trafilatura.bare_extraction(case.body, url=case.url, with_metadata=True)
    return Extracted(getattr(document, "text", None) if document is not None else None)


def score_snippets(text: str, expected: dict[str, object]) -> tuple[Score, list[str], list[str]]:
    haystack = normalised(text)
    score = Score()
    missing, unwanted = [], []
    for snippet in _strings(expected.get("with")):
        if normalised(snippet) in haystack:
            score.tp += 1
        else:
            score.fn += 1
            missing.append(snippet)
    for snippet in _strings(expected.get("without")):
        if normalised(snippet) in haystack:
            score.fp += 1
            unwanted.append(snippet)
    return score, missing, unwanted


def shingles(text: str, size: int = 4) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.casefold())
    return {tuple(words[i : i + size]) for i in range(max(0, len(words) - size + 1))}


def score_shingles(text: str, expected_text: str) -> Score:
    got, wanted = shingles(text), shingles(expected_text)
    shared = len(got & wanted)
    return Score(tp=shared, fn=len(wanted) - shared, fp=len(got) - shared)


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def news_pages(path: Path) -> Iterator[Case]:
    expected = json.loads((path / "expected.json").read_text())
    for page_id in sorted(expected):
        body = gzip.decompress((path / "html" / f"{page_id}.html.gz").read_bytes())
        yield Case(page_id, body, f"https://dataset.invalid/{page_id}", expected[page_id])


def reader_view_pages(path: Path) -> Iterator[Case]:
    for folder in sorted(p for p in (path / "pages").iterdir() if p.is_dir()):
        expected_html = gzip.decompress((folder / "expected.html.gz").read_bytes()).decode()
        metadata = json.loads((folder / "expected-metadata.json").read_text())
        metadata["text"] = block_text(parse_fragment(expected_html))
        metadata["html"] = expected_html
        body = gzip.decompress((folder / "source.html.gz").read_bytes())
        yield Case(folder.name, body, READER_VIEW_URL, metadata)


DATASETS = (
    ("news", "news-pages", news_pages),
    ("reader", "reader-view-pages", reader_view_pages),
)
"""Each data set: its kind of scoring, its folder name, its reader."""


def chosen_cases(
    shared: Path, only: str | None, halves: tuple[str, ...]
) -> Iterator[tuple[str, str, list[Case]]]:
    """(kind, name, cases) of each data set asked for (``--only``), its pages of
    ``halves``, said as it is read."""
    datasets = shared / "datasets"
    for kind, name, reader in DATASETS:
        if only and name != only:
            continue
        cases = [case for case in reader(datasets / name) if half_of(case.id) in halves]
        print(f"\n{name}: {len(cases)} pages from {datasets / name}")
        yield kind, name, cases


def _same(found: str | None, wanted: object) -> bool:
    if not isinstance(wanted, str) or not wanted.strip():
        return not found
    return normalised(found or "") == normalised(wanted)


def measure(
    cases: list[Case],
    kind: str,
    extractors: dict[str, Callable[[Case], Extracted]],
    repeat: int,
) -> list[PageResult]:
    results = []
    for extract in extractors.values():  # imports and caches filled before any timing
        extract(cases[0])
    for number, case in enumerate(cases):
        names = list(extractors)
        if number % 2:
            names.reverse()
        timings: dict[str, list[float]] = {name: [] for name in names}
        found_by: dict[str, Extracted] = {}
        for _ in range(repeat):
            for name in names:
                started = time.process_time()
                found_by[name] = extractors[name](case)
                timings[name].append(time.process_time() - started)
        for name in names:
            found, cpu = found_by[name], min(timings[name])
            result = PageResult(case.id, half_of(case.id), name, Score(), cpu, error=found.error)
            if kind == "news":
                result.score, result.missing, result.unwanted = score_snippets(
                    found.text(with_title=True), case.expected
                )
            else:
                result.score = score_shingles(
                    found.text(with_title=False), str(case.expected["text"])
                )
                if name == "trafilatura":
                    page = case.body.decode("utf-8", "replace")  # the set is UTF-8
                    metadata = trafilatura.extract_metadata(page, default_url=case.url)
                    found.title = metadata.title if metadata else None
                    found.author = metadata.author if metadata else None
                result.title_match = _same(found.title, case.expected.get("title"))
                result.byline_match = _same(found.author, case.expected.get("byline"))
            results.append(result)
    return results


def report(kind: str, results: list[PageResult], halves: tuple[str, ...]) -> dict[str, object]:
    summary: dict[str, object] = {}
    header = f"{'half':<9} {'extractor':<12} {'pages':>5} {'precision':>9} {'recall':>7} {'F1':>6}"
    if kind == "reader":
        header += f" {'title':>6} {'byline':>6}"
    print(header + f" {'CPU s':>7} {'ms/page':>8}")
    for half in halves:
        cpu: dict[str, float] = {}
        for name in EXTRACTORS:
            chosen = [r for r in results if r.half == half and r.extractor == name]
            total = Score()
            for result in chosen:
                total.add(result.score)
            cpu[name] = sum(r.cpu for r in chosen)
            line = (
                f"{half:<9} {name:<12} {len(chosen):>5} {total.precision:9.3f} "
                f"{total.recall:7.3f} {total.f1:6.3f}"
            )
            titles = sum(r.title_match for r in chosen)
            bylines = sum(r.byline_match for r in chosen)
            if kind == "reader":
                line += f" {titles:>6} {bylines:>6}"
            print(line + f" {cpu[name]:7.2f} {1000 * cpu[name] / max(1, len(chosen)):8.1f}")
            summary[f"{half}/{name}"] = {
                "pages": len(chosen),
                "precision": total.precision,
                "recall": total.recall,
                "f1": total.f1,
                "titles": titles,
                "bylines": bylines,
                "cpu_seconds": cpu[name],
            }
        ratio = cpu["feeds"] / cpu["trafilatura"] if cpu["trafilatura"] else float("nan")
        floor = cpu["feeds"] / cpu[FLOOR] if cpu[FLOOR] else float("nan")
        print(
            f"{half:<9} CPU feeds / trafilatura: {ratio:.2f}; "
            f"feeds / trafilatura with metadata: {floor:.2f} (target <= 1.2)"
        )
        summary[f"{half}/cpu_ratio"] = ratio
        summary[f"{half}/cpu_ratio_with_metadata"] = floor
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/extraction.json")
    parser.add_argument("--half", choices=[*HALVES, "both"], default="both")
    parser.add_argument("--worst", type=int, default=10, help="worst feeds pages listed")
    parser.add_argument("--only", choices=[name for _, name, _ in DATASETS])
    parser.add_argument(
        "--repeat", type=int, default=1, help="extractions of each page; the least CPU counts"
    )
    parser.add_argument(
        "--site-config", type=Path, help="a directory of site config files to measure too"
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat takes 1 or more")
    halves = HALVES if args.half == "both" else (args.half,)
    extractors: dict[str, Callable[[Case], Extracted]] = {
        "feeds": feeds_extract,
        "trafilatura": trafilatura_extract,
        FLOOR: trafilatura_with_metadata,
    }
    configs = SiteConfigs([args.site_config]) if args.site_config else None
    if configs is not None:
        extractors[SITES] = with_site_configs(configs)
    output: dict[str, object] = {}
    for kind, name, cases in chosen_cases(args.shared, args.only, halves):
        results = measure(cases, kind, extractors, args.repeat)
        output[name] = {
            "summary": report(kind, results, halves),
            "pages": [asdict(r) for r in results],
        }
        if configs is not None:
            output[name]["site_configs"] = report_site_configs(results, cases, configs, halves)  # type: ignore[index]
        feeds_results = [r for r in results if r.extractor == "feeds"]
        worst = sorted(feeds_results, key=lambda r: (r.score.fn + r.score.fp, r.id), reverse=True)
        for result in worst[: args.worst]:
            reason = f" ({result.error})" if result.error else ""
            print(
                f"  worst ({result.half}): {result.id} missing {result.score.fn}, "
                f"unwanted {result.score.fp}{reason}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(output, indent=1, ensure_ascii=False))
    print(f"\nper-page results: {args.out}")


if __name__ == "__main__":
    main()
