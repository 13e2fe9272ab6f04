"""The ``feeds`` command line.

This module holds the commands' options and help only: each command imports what it
runs (``commands.py``) when it runs, so ``feeds --version`` and ``--help`` load nothing
heavy.

``run`` is the service (schedules and serves), ``once`` runs feeds now, ``serve`` serves
the output directory alone, ``check`` validates the config.

Exit status: 0 when everything worked, 1 when a feed failed entirely (or the state is in
use by another feeds process), 2 for a mistake in the config or the command line (nothing
is written then).
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import click

from feeds import __version__
from feeds.cli.logs import limit_heap_fragmentation, setup_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feeds")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The YAML config file [default: $FEEDS_CONFIG, else the first of ./feeds.yaml, "
    "config/feeds.yaml, ~/.config/feeds/feeds.yaml that exists].",
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
    ctx: click.Context,
    config_path: Path | None,
    log_level: str | None,
    log_format: str,
    debug: bool,
) -> None:
    """Turn web pages into full-text RSS, Atom and JSON feeds."""
    service = ctx.invoked_subcommand in ("run", "serve", "worker")
    level = "debug" if debug else log_level or ("info" if service else "warning")
    setup_logging(level, json_lines=log_format == "json")
    if ctx.invoked_subcommand in ("once", "run", "worker"):
        limit_heap_fragmentation()  # before any thread starts
    ctx.obj = {"given_config": config_path, "debug": debug}  # found by the command


@main.command()
@click.option("--online", is_flag=True, help="Also read each source once and try one article.")
@click.option(
    "--site-configs",
    is_flag=True,
    help="Fetch the site configs' test_url pages (of HOSTS, or all) and check test_contains.",
)
@click.argument("hosts", nargs=-1, metavar="[HOSTS]...")
@click.pass_context
def check(ctx: click.Context, online: bool, site_configs: bool, hosts: tuple[str, ...]) -> None:
    """Validate the config file; with --online, try every source too."""
    from feeds.cli import commands

    commands.check(ctx, online, site_configs, hosts)


@main.command()
@click.option(
    "--feed",
    "feed_ids",
    multiple=True,
    metavar="ID",
    help="Run only this feed (repeatable). Default: every feed.",
)
@click.option(
    "--retry",
    is_flag=True,
    help="Read failing sources now, even those waiting for their next attempt.",
)
@click.pass_context
def once(ctx: click.Context, feed_ids: tuple[str, ...], retry: bool) -> None:
    """Run every feed (or the given ones) once, publish, and exit."""
    from feeds.cli import commands

    commands.once(ctx, feed_ids, retry)


@main.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Write a starter config file (at --config or $FEEDS_CONFIG, else ./feeds.yaml)."""
    from feeds.cli import commands

    commands.init(ctx)


@main.command()
@click.argument("feed_ids", metavar="FEED", nargs=-1, required=True)
@click.pass_context
def reextract(ctx: click.Context, feed_ids: tuple[str, ...]) -> None:
    """Extract these feeds' items again from their stored pages (no fetching)."""
    from feeds.cli import commands

    commands.reextract(ctx, feed_ids)


@main.command()
@click.argument("feed_ids", metavar="FEED", nargs=-1, required=True)
@click.pass_context
def refresh(ctx: click.Context, feed_ids: tuple[str, ...]) -> None:
    """Ask the running service (`feeds run`) to run these feeds now."""
    from feeds.cli import commands

    commands.refresh(ctx, feed_ids)


@main.command()
@click.argument("feed_id", metavar="FEED")
@click.pass_context
def remove(ctx: click.Context, feed_id: str) -> None:
    """Remove a feed from the config and its files from the output directory."""
    from feeds.cli import commands

    commands.remove(ctx, feed_id)


@main.command()
@click.argument("url")
@click.option("--write", is_flag=True, help="Append the suggested feed to the config file.")
@click.option("--id", "feed_id", metavar="ID", help="The new feed's id (default: the site's name).")
@click.option("--title", metavar="TEXT", help="The new feed's title (default: the source's).")
@click.option(
    "--kind",
    type=click.Choice(["feed", "listing", "sitemap"]),
    help="Follow the candidate of this kind (default: a feed, else a listing, else sitemaps).",
)
@click.option("--links", metavar="SELECTOR", help="Follow the links this selector picks.")
@click.option(
    "--render",
    is_flag=True,
    help="Load the page in headless Chromium first (for pages whose scripts write it).",
)
@click.pass_context
def add(ctx: click.Context, /, **options: Any) -> None:
    """Find how to follow a site, list the candidates, and print (or --write) an entry."""
    from feeds.cli import commands

    commands.add(ctx, **options)


@main.command()
@click.argument("target", required=False)
@click.option(
    "--source", "source_target", metavar="URL|PATH", help="Show the links a source yields."
)
@click.option("--feed", "feed_id", metavar="ID", help="Use this feed's rules.")
@click.option("--url", "saved_url", metavar="URL", help="Where a saved page was saved from.")
@click.option("--links", metavar="SELECTOR", help="With --source: try this `links` selector.")
@click.option("--body", metavar="SELECTOR", help="With an article: try this `body` rule.")
@click.option(
    "--render",
    is_flag=True,
    default=None,
    help="Load the pages in headless Chromium first (as `render: true` does).",
)
@click.option(
    "--remove",
    metavar="SELECTOR",
    multiple=True,
    help="With an article: try this `remove` rule too (repeatable).",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "html", "json"]),
    default="text",
    show_default=True,
    help="text: readable; html: the item's HTML; json: the item as published.",
)
@click.pass_context
def preview(ctx: click.Context, /, **options: Any) -> None:
    """Show what feeds makes of an article (a URL or a saved FILE), or of a source."""
    from feeds.cli import commands

    commands.preview(ctx, **options)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="JSON, for scripts.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """How every feed is doing: last run, result, items, next run, failures, errors."""
    from feeds.cli import commands

    commands.status(ctx, as_json)


@main.command()
@click.option("--no-serve", is_flag=True, help="Do not serve the output directory over HTTP.")
@click.option(
    "--metrics-port",
    type=click.IntRange(min=0, max=65535),
    metavar="PORT",
    help="Serve /metrics on this port too (for a scheduler run with --no-serve).",
)
@click.pass_context
def run(ctx: click.Context, no_serve: bool, metrics_port: int | None) -> None:
    """Run as a service: every feed on its schedule, output served over HTTP."""
    from feeds.cli import commands

    commands.run(ctx, no_serve, metrics_port)


@main.command()
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    metavar="N",
    help="Feed runs at once (default: settings.cluster.worker_threads).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(min=0, max=65535),
    metavar="PORT",
    help="Serve /metrics on this port (0: a free one; default: settings.cluster.metrics_port).",
)
@click.pass_context
def worker(ctx: click.Context, threads: int | None, metrics_port: int | None) -> None:
    """Run the feed runs a cluster's scheduler queues (settings.cluster)."""
    from feeds.cli import commands

    commands.worker(ctx, threads, metrics_port)


@main.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Serve the output directory over HTTP (and /healthz), without running feeds."""
    from feeds.cli import commands

    commands.serve(ctx)


def entry() -> None:
    """The ``feeds`` command (and ``python -m feeds``): ``main``, then an exit without
    the interpreter's last collection of the objects the command leaves, which the
    process's end frees anyway: it cost every command 0.2 s (a fifth of a run with
    nothing new). Files, logs and the state are closed before, by the command."""
    try:
        main()
    finally:
        gc.freeze()
