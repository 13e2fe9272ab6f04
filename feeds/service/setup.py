"""The fetcher and the extraction workers a config asks for: what every process that runs
feeds (``once``, the service, a cluster's worker, the commands that read pages) builds
from its config, per-host politeness shared in Redis in a cluster."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path

from feeds.config import Config, Settings
from feeds.extraction.workers import ExtractionPool
from feeds.extras import require
from feeds.fetching.addresses import AddressGuard
from feeds.fetching.client import Fetcher
from feeds.fetching.clock import SYSTEM_CLOCK, MonotonicClock
from feeds.fetching.hosts import Gates, Politeness
from feeds.run.options import fetch_options


def fetcher_for(
    config: Config | None,
    *,
    extra_roots: Sequence[Path] = (),
    extra_urls: Sequence[str] = (),
    clock: MonotonicClock = SYSTEM_CLOCK,
    retries: int | None = None,
) -> Fetcher:
    """The fetcher of a config (its settings, local roots and trusted hosts), with
    ``extra_urls`` trusted too (URLs the user gave on the command line); ``retries``
    instead of the settings' (0: an address only guessed is tried once)."""
    settings, roots, urls, domains = (
        (Settings(), (), (), ())
        if config is None
        else (config.settings, config.local_roots, config.trusted_urls, config.trusted_domains)
    )
    options = fetch_options(settings)
    if retries is not None:
        options = dataclasses.replace(options, retries=retries)
    return Fetcher(
        options,
        local_roots=(*roots, *extra_roots),
        guard=AddressGuard([*urls, *extra_urls], domains),
        clock=clock,
        gates=None if config is None else shared_gates(settings, options.politeness),
    )


def shared_gates(settings: Settings, politeness: Politeness) -> Gates | None:
    """In a cluster, per-host politeness kept in Redis for every process of it; else
    None (the fetcher's own)."""
    if settings.cluster is None:
        return None
    require("cluster", "settings.cluster")
    from feeds.cluster.politeness import SharedGates

    # a request holds a host's slot for its download at most, and then some
    lease = settings.connect_timeout.total_seconds() + settings.timeout.total_seconds() + 30
    return SharedGates(
        settings.cluster.politeness_url, politeness, lease=lease, prefix=settings.cluster.prefix
    )


def follow(fetcher: Fetcher, config: Config, extra_urls: Iterable[str] = ()) -> None:
    """Have a running fetcher take up a reloaded config's local roots and hosts (and the
    origins of ``extra_urls``: feeds made on demand)."""
    trusted = (*config.trusted_urls, *extra_urls)
    fetcher.follow(config.local_roots, trusted, config.trusted_domains)


def extraction_pool(settings: Settings) -> ExtractionPool:
    """The extraction workers the settings ask for (``extract_workers``, ``extract_timeout``,
    ``extract_recycle_after``)."""
    return ExtractionPool(
        settings.extract_workers,
        time_limit=settings.extract_timeout.total_seconds(),
        recycle_after=settings.extract_recycle_after,
    )
