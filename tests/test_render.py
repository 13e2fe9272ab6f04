"""Sources whose pages are built by scripts (``render: true``), rendered in Debian's
Chromium through Playwright, on local pages: links written by a script, an article body
injected by one, a hostile page whose requests never leave, a page that never settles,
politeness counted for every request a page makes. Skipped with the reason where no
browser is installed; required where ``FEEDS_REQUIRE_BROWSER=1`` (``.ci/run``)."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.cli import main
from feeds.errors import FetchError
from feeds.fetching.addresses import AddressGuard
from feeds.fetching.browser import Renderer, browser_available, is_tracker, refusal
from feeds.fetching.client import Fetcher, FetchOptions, RequestOptions
from feeds.fetching.hosts import Politeness
from feeds.run.options import request_options
from feeds.service.setup import fetcher_for
from tests.conftest import WriteConfig, run_once
from tests.fakes import FakeClock, FakeTransport, Reply
from tests.newssite import article_html, numbered_articles
from tests.sitesim import SiteSim

MISSING = browser_available()
if MISSING is not None and os.environ.get("FEEDS_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"FEEDS_REQUIRE_BROWSER is set, and: {MISSING}")
needs_browser = pytest.mark.skipif(MISSING is not None, reason=str(MISSING))

LINKS_BY_SCRIPT = """<html><head><title>News</title></head><body><h1>News</h1>
<ul id="list"></ul>
<script>
fetch("/links.json").then(r => r.json()).then(links => {
  for (const link of links) {
    const a = document.createElement("a");
    a.href = link.url; a.textContent = link.title;
    const li = document.createElement("li"); li.appendChild(a);
    document.getElementById("list").appendChild(li);
  }
});
</script></body></html>"""


def injected_article(title: str, paragraphs: list[str]) -> str:
    """An article page whose body a script writes from a JSON string."""
    body = json.dumps("".join(f"<p>{p}</p>" for p in paragraphs))
    return f"""<html><head><title>{title}</title>
