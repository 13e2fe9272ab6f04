"""Normalising articles into items: URLs, ids, sanitising, summaries, fingerprints."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from feeds.extraction.normalise import (
    SketchIndex,
    canonical_url,
    clean_html,
    clean_text,
    clean_title,
    fingerprint,
    is_near_duplicate,
    item_id,
    normalise,
    resemblance,
    summarise,
)
from feeds.models import Article, Link
from feeds.urls import clean_url

NOW = datetime(2024, 3, 6, 12, 0, tzinfo=UTC)
BASE = "https://news.example/2024/story"


def article(**fields: object) -> Article:
    values: dict[str, object] = {
        "url": BASE,
        "title": "Story",
        "html": "<p>Text of the story.</p>",
        "text": "Text of the story.",
    }
    values.update(fields)
    return Article(**values)  # type: ignore[arg-type]


LINK = Link(url=BASE + "?utm_source=home", source="https://news.example/")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "HTTPS://News.Example:443/a?utm_source=x&id=3&fbclid=y#frag",
            "https://news.example/a?id=3",
        ),
        ("http://news.example:80", "http://news.example/"),
        ("http://news.example:8080/a", "http://news.example:8080/a"),
        ("https://news.example/a?b=1&a=2", "https://news.example/a?b=1&a=2"),
        ("https://news.example/a?q=x%20y&gclid=1", "https://news.example/a?q=x+y"),
        ("https://news.example/a?utm_campaign=1&mc_eid=2", "https://news.example/a"),
    ],
)
def test_clean_url(url: str, expected: str) -> None:
    assert clean_url(url) == expected


@pytest.mark.parametrize(
    ("canonical", "expected"),
    [
        ("https://news.example/2024/story?utm_medium=rss", "https://news.example/2024/story"),
        ("/2024/story-canonical", BASE),  # relative canonicals are resolved by extract
        ("https://www.news.example/2024/the-story", "https://www.news.example/2024/the-story"),
        ("https://other.example/2024/story", BASE),  # another site: ignored
        ("https://news.example/", BASE),  # the home page: a template mistake, ignored
        (None, BASE),
    ],
)
def test_canonical_url(canonical: str | None, expected: str) -> None:
    assert canonical_url(article(canonical_url=canonical), LINK) == expected


def test_saved_page_may_name_its_real_address() -> None:
    saved = article(url="file:///srv/site/story.html", canonical_url="https://news.example/s")
    assert canonical_url(saved, LINK) == "https://news.example/s"


def test_item_fields() -> None:
    item = normalise(
        article(
            canonical_url="https://news.example/2024/story?utm_source=rss",
            author=" By  Ann\x08 Lee ",
            categories=("News", "News", "Harbour"),
            description="A short standfirst.",
        ),
        LINK,
        feed="harbour",
        first_seen=NOW,
    )
    assert item.id == item_id("https://news.example/2024/story", "harbour")
    assert item.id != item_id("https://news.example/2024/story", "another")
    assert item.id.startswith("urn:uuid:")
    assert item.url == "https://news.example/2024/story"
    assert item.author == "By Ann Lee"
    assert item.categories == ("News", "Harbour")
    assert item.summary == "A short standfirst."
    assert item.published == item.updated == item.first_seen == NOW  # no date: first seen
    assert item.aliases == ("https://news.example/2024/story",)


def test_a_day_without_a_time_takes_the_time_of_day_first_seen() -> None:
    from feeds.extraction.normalise import with_time_of_day

    seen = datetime(2026, 12, 1, 14, 3, 7, tzinfo=UTC)
    assert with_time_of_day(datetime(2019, 11, 15, tzinfo=UTC), seen) == datetime(
        2019, 11, 15, 14, 3, 7, tzinfo=UTC
    )  # the day the page says, at a time no other item of the run has
    exact = datetime(2019, 11, 15, 8, 0, tzinfo=UTC)
    assert with_time_of_day(exact, seen) == exact


def test_link_hints_fill_the_gaps() -> None:
    published = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    link = Link(
        url=BASE,
        source="s",
        published_hint=published,
        author_hint="Feed Author",
        image_hint="/img/hint.jpg",
        summary_hint="From the feed.",
    )
    item = normalise(article(), link, feed="f", first_seen=NOW)
    assert (item.published, item.author, item.summary) == (
        published,
        "Feed Author",
        "From the feed.",
    )
    assert item.image == "https://news.example/img/hint.jpg"


def test_content_urls_are_absolute_and_lazy_images_resolved() -> None:
    html = (
        '<p><a href="../other">other</a> <a href="#note">note</a></p>'
        '<figure><img src="data:image/gif;base64,R0lGOD" data-src="/img/a.jpg" '
        'data-srcset="/img/a-640.jpg 640w, /img/a-1280.jpg 1280w" alt="A">'
        "<figcaption>Caption</figcaption></figure>"
        '<img src="//cdn.example/b.png">'
    )
    cleaned = clean_html(html, base=BASE)
    assert '<a href="https://news.example/other" rel="noopener noreferrer">other</a>' in cleaned
    assert (
        '<a rel="noopener noreferrer">note</a>' in cleaned
        or 'href="https://news.example/2024/story#note"' in cleaned
    )
    assert 'src="https://news.example/img/a.jpg"' in cleaned
    assert (
        'srcset="https://news.example/img/a-640.jpg 640w, https://news.example/img/a-1280.jpg 1280w"'
        in cleaned
    )
    assert "<figcaption>Caption</figcaption>" in cleaned
    assert 'src="https://cdn.example/b.png"' in cleaned
    assert "data:" not in cleaned


@pytest.mark.parametrize(
    "dangerous",
    [
        "<script>alert(1)</script>",
        "<style>body{display:none}</style>",
        '<iframe src="https://evil.example/"></iframe>',
        '<form action="https://evil.example/"><input name="q"><button>Go</button></form>',
        '<a href="javascript:alert(1)">click</a>',
        '<a href=" JaVaScRiPt:alert(1)">click</a>',
        '<img src="x.jpg" onerror="alert(1)">',
        '<p onclick="alert(1)">text</p>',
        '<object data="evil.swf"></object>',
        '<embed src="evil.swf">',
        "<svg><script>alert(1)</script></svg>",
        '<img srcset="javascript:alert(1) 1x">',
    ],
)
def test_sanitising_removes_executable_content(dangerous: str) -> None:
    cleaned = clean_html(f"<p>Before.</p>{dangerous}<p>After.</p>", base=BASE).lower()
    for marker in (
        "<script",
        "<style",
        "<iframe",
        "<form",
        "<input",
        "javascript:",
        "onerror",
        "onclick",
        "<object",
        "<embed",
        "alert(",
    ):
        assert marker not in cleaned
    assert "<p>before.</p>" in cleaned and "<p>after.</p>" in cleaned


def test_headline_repeated_at_the_top_is_dropped() -> None:
    cleaned = clean_html(
        "<h1>The  Story</h1><p>Body.</p><h2>The Story</h2>", base=BASE, title="The story"
    )
    assert cleaned == "<p>Body.</p><h2>The Story</h2>"


def test_heading_after_text_is_kept() -> None:
    cleaned = clean_html("<p>Intro.</p><h2>The story</h2>", base=BASE, title="The story")
    assert cleaned == "<p>Intro.</p><h2>The story</h2>"


@pytest.mark.parametrize(
    ("title", "clean"),
    [
        ("A <b>bold</b> claim", "A bold claim"),
        ("Fish &amp; <em class='x'>chips</em>", "Fish &amp; chips"),
        ("5 < 7 and 9 > 8", "5 < 7 and 9 > 8"),
        ("I <3 N.Y.", "I <3 N.Y."),
        # markup other than inline formatting is text, and stays whole
        ("The <title> element", "The <title> element"),
        ("A guide to <script> tags", "A guide to <script> tags"),
        ("<img/src=x onerror=alert(1)>", "<img/src=x onerror=alert(1)>"),
        # removing formatting never joins what is around it into a new tag
        (
            "<scr<script>ipt>alert(1)</scr</script>ipt>",
            "<scr<script>ipt>alert(1)</scr</script>ipt>",
        ),
        ("<scr<b>ipt>alert(1)</scr<b>ipt>", "<scr<b>ipt>alert(1)</scr<b>ipt>"),
        # bidirectional overrides and isolates go; letters stay
        ("Invoice \u202egnp.exe", "Invoice gnp.exe"),
        ("\u2066Ferry\u2069 fares", "Ferry fares"),
    ],
)
def test_titles_are_plain_text(title: str, clean: str) -> None:
    assert clean_title(title) == clean


def test_xml_illegal_characters_and_empty_paragraphs_removed() -> None:
    assert clean_html("<p>a\x08b\x00c\ufffe</p><p> </p><p></p>", base=BASE) == "<p>abc</p>"
    assert clean_text("  Title\x0b with\ttabs\n") == "Title with tabs"


def test_summary_cut_at_a_word() -> None:
    text = "word " * 100
    summary = summarise(text, 30)
    assert summary == "word word word word word word…"
    assert summarise("Short text.") == "Short text."


def test_fingerprints_tell_copies_from_other_stories() -> None:
    story = " ".join(
        f"sentence number {n} about the harbour ferry and its timetable" for n in range(30)
    )
    edited = story + " Updated at noon."
    other = " ".join(
        f"line {n} concerning the library opening hours this winter" for n in range(30)
    )
    assert resemblance(fingerprint(story), fingerprint(edited)) > 0.9
    assert resemblance(fingerprint(story), fingerprint(other)) < 0.1


def test_short_identical_bodies_need_the_same_title_to_match() -> None:
    paywall = article(html="<p>Subscribe to read.</p>", text="Subscribe to read.")
    one = normalise(paywall, LINK, feed="f", first_seen=NOW)
    assert not is_near_duplicate(one, one.fingerprint, "Another story")
    assert is_near_duplicate(one, one.fingerprint, "story")


def test_the_sketch_index_finds_what_a_full_comparison_finds() -> None:
    stories = [
        " ".join(f"story {n} sentence {k} about topic {n * 7 + k}" for k in range(40))
        for n in range(30)
    ]
    index = SketchIndex()
    for n, text in enumerate(stories):
        known = normalise(article(html=f"<p>{text}</p>", text=text), LINK, feed="f", first_seen=NOW)
        index.add(f"id{n}", f"Story {n}", known.fingerprint)
    edited = stories[17].replace("sentence 3 ", "sentence three ")
    copy = normalise(article(html=f"<p>{edited}</p>", text=edited), LINK, feed="f", first_seen=NOW)
    fresh_text = " ".join(f"an unrelated report, part {k}" for k in range(60))
    fresh = normalise(
        article(html=f"<p>{fresh_text}</p>", text=fresh_text), LINK, feed="f", first_seen=NOW
    )
    assert index.near_duplicate_of(copy) == "id17"
    assert index.near_duplicate_of(fresh) is None
    assert len(index) == 30


def test_the_sketch_index_misses_no_near_duplicate_a_full_comparison_finds() -> None:
    """Items are filed under a few of their hashes only: every pair that the full comparison
    calls near-duplicates is still found, across edits of every size around the threshold."""
    rng = random.Random(7)
    vocabulary = [f"word{n}" for n in range(3000)]
    stories = [" ".join(rng.choices(vocabulary, k=300)) for _ in range(40)]
    index, known = SketchIndex(), {}
    for n, text in enumerate(stories):
        item = normalise(article(html=f"<p>{text}</p>", text=text), LINK, feed="f", first_seen=NOW)
        index.add(f"id{n}", "title", item.fingerprint)
        known[f"id{n}"] = item.fingerprint
    found = 0
    for n, text in enumerate(stories):
        words = text.split()
        for _ in range(n):  # from no edit to 39 words changed (about a third of the 3-grams)
            words[rng.randrange(len(words))] = rng.choice(vocabulary)
        edited = " ".join(words)
        copy = normalise(
            article(html=f"<p>{edited}</p>", text=edited), LINK, feed="f", first_seen=NOW
        )
        expected = [key for key, sketch in known.items() if is_near_duplicate(copy, sketch, "x")]
        assert (index.near_duplicate_of(copy) is not None) == bool(expected)
        found += bool(expected)
    assert 10 < found < 40  # the edits straddle the threshold
