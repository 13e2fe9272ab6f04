"""The ``feeds`` command line: ``once`` runs feeds now, ``check`` validates the config.

Exit status: 0 when everything worked, 1 when a feed failed entirely, 2 for a mistake in
the config or the command line (nothing is written then).
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

import click

from feeds import __version__
from feeds.config import Config, load_config
from feeds.errors import ConfigError, FeedsError
from feeds.fetch import Fetcher, FetchOptions
from feeds.models import RunReport
from feeds.pipeline import publish_index, run_feed
from feeds.storage import Store

log = logging.getLogger("feeds")

DEFAULT_CONFIG = Path("config/feeds.yaml")
EXIT_FAILED = 1
EXIT_USAGE = 2
# libraries that log every page they give up on; their news is in our run report
_CHATTY_LOGGERS = ("trafilatura", "htmldate", "courlan", "charset_normalizer", "urllib3")


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
    default="warning",
    show_default=True,
    help="How much to log on standard error.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.pass_context
def main(ctx: click.Context, config_path: Path, log_level: str, debug: bool) -> None:
    """Turn web pages into full-text RSS and Atom feeds."""
    _setup_logging("debug" if debug else log_level)
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
    try:
        store = Store.in_directory(settings.state_dir)
    except FeedsError as exc:
        _fail(str(exc))
    with store, Fetcher(options, local_roots=config.local_roots) as fetcher:
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
            failures += report.failed_entirely
        try:
            publish_index(config, store)
        except FeedsError as exc:
            click.echo(f"index: failed: {exc}", err=True)
            failures += 1
    if failures:
        sys.exit(EXIT_FAILED)


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


def _setup_logging(level: str) -> None:
    numeric = getattr(logging, level.upper())
    logging.basicConfig(
        level=numeric,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(numeric, logging.ERROR))
