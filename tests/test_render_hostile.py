"""A rendered page (``render: true``) trying to reach an address its feed does not name,
one test per way Chromium could open a connection by itself: speculation rules'
prerender and prefetch, WebRTC (STUN over UDP, TURN over TCP), WebSocket, iframe,
object, embed, ``window.open`` and a form. The unnamed address is a listener on
127.0.0.9 that counts every TCP connection and UDP datagram it gets, and serves a secret
to whoever asks: none may reach it, none may publish it. Then the bounds: a page that
writes a huge DOM is cut at ``max_page_size``; one that eats memory fails alone."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import psutil
import pytest

from feeds.errors import FetchError
from feeds.fetching.addresses import AddressGuard
from feeds.fetching.client import Fetcher, FetchOptions, RequestOptions
from feeds.fetching.hosts import Politeness
from tests.conftest import WriteConfig, run_once
from tests.newssite import article_html, numbered_articles
from tests.sitesim import SimHandler, SiteSim
from tests.test_render import needs_browser

SECRET = "SECRET-TOKEN-42"


class Listener:
    """A TCP and a UDP socket on one unnamed loopback address and port, counting what
    arrives; the TCP side answers any request with a page holding ``SECRET``."""

    def __init__(self, host: str = "127.0.0.9") -> None:
        self.tcp = socket.create_server((host, 0))
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((host, self.port))
        self.origin = f"http://{host}:{self.port}"
        self.connections = 0
        self.datagrams = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._accept, daemon=True),
            threading.Thread(target=self._receive, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _accept(self) -> None:
        self.tcp.settimeout(0.2)
        while not self._stop.is_set():
            try:
                connection, _ = self.tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with connection:
                connection.settimeout(1)
                try:
                    connection.recv(4096)
                    body = f"<html><body><p>{SECRET}</p></body></html>".encode()
                    connection.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                        + str(len(body)).encode()
                        + b"\r\nConnection: close\r\n\r\n"
                        + body
                    )
                except OSError:
                    pass

    def _receive(self) -> None:
        self.udp.settimeout(0.2)
        while not self._stop.is_set():
            try:
                self.udp.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.datagrams += 1

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(2)
        self.tcp.close()
        self.udp.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    unnamed = Listener()
    yield unnamed
    unnamed.close()


def _page(script_or_markup: str) -> str:
    """A page around a vector; its slow request keeps the browser's network busy (and
    the page open) until the vector's attempt was made."""
    return (
        "<html><head><title>Story</title></head><body><h1>Story</h1>"
        f"<p id='state'>loaded</p>{script_or_markup}"
        "<script>fetch('/slow.json')</script></body></html>"
    )


def _slowly(handler: SimHandler) -> None:
    time.sleep(1.5)
    handler.send_body(200, b"{}", "application/json")


# each vector, given the unnamed origin; the page says "tried" once it made its attempt
VECTORS = {
    "speculation prerender": """<script type="speculationrules">
{{"prerender": [{{"source": "list", "urls": ["{secret}/admin.html"]}}]}}</script>
<script>setTimeout(() => {{ state.textContent = "tried"; location.href = "{secret}/admin.html"; }}, 600);</script>""",
    "speculation prefetch": """<script type="speculationrules">
{{"prefetch": [{{"source": "list", "urls": ["{secret}/admin.html"], "requires": []}}]}}</script>
<link rel="prefetch" href="{secret}/prefetch.html"><link rel="preconnect" href="{secret}">
<link rel="dns-prefetch" href="{secret}">
<script>setTimeout(() => {{ state.textContent = "tried"; location.href = "{secret}/admin.html"; }}, 600);</script>""",
    "webrtc": """<script>
const host = new URL("{secret}");
const pc = new RTCPeerConnection({{iceServers: [
  {{urls: `stun:${{host.hostname}}:${{host.port}}`}},
  {{urls: `turn:${{host.hostname}}:${{host.port}}?transport=tcp`, username: "u", credential: "p"}},
  {{urls: `turn:${{host.hostname}}:${{host.port}}?transport=udp`, username: "u", credential: "p"}}]}});
pc.createDataChannel("x");
pc.createOffer().then(offer => pc.setLocalDescription(offer));
setTimeout(() => {{ state.textContent = "tried"; }}, 1200);
</script>""",
    "websocket": """<script>
const ws = new WebSocket("{secret}".replace("http", "ws") + "/socket");
ws.onmessage = event => document.body.insertAdjacentHTML("beforeend", event.data);
setTimeout(() => {{ state.textContent = "tried"; }}, 600);
</script>""",
    "iframe": """<iframe src="{secret}/admin.html"></iframe>
<script>setTimeout(() => {{ state.textContent = "tried"; }}, 600);</script>""",
    "object": """<object data="{secret}/admin.html" type="text/html"></object>
<script>setTimeout(() => {{ state.textContent = "tried"; }}, 600);</script>""",
    "embed": """<embed src="{secret}/admin.html" type="text/html">
<script>setTimeout(() => {{ state.textContent = "tried"; }}, 600);</script>""",
    "window.open": """<script>
const popup = window.open("{secret}/admin.html", "_blank");
setTimeout(() => {{ state.textContent = "tried"; }}, 600);
</script>""",
    "form": """<form id="f" method="post" action="{secret}/admin.html"><input name="q" value="1"></form>
<form id="g" method="get" action="{secret}/admin.html" target="_blank"><input name="q"></form>
<script>g.submit(); setTimeout(() => {{ state.textContent = "tried"; f.submit(); }}, 300);</script>""",
}


