"""Extraction: key sentences in, boilerplate out, metadata from every kind of markup."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from feeds.config import ExtractRules
from feeds.errors import ExtractionError
from feeds.extraction.article import extract_article
from feeds.models import Page
from tests.conftest import DATA
from tests.fakes import fetched_page

URL = "https://news.example/news/world/story"
BODY = "".join(
    f"<p>Paragraph {n} of the story says something substantial about the harbour, the ferry "
    f"and the people who depend on them every single day of the year.</p>"
    for n in range(1, 6)
)


def page(html: str | bytes, url: str = URL) -> Page:
    return fetched_page(html, url)


def document(head: str = "", body: str = BODY, before: str = "") -> str:
    return (
        f"<html lang='en-GB'><head><title>The story | The Herald</title>{head}</head>"
        f"<body><nav><a href='/'>Home</a><a href='/news'>News</a></nav>"
        f"<article>{before}<div class='body'>{body}</div></article>"
        "<footer>Copyright The Herald. All rights reserved.</footer></body></html>"
    )


def test_seed_article() -> None:
    article = extract_article(page((DATA / "seed" / "article.html").read_bytes()))
    assert (
        article.title == "Taliban enter outskirts of Kabul in move to retake whole of Afghanistan"
    )
    assert article.author == "Danny Jones"
    assert article.published == datetime(2021, 8, 15, tzinfo=UTC)
    assert article.language == "en-GB"
    assert article.description == "The US embassy has already begun its evacuation"
    assert (
        article.canonical_url == "https://news.example/news/world/taliban-enter-outskirts-of-kabul"
    )
    assert "Haibatullah Akhundzada" in article.text
    for boilerplate in ("Search icon", "Related links", "Share on Facebook", "All rights reserved"):
        assert boilerplate not in article.text


def test_json_ld_metadata_wins() -> None:
    data = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "The Herald"},
            {
                "@type": ["NewsArticle"],
                "headline": "Ferry timetable changes in April",
                "datePublished": "2024-03-05T09:30:00+01:00",
                "author": [{"@type": "Person", "name": "Ann Lee"}, {"name": "Bo Chen"}],
                "image": {"@type": "ImageObject", "url": "/img/ferry.jpg"},
                "articleSection": "Transport",
                "keywords": "ferry, harbour",
                "publisher": {"name": "The Herald"},
            },
        ],
    }
    html = document(
        head=f'<script type="application/ld+json">{json.dumps(data)}</script>'
        '<meta property="og:title" content="OG title">'
        '<meta property="article:published_time" content="2020-01-01T00:00:00Z">'
    )
    article = extract_article(page(html))
    assert article.title == "Ferry timetable changes in April"
    assert article.author == "Ann Lee, Bo Chen"
    assert article.published == datetime(2024, 3, 5, 8, 30, tzinfo=UTC)
    assert article.image == "https://news.example/img/ferry.jpg"
    assert article.categories[:3] == ("Transport", "ferry", "harbour")


def test_opengraph_and_meta_tags() -> None:
    html = document(
        head='<meta property="og:title" content="Harbour reopens">'
        '<meta property="article:published_time" content="2024-03-05T09:30:00Z">'
        '<meta name="author" content="Ann Lee">'
        '<meta property="og:image" content="https://cdn.example/h.jpg">'
        '<meta property="article:tag" content="harbour"><meta property="article:tag" content="boats">'
        '<meta property="og:description" content="The harbour is open again.">'
    )
    article = extract_article(page(html))
    assert article.title == "Harbour reopens"
    assert article.author == "Ann Lee"
    assert article.published == datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    assert article.image == "https://cdn.example/h.jpg"
    assert article.description == "The harbour is open again."
    assert {"harbour", "boats"} <= set(article.categories)


def test_time_element_and_title_suffix() -> None:
    html = document(
        head='<meta property="og:site_name" content="The Herald">',
        before='<h1>The story</h1><time datetime="2024-02-29T18:00:00-05:00">Feb 29</time>',
    )
    article = extract_article(page(html))
    assert article.title == "The story"
    assert article.published == datetime(2024, 2, 29, 23, 0, tzinfo=UTC)


def test_site_rules_override_everything() -> None:
    html = document(
        before='<h2 class="kicker">Real title here</h2><span class="who">By Cy Twombly</span>'
        '<span class="when">Published 3rd March 2024</span>',
        body=BODY + '<div class="promo">Buy our app now</div>',
    )
    rules = ExtractRules(
        title=".kicker", author=".who", date=".when", body=".body", remove=(".promo",)
    )
    article = extract_article(page(html), rules)
    assert article.title == "Real title here"
    assert article.author == "Cy Twombly"
    assert article.published == datetime(2024, 3, 3, tzinfo=UTC)
    assert "Paragraph 5" in article.text
    assert "Buy our app" not in article.text


def test_body_rule_matching_nothing_falls_back_to_automatic() -> None:
    article = extract_article(page(document()), ExtractRules(body=".no-such-thing"))
    assert "Paragraph 3 of the story" in article.text


def test_json_ld_article_body_when_the_page_has_no_text() -> None:
    data = {"@type": "BlogPosting", "headline": "H", "articleBody": "First para.\n\nSecond para."}
    html = (
        f'<html><head><script type="application/ld+json">{json.dumps(data)}</script></head>'
        "<body><div id='app'></div></body></html>"
    )
    article = extract_article(page(html))
    assert article.html == "<p>First para.</p><p>Second para.</p>"


def test_broken_json_ld_is_ignored() -> None:
    html = document(head='<script type="application/ld+json">{"@type": "NewsArticle",</script>')
    assert extract_article(page(html)).title == "The story"


@pytest.mark.parametrize(
    "html",
    ["<html><body><nav><a href='/'>Home</a></nav></body></html>", "", "<html></html>"],
)
def test_page_without_article_is_an_extraction_error(html: str) -> None:
    with pytest.raises(ExtractionError, match="no article text"):
        extract_article(page(html))


def test_site_rules_take_xpath_as_well_as_css() -> None:
    html = document(
        head="<meta name='author' content='Ada Byline'>",
        before="<h2 class='kicker'>The XPath title</h2><time>2024-03-05</time>",
        body=BODY + "<aside>Read also: something else</aside>",
    )
    rules = ExtractRules(
        title="//h2[@class='kicker']/text()",
        author="//meta[@name='author']/@content",  # an attribute's value
        date="(//time)[1]",
        body="//div[contains(concat(' ', normalize-space(@class), ' '), ' body ')]",
        remove=("//aside",),
    )
    article = extract_article(page(html), rules)
    assert (article.title, article.author) == ("The XPath title", "Ada Byline")
    assert article.published == datetime(2024, 3, 5, tzinfo=UTC)
    assert "Paragraph 5" in article.text and "Read also" not in article.text
    # an XPath this page cannot evaluate finds nothing: automatic extraction goes on
    failing = ExtractRules(body="//div[no-such-function(@class)]")
    assert "Paragraph 3 of the story" in extract_article(page(document()), failing).text
