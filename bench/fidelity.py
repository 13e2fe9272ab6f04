"""Item fidelity on two sets of real pages: every link, image, date, byline, language and
summary of an item, as a reader shows them; feeds beside plain trafilatura.

    python bench/fidelity.py [--shared ../shared] [--half tuning|checking|both]
                             [--only DATASET] [--out FILE] [--list 5]

The halves are those of ``bench/extraction.py`` (fixed by page id): rules are tuned on the
*tuning* half only; the *checking* half says whether a change carries over.

Per extractor and half:

- ``links``/``imgs``: links and images in the item's HTML; ``bad``: those that do not
  resolve as a browser resolves the page's own attributes (``<a href>``; ``<img>``'s
  ``src``, lazy-loading attributes and ``srcset``, ``<source>``, ``<noscript>`` copies;
  embeds' players and their thumbnails as feeds links them) against the document's base
  (``<base href>`` when it is http or https, else the page's address), compared by what
  their escapes stand for;
- ``rv img%``/``rv link%``: of the images and links of the reader view's extraction
  (``expected.html``, reader-view pages), the share the item keeps; ``+img``: images
  the item has that the reader view has not (not always wrong: a reader view drops some);
- ``byline``, ``date``, ``lang``: matches with ``expected-metadata.json`` over the pages
  where it has one (bylines: spaces, case and a leading "By" aside; dates: the same day;
  languages: the same primary subtag);
- ``markup``: summaries that hold markup or character references (that the article's
  own text does not: a page about ``<img>`` tags may say so); ``fetch-dated``: items
  with no date of their own (published is the time they were first seen).

trafilatura runs with ``include_links`` and ``include_images`` and the page's URL, as a
user of the library would, and ``extract_metadata`` for byline and date; it has no
language of the page (``-``). Per-page findings go to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import lxml.html  # noqa: E402
import trafilatura  # noqa: E402
from extraction import DATASETS, HALVES, Case, chosen_cases, feeds_item, half_of  # noqa: E402

from feeds.errors import ExtractionError  # noqa: E402
from feeds.extraction.media import _embed, best_candidate  # noqa: E402
from feeds.fetching.encoding import detect_encoding  # noqa: E402
from feeds.html import block_text, parse_document, parse_fragment  # noqa: E402
from feeds.publishing.channel import display_html  # noqa: E402

FIRST_SEEN = datetime(2030, 1, 1, 12, 34, 56, tzinfo=UTC)
"""The time every item is first seen here: a published time equal to it is a fetch time."""
LAZY_ATTRIBUTES = (
    "src", "data-src", "data-lazy-src", "data-original", "data-lazy", "data-url",
    "data-hi-res-src", "data-srcset", "data-lazy-srcset", "srcset",
)  # fmt: skip
_MARKUP = re.compile(r"<[a-zA-Z/!]|&(?:[a-zA-Z]{2,8}|#\d+|#x[0-9a-fA-F]+);")


@dataclass
class Found:
    """What one extractor made of one page."""

    links: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    byline: str | None = None
    published: datetime | None = None
    language: str | None = None
    summary: str = ""
    fetch_dated: bool = False
    text: str = ""
    """The item's text, where markup-like words can be the article's own ("<img> tags")."""
    error: str | None = None


@dataclass
class PageFindings:
    id: str
    half: str
    extractor: str
    links: int = 0
    images: int = 0
    bad_links: list[str] = field(default_factory=list)
    bad_images: list[str] = field(default_factory=list)
    rv_links: int = 0
    rv_links_kept: int = 0
    rv_images: int = 0
    rv_images_kept: int = 0
    missed_images: list[str] = field(default_factory=list)
    extra_images: list[str] = field(default_factory=list)
    byline: tuple[str | None, str | None] | None = None
    date: tuple[str | None, str | None] | None = None
    language: tuple[str | None, str | None] | None = None
    markup: bool = False
    fetch_dated: bool = False
    error: str | None = None


def join(base: str, reference: str) -> str:
    """``reference`` resolved against ``base`` as a browser does (tabs and newlines in it
    dropped, spaces around it trimmed); '' when it cannot be."""
    reference = reference.strip(" \t\n\r\f\x00").replace("\t", "").replace("\n", "")
    try:
        return urljoin(base, reference.replace("\r", ""))
    except ValueError:
        return ""


def same_url(url: str) -> str:
    """A URL as compared: escapes decoded, the default port dropped."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url
    netloc = parts.netloc.lower().removesuffix(":80").removesuffix(":443")
    return unquote(parts._replace(netloc=netloc).geturl())


