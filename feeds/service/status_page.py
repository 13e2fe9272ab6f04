"""``/status``: how the feeds are doing, as a page for people (what ``feeds status`` says in
a terminal and ``/healthz`` in JSON). No script; the index's style; every field escaped."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime

from feeds import __version__
from feeds.publishing.channel import page_name, rfc3339
from feeds.publishing.pages import page_head, subscribe_links
from feeds.service.status import FeedStatus, StatusEntry

_STYLE = """    table { border-collapse: collapse; width: 100%; font-size: .9rem; }
    th, td { text-align: left; padding: .25rem .5rem .25rem 0; vertical-align: top; }
    th { border-bottom: 1px solid #999; }
    td.number { text-align: right; }
    tr.failing td:first-child { border-left: 3px solid #b00; padding-left: .3rem; }
    section { margin: 1.2rem 0; overflow-wrap: anywhere; }
    .error { color: #8b0000; white-space: pre-wrap; }
    p { margin: .2rem 0; }"""


def render_status_page(
    entries: Sequence[StatusEntry], now: datetime, cluster_lines: Sequence[str] = ()
) -> bytes:
    """The page: a line of health, a table of feeds (last run, result, items, new in a
    day, next run, failed runs in a row), then each failing feed's whole last error and
    broken sources, with links to its page and files."""
    unhealthy = sum(not entry.status.healthy for entry in entries)
    failing = sum(_failing(entry.status) for entry in entries)
    if not entries:
        summary = "No feed yet."
    elif unhealthy:
        summary = f"{unhealthy} of {len(entries)} feeds are unhealthy (failing run after run)."
    elif failing:
        summary = f"{failing} of {len(entries)} feeds failed their last run."
    else:
        summary = f"All {len(entries)} feeds are healthy."
    rows = "\n".join(_row(entry) for entry in entries)
    details = "\n".join(_details(entry) for entry in entries if _has_details(entry.status))
    cluster = "".join(f"  <p>{html.escape(line)}</p>\n" for line in cluster_lines)
    page = (
        page_head("Feeds: status", "en", "", _STYLE) + "<body>\n"
        "  <h1>Feeds: status</h1>\n"
        f"  <p>{html.escape(summary)} As of {_when(now)}; times in UTC. "
        '<a href="./">All feeds</a>.</p>\n'
        "  <table>\n"
        "    <thead><tr><th>Feed</th><th>Last run</th><th>Result</th><th>Items</th>"
        "<th>New 24h</th><th>Next run</th><th>Failed runs</th></tr></thead>\n"
        f"    <tbody>\n{rows}\n    </tbody>\n"
        "  </table>\n"
        f"{cluster}"
        f"{details}\n"
        f"  <p><small>Made by feeds {__version__}.</small></p>\n"
        "</body>\n</html>\n"
    )
    return page.encode()


def _row(entry: StatusEntry) -> str:
    status = entry.status
    name = html.escape(status.feed)
    feed = (
        f'<a href="{html.escape(page_name(status.feed))}">{name}</a>' if entry.published else name
    )
    if _has_details(status):
        feed += f' (<a href="#{html.escape(status.feed)}">why</a>)'
    result = status.result + (", broken source" if status.broken else "")
    marked = ' class="failing"' if _failing(status) else ""
    return (
        f"      <tr{marked}>"
        f"<td>{feed}{' (on demand)' if entry.on_demand else ''}</td>"
        f"<td>{_when(status.last_run)}</td><td>{html.escape(result)}</td>"
        f'<td class="number">{status.items}</td><td class="number">{status.new_last_day}</td>'
        f'<td>{_when(status.next_run)}</td><td class="number">{status.failed_runs}</td></tr>'
    )


def _failing(status: FeedStatus) -> bool:
    """Unhealthy, or its last run failed: a feed to look at."""
    return not status.healthy or status.result == "failed" or bool(status.broken)


def _has_details(status: FeedStatus) -> bool:
    return bool(status.last_error or status.broken)


def _details(entry: StatusEntry) -> str:
    status = entry.status
    parts = [
        f'  <section id="{html.escape(status.feed)}">',
        f"    <h2>{html.escape(status.feed)}</h2>",
    ]
    if status.last_error:
        parts.append(
            f'    <p>Last error:</p>\n    <p class="error">{html.escape(status.last_error)}</p>'
        )
    for source, reason in status.broken.items():
        parts.append(
            f"    <p>Broken source {html.escape(source)}:</p>\n"
            f'    <p class="error">{html.escape(reason)}</p>'
        )
    if entry.published:
        parts.append(
            f'    <p><a href="{html.escape(page_name(status.feed))}">Its page</a> · '
            f"{subscribe_links(status.feed, entry.formats)}</p>"
        )
    parts.append("  </section>")
    return "\n".join(parts)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return f'<time datetime="{rfc3339(moment)}">{moment:%Y-%m-%d %H:%M}</time>'
