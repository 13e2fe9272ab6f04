"""What a reader sees of an item besides its text, each on a small page of its own: links
resolved as a browser resolves them, images kept, summaries without markup, dates, the
characters a page means, sentences no leftover rule eats, bylines, languages, listings,
and RSS's plain text (issue 29; ``bench/fidelity.py`` measures the same on real pages)."""

from __future__ import annotations

from datetime import UTC, datetime

import lxml.html

from feeds.extraction.article import extract_article
from feeds.extraction.normalise import normalise
from feeds.models import Link, Page

PAGE_URL = "http://news.example/posts/2021/rel.html"
FIRST_SEEN = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
PROSE = (
    "The council met on Tuesday evening to decide the future of the old river bridge, "
    "which has carried traffic across the valley for more than a century and a half. "
)


def item_of(body: str, url: str = PAGE_URL, head: str = "", **attributes: str):  # type: ignore[no-untyped-def]
    html = f"<html {' '.join(f'{k}={v!r}' for k, v in attributes.items())}><head><title>The bridge</title>{head}</head><body><article><h1>The bridge</h1>{body}</article></body></html>"
    page = Page(url, url, 200, "text/html", html.encode(), "utf-8", FIRST_SEEN)
    article = extract_article(page)
    return normalise(article, Link(url, url), feed="f", first_seen=FIRST_SEEN)


def hrefs(html: str) -> list[str]:
    return [
        a.get("href") for a in lxml.html.fragment_fromstring(html, create_parent="div").iter("a")
    ]


def test_links_resolve_against_the_page_as_a_browser_resolves_them() -> None:
    body = (
        f"<p>{PROSE}See <a href='b.html'>one</a>, <a href='./c.html'>two</a>, "
        f"<a href='../d.html'>three</a>, <a href='?page=2'>the next page</a>, "
        f"<a href='#cite_note-1'>a note</a>, <a href=''>this page</a> and "
        f"<a href=' https://other.example/x '>another site</a>.</p><p>{PROSE}</p>"
    )
    item = item_of(body)
    assert hrefs(item.content_html) == [
        "http://news.example/posts/2021/b.html",
        "http://news.example/posts/2021/c.html",
        "http://news.example/posts/d.html",
        "http://news.example/posts/2021/rel.html?page=2",
        "http://news.example/posts/2021/rel.html#cite_note-1",
        "http://news.example/posts/2021/rel.html",
        "https://other.example/x",
    ]


def test_a_base_element_counts_for_links_and_images_alike_and_a_script_base_for_neither() -> None:
    body = f"<p>{PROSE}<a href='x.html'>x</a></p><p><img src='i.jpg' width='600' height='400'></p><p>{PROSE}</p>"
    based = item_of(body, head="<base href='http://cdn.example/root/'>")
    assert "http://cdn.example/root/x.html" in hrefs(based.content_html)
    assert 'src="http://cdn.example/root/i.jpg"' in based.content_html
    scripted = item_of(body, head="<base href='javascript:void(0)'>")
    assert "http://news.example/posts/2021/x.html" in hrefs(scripted.content_html)
    assert 'src="http://news.example/posts/2021/i.jpg"' in scripted.content_html


def test_formatting_and_links_come_back_without_changing_the_blocks_kept() -> None:
    body = (
        f"<p>{PROSE}It is <em>very</em> old, <strong>unsafe</strong> and written up in "
        f"<a href='/report.pdf'>the engineers' report</a>.</p>"
        f"<p>{PROSE}</p>"
    )
    item = item_of(body)
    assert "<em>very</em>" in item.content_html and "<strong>unsafe</strong>" in item.content_html
    assert hrefs(item.content_html) == ["http://news.example/report.pdf"]


def images(html: str) -> list[str]:
    return [
        i.get("src") for i in lxml.html.fragment_fromstring(html, create_parent="div").iter("img")
    ]


def test_images_in_gallery_wrappers_and_linking_to_their_page_are_kept_with_captions() -> None:
    body = (
        f"<p>{PROSE}</p>"
        "<a href='#'><figure><img src='data:image/gif;base64,R0lGOD' data-src='/g/one.jpg' "
        "width='800' height='600'><figcaption>The bridge at dawn</figcaption></figure></a>"
        f"<p>{PROSE} More.</p>"
        "<a href='/album/photo/2'><img src='/g/two-small.jpg' width='800' height='600'></a>"
        f"<p>{PROSE} Even more.</p>"
    )
    item = item_of(body)
    assert images(item.content_html) == [
        "http://news.example/g/one.jpg",
        "http://news.example/g/two-small.jpg",
    ]
    assert 'alt="The bridge at dawn"' in item.content_html  # a caption extraction left out


