"""What each ``feeds`` command does (``feeds.cli`` holds their options and help).

Exit status: 0 when everything worked, 1 when a feed failed entirely (or the state is in
use by another feeds process), 2 for a mistake in the config or the command line (nothing
is written then).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
import traceback
from collections.abc import Iterable
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from feeds.cli.add import (
    Findings,
    explore,
    feed_entry,
    feed_id_for,
    followed_by,
    web_address,
)
from feeds.cli.preview import (
    check_source,
    preview_article,
    preview_source,
    site_config_tests,
    source_to_preview,
)
from feeds.cli.progress import progress_bars
from feeds.config import (
    Config,
    Settings,
    append_feed,
    check_new_feed_id,
    load_config,
    remove_feed,
    with_options,
    yaml_text,
)
from feeds.config.locate import ConfigLocation, locate_config, starter_paths
from feeds.errors import CannotServeError, ConfigError, FeedsError, FetchError
from feeds.extraction.site_config import SiteConfigs
from feeds.extras import require
from feeds.fetching.browser import browser_available
from feeds.models import RunReport
from feeds.privacy import LOGS
from feeds.run.feed import utc_now
from feeds.run.publish import (
    document_location,
    on_demand_feeds,
    outlet_for,
    publish_feed,
    publish_index,
    remove_feed_documents,
)
from feeds.run.reextract import reextract as reextract_feed
from feeds.service.lock import request_refresh, service_running
from feeds.service.runtime import Runtime
from feeds.service.setup import fetcher_for
from feeds.service.status import ClusterStatus, collect_cluster_status, feed_statuses
from feeds.storage import open_store, state_exists
from feeds.timing import write_stage_times
from feeds.urls import host_key

log = logging.getLogger("feeds")

EXIT_FAILED = 1
EXIT_USAGE = 2
STATUS_COLUMNS = (
    "FEED",
    "LAST RUN (UTC)",
    "RESULT",
    "ITEMS",
    "NEW 24H",
    "NEXT RUN (UTC)",
    "FAILS",
)


def check(ctx: click.Context, online: bool, site_configs: bool, hosts: tuple[str, ...]) -> None:
    """`feeds check`: validate the config file; with --online, try every source too; with
    --site-configs, the site configs' test pages."""
    config = _load(ctx)
    if hosts and not site_configs:
        raise click.UsageError("HOSTS go with --site-configs")
    sources = sum(len(feed.sources) for feed in config.feeds.values())
    click.echo(f"{config.file}: OK, {len(config.feeds)} feeds, {sources} sources")
    for warning in config.warnings:
        click.echo(f"warning: {warning}", err=True)
    rendered = [
        f"{feed.id}: {source.location}"
        for feed in config.feeds.values()
        for source in feed.sources
        if source.render
    ]
    if rendered:
        from feeds.fetching.browser import browser_available

        missing = browser_available()
        if missing is not None:
            click.echo(f"warning: {', '.join(rendered)}: {missing}", err=True)
    if config.site_configs is not None:
        for line in site_config_lines(config.site_configs):
            click.echo(line)
    if site_configs:
        _check_site_configs(config, hosts)
    if not online:
        return
    failures = 0
    with fetcher_for(config) as fetcher:
        for feed in config.feeds.values():
            for source in feed.sources:
                line, ok = check_source(feed, source, fetcher)
                click.echo(line)
                failures += not ok
    if failures:
        sys.exit(EXIT_FAILED)


def _check_site_configs(config: Config, hosts: tuple[str, ...]) -> None:
    """Fetch each site config's ``test_url`` pages (politely: the feeds' fetcher) and check
    that its rules find an article holding each ``test_contains``; exit 1 on a failure."""
    if config.site_configs is None:
        raise click.UsageError("no settings.site_config: there are no site configs to check")
    if hosts:
        found = [config.site_configs.for_host(host) for host in hosts]
        missing = [host for host, site in zip(hosts, found, strict=True) if site is None]
        if missing:
            raise click.UsageError(f"no site config serves {', '.join(missing)}")
        chosen = [site for site in found if site is not None]
    else:
        chosen = [site for site in config.site_configs.all() if site.test_urls]
    failures = 0
    with fetcher_for(config) as fetcher:
        for site in chosen:
            for line, ok in site_config_tests(site, fetcher):
                click.echo(line)
                failures += not ok
    if failures:
        sys.exit(EXIT_FAILED)


