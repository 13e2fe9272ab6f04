"""A realistic news site served from 127.0.0.1 by pytest-httpserver, for pipeline tests.

Pages carry what real news sites carry around an article: a header with logo, search and
a section nav, share buttons, a "related links" box, a footer, lazy-loaded captioned
images, JSON-LD or OpenGraph metadata, and canonical links decorated with utm parameters.
Tests change the site between runs (``add``, ``also_at``) and read what was requested.
"""

from __future__ import annotations

import html
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.sitesim import SiteSim

PLACEHOLDER = "data:image/gif;base64,R0lGODlhAQABAAAAACw="
HEADER = """  <header class="masthead">
    <a class="logo" href="/"><img src="/static/logo.svg" alt="The Harbour Herald"></a>
    <form class="search" action="/search"><input name="q"><button>Search the site</button></form>
    <a class="account" href="/login">Sign in to your account</a>
    <nav class="sections"><ul>
      <li><a href="/news/">News</a></li><li><a href="/sport/">Sport</a></li>
      <li><a href="/business/">Business</a></li><li><a href="/culture/">Culture</a></li>
    </ul></nav>
    <div class="cookie-banner">Cookie settings <button>Accept</button></div>
  </header>"""
FOOTER = """  <footer class="site-footer">
    <div class="newsletter">Subscribe to our newsletter <input type="email"></div>
    <ul><li><a href="/about-us/">About us</a></li><li><a href="/contact/">Contact</a></li>
    <li><a href="/privacy-policy/">Privacy policy</a></li></ul>
    <p>&copy; 2024 The Harbour Herald. All rights reserved.</p>
  </footer>"""
BOILERPLATE = (
    "Search the site",
    "Sign in to your account",
    "Share on Facebook",
    "Share on X",
    "Related links",
    "Most read this week",
    "Subscribe to our newsletter",
    "All rights reserved",
    "Cookie settings",
)


@dataclass
class SiteArticle:
    """One article of the simulated site."""

    slug: str
    title: str
    author: str
    published: str  # ISO 8601
    paragraphs: list[str]
    metadata: str = "json-ld"  # "json-ld", "opengraph", "byline" or "none" (no author, no date)
    image: str | None = None
    caption: str | None = None

    @property
    def path(self) -> str:
        return f"/news/{self.published[:10].replace('-', '/')}/{self.slug}"


def default_articles() -> list[SiteArticle]:
    """Three articles, each giving its metadata a different way."""
    return [
        SiteArticle(
            slug="council-approves-riverside-cycle-lanes",
            title="Council approves new cycle lanes along the riverside",
            author="Aisha Rahman",
            published="2024-03-05T09:30:00+00:00",
            metadata="json-ld",
            image="/media/2024/03/cycle-lane.jpg",
            caption="The planned route runs past the old harbour wall",
            paragraphs=[
                "The city council voted on Tuesday evening to build two kilometres of "
                "protected cycle lanes along the riverside road.",
                "Work is due to start in the summer and should take about six months, "
                "during which the road will stay open in one direction.",
                "Campaigners who have asked for the lanes for almost a decade welcomed "
                "the decision but said the route should continue to the railway station.",
                "The scheme will be paid for by a regional transport grant, with the "
                "council covering maintenance from its own budget.",
            ],
        ),
        SiteArticle(
            slug="harbour-ferry-timetable-changes",
            title="Harbour ferry to run every twenty minutes from April",
            author="Jonas Berg",
            published="2024-03-04T14:00:00+00:00",
            metadata="opengraph",
            image="/media/2024/03/ferry.jpg",
            caption="The ferry leaving the north pier",
            paragraphs=[
                "The harbour ferry will run every twenty minutes instead of every half "
                "hour from the first of April, its operator announced.",
                "A second boat, bought second-hand from a lake service in the north, "
                "has been refitted over the winter to make the new timetable possible.",
                "Season tickets will keep their current price until the end of the year.",
            ],
        ),
        SiteArticle(
            slug="library-extends-opening-hours",
            title="Central library extends its evening opening hours",
            author="Marta Costa",
            published="2024-03-01T08:00:00+00:00",
            metadata="byline",
            paragraphs=[
                "The central library will stay open until nine in the evening on weekdays "
                "from next month, after a survey of readers asked for later hours.",
                "The extra hours are paid for by moving two staff positions from the "
                "closed mobile library service, the council said.",
                "Study rooms on the first floor can now be booked online up to a week ahead.",
            ],
        ),
    ]


