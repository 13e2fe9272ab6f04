"""Embeds and captions recovered into extracted articles; leftovers removed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from feeds.extraction.article import extract_article
from feeds.extraction.leftovers import drop_leftovers
from feeds.extraction.media import attach_captions, restore_media
from feeds.html import parse_document, parse_fragment, to_html
from feeds.models import Page

BASE = "https://herald.example/news/story"
INTRO = "The ferry timetable changes in April, and here is what the operator says about it."
OUTRO = "Season tickets will keep their current price until the end of the year, it said."


def article_and_page(embed: str) -> tuple[str, str]:
    page = (
        f"<html><body><article><p>{INTRO}</p>{embed}<p>{OUTRO}</p></article>"
        "<aside><p>Our sidebar has its own widget, with its own long description here.</p>"
        '<iframe src="https://www.youtube.com/embed/SIDEBAR0000"></iframe></aside></body></html>'
    )
    return f"<p>{INTRO}</p><p>{OUTRO}</p>", page


@pytest.mark.parametrize(
    ("embed", "expected"),
    [
        (
            '<iframe src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ?start=3" title="The ferry"></iframe>',
            '<figure><a href="https://www.youtube.com/watch?v=dQw4w9WgXcQ"><img src="https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg" alt="Video: The ferry" data-feeds-embed=""></a>'
            '<figcaption><a href="https://www.youtube.com/watch?v=dQw4w9WgXcQ">The ferry (YouTube)</a></figcaption></figure>',
        ),
        (
            '<iframe data-src="https://player.vimeo.com/video/76979871" title="Harbour"></iframe>',
            '<figure><figcaption><a href="https://vimeo.com/76979871">Harbour (Vimeo)</a></figcaption></figure>',
        ),
        (
            '<iframe src="//www.dailymotion.com/embed/video/x7tgad0"></iframe>',
            '<figure><a href="https://www.dailymotion.com/video/x7tgad0"><img src="https://www.dailymotion.com/thumbnail/video/x7tgad0" alt="Video: Video" data-feeds-embed=""></a>'
            '<figcaption><a href="https://www.dailymotion.com/video/x7tgad0">Video (Dailymotion)</a></figcaption></figure>',
        ),
        (
            '<iframe src="https://open.spotify.com/embed/episode/abc" title="The podcast"></iframe>',
            '<figure><figcaption><a href="https://open.spotify.com/embed/episode/abc">The podcast (Spotify)</a></figcaption></figure>',
        ),
        (
            '<video poster="/img/poster.jpg" controls><source src="/media/ferry.mp4" type="video/mp4"></video>',
            '<figure><a href="https://herald.example/media/ferry.mp4"><img src="https://herald.example/img/poster.jpg" alt="Video: Video" data-feeds-embed=""></a>'
            '<figcaption><a href="https://herald.example/media/ferry.mp4">Video (file)</a></figcaption></figure>',
        ),
        (
            '<audio src="/media/interview.mp3"></audio>',
            '<figure><figcaption><a href="https://herald.example/media/interview.mp3">Audio (file)</a></figcaption></figure>',
        ),
    ],
    ids=["youtube", "vimeo", "dailymotion", "spotify", "video", "audio"],
)
def test_embeds_become_links_in_place(embed: str, expected: str) -> None:
    article_html, page_html = article_and_page(embed)
    article = parse_fragment(article_html)
    restore_media(article, parse_document(page_html), BASE, images=False)
    assert to_html(article, inner=True) == f"<p>{INTRO}</p>{expected}<p>{OUTRO}</p>"


def test_unknown_iframes_and_sidebar_embeds_stay_out() -> None:
    article_html, page_html = article_and_page('<iframe src="https://ads.example/banner"></iframe>')
    article = parse_fragment(article_html)
    restore_media(article, parse_document(page_html), BASE, images=False)
    assert to_html(article, inner=True) == article_html  # no ad, no sidebar video


def test_captions_kept_as_text_go_into_figures_others_become_alt_text() -> None:
    page = parse_document(
        "<html><body><article>"
        '<figure><img data-src="/img/a.jpg" src="data:image/gif;base64,R0"><figcaption>The <b>old</b> pier</figcaption></figure>'
        '<div class="wp-caption"><img src="/img/b.jpg"><p class="wp-caption-text">The new pier</p></div>'
        '<img src="/img/c.jpg"><span class="photo-credit">Photo: Ann Lee</span>'
        '<img src="/img/d.jpg">'
        "</article></body></html>"
    )
    article = parse_fragment(
        '<p>Intro.</p><p><img src="https://herald.example/img/a.jpg" alt="">The old pier</p>'
        '<p>The new pier</p><img src="https://herald.example/img/b.jpg">'
        '<img src="https://herald.example/img/c.jpg"><img src="https://herald.example/img/d.jpg">'
    )
    attach_captions(article, page, BASE)
    html = to_html(article, inner=True)
    # extraction kept this caption as a paragraph: it moves into the image's figure
    assert (
        '<figure><img src="https://herald.example/img/b.jpg"><figcaption>The new pier</figcaption></figure>'
        in html
    )
    assert "<p>The new pier</p>" not in html
    # captions extraction left out are not added as text: they describe the image
    assert '<img src="https://herald.example/img/c.jpg" alt="Photo: Ann Lee">' in html
    assert (
        '<p><img src="https://herald.example/img/a.jpg" alt="The old pier">The old pier</p>' in html
    )
    assert '<img src="https://herald.example/img/d.jpg">' in html and html.count("<figure>") == 1
    assert html.count("Photo: Ann Lee") == 1


def test_seed_article_keeps_its_video_and_caption() -> None:
    from tests.conftest import DATA

    page = Page(
        url=BASE,
        final_url=BASE,
        status=200,
        content_type="text/html",
        body=(DATA / "seed" / "article.html").read_bytes(),
        encoding="utf-8",
        fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    html = extract_article(page).html
    assert "https://www.youtube.com/watch?v=dQw4w9WgXcQ" in html
    assert (
        html.index("A video below shows")
        < html.index("youtube.com/watch")
        < html.index("On the other hand")
    )
    # the closing image comes back; its caption, which extraction left out, is its alt text
    assert 'src="https://herald.example/images/2021/08/kabul-camp.jpg"' in html
    assert 'alt="Displaced Afghan\'s temporary camp"' in html


LONG = "This paragraph is the article itself, and it mentions a newsletter in passing. " * 6


@pytest.mark.parametrize(
    "leftover",
    [
        "Subscribe now to our print edition for the full story.",
        "To continue reading, please subscribe to The Courier.",
        "Already a subscriber? Log in for full access.",
        "Sign up for our newsletter and get the best stories in your inbox.",
        "Never miss the latest news from the harbour.",
        "Follow The Courier on Twitter and Instagram @courier",
        "Download our free app for iOS and Android.",
        "© 2024 The Courier. All rights reserved.",
        "This article contains affiliate links; we may earn a commission.",
        "Leave a comment below.",
        "We want to hear what you think about this article.",
        "Read more: ferry fares rise again",
        "Related stories",
        "Category: Transport",
        "News date : 04/21/2022 Category : Press Releases",
        "page.html - Created 03-10-2004 - Last Modified: 03-10-2004",
        "courier.example.com",
        "The Courier is not responsible for the opinions expressed in comments.",
        "Yоur соntеnt іѕ dеlіvеrеd іnѕtаntlу tо thоuѕаndѕ оf rеаdеrѕ.",  # Cyrillic look-alikes
    ],
)
def test_leftovers_go(leftover: str) -> None:
    root = parse_fragment(f"<p>{LONG}</p><p>{leftover}</p><p>{LONG}</p><p>{LONG}</p><p>{LONG}</p>")
    assert drop_leftovers(root) == 1
    assert leftover not in root.text_content()
    assert root.text_content().count("This paragraph is the article itself") == 24


def test_bylines_on_top_and_bios_at_the_end() -> None:
    root = parse_fragment(
        "<p>By Ann Lee</p>"
        + f"<p>{LONG}</p>" * 4
        + "<p>Ann Lee is a freelance writer based in Lisbon.</p>"
    )
    assert drop_leftovers(root) == 2
    middle = parse_fragment(
        f"<p>{LONG}</p>" * 2 + "<p>Ann Lee is a professor of history.</p>" + f"<p>{LONG}</p>" * 4
    )
    assert drop_leftovers(middle) == 0  # a sentence about someone, not a bio at the end


def test_long_paragraphs_are_never_leftovers() -> None:
    text = "Sign up for the newsletter, the council said, is what residents were told. " * 8
    root = parse_fragment(f"<p>{text}</p>")
    assert drop_leftovers(root) == 0
