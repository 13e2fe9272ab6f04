"""The ``feeds`` command line.

``run`` is the service (schedules and serves), ``once`` runs feeds now, ``serve`` serves
the output directory alone, ``check`` validates the config.

Exit status: 0 when everything worked, 1 when a feed failed entirely (or the state is in
use by another feeds process), 2 for a mistake in the config or the command line (nothing
is written then).
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

import click

from feeds import __version__
from feeds.config import Config, load_config
from feeds.errors import ConfigError, FeedsError
from feeds.fetch import Fetcher, FetchOptions
from feeds.models import RunReport
from feeds.pipeline import publish_index, run_feed
from feeds.storage import StateLock, Store

log = logging.getLogger("feeds")

DEFAULT_CONFIG = Path("config/feeds.yaml")
EXIT_FAILED = 1
EXIT_USAGE = 2
# libraries that log every page they give up on; their news is in our run report
_CHATTY_LOGGERS = (
    "trafilatura",
    "htmldate",
    "courlan",
    "charset_normalizer",
    "urllib3",
    "apscheduler",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feeds")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_CONFIG,
    envvar="FEEDS_CONFIG",
    show_default=True,
    help="The YAML config file (or set FEEDS_CONFIG).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default=None,
    help="How much to log on standard error [default: info for run and serve, else warning].",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per line, for log collectors.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.pass_context
def main(
    ctx: click.Context, config_path: Path, log_level: str | None, log_format: str, debug: bool
) -> None:
    """Turn web pages into full-text RSS, Atom and JSON feeds."""
    service = ctx.invoked_subcommand in ("run", "serve")
    level = "debug" if debug else log_level or ("info" if service else "warning")
    _setup_logging(level, json_lines=log_format == "json")
    ctx.obj = {"config_path": config_path, "debug": debug}


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the config file without running anything."""
    config = _load(ctx)
    sources = sum(len(feed.sources) for feed in config.feeds.values())
    click.echo(f"{config.file}: OK, {len(config.feeds)} feeds, {sources} sources")


@main.command()
@click.option(
    "--feed",
    "feed_ids",
    multiple=True,
    metavar="ID",
    help="Run only this feed (repeatable). Default: every feed.",
)
@click.pass_context
def once(ctx: click.Context, feed_ids: tuple[str, ...]) -> None:
    """Run every feed (or the given ones) once, publish, and exit."""
    config = _load(ctx)
    for warning in config.warnings:
        log.warning("%s", warning)
    unknown = [feed_id for feed_id in feed_ids if feed_id not in config.feeds]
    if unknown:
        known = ", ".join(config.feeds)
        raise click.UsageError(f"no feed named {', '.join(unknown)} (the config has: {known})")
    feeds = [config.feeds[feed_id] for feed_id in feed_ids] if feed_ids else config.feeds.values()
    settings = config.settings
    options = FetchOptions.from_settings(settings)
    failures = 0
    lock = StateLock(settings.state_dir)
    try:
        lock.acquire()
        store = Store.in_directory(settings.state_dir)
    except FeedsError as exc:
        _fail(str(exc))
    with lock, store, Fetcher(options, local_roots=config.local_roots) as fetcher:
        for feed in feeds:
            try:
                report = run_feed(feed, settings=settings, fetcher=fetcher, store=store)
            except FeedsError as exc:
                click.echo(f"{feed.id}: failed: {exc}", err=True)
                failures += 1
                continue
            except Exception as exc:  # one feed's bug must not stop the others
                click.echo(f"{feed.id}: internal error: {exc!r}", err=True)
                if ctx.obj["debug"]:
                    traceback.print_exc()
                failures += 1
                continue
            click.echo(_summary(report, settings.output_dir))
            failures += report.failed_entirely or bool(report.broken)
        try:
            publish_index(config, store)
        except FeedsError as exc:
            click.echo(f"index: failed: {exc}", err=True)
            failures += 1
    if failures:
        sys.exit(EXIT_FAILED)


@main.command()
@click.option("--no-serve", is_flag=True, help="Do not serve the output directory over HTTP.")
@click.pass_context
def run(ctx: click.Context, no_serve: bool) -> None:
    """Run as a service: every feed on its schedule, output served over HTTP."""
    from feeds.service import Service  # APScheduler and waitress only for the service

    try:
        service = Service(ctx.obj["config_path"], serve=not no_serve)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_USAGE)
    try:
        sys.exit(service.run())
    except FeedsError as exc:
        _fail(str(exc))
    except OSError as exc:  # the port is taken, say
        _fail(f"cannot start: {exc}")


@main.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Serve the output directory over HTTP (and /healthz), without running feeds."""
    from feeds.service import serve_only

    _load(ctx)  # a mistake is reported before anything starts
    try:
        sys.exit(serve_only(ctx.obj["config_path"]))
    except OSError as exc:
        _fail(f"cannot start: {exc}")


def _summary(report: RunReport, output_dir: Path) -> str:
    counts = (
        f"{report.new} new, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.skipped} duplicate, {report.failed} failed"
    )
    state = (
        "FAILED: no source could be read; previous items kept. " if report.failed_entirely else ""
    )
    files = ", ".join(str(output_dir / name) for name in report.files_written) or "files unchanged"
    lines = [f"{report.feed}: {state}{counts} ({report.duration:.1f}s); {files}"]
    lines += [f"  ! {error.url}: {error.message}" for error in report.errors]
    lines += [f"  BROKEN source {error.source}: {error.message}" for error in report.broken]
    return "\n".join(lines)


def _load(ctx: click.Context) -> Config:
    try:
        return load_config(ctx.obj["config_path"])
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_USAGE)


def _fail(message: str) -> None:
    click.echo(f"feeds: {message}", err=True)
    sys.exit(EXIT_FAILED)


def _setup_logging(level: str, *, json_lines: bool = False) -> None:
    numeric = getattr(logging, level.upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(numeric, logging.ERROR))


class _JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and a run's figures."""

    FIELDS = ("feed", "new", "updated", "failed", "seconds")

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({key: getattr(record, key) for key in self.FIELDS if hasattr(record, key)})
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)
