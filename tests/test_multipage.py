"""Multi-page articles: the parts are fetched and joined, within a page limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from feeds.config import Config
from tests.conftest import WriteConfig, run_once
from tests.sitesim import SiteSim


def part(number: int, following: str | None, *, in_head: bool = True, extra: str = "") -> str:
    link = ""
    if following and in_head:
        link = f'<link rel="next" href="{following}">'
    paragraphs = "".join(
        f"<p>Part {number}, paragraph {n}: the long story of the harbour continues here, with "
        "more about the ferries, the fishermen and the new pier being built.</p>"
        for n in range(3)
    )
    pager = f'<a class="next-part" href="{following}">Next page</a>' if following else ""
    return (
        f"<html><head><title>The long harbour story</title>{link}</head><body>"
        f"<article><h1>The long harbour story</h1>{paragraphs}{pager}</article>{extra}</body></html>"
    )


@pytest.fixture
def site() -> Iterator[SiteSim]:
    with SiteSim("127.0.0.1") as sim:
        sim.add(
            "/news/",
            '<html><body><main><h2><a href="/2024/03/long-harbour-story">The long harbour story, '
            "in three parts</a></h2></main></body></html>",
        )
        yield sim


def config_for(write_config: WriteConfig, site: SiteSim, rules: str = "") -> Config:
    return write_config(
        "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
        f"feeds:\n  news:\n{rules}    sources:\n      - url: {site.url('/news/')}\n"
    )


def content(config: Config) -> str:
    [entry] = feedparser.parse((config.settings.output_dir / "news.atom").read_bytes()).entries
    return str(entry.content[0].value)


def test_parts_linked_with_rel_next_are_joined(site: SiteSim, write_config: WriteConfig) -> None:
    site.add("/2024/03/long-harbour-story", part(1, "/2024/03/long-harbour-story/2/"))
    site.add("/2024/03/long-harbour-story/2/", part(2, "/2024/03/long-harbour-story/3/"))
    site.add("/2024/03/long-harbour-story/3/", part(3, None))

    report = run_once(config_for(write_config, site), "news")

    assert report.new == 1
    text = content(config_for(write_config, site))
    for number in (1, 2, 3):
        assert f"Part {number}, paragraph 2" in text
    assert text.index("Part 1,") < text.index("Part 2,") < text.index("Part 3,")


def test_rel_next_to_another_article_is_not_followed(
    site: SiteSim, write_config: WriteConfig
) -> None:
    site.add("/2024/03/long-harbour-story", part(1, "/2024/03/a-different-story"))
    site.add("/2024/03/a-different-story", part(9, None))
    run_once(config_for(write_config, site), "news")
    assert "/2024/03/a-different-story" not in site.paths()
    assert "Part 9" not in content(config_for(write_config, site))


def test_site_rule_next_page_and_page_limit(site: SiteSim, write_config: WriteConfig) -> None:
    site.add("/2024/03/long-harbour-story", part(1, "/parts/b", in_head=False))
    site.add("/parts/b", part(2, "/parts/c", in_head=False))
    site.add("/parts/c", part(3, None, in_head=False))
    config = config_for(
        write_config, site, "    extract:\n      next_page: a.next-part\n      max_pages: 2\n"
    )

    run_once(config, "news")

    text = content(config)
    assert "Part 1, paragraph 0" in text and "Part 2, paragraph 0" in text
    assert "Part 3" not in text and "/parts/c" not in site.paths()


def test_a_part_that_fails_ends_the_article(site: SiteSim, write_config: WriteConfig) -> None:
    site.add("/2024/03/long-harbour-story", part(1, "/2024/03/long-harbour-story/2/"))
    report = run_once(config_for(write_config, site), "news")  # part 2 answers 404
    assert (report.new, report.failed) == (1, 0)
    assert "Part 1, paragraph 2" in content(config_for(write_config, site))


def test_a_site_configs_single_page_link_is_fetched_instead_of_the_parts(
    site: SiteSim, write_config: WriteConfig, tmp_path: Path
) -> None:
    """``single_page_link`` (a print view holding every part): one request, the whole
    article, kept at the article's own address; the parts are not fetched."""
    print_link = '<a class="print" href="/print/long-harbour-story">Print</a>'
    site.add(
        "/2024/03/long-harbour-story", part(1, "/2024/03/long-harbour-story/2/", extra=print_link)
    )
    whole = part(1, None).replace("Part 1,", "Whole story,")
    site.add("/print/long-harbour-story", whole)
    (tmp_path / "sites").mkdir()
    (tmp_path / "sites" / "127.0.0.1.txt").write_text(
        "single_page_link: //a[@class='print']\nhttp_header(x-edition): uk\n"
    )
    config = write_config(
        "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
        "  site_config: [sites]\n"
        f"feeds:\n  news:\n    sources:\n      - url: {site.url('/news/')}\n"
    )

    run_once(config, "news")

    text = content(config)
    assert "Whole story, paragraph 2" in text and "Part 1" not in text
    assert "/2024/03/long-harbour-story/2/" not in site.paths()
    # the site config's header goes with its article pages (not with the listing)
    asked = {
        hit.path: {k.lower(): v for k, v in hit.headers.items()}.get("x-edition")
        for hit in site.ordered()
    }
    assert asked["/2024/03/long-harbour-story"] == asked["/print/long-harbour-story"] == "uk"
    assert asked["/news/"] is None
    [entry] = feedparser.parse((config.settings.output_dir / "news.atom").read_bytes()).entries
    assert entry.link == site.url("/2024/03/long-harbour-story")
