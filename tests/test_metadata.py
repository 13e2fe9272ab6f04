"""Metadata rules: title suffixes, author names, every date source and its order."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from feeds.extraction.article import extract_article
from feeds.extraction.metadata import clean_author, date_from_url, strip_site_name
from feeds.models import Page
from tests.fakes import fetched_page

BODY = "".join(
    f"<p>Paragraph {n} tells the story of the harbour, its ferry and the people who take it "
    "every morning, whatever the weather and whatever the timetable says.</p>"
    for n in range(4)
)


def page(head: str = "", body: str = BODY, url: str = "https://herald.example/news/story") -> Page:
    html = (
        f"<html><head>{head}</head><body><nav><a href='/'>Home</a></nav>"
        f"<article>{body}</article></body></html>"
    )
    return fetched_page(html, url, fetched_at=datetime(2024, 3, 10, tzinfo=UTC))


@pytest.mark.parametrize(
    ("title", "names", "headline", "clean"),
    [
        ("Ferry fares rise | The Herald", ["The Herald"], None, "Ferry fares rise"),
        ("Ferry fares rise - THE HERALD", ["The Herald"], None, "Ferry fares rise"),
        ("The Herald – Ferry fares rise", ["The Herald"], None, "Ferry fares rise"),
        ("Ferry fares rise » Harbour news", [None], "Ferry fares rise", "Ferry fares rise"),
        ("Ferry fares rise | Harbour news", [], None, "Ferry fares rise | Harbour news"),
        ("Ferry - fares rise", ["Herald"], None, "Ferry - fares rise"),
    ],
)
def test_strip_site_name(
    title: str, names: list[str | None], headline: str | None, clean: str
) -> None:
    assert strip_site_name(title, names, headline) == clean


def test_title_suffix_from_the_page() -> None:
    article = extract_article(
        page(
            head='<title>Ferry fares rise | The Herald</title><meta property="og:site_name" content="The Herald">',
            body="<h1>Ferry fares rise</h1>" + BODY,
        )
    )
    assert article.title == "Ferry fares rise"


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("By Jane Doe", "Jane Doe"),
        ("Written by: Jane Doe", "Jane Doe"),
        ("By Jane Doe, Staff Writer", "Jane Doe"),
        ("Jane Doe | Senior Reporter", "Jane Doe"),
        ("By Ann Lee and Bo Chen, Staff Writers", "Ann Lee, Bo Chen"),
        ("Ann Lee; Bo Chen & Cy Dee", "Ann Lee, Bo Chen, Cy Dee"),
        ("Jane Doe For The Daily Courier", "Jane Doe"),
        ("Jane Doe Courier Staff", "Jane Doe"),
        ("By Jane Doe (@janedoe) jane@courier.example", "Jane Doe"),
        ("DANNY JONES", "Danny Jones"),
        ("admin", None),
        ("No author", None),
        ("", None),
    ],
)
def test_clean_author(text: str, clean: str | None) -> None:
    assert clean_author(text) == clean


@pytest.mark.parametrize(
    ("url", "date"),
    [
        ("https://h.example/2021/08/15/taliban-kabul", datetime(2021, 8, 15, tzinfo=UTC)),
        ("https://h.example/news/2021-08-15-taliban", datetime(2021, 8, 15, tzinfo=UTC)),
        ("https://h.example/20210815/taliban", datetime(2021, 8, 15, tzinfo=UTC)),
        ("https://h.example/2021/08/taliban", None),
        ("https://h.example/2021/13/45/x", None),
        ("https://h.example/story-12345", None),
    ],
)
def test_date_from_url(url: str, date: datetime | None) -> None:
    assert date_from_url(url) == date


JSON_LD = json.dumps(
    {"@type": "NewsArticle", "headline": "H", "datePublished": "2024-03-01T10:00:00+02:00"}
)
META = '<meta property="article:published_time" content="2024-03-02T10:00:00Z">'
TIME = '<time datetime="2024-03-03T10:00:00-05:00">3 March</time>'
DATE_LINE = '<p class="date-line">Published 15th Aug 2021</p>'


@pytest.mark.parametrize(
    ("head", "before", "url", "date", "guessed"),
    [
        (
            f'<script type="application/ld+json">{JSON_LD}</script>{META}',
            TIME + DATE_LINE,
            None,
            datetime(2024, 3, 1, 8, tzinfo=UTC),
            False,
        ),
        (META, TIME + DATE_LINE, None, datetime(2024, 3, 2, 10, tzinfo=UTC), False),
        ("", TIME + DATE_LINE, None, datetime(2024, 3, 3, 15, tzinfo=UTC), False),
        (
            "",
            DATE_LINE,
            "https://herald.example/2022/01/05/story",
            datetime(2022, 1, 5, tzinfo=UTC),
            True,
        ),
        ("", DATE_LINE, None, datetime(2021, 8, 15, tzinfo=UTC), True),
    ],
    ids=["json-ld", "meta", "time", "url", "date line"],
)
def test_date_sources_in_order(
    head: str, before: str, url: str | None, date: datetime, guessed: bool
) -> None:
    article = extract_article(page(head, before + BODY, url or "https://herald.example/news/story"))
    assert article.published == date
    assert article.published.tzinfo is not None
    assert article.date_guessed is guessed


def test_seed_date_line() -> None:
    html = '<div class="meta"><span class="date">15th Aug 2021</span></div>'
    assert extract_article(page("", html + BODY)).published == datetime(2021, 8, 15, tzinfo=UTC)


def test_the_description_is_the_summary_not_a_standfirst() -> None:
    description = "The harbour ferry will run every twenty minutes from April"
    article = extract_article(page(f'<meta name="description" content="{description}">'))
    assert description not in article.html
    assert article.description == description
    repeated = extract_article(
        page(f'<meta name="description" content="{description}">', f"<p>{description}.</p>{BODY}")
    )
    assert repeated.html.count(description) == 1


def test_structured_body_rescues_a_page_extraction_misses() -> None:
    paragraphs = [
        f"Sentence {n} of the full article body, long enough to count as text." for n in range(12)
    ]
    data = {"@type": "NewsArticle", "headline": "H", "articleBody": "\n\n".join(paragraphs)}
    hidden = "".join(f"<p style='display:none'>{p}</p>" for p in paragraphs)
    head = f'<script type="application/ld+json">{json.dumps(data)}</script>'
    article = extract_article(
        page(
            head,
            f"<p>Subscribe to read the whole story today.</p><div class='paywalled'>{hidden}</div>",
        )
    )
    assert all(p in article.text for p in paragraphs)