@dataclass
class NewsSite:
    """The simulated site; ``serve`` registers it on an HTTPServer."""

    server: HTTPServer
    articles: list[SiteArticle] = field(default_factory=default_articles)
    aliases: dict[str, SiteArticle] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return self.server.url_for("/").rstrip("/")

    @property
    def listing_url(self) -> str:
        return self.server.url_for("/news/")

    def url(self, article: SiteArticle) -> str:
        return self.origin + article.path

    def serve(self) -> NewsSite:
        """Start answering: the listing, every article and alias; 404 for anything else."""
        self.server.expect_request("/news/").respond_with_handler(self._listing)
        self.register_articles()
        return self

    def add(self, article: SiteArticle) -> None:
        """Publish a new article at the top of the listing."""
        self.articles.insert(0, article)
        self.register_articles()

    def also_at(self, path: str, article: SiteArticle) -> None:
        """Serve the same article at a second address (canonical unchanged)."""
        self.aliases[path] = article
        self.register_articles()

    def article_requests(self) -> list[str]:
        return [p for p in self.requests if p.startswith("/news/2") or p in self.aliases]

    # handlers

    def _listing(self, request: Request) -> Response:
        self.requests.append(request.path)
        return Response(self.listing_html(), content_type="text/html; charset=utf-8")

    def _article(self, article: SiteArticle) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            self.requests.append(request.path)
            return Response(self.article_html(article), content_type="text/html; charset=utf-8")

        return handler

    def register_articles(self) -> None:
        """(Re-)register a handler for every article and alias."""
        for article in self.articles:
            self.server.expect_request(article.path).respond_with_handler(self._article(article))
        for path, article in self.aliases.items():
            self.server.expect_request(path).respond_with_handler(self._article(article))

    # markup

    def listing_html(self) -> str:
        return listing_html(self.articles, self.aliases)

    def article_html(self, article: SiteArticle) -> str:
        return article_html(self.origin, article, self.articles)