def site_config_lines(configs: SiteConfigs) -> list[str]:
    """What ``check`` says of the site config files: how many, the lines that cannot be
    used (file and line), and once each directive that is read but not applied."""
    lines = [f"site configs: {len(configs)} files in {', '.join(map(str, configs.directories))}"]
    for config in configs.all():
        for number, problem in config.mistakes:
            lines.append(f"warning: {config.path}:{number}: {problem}")
    unapplied = configs.unimplemented()
    if unapplied:
        ranked = sorted(unapplied.items(), key=lambda pair: (-pair[1], pair[0]))
        listed = ", ".join(f"{name} ({count} files)" for name, count in ranked)
        lines.append(f"site configs: directives read but not applied: {listed}")
    return lines


def once(ctx: click.Context, feed_ids: tuple[str, ...], retry: bool) -> None:
    """`feeds once`: run every feed (or the given ones) once, publish, and exit."""
    started_cpu = time.process_time()  # the interpreter's start and the imports
    config = _load(ctx)
    for warning in config.warnings:
        log.warning("%s", warning)
    _check_feed_ids(config, feed_ids)
    feeds = [config.feeds[feed_id] for feed_id in feed_ids or config.feeds]
    failures = 0
    with ExitStack() as stack:
        try:
            runtime = stack.enter_context(Runtime(config))
            if not feed_ids:  # the feeds made on demand are kept fresh by `once` too
                with runtime.connect() as store:
                    made = on_demand_feeds(config, store)
                runtime.trust(made)
                feeds += made
        except FeedsError as exc:
            _fail(str(exc), debug=ctx.obj["debug"])
        bars = stack.enter_context(progress_bars(len(feeds)))
        for feed, outcome in runtime.run_feeds(feeds, progress_for=bars.feed, retry=retry):
            bars.feed_finished(feed)
            if isinstance(outcome, Exception):  # one feed's failure or bug stops no other
                kind = "failed" if isinstance(outcome, FeedsError) else "internal error"
                bars.echo(f"{feed.id}: {kind}: {outcome}", err=True)
                if ctx.obj["debug"]:
                    traceback.print_exception(outcome)
                failures += 1
                continue
            bars.echo(_summary(outcome, config.settings))
            failures += outcome.failed_entirely or bool(outcome.broken)
        try:
            runtime.publish_index()
        except FeedsError as exc:
            click.echo(f"index: failed: {exc}", err=True)
            failures += 1
    write_stage_times(started_cpu)
    if failures:
        sys.exit(EXIT_FAILED)


def init(ctx: click.Context) -> None:
    """`feeds init`: write a starter config file (at --config, else the first place a
    config is looked for)."""
    location = _location(ctx)
    if location.exists:
        raise click.UsageError(f"{location.path} exists already; edit it, or give another --config")
    path = location.path
    path.parent.mkdir(parents=True, exist_ok=True)
    paths = starter_paths(path, os.environ, Path.home())
    path.write_text(STARTER_CONFIG.format(**paths), encoding="utf-8")
    found_without_option = locate_config(None).path.absolute() == path.absolute()
    command = "feeds" if found_without_option else f"feeds --config {path}"
    click.echo(f"Wrote {path}. Next: {command} add URL --write")


STARTER_CONFIG = """\
# feeds configuration. Relative paths are relative to this file's directory.
# Add a feed: feeds add URL --write   Check: feeds check --online   Run: feeds once

settings:
  output_dir: {output_dir}       # where feed files are written (and served from)
  state_dir: {state_dir}         # what runs remember; never inside output_dir
  base_url: http://localhost:8080/   # where output_dir is served; used for self links
  interval: 1h
  max_items: 50

feeds:
"""


