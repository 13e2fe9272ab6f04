"""What a feed's run asks of the fetcher, made from the config: the fetch options of the
settings and the request options of a source. The stages take these small typed values
(or Protocols the config's models meet: ``sources.rules``, ``extraction.rules``) and never
import the config themselves; here the two meet."""

from __future__ import annotations

from dataclasses import replace

from feeds.config import Settings, SourceConfig
from feeds.extraction.rules import SiteRules
from feeds.fetching.addresses import Trust
from feeds.fetching.client import FetchOptions, RequestOptions
from feeds.fetching.hosts import Politeness


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


def with_site_headers(request: RequestOptions, site: SiteRules | None) -> RequestOptions:
    """``request`` with the HTTP headers a site config asks its pages for (the source's own
    headers win over them)."""
    if site is None or not site.headers:
        return request
    own = {name.lower() for name, _ in request.headers}
    added = tuple((name, value) for name, value in site.headers if name.lower() not in own)
    return replace(request, headers=added + request.headers)