@pytest.fixture(scope="module")
def hostile_site() -> Iterator[SiteSim]:
    with SiteSim("127.0.0.1") as sim:
        sim.respond("/slow.json", _slowly)
        yield sim


NO_DELAY = Politeness(per_host_delay=0, per_host_concurrency=8)


@pytest.fixture(scope="module")
def renderer_fetcher(hostile_site: SiteSim) -> Iterator[Fetcher]:
    options = FetchOptions(user_agent="feeds-test", timeout=6, retries=0, politeness=NO_DELAY)
    with Fetcher(options, guard=AddressGuard([hostile_site.origin])) as fetcher:
        yield fetcher


@needs_browser
@pytest.mark.parametrize("vector", sorted(VECTORS))
def test_no_connection_of_a_rendered_page_reaches_an_unnamed_address(
    vector: str, hostile_site: SiteSim, renderer_fetcher: Fetcher, listener: Listener
) -> None:
    path = "/hostile/" + vector.replace(" ", "-").replace(".", "-")
    hostile_site.add(path, _page(VECTORS[vector].format(secret=listener.origin)))
    request = RequestOptions(render=True, obey_robots=False)
    page = renderer_fetcher.fetch(hostile_site.url(path), request=request)
    time.sleep(0.3)  # anything still on its way arrives
    assert 'id="state">tried<' in page.text  # the page made its attempt
    assert SECRET not in page.text
    assert (listener.connections, listener.datagrams) == (0, 0)


@needs_browser
def test_a_prerendered_internal_page_is_not_published(
    site: SiteSim, listener: Listener, write_config: WriteConfig
) -> None:
    articles = numbered_articles(2, prefix="plain")
    for article in articles:
        site.add(article.path, article_html(site.origin, article, articles))
    site.respond("/slow.json", _slowly)
    site.add(
        "/story/prerender",
        _page(
            VECTORS["speculation prerender"].format(secret=listener.origin)
            + "<p>"
            + "A story of the day, told at length. " * 20
            + "</p>"
        ),
    )
    links = "".join(f'<li><a href="{a.path}">{a.title}</a></li>' for a in articles)
    site.add(
        "/news/",
        f"<html><body><ul id='l'>{links}<li><a href='/story/prerender'>The prerendering story of the day</a></li></ul></body></html>",
    )
    config = write_config(
        "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
        "  retries: 0\n  timeout: 8s\n"
        f"feeds:\n  news:\n    sources:\n      - url: '{site.url('/news/')}'\n"
        "        links: '#l a'\n        render: true\n"
    )
    report = run_once(config, "news")
    assert report.new == 3, report.errors
    for name in ("news.xml", "news.atom", "news.json", "news.html"):
        assert SECRET not in (config.settings.output_dir / name).read_text()
    assert (listener.connections, listener.datagrams) == (0, 0)