def reextract(ctx: click.Context, feed_ids: tuple[str, ...]) -> None:
    """`feeds reextract`: the feeds' items made again from their stored pages."""
    config = _load(ctx)
    _check_feed_ids(config, feed_ids)
    try:
        with Runtime(config) as runtime, runtime.connect() as store:
            assert runtime.pool is not None
            for feed_id in feed_ids:
                feed = config.feeds[feed_id]
                again = reextract_feed(feed, store=store, pool=runtime.pool, now=utc_now())
                written = publish_feed(feed, settings=config.settings, store=store)
                files = ", ".join(written) or "files unchanged"
                click.echo(
                    f"{feed_id}: {again.updated} updated, {again.unchanged} unchanged, "
                    f"{again.kept} kept as they were; {files}"
                )
            publish_index(config, store)
    except FeedsError as exc:
        _fail(str(exc), debug=ctx.obj["debug"])


def refresh(ctx: click.Context, feed_ids: tuple[str, ...]) -> None:
    """`feeds refresh`: ask the running service to run feeds now."""
    config = _load(ctx)
    _check_feed_ids(config, feed_ids)
    state_dir = config.settings.state_dir
    if not service_running(state_dir):
        _fail(
            f"no feeds service runs on {state_dir}: run the feeds now with `feeds once --feed ID`"
        )
    for feed_id in feed_ids:
        request_refresh(state_dir, feed_id)
    click.echo(f"Asked the service to run {', '.join(feed_ids)} now (within seconds).")


def remove(ctx: click.Context, feed_id: str) -> None:
    """`feeds remove`: take a feed out of the config, and its files out of the output."""
    config = _load(ctx)
    _check_feed_ids(config, [feed_id])
    served = service_running(config.settings.state_dir)
    try:
        remove_feed(config.file, feed_id)
    except ConfigError as exc:
        _mistake(exc)
    if served:  # the service deletes the files as it takes the config up
        click.echo(
            f"Removed feed {feed_id} from {config.file}; the running service takes the "
            f"config up within seconds and deletes the feed's files then."
        )
        return
    try:
        left = load_config(config.file)
        with open_store(left.settings.state_dir, left.settings.database) as store:
            removed = remove_feed_documents(
                outlet_for(config.settings, store), config.feeds[feed_id]
            )
            publish_index(left, store)
    except ConfigError as exc:
        _mistake(exc)
    except FeedsError as exc:
        _fail(str(exc), debug=ctx.obj["debug"])
    files = ", ".join(removed) or "no files"
    click.echo(f"Removed feed {feed_id} from {config.file}; deleted {files}.")


