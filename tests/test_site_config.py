"""Site config files (the Full-Text RSS format): which file serves a host, each directive
applied on a small page, their precedence under the config's own rules, and what is read
but not applied. Small configs of the tests' own (the public collection is never bundled)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds.config import ExtractRules, load_config
from feeds.errors import ConfigError, ExtractionError
from feeds.extraction.article import extract_article
from feeds.extraction.rules import layered
from feeds.extraction.site_config import SiteConfigs, candidate_names, parse_site_config
from tests.fakes import fetched_page

PARAGRAPHS = "".join(
    f"<p>Paragraph {n} tells the long story of the harbour, its ferries and the people "
    "who depend on them every day of the year.</p>"
    for n in range(1, 6)
)
PAGE = (
    "<html><head><title>Page title | Site</title>"
    "<meta name='byline' content='Ada Lovelace'></head><body>"
    "<div class='menu'>Home News Sport</div>"
    "<h1 class='headline'>Rule title</h1><span class='when'>Published 4 May 2025</span>"
    "<div id='story'>" + PARAGRAPHS + "<div class='share-box'>Share this</div>"
    "<p class='promo'>Subscribe today</p><img src='https://cdn.example/ads/banner.png'>"
    "<img src='https://cdn.example/photos/harbour.jpg' width='800' height='600'>"
    "OLDNAME ran the ferry.</div>"
    "<a class='next' href='/story?page=2'>Next page</a></body></html>"
)
URL = "https://www.news.example/story"


def with_site_configs(tmp_path: Path, files: dict[str, str], source: str) -> Path:
    """A config file whose ``settings.site_config`` is a directory of ``files`` (name to
    text) and whose one feed reads ``source``; returns its path."""
    (tmp_path / "sites").mkdir()
    for name, text in files.items():
        (tmp_path / "sites" / name).write_text(text)
    config_file = tmp_path / "feeds.yaml"
    config_file.write_text(
        "settings:\n  site_config: [sites]\n  per_host_delay: 0s\n"
        f"feeds:\n  a:\n    sources: [{{url: '{source}'}}]\n"
    )
    return config_file


def rules_of(text: str) -> ExtractRules:
    return parse_site_config(text, Path("news.example.txt")).rules  # type: ignore[return-value]


def test_file_names_serve_hosts_as_the_format_says(tmp_path: Path) -> None:
    assert candidate_names("www.News.Example.co.uk") == [
        "news.example.co.uk",
        ".example.co.uk",
        ".co.uk",
    ]
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    (first / "news.example.txt").write_text("body: //div[@id='a']\n")
    (first / ".blog.example.txt").write_text("body: //div[@id='b']\n")
    (second / "news.example.txt").write_text("body: //div[@id='c']\n")  # later wins
    configs = SiteConfigs([first, second])
    found = configs.for_host("www.news.example:443")
    assert found is not None and found.rules.body == ("//div[@id='c']",)
    assert configs.for_host("news.example") == found  # with or without www.
    assert configs.for_host("user@News.Example:8080") == found  # credentials, port, case
    sub = configs.for_host("alice.blog.example")
    assert sub is not None and sub.rules.body == ("//div[@id='b']",)
    assert configs.for_host("blog.example") is None  # a leading dot: subdomains only
    assert configs.for_host("other.example") is None


def test_each_directive_is_applied_on_a_page() -> None:
    rules = rules_of(
        "# a comment\n"
        "title: //h1[@class='headline']\n"
        "author: //meta[@name='byline']/@content\n"
        "date: //span[@class='when']\n"
        "body: //div[@id='nothing-here']\n"
        "body: //div[@id='story']\n"  # the first alternative that finds something
        "strip: //p[@class='promo']\n"
        "strip_id_or_class: share\n"
        "strip_image_src: /ads/\n"
        "find_string: OLDNAME\n"
        "replace_string: Captain Grey\n"
        "replace_string(Home News Sport): \n"
        "next_page_link: //a[@class='next']\n"
    )
    article = extract_article(fetched_page(PAGE, URL), rules)
    assert (article.title, article.author) == ("Rule title", "Ada Lovelace")
    assert article.published == datetime(2025, 5, 4, tzinfo=UTC)
    assert "Paragraph 5" in article.text and "Captain Grey ran the ferry" in article.text
    for gone in ("Subscribe today", "Share this", "OLDNAME"):
        assert gone not in article.text
    assert "banner.png" not in article.html and "harbour.jpg" in article.html
    assert article.next_page == "https://www.news.example/story?page=2"


def test_without_autodetect_a_body_that_finds_nothing_is_no_article() -> None:
    missing = "body: //div[@id='nothing-here']\n"
    assert "Paragraph 3" in extract_article(fetched_page(PAGE, URL), rules_of(missing)).text
    with pytest.raises(ExtractionError):
        extract_article(fetched_page(PAGE, URL), rules_of(missing + "autodetect_on_failure: no\n"))


def test_a_site_configs_body_is_pruned_unless_it_says_no() -> None:
    """As Full-Text RSS prunes: what ``body`` finds is cleaned as a page is (the share
    box and the subscription call go), unless the file says ``prune: no``."""
    html = PAGE.replace(
        "<div class='share-box'>Share this</div>",
        "<ul class='related'><li><a href='/a'>Related: the harbour at night</a></li>"
        "<li><a href='/b'>Related: ferry timetables</a></li></ul>",
    )
    pruned = extract_article(fetched_page(html, URL), rules_of("body: //div[@id='story']\n"))
    assert "Paragraph 5" in pruned.text and "Related:" not in pruned.text
    as_is = rules_of("body: //div[@id='story']\nprune: no\n")
    assert "Related: ferry timetables" in extract_article(fetched_page(html, URL), as_is).text


def test_the_configs_own_rules_win_over_a_site_config() -> None:
    site = parse_site_config(
        "title: //h1\nbody: //div[@id='story']\nstrip: //p[@class='promo']\n",
        Path("news.example.txt"),
    ).rules
    own = ExtractRules(title="span.when", remove=(".share-box",))
    rules = layered(own, site)
    assert rules is not None
    assert (rules.title, rules.body) == (("span.when",), ("//div[@id='story']",))
    assert rules.remove == ("//p[@class='promo']", ".share-box")  # both remove
    assert layered(None, site) == site and layered(own, None) == own


def test_what_is_not_applied_is_listed_and_broken_lines_named(tmp_path: Path) -> None:
    config = parse_site_config(
        "tidy: no\nhttp_header(user-agent): curl\nbody: //div[@id='x'\n"
        "strip_attr: //img/@width\ntest_url: https://news.example/a\n"
        "test_contains: harbour\n",
        Path("news.example.txt"),
    )
    assert config.unimplemented == (("tidy", 1), ("strip_attr", 4))
    assert config.rules.headers == (("user-agent", "curl"),)
    assert config.mistakes[0][0] == 3 and "not a valid XPath" in config.mistakes[0][1]
    assert config.test_urls == (("https://news.example/a", ("harbour",)),)


def test_settings_name_directories_of_site_configs(tmp_path: Path) -> None:
    config_file = with_site_configs(
        tmp_path, {"news.example.txt": "body: //div[@id='story']\n"}, "https://www.news.example/"
    )
    feed = load_config(config_file).feeds["a"]
    found = feed.site_rules("https://www.news.example/story")
    assert found is not None and found.body == ("//div[@id='story']",)
    assert feed.site_rules("https://elsewhere.example/") is None
    config_file.write_text(config_file.read_text().replace("[sites]", "[missing]"))
    with pytest.raises(ConfigError, match="is not a directory of site config files"):
        load_config(config_file)


def test_check_lists_each_directive_not_applied_once(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from feeds.cli import main

    text = "tidy: no\nhttp_header(referer): https://x.example/\nbody: //div[@id='x'\n"
    config_file = with_site_configs(
        tmp_path,
        {"one.example.txt": text, "two.example.txt": text},
        "https://www.news.example/",
    )
    result = CliRunner().invoke(main, ["--config", str(config_file), "check"])
    assert result.exit_code == 0, result.output
    assert "site configs: 2 files in" in result.output
    assert f"{tmp_path / 'sites' / 'one.example.txt'}:3: body: not a valid XPath" in result.output
    listed = [line for line in result.output.splitlines() if "not applied" in line]
    assert listed == ["site configs: directives read but not applied: tidy (2 files)"]


def test_preview_says_which_site_config_applied_and_compares_with_automatic(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from feeds.cli import main

    # an outdated rule: one paragraph of five
    config_file = with_site_configs(
        tmp_path, {"news.example.txt": "body: //p[1]\n"}, "https://www.news.example/"
    )
    site_file = tmp_path / "sites" / "news.example.txt"
    saved = tmp_path / "story.html"
    saved.write_text(PAGE)
    arguments = ["--config", str(config_file), "preview", str(saved), "--url", URL, "--feed", "a"]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    assert f"Site rules: {site_file}" in result.output
    assert "a rule may no longer match the site" in result.output


def test_check_fetches_the_test_urls_and_names_a_config_that_no_longer_matches(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from feeds.cli import main
    from tests.sitesim import SiteSim

    with SiteSim("127.0.0.7") as site:
        site.add("/good", PAGE)
        site.add(
            "/redesigned", "<html><body><main><p>A new layout, short.</p></main></body></html>"
        )
        config_file = with_site_configs(
            tmp_path,
            {
                "127.0.0.7.txt": "body: //div[@id='story']\nautodetect_on_failure: no\n"
                f"test_url: {site.url('/good')}\ntest_contains: Paragraph 3\n"
                f"test_url: {site.url('/redesigned')}\ntest_contains: Paragraph 3\n"
            },
            site.url("/"),
        )
        base = ["--config", str(config_file), "check", "--site-configs"]
        result = CliRunner().invoke(main, [*base, "127.0.0.7"])
        assert result.exit_code == 1, result.output
        assert f"OK {tmp_path / 'sites' / '127.0.0.7.txt'}: {site.url('/good')}" in result.output
        assert f"BROKEN {tmp_path / 'sites' / '127.0.0.7.txt'}: {site.url('/redesigned')}" in (
            result.output
        )
        assert CliRunner().invoke(main, [*base, "nowhere.example"]).exit_code == 2
        assert [hit.path for hit in site.ordered()] == ["/robots.txt", "/good", "/redesigned"]


def test_add_says_when_a_site_config_serves_the_host(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from feeds.cli import main
    from tests.newssite import numbered_articles, serve_news
    from tests.sitesim import SiteSim

    with SiteSim("127.0.0.8") as site:
        serve_news(site, numbered_articles(5))
        config_file = with_site_configs(
            tmp_path, {"127.0.0.8.txt": "body: //article\n"}, "https://keep.example/"
        )
        result = CliRunner().invoke(main, ["--config", str(config_file), "add", site.url("/news/")])
        assert result.exit_code == 0, result.output
        assert f"a site config serves this host: {tmp_path / 'sites' / '127.0.0.8.txt'}" in (
            result.output
        )