@needs_browser
def test_a_huge_dom_is_cut_at_max_page_size(hostile_site: SiteSim) -> None:
    # 0.6 KB of page writing about 8 MB of DOM (41.8 MB passes the memory limit: below)
    hostile_site.add(
        "/huge/",
        _page("""<div id="d"></div><script>
const row = "<p>" + "x".repeat(990) + "</p>";
const chunk = row.repeat(1000);
const parts = [];
for (let i = 0; i < 8; i++) parts.push(chunk);
d.innerHTML = parts.join("");
state.textContent = "written";
</script>"""),
    )
    limit = 1024 * 1024
    options = FetchOptions(
        user_agent="feeds-test", timeout=20, retries=0, max_bytes=limit, politeness=NO_DELAY
    )
    request = RequestOptions(render=True, obey_robots=False)
    with Fetcher(options, guard=AddressGuard([hostile_site.origin])) as fetcher:
        page = fetcher.fetch(hostile_site.url("/huge/"), request=request)
    assert len(page.body) <= limit
    assert page.text.startswith("<!DOCTYPE html><html>")


def _tree_resident(root: psutil.Process) -> int:
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


@needs_browser
def test_a_page_that_eats_memory_fails_alone_and_the_browser_stays_bounded(
    hostile_site: SiteSim,
) -> None:
    hostile_site.add(
        "/hungry/",
        _page("""<script>
const kept = [];
function eat() {
  for (let i = 0; i < 4; i++) { const b = new Uint8Array(64 * 1024 * 1024); b.fill(1); kept.push(b); }
  if (kept.length < 56) setTimeout(eat, 10);  // up to 3.5 GB
}
eat();
</script>"""),
    )
    hostile_site.add("/calm/", _page("<script>state.textContent = 'calm';</script>"))
    limit = 300 * 1024 * 1024
    options = FetchOptions(
        user_agent="feeds-test", timeout=15, retries=0, render_memory=limit, politeness=NO_DELAY
    )
    request = RequestOptions(render=True, obey_robots=False)
    peak = 0
    done = threading.Event()

    def sample(browser: psutil.Process) -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_resident(browser))
            time.sleep(0.05)

    with Fetcher(options, guard=AddressGuard([hostile_site.origin])) as fetcher:
        fetcher.fetch(hostile_site.url("/calm/"), request=request)  # the browser started
        assert fetcher._renderer is not None
        browser = fetcher._renderer._browser_process  # Chromium and its helpers: the tree
        assert browser is not None
        baseline = _tree_resident(browser)
        sampler = threading.Thread(target=sample, args=(browser,), daemon=True)
        sampler.start()
        with pytest.raises(FetchError, match=r"more than 300 MB in the browser"):
            fetcher.fetch(hostile_site.url("/hungry/"), request=request)
        calm = fetcher.fetch(hostile_site.url("/calm/"), request=request)
        done.set()
        sampler.join()
    assert 'id="state">calm<' in calm.text  # the next page renders
    grown = peak - baseline
    print(
        f"resident memory of the browser's process tree: {baseline / 2**20:.0f} MB when "
        f"started, {peak / 2**20:.0f} MB at most (+{grown / 2**20:.0f} MB)"
    )
    # the page asked for 3.5 GB; the tree grew by about the limit, not more than twice it
    assert grown < 2 * limit


@needs_browser
@pytest.mark.parametrize("suffix", ["#/news", "?q='news'&x=a%20b", "?q=%27news%27#top"])
def test_a_rendered_url_with_a_fragment_or_quote_renders(
    suffix: str, hostile_site: SiteSim, renderer_fetcher: Fetcher
) -> None:
    hostile_site.add(
        "/hashed/list.html", _page("<script>state.textContent = location.hash || 'plain';</script>")
    )
    request = RequestOptions(render=True, obey_robots=False)
    page = renderer_fetcher.fetch(hostile_site.url("/hashed/list.html" + suffix), request=request)
    expected = suffix[suffix.index("#") :] if "#" in suffix else "plain"
    assert f'id="state">{expected}<' in page.text


def test_the_page_s_own_document_is_known_by_what_its_url_names() -> None:
    from feeds.urls import same_document

    assert same_document("http://a.example/list.html#/news", "http://a.example/list.html")
    assert same_document("http://A.example:80/x?q='a'", "http://a.example/x?q=%27a%27")
    assert not same_document("http://a.example/x?q=1", "http://a.example/x?q=2")
    assert not same_document("http://a.example/x", "http://a.example:8080/x")