def add(
    ctx: click.Context,
    url: str,
    write: bool,
    feed_id: str | None,
    title: str | None,
    kind: str | None,
    links: str | None,
    render: bool,
) -> None:
    """`feeds add`: find how to follow a site, list the candidates, and print (or --write)
    a config entry for the best one (or the one chosen)."""
    config = _load_if_any(ctx)
    if feed_id is not None:  # a mistake is said before seconds of fetching
        try:
            check_new_feed_id(config, feed_id)
        except ConfigError as exc:
            raise click.UsageError(f"--id: {exc.message}") from None
    if links and kind not in (None, "listing"):
        raise click.UsageError("--links picks a listing's links: it goes with --kind listing")
    addresses = web_address(url)
    _refuse_followed(config, addresses)
    missing = browser_available()
    if render and missing is not None:
        _fail(f"--render: {missing}")
    findings = _explore_first(ctx, config, addresses, render=render, links=links)
    click.echo(f'On {findings.url} ("{findings.title}"):')
    for number, option in enumerate(findings.options, 1):
        click.echo(f"  {number}. {option.line()}")
    if not findings.options:
        click.echo("  no feed, no article links, no sitemap")
    if findings.scripted:
        advice = f"{missing}; then" if missing else "try"
        click.echo(
            f"  the page seems to write its content with scripts ({findings.scripted}): "
            f"{advice} `feeds add {url} --render`"
        )
    configs = config.site_configs if config is not None else None
    site = configs.for_host(host_key(findings.url)) if configs is not None else None
    if site is not None:
        click.echo(f"  a site config serves this host: {site.path} (its rules extract articles)")
    best = findings.best("listing" if links else kind)
    if best is None:
        if kind:
            _fail(f"--kind {kind}: no candidate of that kind there")
        if findings.options:
            _fail(
                "no candidate is clearly a list of articles: choose one with "
                "`--links SELECTOR` (a selector above), or try the site's news or blog page"
            )
        _fail(
            "found no feed, no article links and no sitemap there; try the site's news or "
            "blog page, or give a selector with `--links SELECTOR`"
        )
    _refuse_followed(config, [best.url])
    taken = set(config.feeds) if config else set()
    feed_id = feed_id or feed_id_for(findings.title, findings.url, taken)
    entry = feed_entry(findings, best, title)
    number = findings.options.index(best) + 1
    click.echo(f"\nSuggested entry ({number}, the {best.kind}; choose with --kind or --links):\n")
    click.echo(yaml_text({"feeds": {feed_id: entry}}))
    if write:
        path = _location(ctx).path
        try:
            append_feed(path, feed_id, entry)
        except ConfigError as exc:
            _mistake(exc)
        click.echo(f"Added feed {feed_id} to {path}.")


def _explore_first(
    ctx: click.Context, config: Config | None, addresses: list[str], **options: Any
) -> Findings:
    """What ``add`` finds at the first of ``addresses`` that can be fetched (a typed
    ``www.example.com``: https, then http)."""
    for number, address in enumerate(addresses):
        guessed = number + 1 < len(addresses)  # once: the next address is the fallback
        try:
            with fetcher_for(
                config, extra_urls=[address], retries=0 if guessed else None
            ) as fetcher:
                return explore(address, fetcher, **options)
        except FetchError as exc:
            if guessed:
                click.echo(f"{address} cannot be read; trying {addresses[number + 1]}", err=True)
                continue
            _fail(str(exc), debug=ctx.obj["debug"])
        except FeedsError as exc:
            _fail(str(exc), debug=ctx.obj["debug"])
    raise AssertionError("no address to explore")


def _refuse_followed(config: Config | None, urls: list[str]) -> None:
    """A mistake (exit 2) when a feed of the config follows one of ``urls`` already."""
    followed = followed_by(config, urls)
    if followed is not None:
        feed_id, source = followed
        click.echo(
            f"feeds: feed {feed_id} follows {source} already; see what it yields with "
            f"`feeds preview --source {source}`, or give it other rules in the config",
            err=True,
        )
        sys.exit(EXIT_USAGE)


def preview(
    ctx: click.Context,
    target: str | None,
    source_target: str | None,
    feed_id: str | None,
    saved_url: str | None,
    links: str | None,
    body: str | None,
    render: bool | None,
    remove: tuple[str, ...],
    output: str,
) -> None:
    """`feeds preview`: what feeds makes of an article (a URL or a saved FILE), or a source."""
    if (target is None) == (source_target is None):
        raise click.UsageError("give an article (URL or FILE) or --source URL|PATH, not both")
    if links and source_target is None:
        raise click.UsageError("--links tries a source's selector: give --source URL|PATH")
    if (body or remove) and target is None:
        raise click.UsageError("--body and --remove try extraction rules: give an article")
    config = _load(ctx) if feed_id else _load_if_any(ctx)
    feed = None
    if feed_id is not None:
        assert config is not None
        _check_feed_ids(config, [feed_id])
        feed = config.feeds[feed_id]
    source = None
    try:
        if source_target is not None:
            feed, source = source_to_preview(source_target, feed, config)
            source = with_options(source, {"links": links}, "--links")
            source = with_options(source, {"render": render}, "--render")
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    extra_roots = (source.path,) if source is not None and source.path is not None else ()
    named = [url for url in (target, saved_url, source_target) if url is not None]
    try:
        with fetcher_for(config, extra_roots=extra_roots, extra_urls=named) as fetcher:
            if source is not None:
                if not preview_source(source, feed, fetcher):
                    sys.exit(EXIT_FAILED)
            else:
                assert target is not None
                overrides = {"body": body, "remove": remove}
                preview_article(target, saved_url, feed, fetcher, output, overrides, render)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    except FeedsError as exc:
        _fail(str(exc), debug=ctx.obj["debug"])