def listing_html(articles: list[SiteArticle], aliases: dict[str, SiteArticle] | None = None) -> str:
    """The site's news listing: teasers in the main column, a sidebar, header and footer."""
    teasers = "\n".join(
        f"""
      <article class="teaser">
        <a class="teaser-image" href="{a.path}"><img src="/media/thumb.jpg" alt=""></a>
        <h2 class="teaser-title"><a href="{a.path}">{html.escape(a.title)}</a></h2>
        <p class="teaser-standfirst">{html.escape(a.paragraphs[0][:90])}...</p>
        <a class="read-more" href="{a.path}?utm_source=homepage&amp;utm_medium=teaser">Read more</a>
      </article>"""
        for a in articles
    )
    most_read = "".join(
        f'<li><a href="{a.path}">{html.escape(a.title)}</a></li>' for a in articles[:2]
    )
    alias_links = "".join(
        f'<li><a href="{path}">{html.escape(a.title)} (live coverage)</a></li>'
        for path, a in (aliases or {}).items()
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>News | The Harbour Herald</title>
<link rel="stylesheet" href="/static/site.css"></head>
<body>
{HEADER}
  <main id="main">
    <h1>News</h1>
    <section class="latest-stories">{teasers}
    </section>
    <section class="live"><ul>{alias_links}</ul></section>
    <a class="pagination-next" href="/news/?page=2">Older stories</a>
  </main>
  <aside class="sidebar"><h3>Most read this week</h3><ol>{most_read}</ol></aside>
{FOOTER}
</body></html>"""


def article_html(origin: str, article: SiteArticle, articles: list[SiteArticle]) -> str:
    """An article page as the site serves it, boilerplate and all."""
    tracking = "utm_source=rss&amp;utm_medium=syndication&amp;utm_campaign=x"
    canonical = f"{origin}{article.path}?{tracking}"
    head = [
        '<meta charset="utf-8">',
        f"<title>{html.escape(article.title)} | The Harbour Herald</title>",
        f'<link rel="canonical" href="{canonical}">',
        '<meta property="og:site_name" content="The Harbour Herald">',
    ]
    if article.metadata == "json-ld":
        data = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": article.title,
            "datePublished": article.published,
            "author": [{"@type": "Person", "name": article.author}],
            "publisher": {"@type": "Organization", "name": "The Harbour Herald"},
        }
        head.append(f'<script type="application/ld+json">{json.dumps(data)}</script>')
    elif article.metadata == "opengraph":
        head += [
            f'<meta property="og:title" content="{html.escape(article.title)}">',
            f'<meta property="article:published_time" content="{article.published}">',
            f'<meta name="author" content="{html.escape(article.author)}">',
        ]
    byline = (
        f'<p class="byline">By <a rel="author" href="/authors/{article.author.lower()}">'
        f"{html.escape(article.author)}</a> · "
        f'<time datetime="{article.published}">{article.published[:10]}</time></p>'
        if article.metadata != "none"
        else ""
    )
    paragraphs = [f"<p>{html.escape(p)}</p>" for p in article.paragraphs]
    if article.image:
        figure = f"""<figure class="article-image">
          <img class="lazyload" src="{PLACEHOLDER}" data-src="{article.image}"
               alt="{html.escape(article.caption or "")}">
          <figcaption>{html.escape(article.caption or "")}</figcaption>
        </figure>"""
        paragraphs.insert(1, figure)
    body = "\n        ".join(paragraphs)
    related = "".join(
        f'<li><a href="{a.path}">{html.escape(a.title)}</a></li>'
        for a in articles
        if a is not article
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>{"".join(head)}</head>
<body>
{HEADER}
  <main id="main">
    <article class="story">
      <h1 class="story-headline">{html.escape(article.title)}</h1>
      {byline}
      <div class="share-tools">
        <a href="https://www.facebook.com/sharer.php?u=x">Share on Facebook</a>
        <a href="https://x.com/intent/post?url=x">Share on X</a>
      </div>
      <div class="story-body">
        {body}
      </div>
      <aside class="related-links"><h3>Related links</h3><ul>{related}</ul></aside>
    </article>
  </main>
{FOOTER}
<script>document.querySelectorAll('img.lazyload').forEach(function(i){{i.src=i.dataset.src}})</script>
</body></html>"""


_WORDS = [
    "harbour",
    "ferry",
    "council",
    "bridge",
    "library",
    "school",
    "market",
    "river",
    "tram",
    "station",
    "museum",
    "park",
    "festival",
    "budget",
    "housing",
    "weather",
    "storm",
    "garden",
    "theatre",
    "clinic",
    "bakery",
    "harvest",
    "lantern",
    "orchestra",
    "cyclist",
    "archive",
    "pier",
    "lighthouse",
    "quarry",
    "orchard",
    "meadow",
    "workshop",
    "canal",
    "glacier",
    "compass",
    "velvet",
    "copper",
    "ember",
    "falcon",
    "granite",
    "hazel",
    "indigo",
    "juniper",
    "kettle",
    "lagoon",
    "maple",
    "nectar",
    "onyx",
    "pebble",
    "quartz",
    "raven",
    "saffron",
    "timber",
    "umber",
    "walnut",
    "yarrow",
]


def numbered_articles(count: int, *, prefix: str = "story") -> list[SiteArticle]:
    """``count`` distinct articles (different words, so none is a near-duplicate of
    another), newest first."""
    articles = []
    for n in range(count):
        rng = random.Random(f"{prefix}-{n}")
        paragraphs = [
            " ".join(rng.choice(_WORDS) for _ in range(40)).capitalize() + "." for _ in range(3)
        ]
        day = 28 - (n % 28)
        articles.append(
            SiteArticle(
                slug=f"{prefix}-{n}-{'-'.join(rng.sample(_WORDS, 3))}",
                title=f"{' '.join(rng.sample(_WORDS, 5)).capitalize()} ({prefix} {n})",
                author=rng.choice(["Aisha Rahman", "Jonas Berg", "Marta Costa"]),
                published=f"2024-02-{day:02d}T{n % 24:02d}:00:00+00:00",
                paragraphs=paragraphs,
            )
        )
    return articles


def serve_news(site: SiteSim, articles: list[SiteArticle], listing: str = "/news/") -> None:
    """Put a listing and its articles on a ``SiteSim``."""
    site.add(listing, listing_html(articles))
    for article in articles:
        site.add(article.path, article_html(site.origin, article, articles))


def rss_xml(origin: str, articles: list[SiteArticle], *, teaser_words: int = 12) -> str:
    """A partial RSS feed of the articles: title, link, date, author, a teaser."""
    items = "".join(
        f"""<item><title>{html.escape(a.title)}</title><link>{origin}{a.path}?utm_source=rss</link>
<guid isPermaLink="false">{a.slug}</guid>
<pubDate>{format_datetime(datetime.fromisoformat(a.published))}</pubDate>
<dc:creator>{html.escape(a.author)}</dc:creator><category>Local</category>
<description>{html.escape(" ".join(a.paragraphs[0].split()[:teaser_words]))}...</description></item>
"""
        for a in articles
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>The Harbour Herald</title><link>{origin}/</link><description>News</description>"
        f"{items}</channel></rss>"
    )


def sitemap_xml(origin: str, entries: list[tuple[str, str]], *, news: bool = False) -> str:
    """A urlset of (path, date) entries; with ``news``, Google News fields (title = path)."""
    rows = []
    for path, date in entries:
        extra = (
            f"<news:news><news:publication><news:name>Herald</news:name>"
            f"<news:language>en</news:language></news:publication>"
            f"<news:publication_date>{date}</news:publication_date>"
            f"<news:title>News title of {path}</news:title></news:news>"
            if news
            else f"<lastmod>{date}</lastmod>"
        )
        rows.append(f"<url><loc>{origin}{path}</loc>{extra}</url>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + "".join(rows) + "</urlset>"
    )