def document_base(document: lxml.html.HtmlElement, url: str) -> str:
    """The base a browser resolves the page's references against."""
    for base in document.iter("base"):
        href = (base.get("href") or "").strip()
        if href:
            resolved = join(url, href)
            return resolved if urlsplit(resolved).scheme in ("http", "https") else url
    return url


def page_truth(body: bytes, url: str) -> tuple[set[str], set[str]]:
    """Every link and image address the page's own attributes give, resolved by the
    browser's rules."""
    text = body.decode(detect_encoding(body, "text/html"), "replace")
    document = parse_document(text)
    base = document_base(document, url)
    links = {same_url(join(base, a.get("href", ""))) for a in document.iter("a")}
    images: set[str] = set()
    noscript_images = []
    for noscript in document.iter("noscript"):
        try:
            noscript_images += list(lxml.html.fragment_fromstring(
                noscript.text or "<p></p>", create_parent="div").iter("img"))  # fmt: skip
        except Exception:
            continue
    for element in [*document.iter("img", "source"), *noscript_images]:
        for name in LAZY_ATTRIBUTES:
            value = (element.get(name) or "").strip()
            if not value:
                continue
            candidates = [value]
            if "srcset" in name:
                candidates = [c.strip().split()[0] for c in value.split(",") if c.strip()]
                best = best_candidate(value)
                candidates += [best] if best else []
            images |= {same_url(join(base, c)) for c in candidates}
    for meta in document.iter("meta", "link"):  # a page's main image, as its metadata says
        names = " ".join(meta.get(name, "") for name in ("property", "name", "itemprop", "rel"))
        if re.search(r"og:image|twitter:image|\bimage\b|image_src|thumbnail", names, re.I):
            value = meta.get("content") or meta.get("href") or ""
            if value.strip():
                images.add(same_url(join(base, value)))
    for script in document.iter("script"):
        if "ld+json" in (script.get("type") or "").lower():
            images |= {same_url(join(base, u)) for u in _json_ld_images(script.text or "")}
    for element in document.iter("iframe", "video", "audio"):
        embed = _embed(element, base)
        if embed is not None:
            links.add(same_url(embed.url))
            if embed.thumbnail:
                images.add(same_url(embed.thumbnail))
        poster = element.get("poster")
        if poster:
            images.add(same_url(join(base, poster)))
    return links, images


def _json_ld_images(text: str) -> list[str]:
    """Every address in a JSON-LD block (its images among them), escapes undone."""
    text = re.sub(r"\\u002[fF]", "/", text).replace("\\/", "/")
    return re.findall(r'https?://[^"\s\\]+', text)


def html_links_images(html: str) -> tuple[list[str], list[str]]:
    if not html.strip():
        return [], []
    fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    links = [a.get("href", "") for a in fragment.iter("a") if a.get("href") is not None]
    images = [img.get("src", "") for img in fragment.iter("img") if img.get("src")]
    return links, images


def feeds_found(case: Case) -> Found:
    try:
        item = feeds_item(case.body, case.url, first_seen=FIRST_SEEN)
    except ExtractionError as exc:
        return Found(error=exc.message)
    links, images = html_links_images(display_html(item))  # as published
    return Found(
        links,
        images,
        item.author,
        item.published,
        getattr(item, "language", None),
        item.summary,
        item.published == FIRST_SEEN,
        block_text(parse_fragment(item.content_html)),
    )