def status(ctx: click.Context, as_json: bool) -> None:
    """`feeds status`: how every feed is doing (last run, result, items, next run, errors)."""
    config = _load(ctx)
    now = utc_now()
    cluster: ClusterStatus | None = None
    if config.settings.database or state_exists(config.settings.state_dir):
        with open_store(config.settings.state_dir, config.settings.database) as store:
            next_run = None
            if config.settings.cluster is not None:
                cluster = collect_cluster_status(store, now, _queue_length(config))
                next_run = {row.feed: row.next_due for row in store.schedule()}.get
            statuses = [entry.status for entry in feed_statuses(config, store, now, next_run)]
    else:
        statuses = []
    unhealthy = any(not s.healthy for s in statuses)
    if as_json:
        click.echo(json.dumps([s.as_json() for s in statuses], indent=1, ensure_ascii=False))
        sys.exit(EXIT_FAILED if unhealthy else 0)
    if not statuses:
        click.echo("no feed has run yet (feeds once, or feeds run)")
        return
    rows = [
        (
            s.feed,
            _when(s.last_run),
            s.result + (", broken" if s.broken else ""),
            str(s.items),
            str(s.new_last_day),
            _when(s.next_run),
            str(s.failed_runs),
        )
        for s in statuses
    ]
    table = Table(box=None, pad_edge=False, header_style="bold")
    for number, column in enumerate(STATUS_COLUMNS):
        width = max(len(column), *(len(row[number]) for row in rows))
        table.add_column(column, no_wrap=True, min_width=width)
    for row in rows:
        table.add_row(*row)
    width = shutil.get_terminal_size().columns
    console = Console(width=width)
    console.print(table)
    for s in statuses:
        if s.last_error:  # whole, wrapped to the terminal
            console.print(f"{s.feed}: last error: {s.last_error}", markup=False, highlight=False)
        for source, reason in s.broken.items():
            console.print(f"BROKEN {s.feed}: {source}: {reason}", highlight=False, markup=False)
    for line in cluster.lines(now) if cluster is not None else ():
        console.print(line, highlight=False, markup=False)
    if unhealthy:
        sys.exit(EXIT_FAILED)


def _queue_length(config: Config) -> int | None:
    """How many runs wait in the cluster's queue (None: the broker cannot say)."""
    require("cluster", "settings.cluster")
    from feeds.cluster.queue import Dispatcher  # Celery only for a cluster

    dispatcher = Dispatcher(config.settings)
    try:
        return dispatcher.queue_length()
    finally:
        dispatcher.close()


def run(ctx: click.Context, no_serve: bool, metrics_port: int | None) -> None:
    """`feeds run`: run as a service: every feed on its schedule, output served over HTTP."""
    from feeds.service.scheduler import Service  # APScheduler and waitress only for the service

    try:
        service = Service(_existing_config(ctx), serve=not no_serve, metrics_port=metrics_port)
    except ConfigError as exc:
        _mistake(exc)
    try:
        sys.exit(service.run())
    except CannotServeError as exc:
        _fail(f"{service.config_path}: {exc}")
    except FeedsError as exc:
        _fail(str(exc))