def test_a_teaser_thumbnail_beside_its_headline_is_not_the_article_s_image() -> None:
    body = (
        f"<p>{PROSE}</p><p>{PROSE} More.</p>"
        "<a href='/other-story'><img src='/t/thumb.jpg' width='300' height='200'>"
        "Another story you may like</a>"
    )
    assert "thumb.jpg" not in item_of(body).content_html


def test_a_lazy_image_ignores_a_script_base_and_json_is_no_address() -> None:
    body = (
        f"<p>{PROSE}</p><p><img data-src='lazy/one.jpg' width='800' height='600'></p>"
        f"<p>{PROSE} More.</p>"
        "<p><img src='/real/two.jpg' data-src='{\"sizes\": [1, 2]}' width='800' height='600'></p>"
        f"<p>{PROSE} Even more.</p>"
    )
    item = item_of(body, head="<base href='javascript:void(0)'>")
    assert images(item.content_html) == [
        "http://news.example/posts/2021/lazy/one.jpg",
        "http://news.example/real/two.jpg",
    ]


def test_an_image_in_the_text_comes_with_its_paragraph_without_what_the_page_hides() -> None:
    body = (
        f"<p>{PROSE}The load is "
        "<span><span style='display: none'><math><mi>x</mi></math></span>"
        "<img src='/math/x.svg' width='60' height='20'></span> tonnes.</p>"
        f"<p>{PROSE} More.</p>"
    )
    item = item_of(body)
    assert images(item.content_html) == ["http://news.example/math/x.svg"]
    assert "<math>" not in item.content_html


def test_summaries_hold_no_markup_or_references_and_a_cut_says_so() -> None:
    from feeds.extraction.normalise import clean_summary

    assert (
        clean_summary(
            'The bridge is old and the council wants it gone [<a class="read-more" href="/x">more</a>]'
        )
        == "The bridge is old and the council wants it gone…"
    )
    assert clean_summary("The bridge is old and the council wants it gone [&hellip;]") == (
        "The bridge is old and the council wants it gone…"
    )
    assert clean_summary("It&#8217;s old &amp; unsafe. Continue reading →") == "It’s old & unsafe."
    assert clean_summary("The council met on Tuesday evening to decide the future of", PROSE) == (
        "The council met on Tuesday evening to decide the future of…"
    )
    assert (
        clean_summary("A guide to <script> tags, and more") == "A guide to <script> tags, and more"
    )
    head = "<meta name='description' content='The old bridge will close [&amp;hellip;]'>"
    assert item_of(f"<p>{PROSE}</p><p>{PROSE} More.</p>", head=head).summary == (
        "The old bridge will close…"
    )


def test_references_to_128_to_159_are_read_as_windows_1252() -> None:
    item = item_of(
        f"<p>{PROSE}It&#146;s &#147;closed&#148; for &#128;5 million&#133;</p><p>{PROSE}</p>"
    )
    assert "It’s “closed” for €5 million…" in item.content_html


def test_an_item_carries_its_page_s_language_in_every_format() -> None:
    from feeds.publishing.formats import FORMATS, render
    from tests.test_publish import CHANNEL

    item = item_of(f"<p>{PROSE}</p><p>{PROSE} More.</p>", lang="de-DE")
    assert item.language == "de-DE"
    assert item_of(f"<p>{PROSE}</p><p>{PROSE} More.</p>", lang="{{lang}}").language is None
    documents = {name: render(CHANNEL, [item], fmt).decode() for name, fmt in FORMATS.items()}
    assert '"language": "de-DE"' in documents["json"]
    assert '<entry xml:lang="de-DE">' in documents["atom"]
    assert "<dc:language>de-DE</dc:language>" in documents["rss"]


def listing_links(html: str):  # type: ignore[no-untyped-def]
    from feeds.config import SourceConfig
    from tests.test_sources import find_links, page

    url = "https://news.example/news/"
    return find_links(page(html, url), SourceConfig(url=url))


def test_a_listing_s_dates_beside_its_links_date_the_items() -> None:
    teasers = "".join(
        f"<li><h2><a href='/2026/11/{n:02d}/council-votes-on-bridge-number-{n}'>The council "
        f"votes on the bridge, part {n}</a></h2><time datetime='2026-11-{n:02d}T08:30:00Z'>"
        f"November {n}</time></li>"
        for n in (1, 2, 3)
    )
    links = listing_links(f"<main><ul>{teasers}</ul></main>")
    assert [link.published_hint for link in links] == [
        datetime(2026, 11, n, 8, 30, tzinfo=UTC) for n in (1, 2, 3)
    ]


