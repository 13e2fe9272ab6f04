"""What ``feeds check --online`` and ``feeds preview`` show: a source read as a run reads
it (rule by rule, what its filters kept, why it fails), an article as it would be
published (text, JSON or HTML)."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from feeds.config import Config, ExtractRules, Feed, SourceConfig, with_options
from feeds.errors import ExtractionError, FeedsError
from feeds.extraction.article import extract_article
from feeds.extraction.normalise import normalise
from feeds.extraction.rules import layered
from feeds.extraction.site_config import SiteConfig
from feeds.fetching.client import Fetcher, RequestOptions, saved_page
from feeds.html import block_text, parse_fragment
from feeds.models import Link, Page
from feeds.publishing.channel import display_html
from feeds.publishing.json_feed import json_feed_item
from feeds.run.articles import extract_with_parts
from feeds.run.discovery import Discovered, read_source
from feeds.run.feed import utc_now
from feeds.run.options import request_options
from feeds.run.policy import links_verdict
from feeds.storage.interface import SourceHealth, Validators
from feeds.urls import is_web_url


def check_source(feed: Feed, source: SourceConfig, fetcher: Fetcher) -> tuple[str, bool]:
    """One line on what a source yields now (read as the run reads it), and whether it
    yields anything."""
    where = f"{feed.id}: {source.location}"
    request = request_options(source)
    try:
        found = read_pages(source, feed, fetcher)
    except FeedsError as exc:
        return f"{where}: FAILED: {exc}", False
    if not found.links:
        failure = links_failure(found, source) or "no article links"
        return f"{where}: FAILED: {failure} ({found.kind})", False
    sample = found.links[0]
    try:
        article = extract_with_parts(
            fetcher.fetch(sample.url, request=request), feed.rules_for(source), fetcher, request
        )
    except FeedsError as exc:
        return f"{where}: {len(found.links)} links ({found.kind}); sample FAILED: {exc}", False
    words = len(article.text.split())
    title = article.title or sample.title_hint or sample.url
    return (
        f'{where}: {len(found.links)} links ({found.kind}); sample "{title}", {words} words',
        True,
    )


def read_pages(source: SourceConfig, feed: Feed | None, fetcher: Fetcher) -> Discovered:
    """A source's pages read as a run reads them (its start pages, its further pages,
    its rules and filters), without the saved validators."""
    found = read_source(
        source,
        request_options(source),
        fetcher=fetcher,
        saved=lambda url: Validators(),
        max_age=feed.max_age_for(source) if feed else None,
        now=utc_now(),
    )
    assert found is not None  # nothing was asked conditionally
    return found


def source_to_preview(
    target: str, feed: Feed | None, config: Config | None
) -> tuple[Feed | None, SourceConfig]:
    """The configured source at ``target`` (a URL or a local path) with its feed (the one
    given, else the first feed that has it), else a plain source."""
    if is_web_url(target):
        source = SourceConfig(url=target)
    elif Path(target).exists():
        source = SourceConfig(path=Path(target).resolve())
    else:
        raise click.UsageError(f"{target} is neither an http(s) URL nor a file or directory")
    feeds = [feed] if feed else list(config.feeds.values()) if config else []
    for candidate in feeds:
        for configured in candidate.sources:
            if configured.location == source.location:
                return candidate, configured
    return feed, source


def preview_source(source: SourceConfig, feed: Feed | None, fetcher: Fetcher) -> bool:
    """Show what a source yields, rule by rule; returns whether it yields links."""
    found = read_pages(source, feed, fetcher)
    url = source.location
    rules = f"its `links` selector {source.links!r}" if source.links else "automatic detection"
    if source.item is not None:
        rules = f"its `item` selector {source.item.selector!r}"
    pages = len(found.pages)
    click.echo(
        f"{url}: a {found.kind}, {len(found.links)} article links "
        f"({pages} page{'s' * (pages != 1)} read; {rules} found {found.matched}, "
        f"{len(found.links)} kept by the source's filters)"
    )
    for link in found.links:
        date = f"{link.published_hint:%Y-%m-%d} " if link.published_hint else ""
        click.echo(f"  {date}{link.title_hint or '(no title)'}\n    {link.url}")
    for page in found.pages[1:]:
        click.echo(f"  page read: {page.url}")
    for problem in found.problems:
        click.echo(f"  ! {problem.url}: {problem.message}")
    failure = links_failure(found, source)
    if failure is not None:
        click.echo(f"FAILED: {failure}", err=True)
        return False
    return True


def links_failure(found: Discovered, source: SourceConfig) -> str | None:
    """Why the links a source yielded fail its reading, as a run would say (None: fine)."""
    health = SourceHealth()  # a preview judges this reading alone
    return links_verdict(
        len(found.links), found.empty_fails, health, source.links, source.location
    ).failure


def site_config_tests(site: SiteConfig, fetcher: Fetcher) -> list[tuple[str, bool]]:
    """A line on each of a site config's ``test_url`` pages, and whether its rules still
    find there an article holding each of its ``test_contains``."""
    if not site.test_urls:
        return [(f"{site.path}: no test_url to check", True)]
    lines = []
    for url, wanted in site.test_urls:
        where = f"{site.path}: {url}"
        try:
            article = extract_article(fetcher.fetch(url), site.rules)
        except FeedsError as exc:
            lines.append((f"BROKEN {where}: {exc}", False))
            continue
        missing = [text for text in wanted if text not in article.text]
        if missing:
            shown = ", ".join(repr(text) for text in missing)
            lines.append((f"BROKEN {where}: the article no longer holds {shown}", False))
        else:
            lines.append((f"OK {where}: {len(article.text.split())} words", True))
    return lines


def _against_automatic(page: Page, words: int) -> str:
    """How the rules' text compares with what automatic extraction finds alone: a rule
    that yields far less is likely out of date."""
    try:
        automatic = len(extract_article(page).text.split())
    except ExtractionError:
        return "Automatic extraction alone finds no article on this page."
    if words < automatic / 2:
        return (
            f"warning: the rules give {words} words, automatic extraction alone {automatic}: "
            "a rule may no longer match the site"
        )
    return f"Automatic extraction alone: {automatic} words."


def preview_article(
    target: str,
    saved_url: str | None,
    feed: Feed | None,
    fetcher: Fetcher,
    output: str,
    overrides: dict[str, Any],
    render: bool | None,
) -> None:
    source = feed.sources[0] if feed else None
    request = request_options(source) if source else RequestOptions()
    if render:
        request = replace(request, render=True)
    path = Path(target)
    if is_web_url(target):
        page = fetcher.fetch(target, request=request)
    elif path.is_file():
        page = saved_page(path, saved_url)
    else:
        raise click.UsageError(f"{target} is neither an http(s) URL nor a file")
    own = feed.rules_for(source) if feed and source else None
    if any(overrides.values()):
        own = with_options(own or ExtractRules(), overrides, "--body/--remove")
    site = feed.site_rules(page.final_url) if feed else None
    rules = layered(own, site)
    article = extract_with_parts(page, rules, fetcher, request)
    link = Link(url=page.final_url, source=source.location if source else page.final_url)
    item = normalise(article, link, feed=feed.id if feed else "preview", first_seen=page.fetched_at)
    if output == "json":
        click.echo(json.dumps(json_feed_item(item), indent=1, ensure_ascii=False))
    elif output == "html":
        click.echo(display_html(item))
    else:
        text = block_text(parse_fragment(display_html(item)))
        click.echo(f"Title:     {item.title}")
        click.echo(f"Author:    {item.author or '-'}")
        when = f"{item.published:%Y-%m-%d %H:%M} UTC"
        undated = " (the page gives no date: the time it was read)" if not article.published else ""
        click.echo(f"Published: {when}{undated}")
        click.echo(f"Link:      {item.url}")
        click.echo(f"Image:     {item.image or '-'}")
        click.echo(f"Words:     {len(text.split())}")
        if site is not None:
            click.echo(
                f"Site rules: {site.origin}" + (" (the config's own over them)" if own else "")
            )
        if rules is not None:
            click.echo(_against_automatic(page, len(text.split())))
        click.echo(f"Summary:   {item.summary}\n")
        click.echo("\n\n".join(wrapped(line) for line in text.splitlines()))


def wrapped(line: str) -> str:
    """A paragraph wrapped for the terminal, never breaking a word (at its hyphens, or a
    long URL in the middle)."""
    return textwrap.fill(line, 88, break_on_hyphens=False, break_long_words=False)