def worker(ctx: click.Context, threads: int | None, metrics_port: int | None) -> None:
    """`feeds worker`: run the feed runs a cluster's scheduler queues."""
    require("cluster", "feeds worker")
    from feeds.service.worker import run_worker  # Celery only for a cluster

    _load(ctx)  # a mistake is reported before anything starts
    try:
        sys.exit(run_worker(_existing_config(ctx), threads=threads, metrics_port=metrics_port))
    except ConfigError as exc:
        _mistake(exc)
    except CannotServeError as exc:
        _fail(f"{_existing_config(ctx)}: {exc}")
    except FeedsError as exc:
        _fail(str(exc))


def serve(ctx: click.Context) -> None:
    """`feeds serve`: serve the output directory over HTTP (and /healthz), without running feeds."""
    from feeds.service.scheduler import serve_only

    _load(ctx)  # a mistake is reported before anything starts
    try:
        sys.exit(serve_only(_existing_config(ctx)))
    except CannotServeError as exc:
        _fail(f"{_existing_config(ctx)}: {exc}")


def _when(value: datetime | None) -> str:
    return f"{value:%m-%d %H:%M}" if value else "-"


def _summary(report: RunReport, settings: Settings) -> str:
    counts = (
        f"{report.new} new, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.skipped} duplicate, {report.failed} failed"
    )
    if report.postponed:
        counts += f", {report.postponed} new links left for the next runs (max_new_per_run)"
    if report.sources_unchanged:  # a 304 is news: nothing changed there
        pages = "page" if report.sources_unchanged == 1 else "pages"
        counts += f", {report.sources_unchanged} source {pages} unchanged since the last run"
    state = ""
    if report.failed_entirely:
        kept = "previous items kept" if report.items else "nothing published yet"
        state = f"FAILED: no source could be read; {kept}. "
    where = [document_location(settings, name) for name in report.files_written]
    files = ", ".join(where) or "files unchanged"
    if report.failed_entirely and not report.items:
        files = "no files written"
    lines = [f"{report.feed}: {state}{counts} ({report.duration:.1f}s); {files}"]
    lines += [f"  ! {error.url}: {error.message}" for error in report.errors]
    lines += [f"  BROKEN source {error.source}: {error.message}" for error in report.broken]
    return LOGS.redactor("\n".join(lines))  # it goes to a journal too


def _check_feed_ids(config: Config, feed_ids: Iterable[str]) -> None:
    unknown = [feed_id for feed_id in feed_ids if feed_id not in config.feeds]
    if unknown:
        known = ", ".join(config.feeds)
        raise click.UsageError(f"no feed named {', '.join(unknown)} (the config has: {known})")


def _location(ctx: click.Context) -> ConfigLocation:
    """The config file this command uses (``--config``, ``$FEEDS_CONFIG``, or found)."""
    if "config" not in ctx.obj:
        ctx.obj["config"] = locate_config(ctx.obj["given_config"])
    location: ConfigLocation = ctx.obj["config"]
    return location


def _existing_config(ctx: click.Context) -> Path:
    """The config file's path; when there is none, a mistake that says where to make one."""
    location = _location(ctx)
    if not location.exists:
        click.echo(location.missing_message(), err=True)
        sys.exit(EXIT_USAGE)
    return location.path


def _load(ctx: click.Context) -> Config:
    try:
        return load_config(_existing_config(ctx))
    except ConfigError as exc:
        _mistake(exc)


def _load_if_any(ctx: click.Context) -> Config | None:
    """The config, even one with no feed yet (as ``feeds init`` writes it); None when
    there is no config file (``add`` and ``preview`` work without one)."""
    location = _location(ctx)
    if not location.exists:
        return None
    try:
        return load_config(location.path, feeds_required=False)
    except ConfigError as exc:
        _mistake(exc)


def _mistake(error: ConfigError) -> NoReturn:
    """A mistake in the config: said as `file:line: field: what`, exit status 2."""
    click.echo(str(error), err=True)
    sys.exit(EXIT_USAGE)


def _fail(message: str, *, debug: bool = False) -> NoReturn:
    if debug:
        traceback.print_exc()
    click.echo(f"feeds: {message}", err=True)
    sys.exit(EXIT_FAILED)