def test_links_with_short_text_marked_up_as_the_articles_are_found() -> None:
    teasers = "".join(
        f"<article class='teaser'><h2><a href='/2026/11/0{n}/{slug}'>{text}</a></h2></article>"
        for n, (slug, text) in enumerate(
            [
                ("council-votes-on-the-bridge", "The council votes on the future of the bridge"),
                ("ferry-fares-go-up-again", "Ferry fares go up again this winter, the port says"),
                ("taylor-swift", "Taylor Swift"),
                ("tuesday", "Tuesday"),
            ],
            start=1,
        )
    )
    found = [
        link.url
        for link in listing_links(f"<main>{teasers}</main><nav><a href='/sport/'>Sport</a></nav>")
    ]
    assert found == [
        "https://news.example/2026/11/01/council-votes-on-the-bridge",
        "https://news.example/2026/11/02/ferry-fares-go-up-again",
        "https://news.example/2026/11/03/taylor-swift",
        "https://news.example/2026/11/04/tuesday",
    ]


def test_a_listing_of_one_link_finds_it() -> None:
    html = "<main><h2><a href='/2026/11/30/the-only-post-on-this-blog'>Hello</a></h2></main>"
    assert [link.url for link in listing_links(html)] == [
        "https://news.example/2026/11/30/the-only-post-on-this-blog"
    ]


def test_leftover_rules_cut_boilerplate_not_the_article_s_sentences() -> None:
    from feeds.extraction.leftovers import drop_leftovers
    from feeds.html import parse_fragment, to_html

    prose = (
        "<p>Our reporter spent three weeks with the crews who keep the river bridge standing, "
        "and what she found there surprised the council; for more stories like this one, "
        "subscribe to the RSS feed.</p>"
        "<p>Share pics of the lipsticks you tried with the shop, the owner said, and she will "
        "pick a winner every month from the photographs that customers send in.</p>"
    )
    boilerplate = (
        "<p>Subscribe to our newsletter to get the latest stories delivered to your inbox.</p>"
        "<p>Share this article</p><p>Share on: Facebook | Twitter</p>"
    )
    root = parse_fragment(prose + boilerplate)
    assert drop_leftovers(root) == 3
    assert to_html(root, inner=True) == prose


def test_bylines_keep_real_names_and_drop_placeholders() -> None:
    from feeds.extraction.metadata import clean_author

    assert clean_author("Rachael Link, MS, RD") == "Rachael Link, MS, RD"
    assert clean_author("By Ann Lee and Bo Chen, Staff Writers") == "Ann Lee, Bo Chen"
    assert clean_author("Mac & i") == "Mac & i"
    assert clean_author("史蒂文的家_藍天 (stevenhgm)") == "史蒂文的家_藍天 (stevenhgm)"
    for placeholder in ("Editorial", "admin", "Staff Reports", "Staff"):
        assert clean_author(placeholder) is None
    head = (
        "<meta name='author' content='Meta name author'>"
        "<meta property='dc:creator' content='Dublin Core property author'>"
    )
    assert item_of(f"<p>{PROSE}</p><p>{PROSE} More.</p>", head=head).author == (
        "Dublin Core property author"
    )


def test_undated_items_of_one_run_never_share_a_timestamp(site, write_config) -> None:  # type: ignore[no-untyped-def]
    from feeds.storage import open_store
    from tests.conftest import run_once
    from tests.newssite import numbered_articles

    teasers = ""
    for n, article in enumerate(numbered_articles(3)):
        paragraphs = "".join(f"<p>{p}</p>" for p in article.paragraphs)
        site.add(
            f"/story-{n}",
            f"<html><body><article><h1>{article.title}</h1>{paragraphs}</article></body></html>",
        )  # no date anywhere
        teasers += f"<h2><a href='/story-{n}'>Story {n} of the bridge and the council</a></h2>"
    site.add("/news/", f"<html><body><main>{teasers}</main></body></html>")
    config = write_config(
        f"feeds:\n  news:\n    sources: [{{url: '{site.url('/news/')}', links: 'h2 a'}}]\n"
    )
    assert run_once(config, "news").new == 3
    with open_store(config.settings.state_dir) as store:
        items = store.items("news", 10)
    assert all(item.published == item.first_seen for item in items)  # dated by first sight
    stamps = [item.published.replace(microsecond=0) for item in items]
    assert len(set(stamps)) == 3  # whole seconds apart: no two share a published time
