"""Speed and scale on one machine: one run, every figure.

    python bench/scale.py [--pages ../shared/datasets/news-pages] [--articles 1000]
                          [--large 5000] [--feeds 40] [--hosts 4] [--latency 0.05]
                          [--repeat 3]
                          [--only floor,cold,warm,memory,workers,polite]
                          [--time-limit 1800]

Simulated sites (tests/sitesim.py, one forked server per loopback address 127.0.0.2,
127.0.0.3, ...: ETag/304, added latency) serve ``--feeds`` feeds, the articles shared
out between them, made from the real pages of the dataset (a feed's articles are distinct
pages, each feed starting where the previous one stopped, so that every run goes through
the whole dataset; feeds are spread over ``--hosts`` hosts; their sources take turns: a
paginated listing, a partial RSS feed, a sitemap). The 1,000- and 5,000-article runs have
the same feeds, so the same number of them run at once: what grows is the work per feed.
``feeds once`` runs as a user runs it, in a subprocess, with its defaults except
``per_host_delay: 0`` (so that the network is not the limit):

floor    extraction alone: the same pages, already in memory, through the same pool of
         worker processes, and plain trafilatura (the text and the metadata) on as many
         processes (what no run that extracts with trafilatura can beat), measured before
         the first cold run and after each
cold     ``feeds once`` on fresh state, ``--articles`` new articles; ``--repeat`` times
         (fresh sites and state each time), each compared with the mean of the plain
         trafilatura floors on either side of it, because a shared machine's speed drifts
         by more than the difference measured; the figure is the median of these ratios.
         Each prints its CPU per article by stage and process (what ``feeds once`` writes
         to ``$FEEDS_STAGE_TIMES``: ``feeds.timing``) and each process's peak memory
warm     ``feeds once`` again: nothing new (every source answers 304)
memory   a cold run with ``--large`` articles: its peak memory against the cold run's
workers  a cold run with 1, 2 and 4 extraction workers: time, peak memory of each process
polite   100 feeds on 20 hosts, 20 new articles each (light generated pages), with the
         default politeness (1 request/s per host): time against the per-host bound

Memory is the peak, sampled every 0.2 s, of the proportional set size (PSS: shared pages
split between the processes sharing them) summed over the process tree of ``feeds``
(the parent, the fork server, the workers). CPU time is read from /proc for each process
of the tree (the cold run's line splits it between ``feeds``, its workers and the
simulated sites: on two cores, what is not extraction is what the cold run pays over the
floor). Every server listens on 127.0.0.0/8 and
every URL of every config points there. The whole run stops at ``--time-limit``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.config import load_config  # noqa: E402
from feeds.extraction.workers import ArticleJob, ExtractionPool, default_workers, outcome_of  # noqa: E402
from feeds.fetching.encoding import detect_encoding  # noqa: E402
from feeds.models import Link, Page  # noqa: E402
from feeds.timing import STAGE_TIMES_ENVIRONMENT  # noqa: E402
from tests.newssite import article_html, numbered_articles  # noqa: E402
from tests.sitesim import SiteSim  # noqa: E402

LINKS_PER_PAGE = 50
KINDS = ("listing", "feed", "sitemap")
DEADLINE = 0.0


class TimeLimitError(Exception):
    """The benchmark ran out of its time limit."""


def remaining() -> float:
    left = DEADLINE - time.monotonic()
    if left <= 0:
        raise TimeLimitError()
    return left


# the simulated sites


def dataset_pages(pages_dir: Path) -> list[bytes]:
    files = sorted((pages_dir / "html").glob("*.html.gz"))
    if not files:
        sys.exit(f"no pages in {pages_dir / 'html'}; give --pages DIR (the news-pages dataset)")
    return [gzip.decompress(path.read_bytes()) for path in files]


@dataclass
class BenchFeed:
    feed_id: str
    site: SiteSim
    kind: str
    articles: int

    @property
    def prefix(self) -> str:
        return f"/{self.feed_id}"

    def article_path(self, number: int) -> str:
        return f"{self.prefix}/a/{number}"

    def source_yaml(self) -> str:
        if self.kind == "listing":
            pages = -(-self.articles // LINKS_PER_PAGE)
            return (
                f"      - url: {self.site.url(self.prefix + '/list/0')}\n"
                f"        links: a.story\n        max_pages: {pages}\n"
            )
        path = "/feed.xml" if self.kind == "feed" else "/sitemap.xml"
        return f"      - url: {self.site.url(self.prefix + path)}\n"


def serve_feed(feed: BenchFeed, bodies: list[bytes]) -> None:
    """Put the feed's articles (``bodies[n]`` at ``/<feed>/a/<n>``) and its source on its site."""
    site, numbers = feed.site, range(feed.articles)
    for number in numbers:
        site.add(feed.article_path(number), bodies[number], content_type="text/html")
    if feed.kind == "listing":
        pages = -(-feed.articles // LINKS_PER_PAGE)
        for page in range(pages):
            chunk = numbers[page * LINKS_PER_PAGE : (page + 1) * LINKS_PER_PAGE]
            links = "".join(
                f'<li><a class="story" href="{feed.article_path(n)}">Story number {n} of '
                f"{feed.feed_id}</a></li>"
                for n in chunk
            )
            following = (
                f'<a rel="next" href="{feed.prefix}/list/{page + 1}">Older</a>'
                if page + 1 < pages
                else ""
            )
            site.add(
                f"{feed.prefix}/list/{page}",
                f"<html><body><main><ul>{links}</ul>{following}</main></body></html>",
            )
    elif feed.kind == "feed":
        entries = "".join(
            f"<item><title>Story number {n} of {feed.feed_id}</title>"
            f"<link>{site.url(feed.article_path(n))}</link>"
            f"<description>The start of story {n}.</description></item>"
            for n in numbers
        )
        site.add(
            f"{feed.prefix}/feed.xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>{feed.feed_id}</title>'
            f"<link>{site.origin}/</link><description>bench</description>{entries}"
            "</channel></rss>",
            content_type="application/rss+xml",
        )
    else:
        urls = "".join(f"<url><loc>{site.url(feed.article_path(n))}</loc></url>" for n in numbers)
        site.add(
            f"{feed.prefix}/sitemap.xml",
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{urls}</urlset>",
            content_type="application/xml",
        )


def write_config(directory: Path, feeds: list[BenchFeed], settings: str) -> Path:
    path = directory / "feeds.yaml"
    text = f"settings:\n  output_dir: output\n  state_dir: state\n{settings}feeds:\n"
    for feed in feeds:
        text += f"  {feed.feed_id}:\n    sources:\n{feed.source_yaml()}"
    path.write_text(text)
    return path


# measuring a feeds process


def cpu_seconds(pid: int) -> float:
    """User and system CPU time used so far by process ``pid`` (0 once it is gone)."""
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        if pid in found:
            continue
        found.append(pid)
        try:
            for task in (Path("/proc") / str(pid) / "task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def pss_kb(pid: int) -> int:
    """Proportional set size of process ``pid`` in KiB (0 once it is gone)."""
    try:
        rollup = (Path("/proc") / str(pid) / "smaps_rollup").read_text().splitlines()
        return next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return 0


class TreeSampler:
    """Samples, every 0.2 s on a thread, the memory (PSS) and CPU time of a process tree:
    the peak of the tree's total PSS, each process's own peak, and each process's last CPU
    time seen (within 0.2 s of its end)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak_kb = 0
        self.process_peaks_kb: dict[int, int] = {}
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def descendants_cpu(self) -> float:
        """CPU seconds of the root's descendants."""
        return sum(seconds for pid, seconds in self.cpu.items() if pid != self.root)

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            tree = process_tree(self.root)
            sizes = {pid: pss_kb(pid) for pid in tree}
            self.peak_kb = max(self.peak_kb, sum(sizes.values()))
            for pid, size in sizes.items():
                self.process_peaks_kb[pid] = max(self.process_peaks_kb.get(pid, 0), size)
            for pid in tree:
                self.cpu[pid] = cpu_seconds(pid) or self.cpu.get(pid, 0.0)


@dataclass
class Run:
    seconds: float
    peak_mb: float
    output: str
    status: int
    parent_cpu: float
    """CPU seconds of the ``feeds`` process itself."""
    children_cpu: float
    """CPU seconds of its descendants (extraction workers, fork server)."""
    stages: dict[str, Any]
    """What ``feeds once`` wrote to ``$FEEDS_STAGE_TIMES``: CPU seconds by stage."""
    parent_peak_mb: float
    others_peak_mb: list[float]
    """The peak PSS of each other process of the tree (fork server, workers), largest first."""


def run_feeds_once(config: Path) -> Run:
    """``feeds once`` in a subprocess, timed, its process tree's memory and CPU sampled."""
    command = [sys.executable, "-m", "feeds", "--config", str(config), "once"]
    stage_file = config.parent / "stages.json"
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        start_new_session=True,
        env={**os.environ, STAGE_TIMES_ENVIRONMENT: str(stage_file)},
    )
    with TreeSampler(process.pid) as sampler:
        try:
            output, _ = process.communicate(timeout=remaining())
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise TimeLimitError() from None
    seconds = time.perf_counter() - started
    stages = json.loads(stage_file.read_text()) if stage_file.exists() else {}
    peaks = sampler.process_peaks_kb
    return Run(
        seconds,
        sampler.peak_kb / 1024,
        output,
        process.returncode,
        sampler.cpu.get(process.pid, 0.0),
        sampler.descendants_cpu(),
        stages,
        peaks.get(process.pid, 0) / 1024,
        sorted((kb / 1024 for pid, kb in peaks.items() if pid != process.pid), reverse=True),
    )


def report_stages(run: Run, articles: int, floor_cpu: float | None) -> None:
    """CPU per article by stage and process, beside the trafilatura floor's."""
    if not run.stages:
        print("stages: none written (FEEDS_STAGE_TIMES)")
        return
    parent: dict[str, float] = run.stages["parent"]
    workers: dict[str, float] = run.stages["workers"]
    rows = [("parent", name, seconds) for name, seconds in parent.items()]
    rows.append(("parent", "other", run.parent_cpu - sum(parent.values())))
    rows += [("workers", name, seconds) for name, seconds in workers.items()]
    rows.append(("workers", "other (fork server, IPC)", run.children_cpu - sum(workers.values())))
    print(f"{'process':<8} {'stage':<26} {'CPU s':>7} {'ms/article':>10}")
    for process, name, seconds in rows:
        print(f"{process:<8} {name:<26} {seconds:7.2f} {1000 * seconds / articles:10.2f}")
    total = run.parent_cpu + run.children_cpu
    print(f"{'all':<8} {'':<26} {total:7.2f} {1000 * total / articles:10.2f}")
    if floor_cpu:
        print(
            f"{'floor':<8} {'plain trafilatura + meta':<26} {floor_cpu:7.2f} "
            f"{1000 * floor_cpu / articles:10.2f}   (cold run's CPU: {total / floor_cpu:.2f}x)"
        )
    others = ", ".join(f"{mb:.0f}" for mb in run.others_peak_mb)
    print(
        f"peak PSS: tree {run.peak_mb:.0f} MB; feeds {run.parent_peak_mb:.0f} MB; "
        f"the others {others} MB"
    )


def totals(output: str) -> dict[str, int]:
    """New, unchanged, duplicate and failed articles summed over the summary lines."""
    counts = {"new": 0, "unchanged": 0, "duplicate": 0, "failed": 0}
    for line in output.splitlines():
        if ": " in line and " new, " in line:
            for part in line.split(": ", 1)[1].split(" (")[0].split(", "):
                number, _, word = part.partition(" ")
                if word in counts and number.isdigit():
                    counts[word] += int(number)
    return counts


def requests_by_host(sims: list[SiteSim], since: dict[str, int]) -> dict[str, list[str]]:
    """Paths requested from each host since the counts in ``since`` (updated)."""
    seen = {}
    for sim in sims:
        sim.collect()
        paths = [hit.path for hit in sim.ordered()]
        seen[sim.host] = paths[since.get(sim.host, 0) :]
        since[sim.host] = len(paths)
    return seen


# scenarios


def floor(bodies: list[bytes], workers: int) -> tuple[float, float]:
    """Seconds to extract and normalise the pages on a pool of ``workers`` processes,
    pool start included, pages already in memory; and the workers' CPU seconds."""
    now = datetime.now(UTC)
    started = time.perf_counter()
    with TreeSampler(os.getpid()) as sampler, ExtractionPool(workers) as pool:
        futures = []
        for number, body in enumerate(bodies):
            url = f"http://127.0.0.2/a/{number}"
            page = Page(url, url, 200, "text/html", body, detect_encoding(body, "text/html"), now)
            futures.append(pool.submit(ArticleJob(page, Link(url, "bench"), "bench", now)))
            remaining()
        for future in futures:
            outcome_of(future)
    seconds = time.perf_counter() - started
    return seconds, sampler.descendants_cpu()


def _trafilatura_article(job: tuple[str, bytes]) -> bool:
    """Plain trafilatura on one page, as a user calls it for an article and its metadata."""
    import trafilatura

    url, body = job
    return trafilatura.bare_extraction(body, url=url, with_metadata=True) is not None


def trafilatura_floor(bodies: list[bytes], workers: int) -> tuple[float, float]:
    """Seconds for plain trafilatura (the text and the metadata) to extract the pages on
    ``workers`` processes (pool start included, pages in memory), and their CPU seconds:
    what no run that extracts with trafilatura can beat."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    jobs = [(f"http://127.0.0.2/a/{number}", body) for number, body in enumerate(bodies)]
    started = time.perf_counter()
    context = multiprocessing.get_context("forkserver")
    with (
        TreeSampler(os.getpid()) as sampler,
        ProcessPoolExecutor(workers, mp_context=context) as pool,
    ):
        for _ in pool.map(_trafilatura_article, jobs, chunksize=4):
            remaining()
    seconds = time.perf_counter() - started
    return seconds, sampler.descendants_cpu()


def main_feeds(
    directory: Path,
    count: int,
    args: argparse.Namespace,
    bodies: list[bytes],
    stack: ExitStack,
    settings: str = "",
) -> tuple[Path, list[SiteSim], list[BenchFeed]]:
    """The sites and config of a run with ``count`` articles."""
    sims = [
        SiteSim(f"127.0.0.{2 + n}", latency=args.latency, forked=True) for n in range(args.hosts)
    ]
    feeds = []
    for number in range(args.feeds):
        articles = count // args.feeds + (number < count % args.feeds)  # shared out evenly
        feeds.append(BenchFeed(f"f{number}", sims[number % len(sims)], KINDS[number % 3], articles))
    start = 0
    for feed in feeds:
        serve_feed(feed, rotated(bodies, start, feed.articles))
        start += feed.articles
    for sim in sims:
        stack.enter_context(sim)
    config = write_config(directory, feeds, "  per_host_delay: 0\n" + settings)
    return config, sims, feeds


def rotated(bodies: list[bytes], start: int, count: int) -> list[bytes]:
    """``count`` pages from ``bodies``, from ``start`` on, going round."""
    return [bodies[(start + n) % len(bodies)] for n in range(count)]


def report_run(label: str, run: Run, articles: int, by_host: dict[str, list[str]]) -> None:
    counts = totals(run.output)
    article_requests = sum(1 for paths in by_host.values() for p in paths if "/a/" in p)
    per_host = ", ".join(f"{host} {len(paths)}" for host, paths in by_host.items())
    print(
        f"{label:<7} {run.seconds:7.1f} s  {articles / run.seconds:6.1f} articles/s  "
        f"peak {run.peak_mb:6.0f} MB  new {counts['new']}, unchanged {counts['unchanged']}, "
        f"duplicate {counts['duplicate']}, failed {counts['failed']}; "
        f"{article_requests} article requests; requests per host: {per_host}"
        + ("" if run.status == 0 else f"  (exit status {run.status})")
    )


def scale_scenarios(args: argparse.Namespace, only: set[str]) -> None:
    bodies = dataset_pages(args.pages)
    for count in (args.articles, args.large):
        if count < args.feeds:
            sys.exit(f"{count} articles for {args.feeds} feeds: give at least one per feed")
        if -(-count // args.feeds) > len(bodies):
            sys.exit(
                f"{count} articles in {args.feeds} feeds: more per feed than the dataset's "
                f"{len(bodies)} distinct pages; give more --feeds"
            )
    workers = default_workers()

    floor_cpus: list[float] = []

    def measure_floor(when: str) -> float:
        pages = rotated(bodies, 0, args.articles)
        seconds, cpu = floor(pages, workers)
        print(
            f"floor   {seconds:7.1f} s  {args.articles / seconds:6.1f} articles/s  "
            f"(feeds' extraction alone, {workers} worker processes, CPU {cpu:.1f} s; {when})"
        )
        plain, plain_cpu = trafilatura_floor(pages, workers)
        print(
            f"trafilatura {plain:5.1f} s  {args.articles / plain:6.1f} articles/s  (plain "
            f"trafilatura with metadata, {workers} processes, CPU {plain_cpu:.1f} s; {when})"
        )
        floor_cpus.append(plain_cpu)
        return plain

    floors = [measure_floor("before the first cold run")] if "floor" in only else []
    cold: Run | None = None
    ratios: list[float] = []
    repeats = 0  # cold runs: several only to be compared with floors
    if only & {"cold", "warm", "memory"}:
        repeats = args.repeat if floors else 1
    for repeat in range(repeats):
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            config, sims, feeds = main_feeds(Path(tmp), args.articles, args, bodies, stack)
            if repeat == 0:
                print(
                    f"site: {args.articles} articles in {len(feeds)} feeds (distinct real "
                    f"pages in each) on {len(sims)} hosts, {args.latency * 1000:.0f} ms latency"
                )
            since: dict[str, int] = {}
            sims_cpu = sum(cpu_seconds(sim.pid) for sim in sims)
            cold = run_feeds_once(config)
            sims_cpu = sum(cpu_seconds(sim.pid) for sim in sims) - sims_cpu
            report_run("cold", cold, args.articles, requests_by_host(sims, since))
            all_cpu = cold.parent_cpu + cold.children_cpu + sims_cpu
            print(
                f"cold CPU: feeds {cold.parent_cpu:.1f} s, its workers {cold.children_cpu:.1f} s, "
                f"site simulators {sims_cpu:.1f} s; all over the workers': "
                + (f"{all_cpu / cold.children_cpu:.2f}x" if cold.children_cpu else "n/a")
            )
            if floors:
                # the machine's speed drifts with its neighbours' load: each cold run is
                # compared with the floors taken on either side of it
                floors.append(measure_floor("after it"))
                bracket = (floors[-2] + floors[-1]) / 2
                ratios.append(cold.seconds / bracket)
                report_stages(cold, args.articles, statistics.mean(floor_cpus[-2:]))
                print(
                    f"cold/trafilatura: {ratios[-1]:.2f}x, against the mean floor {bracket:.1f} s "
                    f"(run {repeat + 1} of {repeats})"
                )
            if "warm" in only and repeat == repeats - 1:
                warm = run_feeds_once(config)
                report_run("warm", warm, args.articles, requests_by_host(sims, since))
                print(f"warm/cold: {warm.seconds / cold.seconds:.1%} (target <= 5%)")
    if ratios:
        print(
            f"cold/trafilatura: median {statistics.median(ratios):.2f}x of {len(ratios)} runs "
            f"({', '.join(f'{ratio:.2f}x' for ratio in ratios)}) (target <= 1.25x)"
        )
    if "memory" in only and cold is not None:
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            config, sims, _ = main_feeds(Path(tmp), args.large, args, bodies, stack)
            large = run_feeds_once(config)
            report_run("large", large, args.large, requests_by_host(sims, {}))
            print(
                f"memory: {args.large} articles {large.peak_mb:.0f} MB, {args.articles} "
                f"articles {cold.peak_mb:.0f} MB: {large.peak_mb / cold.peak_mb - 1:+.1%} "
                "(target within 10%)"
            )


def workers_scenario(args: argparse.Namespace) -> None:
    """A cold run with 1, 2 and 4 extraction workers: time and peak memory, the tree's and
    each process's (the workers' bounded by ``extract_recycle_after``)."""
    bodies = dataset_pages(args.pages)
    for workers in (1, 2, 4):
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            settings = f"  extract_workers: {workers}\n"
            config, _, _ = main_feeds(Path(tmp), args.articles, args, bodies, stack, settings)
            run = run_feeds_once(config)
            others = ", ".join(f"{mb:.0f}" for mb in run.others_peak_mb)
            print(
                f"workers {workers}: {run.seconds:6.1f} s, peak PSS of the tree {run.peak_mb:.0f} "
                f"MB (feeds {run.parent_peak_mb:.0f} MB; fork server and workers {others} MB)"
            )


def polite_scenario(args: argparse.Namespace) -> None:
    hosts, feeds_count, per_feed = 20, 100, 20
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        sims = [
            SiteSim(f"127.0.0.{2 + n}", latency=args.latency, forked=True) for n in range(hosts)
        ]
        feeds = []
        for number in range(feeds_count):
            feed = BenchFeed(f"p{number}", sims[number % hosts], "listing", per_feed)
            articles = numbered_articles(per_feed, prefix=feed.feed_id)
            origin = feed.site.origin
            bodies = [article_html(origin, a, articles).encode() for a in articles]
            serve_feed(feed, bodies)
            feeds.append(feed)
        for sim in sims:
            stack.enter_context(sim)
        config = write_config(Path(tmp), feeds, "")
        run = run_feeds_once(config)
        by_host = requests_by_host(sims, {})
        delay = load_config(config).settings.per_host_delay.total_seconds()
        bound = max(len(paths) - 1 for paths in by_host.values()) * delay
        counts = totals(run.output)
        print(
            f"polite  {run.seconds:7.1f} s  {feeds_count} feeds on {hosts} hosts, "
            f"{per_feed} articles each, {delay:.0f} request/s per host: "
            f"{sum(len(p) for p in by_host.values())} requests, new {counts['new']}; "
            f"per-host bound {bound:.0f} s: {run.seconds / bound:.2f}x (target <= 1.2x)"
        )


def main() -> None:
    global DEADLINE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=Path, default=ROOT.parent / "shared/datasets/news-pages")
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--large", type=int, default=5000)
    parser.add_argument("--feeds", type=int, default=40)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument(
        "--repeat", type=int, default=3, help="cold runs, each between two floors (median)"
    )
    parser.add_argument("--only", default="floor,cold,warm,memory,workers,polite")
    parser.add_argument("--time-limit", type=float, default=1800)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat: at least one cold run")
    DEADLINE = time.monotonic() + args.time_limit
    only = set(args.only.split(","))
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    try:
        if only & {"floor", "cold", "warm", "memory"}:
            scale_scenarios(args, only)
        if "workers" in only:
            workers_scenario(args)
        if "polite" in only:
            polite_scenario(args)
    except TimeLimitError:
        sys.exit(f"stopped: the time limit ({args.time_limit:.0f} s) was reached")


if __name__ == "__main__":
    main()
