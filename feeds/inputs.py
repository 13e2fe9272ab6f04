"""The stages' inputs, made from the config: fetch and request options, the fetcher and
the extraction workers a config asks for. The stages take these small typed values (or
Protocols the config's models meet, ``sources.rules``, ``extraction.rules``) and never
import the config themselves; this module is where the two meet."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from feeds.config import Config, Settings, SourceConfig
from feeds.extraction.workers import ExtractionPool
from feeds.fetching.addresses import AddressGuard, Trust
from feeds.fetching.client import Fetcher, FetchOptions, RequestOptions
from feeds.fetching.clock import SYSTEM_CLOCK, MonotonicClock
from feeds.fetching.hosts import Gates, Politeness


def fetch_options(settings: Settings) -> FetchOptions:
    """The fetch options the settings ask for."""
    return FetchOptions(
        user_agent=settings.user_agent,
        timeout=settings.timeout.total_seconds(),
        connect_timeout=min(settings.connect_timeout, settings.timeout).total_seconds(),
        max_bytes=int(settings.max_page_size),
        retries=settings.retries,
        backoff=settings.retry_delay.total_seconds(),
        retry_after_limit=settings.retry_after_limit.total_seconds(),
        render_pages=settings.render_pages,
        render_memory=int(settings.render_memory),
        politeness=Politeness(
            per_host_concurrency=settings.per_host_concurrency,
            per_host_delay=settings.per_host_delay.total_seconds(),
            concurrency=settings.concurrency,
            max_wait=settings.max_retry_wait.total_seconds(),
        ),
    )


def request_options(source: SourceConfig, trust: Trust | None = None) -> RequestOptions:
    """The request options of a configured source (of a feed trusting ``trust``)."""
    return RequestOptions(
        headers=tuple(source.headers.items()),
        cookies=tuple(source.cookies.items()),
        user_agent=source.user_agent,
        proxy=source.proxy,
        obey_robots=source.robots == "obey",
        trust=trust,
        render=source.render,
    )


def fetcher_for(
    config: Config | None,
    *,
    extra_roots: Sequence[Path] = (),
    extra_urls: Sequence[str] = (),
    clock: MonotonicClock = SYSTEM_CLOCK,
) -> Fetcher:
    """The fetcher of a config (its settings, local roots and trusted hosts), with
    ``extra_urls`` trusted too (URLs the user gave on the command line)."""
    settings, roots, urls, domains = (
        (Settings(), (), (), ())
        if config is None
        else (config.settings, config.local_roots, config.trusted_urls, config.trusted_domains)
    )
    options = fetch_options(settings)
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
    from feeds.cluster.politeness import SharedGates

    # a request holds a host's slot for its download at most, and then some
    lease = settings.connect_timeout.total_seconds() + settings.timeout.total_seconds() + 30
    return SharedGates(
        settings.cluster.politeness_url, politeness, lease=lease, prefix=settings.cluster.prefix
    )


def follow(fetcher: Fetcher, config: Config) -> None:
    """Have a running fetcher take up a reloaded config's local roots and hosts."""
    fetcher.follow(config.local_roots, config.trusted_urls, config.trusted_domains)


def extraction_pool(settings: Settings) -> ExtractionPool:
    """The extraction workers the settings ask for (``extract_workers``, ``extract_timeout``)."""
    return ExtractionPool(
        settings.extract_workers, time_limit=settings.extract_timeout.total_seconds()
    )