<meta property="og:title" content="{title}"></head>
<body><header><nav><a href="/">Home</a></nav></header>
<main><h1>{title}</h1><article id="story"></article></main>
<script>document.getElementById("story").innerHTML = {body};</script>
</body></html>"""


@pytest.fixture
def news(site: SiteSim) -> Iterator[SiteSim]:
    """A listing whose links a script writes, three plain articles and one whose body a
    script injects."""
    articles = numbered_articles(3, prefix="rendered")
    for article in articles:
        site.add(article.path, article_html(site.origin, article, articles))
    injected = numbered_articles(1, prefix="injected")[0]
    site.add("/scripted/story", injected_article(injected.title, injected.paragraphs))
    links = [{"url": a.path, "title": a.title} for a in articles]
    links.append({"url": "/scripted/story", "title": injected.title})
    site.add("/links.json", json.dumps(links), content_type="application/json")
    site.add("/news/", LINKS_BY_SCRIPT)
    yield site


def feed_config(site: SiteSim, *, render: bool) -> str:
    return (
        "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
        "  retries: 0\n  timeout: 10s\n"
        f"feeds:\n  news:\n    sources:\n      - url: '{site.url('/news/')}'\n"
        f"        links: '#list a'\n        render: {str(render).lower()}\n"
    )


@needs_browser
def test_links_written_by_a_script_and_a_body_injected_by_one(
    news: SiteSim, write_config: WriteConfig
) -> None:
    plain = run_once(write_config(feed_config(news, render=False)), "news")
    assert plain.new == 0  # the HTML requests gets holds an empty list and a script
    config = write_config(feed_config(news, render=True))
    report = run_once(config, "news")
    assert report.new == 4, report.errors
    atom = (config.settings.output_dir / "news.atom").read_text()
    injected = numbered_articles(1, prefix="injected")[0]
    assert injected.paragraphs[0][:60] in atom  # the body a script wrote
    assert "/links.json" in news.paths()  # the page's own request, made by the fetcher


HOSTILE = """<html><body><h1>Hello</h1><div id="out"></div>
<img src="{secret}/pixel.png">
<script>
const out = document.getElementById("out");
const tries = {{
  metadata: "http://169.254.169.254/latest/meta-data/",
  file: "file:///etc/passwd",
  secret: "{secret}/secret.json",
}};
for (const [name, url] of Object.entries(tries)) {{
  fetch(url).then(r => r.text()).then(
    text => out.insertAdjacentHTML("beforeend", `<p>${{name}}: read ${{text}}</p>`),
    () => out.insertAdjacentHTML("beforeend", `<p>${{name}}: refused</p>`));
}}
</script></body></html>"""


@needs_browser
def test_a_hostile_page_reaches_neither_internal_addresses_nor_files(
    site: SiteSim, write_config: WriteConfig
) -> None:
    with SiteSim("127.0.0.9") as secret:
        secret.add("/secret.json", '"the secret"', content_type="application/json")
        secret.add("/pixel.png", b"\x89PNG", content_type="image/png")
        site.add("/hostile/", HOSTILE.format(secret=secret.origin))
        config = write_config(feed_config(site, render=True))
        source = config.feeds["news"].sources[0]
        with fetcher_for(config) as fetcher:
            request = request_options(source)
            page = fetcher.fetch(site.url("/hostile/"), request=request)
            refused = dict(fetcher._renderer.refused) if fetcher._renderer else {}
        text = page.text
        assert "metadata: refused" in text and "secret: refused" in text
        assert "file: refused" in text
        assert not any(f"{name}: read" in text for name in ("metadata", "file", "secret"))
        assert secret.hits == []  # never reached: neither the fetch nor the image
        assert "http://169.254.169.254/latest/meta-data/" in refused
        assert "is an internal address" in refused["http://169.254.169.254/latest/meta-data/"]


@needs_browser
def test_a_page_that_never_settles_is_cut_at_the_deadline_and_the_next_renders(
    site: SiteSim,
) -> None:
    site.add("/busy/", "<html><body><p>spinning</p><script>while (true) {}</script></body></html>")
    site.add("/calm/", "<html><body><p id=c></p><script>c.textContent='calm'</script></body>")
    options = FetchOptions(user_agent="feeds-test", timeout=3, retries=0)
    request = RequestOptions(render=True, obey_robots=False)
    with Fetcher(options, guard=AddressGuard([site.origin])) as fetcher:
        with pytest.raises(FetchError, match="was not ready within 3s"):
            fetcher.fetch(site.url("/busy/"), request=request)
        assert '<p id="c">calm</p>' in fetcher.fetch(site.url("/calm/"), request=request).text


POLLING_PAGE = """<html><body><ul id="l"></ul><script>
for (const name of ["a", "b", "c"]) {
  fetch(`/${name}.json`).then(r => r.json()).then(v => {
    document.getElementById("l").insertAdjacentHTML("beforeend", `<li>${v.value}</li>`);
  });
}
</script></body></html>"""


@needs_browser
def test_every_request_a_rendered_page_makes_waits_its_turn_at_the_host() -> None:
    clock = FakeClock()
    script = {"/news/": [Reply(body=POLLING_PAGE)]}
    for name in "abc":
        reply = Reply(body=json.dumps({"value": f"value {name}"}))
        script[f"/{name}.json"] = [
            Reply(body=reply.body, headers={"Content-Type": "application/json"})
        ]
    transport = FakeTransport(clock, script)
    options = FetchOptions(
        user_agent="feeds-test", politeness=Politeness(per_host_delay=1.5), retries=0
    )
    request = RequestOptions(render=True, obey_robots=False)
    with Fetcher(options, clock=clock, transport=transport) as fetcher:
        page = fetcher.fetch("http://news.example/news/", request=request)
    assert all(f"<li>value {name}</li>" in page.text for name in "abc")
    starts = [when for when, _ in transport.sent]
    assert sorted(path for _, path in transport.sent) == ["/a.json", "/b.json", "/c.json", "/news/"]
    # the page and its three requests, each 1.5 s after the last by the fetcher's clock
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [1.5] * 3


def test_what_a_rendered_page_may_not_request() -> None:
    assert refusal("file:///etc/passwd", "fetch") is not None
    assert refusal("data:text/html,hi", "document") is not None
    assert refusal("https://news.example/logo.png", "image") is not None
    assert refusal("https://fonts.example/a.woff2", "font") is not None
    assert refusal("https://stats.g.doubleclick.net/x.js", "script") is not None
    assert refusal("https://news.example/app.js", "script") is None
    assert is_tracker("www.google-analytics.com") and not is_tracker("analytics.example")


def test_without_a_browser_a_rendered_source_fails_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FEEDS_CHROMIUM", "/nonexistent/chromium")
    renderer = Renderer(max_pages=1, timeout=5, user_agent="feeds-test")
    from datetime import UTC, datetime

    from feeds.models import Page

    page = Page("https://a.example/", "https://a.example/", 200, "text/html", b"", "utf-8",
                datetime.now(UTC))  # fmt: skip
    with pytest.raises(FetchError, match=r"pip install 'feeds\[browser\]'.*apt-get install"):
        renderer.render(page, lambda url: page)
    renderer.close()


@needs_browser
def test_a_listing_that_did_not_change_is_not_rendered_again(
    news: SiteSim, write_config: WriteConfig
) -> None:
    config = write_config(feed_config(news, render=True))
    assert run_once(config, "news").new == 4
    again = run_once(config, "news")
    assert again.new == 0 and again.sources_unchanged == 1  # a 304: nothing to render
    assert news.paths().count("/links.json") == 1
    assert news.hits_for("/news/")[-1].status == 304


@needs_browser
def test_feeds_add_suggests_rendering_and_preview_renders(news: SiteSim, tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    added = CliRunner().invoke(main, ["--config", str(config), "add", news.url("/news/")])
    assert added.exit_code == 0, added.output
    assert "once its scripts ran" in added.output and "        render: true\n" in added.output
    assert "sandbox" not in added.stderr  # said once, at info, in the service's log only
    chosen = CliRunner().invoke(
        main, ["--config", str(config), "add", news.url("/news/"), "--render", "--kind", "listing"]
    )
    assert chosen.exit_code == 0, chosen.output
    assert "1. listing  4 article links" in chosen.output and "render: true" in chosen.output
    plain = CliRunner().invoke(
        main, ["--config", str(config), "preview", "--source", news.url("/news/")]
    )
    assert plain.exit_code != 0  # no links without the scripts
    rendered = CliRunner().invoke(
        main, ["--config", str(config), "preview", "--source", news.url("/news/"), "--render"]
    )
    assert rendered.exit_code == 0, rendered.output
    assert "4 article links" in rendered.output
    article = CliRunner().invoke(
        main, ["--config", str(config), "preview", news.url("/scripted/story"), "--render"]
    )
    injected = numbered_articles(1, prefix="injected")[0]
    assert injected.paragraphs[0][:60] in article.output


def test_check_warns_of_a_rendered_source_without_a_browser(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDS_CHROMIUM", "/nonexistent/chromium")
    config = write_config(
        "feeds:\n  news:\n    sources: [{url: 'https://news.example/', render: true}]\n"
    )
    checked = CliRunner().invoke(main, ["--config", str(config.file), "check"])
    assert checked.exit_code == 0
    assert "warning: news: https://news.example/: render: true needs a browser" in checked.output


@needs_browser
def test_the_browser_is_replaced_after_its_share_of_pages(
    site: SiteSim, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import feeds.fetching.browser

    monkeypatch.setattr(feeds.fetching.browser, "RESTART_AFTER", 2)
    site.add("/p/", "<html><body><p id=c></p><script>c.textContent='made'</script></body>")
    options = FetchOptions(user_agent="feeds-test", retries=0)
    request = RequestOptions(render=True, obey_robots=False)
    caplog.set_level("INFO", logger="feeds.fetching.browser")
    with Fetcher(options, guard=AddressGuard([site.origin])) as fetcher:
        for _ in range(5):
            assert '<p id="c">made</p>' in fetcher.fetch(site.url("/p/"), request=request).text
    assert sum("browser started" in r.getMessage() for r in caplog.records) == 3
    assert sum("browser restarted after 2 pages" in r.getMessage() for r in caplog.records) == 2