def trafilatura_found(case: Case) -> Found:
    html = trafilatura.extract(
        case.body, url=case.url, output_format="html", include_links=True, include_images=True
    )
    links, images = html_links_images(html or "")
    page = case.body.decode("utf-8", "replace")
    metadata = trafilatura.extract_metadata(page, default_url=case.url)
    date = None
    if metadata is not None and metadata.date:
        try:
            date = datetime.fromisoformat(metadata.date).replace(tzinfo=UTC)
        except ValueError:
            date = None
    summary = (metadata.description or "") if metadata is not None else ""
    author = metadata.author if metadata is not None else None
    return Found(links, images, author, date, None, summary, date is None)


def judge(case: Case, kind: str, name: str, found: Found) -> PageFindings:
    findings = PageFindings(case.id, half_of(case.id), name, error=found.error)
    truth_links, truth_images = page_truth(case.body, case.url)
    findings.links, findings.images = len(found.links), len(found.images)
    findings.bad_links = [u for u in found.links if same_url(u) not in truth_links]
    findings.bad_images = [u for u in found.images if same_url(u) not in truth_images]
    findings.markup = any(
        match.group() not in found.text for match in _MARKUP.finditer(found.summary)
    )
    findings.fetch_dated = found.fetch_dated and not found.error
    if kind != "reader":
        return findings
    expected = case.expected
    rv_links, rv_images = html_links_images(str(expected.get("html", "")))
    kept_links = {same_url(u) for u in found.links}
    kept_images = {same_url(u) for u in found.images}
    rv_links = [same_url(join(case.url, u)) for u in rv_links]
    rv_images = [same_url(u) for u in rv_images if not u.startswith("data:")]
    findings.rv_links, findings.rv_images = len(rv_links), len(rv_images)
    findings.rv_links_kept = sum(u in kept_links for u in rv_links)
    findings.rv_images_kept = sum(u in kept_images for u in rv_images)
    findings.missed_images = [u for u in rv_images if u not in kept_images]
    findings.extra_images = sorted(kept_images - set(rv_images))
    wanted_byline = expected.get("byline")
    if isinstance(wanted_byline, str) and wanted_byline.strip():
        findings.byline = (found.byline, wanted_byline)
    wanted_date = expected.get("publishedTime")
    if isinstance(wanted_date, str) and wanted_date:
        got = (
            found.published.date().isoformat()
            if found.published and not found.fetch_dated
            else None
        )
        findings.date = (got, wanted_date[:10])
    wanted_lang = expected.get("lang")
    if isinstance(wanted_lang, str) and wanted_lang:
        findings.language = (found.language, wanted_lang)
    return findings


def _primary(tag: str | None) -> str:
    return (tag or "").replace("_", "-").split("-")[0].lower()


def _folded(text: str | None) -> str:
    """A byline as compared: spaces collapsed, case folded, a leading "By" aside (feeds
    publishes names; a reader view shows the line as the page wrote it)."""
    return re.sub(r"^(?:by|par|von|door|di|por)\s+", "", " ".join((text or "").split()).casefold())


def matches(findings: Iterable[PageFindings], what: str) -> tuple[int, int]:
    pairs = [getattr(f, what) for f in findings if getattr(f, what) is not None]
    if what == "language":
        hits = sum(_primary(got) == _primary(want) for got, want in pairs)
    elif what == "byline":
        hits = sum(_folded(got) == _folded(want) for got, want in pairs)
    else:
        hits = sum(got == want for got, want in pairs)
    return hits, len(pairs)


def report(kind: str, results: list[PageFindings], halves: tuple[str, ...]) -> dict[str, object]:
    summary: dict[str, object] = {}
    print(
        f"{'half':<9} {'extractor':<12} {'pages':>5} {'links':>6} {'bad':>5} {'imgs':>5} "
        f"{'bad':>4} {'rv img%':>7} {'+img':>5} {'rv link%':>8} {'byline':>7} {'date':>7} "
        f"{'lang':>7} {'markup':>6} {'fetch-dated':>11}"
    )
    for half in halves:
        for name in ("feeds", "trafilatura"):
            chosen = [r for r in results if r.half == half and r.extractor == name]
            row = {
                "pages": len(chosen),
                "links": sum(r.links for r in chosen),
                "bad_links": sum(len(r.bad_links) for r in chosen),
                "images": sum(r.images for r in chosen),
                "bad_images": sum(len(r.bad_images) for r in chosen),
                "rv_images_kept": sum(r.rv_images_kept for r in chosen)
                / max(1, sum(r.rv_images for r in chosen)),
                "extra_images": sum(len(r.extra_images) for r in chosen),
                "rv_links_kept": sum(r.rv_links_kept for r in chosen)
                / max(1, sum(r.rv_links for r in chosen)),
                "byline": matches(chosen, "byline"),
                "date": matches(chosen, "date"),
                "language": matches(chosen, "language"),
                "markup": sum(r.markup for r in chosen),
                "fetch_dated": sum(r.fetch_dated for r in chosen),
            }
            summary[f"{half}/{name}"] = row
            rv = kind == "reader"

            lang = ratio(row["language"], rv) if name == "feeds" else "-"
            rv_images = f"{100 * float(row['rv_images_kept']):.1f}" if rv else "-"  # type: ignore[arg-type]
            rv_links = f"{100 * float(row['rv_links_kept']):.1f}" if rv else "-"  # type: ignore[arg-type]
            print(
                f"{half:<9} {name:<12} {row['pages']:>5} {row['links']:>6} "
                f"{row['bad_links']:>5} {row['images']:>5} {row['bad_images']:>4} "
                f"{rv_images:>7} {row['extra_images'] if rv else '-':>5} {rv_links:>8} "
                f"{ratio(row['byline'], rv):>7} {ratio(row['date'], rv):>7} {lang:>7} "
                f"{row['markup']:>6} {row['fetch_dated']:>11}"
            )
    return summary


def ratio(pair: object, shown: bool) -> str:
    """``hits/total`` of a (hits, total) pair, or ``-``."""
    hits, total = pair  # type: ignore[misc]
    return f"{hits}/{total}" if shown else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/fidelity.json")
    parser.add_argument("--half", choices=[*HALVES, "both"], default="both")
    parser.add_argument("--only", choices=[name for _, name, _ in DATASETS])
    parser.add_argument("--list", type=int, default=5, help="pages listed per kind of fault")
    args = parser.parse_args()
    halves = HALVES if args.half == "both" else (args.half,)
    extractors: dict[str, Callable[[Case], Found]] = {
        "feeds": feeds_found,
        "trafilatura": trafilatura_found,
    }
    output: dict[str, object] = {}
    for kind, name, cases in chosen_cases(args.shared, args.only, halves):
        results = [
            judge(case, kind, extractor, extract(case))
            for case in cases
            for extractor, extract in extractors.items()
        ]
        output[name] = {
            "summary": report(kind, results, halves),
            "pages": [asdict(r) for r in results],
        }
        mine = [r for r in results if r.extractor == "feeds"]
        for label, wrong in (
            ("bad links", lambda r: r.bad_links),
            ("bad images", lambda r: r.bad_images),
            ("missed images", lambda r: r.missed_images),
        ):
            for r in sorted(mine, key=lambda r: -len(wrong(r)))[: args.list]:
                if wrong(r):
                    print(f"  {label} ({r.half}) {r.id}: {len(wrong(r))}, e.g. {wrong(r)[:2]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(output, indent=1, ensure_ascii=False, default=str))
    print(f"\nper-page results: {args.out}")


if __name__ == "__main__":
    main()
