"""Fetching over HTTP from 127.0.0.1, and local files."""

from __future__ import annotations

import contextlib
import gzip
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from feeds.errors import FetchError, FetchStoppedError
from feeds.fetching.addresses import AddressGuard
from feeds.fetching.client import Fetcher, FetchOptions, RequestOptions
from feeds.fetching.encoding import detect_encoding
from feeds.fetching.hosts import Politeness
from tests.fakes import FakeClock, FakeTransport, Reply, StuckClock
from tests.sitesim import SimHandler, SiteSim

OPTIONS = FetchOptions(
    user_agent="feeds-test/1",
    timeout=2.0,
    max_bytes=64 * 1024,
    retries=0,
    politeness=Politeness(per_host_delay=0),
)


def loopback_fetcher(options: FetchOptions = OPTIONS, **kwargs: Any) -> Fetcher:
    """A fetcher that may reach the test servers (127.0.0.1), as when a config names them."""
    return Fetcher(options, guard=AddressGuard(["127.0.0.1"]), **kwargs)


@pytest.fixture
def fetcher() -> Fetcher:
    return loopback_fetcher(OPTIONS)


def test_page_fields_and_user_agent(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/a", headers={"User-Agent": "feeds-test/1"}).respond_with_data(
        "<p>héllo</p>",
        content_type="text/html; charset=utf-8",
        headers={"ETag": '"v1"', "Last-Modified": "Tue, 05 Mar 2024 09:30:00 GMT"},
    )
    page = fetcher.fetch(httpserver.url_for("/a"))
    assert (page.status, page.content_type, page.text) == (200, "text/html", "<p>héllo</p>")
    assert (page.etag, page.last_modified) == ('"v1"', "Tue, 05 Mar 2024 09:30:00 GMT")


def test_redirect_gives_final_url(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": "/new"}
    )
    httpserver.expect_request("/new").respond_with_data("<p>x</p>", content_type="text/html")
    page = fetcher.fetch(httpserver.url_for("/old"))
    assert (page.url, page.final_url) == (httpserver.url_for("/old"), httpserver.url_for("/new"))


def test_redirect_loop_is_refused(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/loop").respond_with_data(
        "", status=302, headers={"Location": "/loop"}
    )
    with pytest.raises(FetchError, match="more than 10 redirects"):
        fetcher.fetch(httpserver.url_for("/loop"))


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_http_errors_carry_the_status(
    httpserver: HTTPServer, fetcher: Fetcher, status: int
) -> None:
    httpserver.expect_request("/x").respond_with_data("no", status=status)
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(httpserver.url_for("/x"))
    assert caught.value.status == status
    assert str(caught.value).startswith(f"{httpserver.url_for('/x')}: HTTP {status} ")


def test_conditional_request_gets_304(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/c", headers={"If-None-Match": '"v1"'}).respond_with_data(
        "", status=304
    )
    page = fetcher.fetch(httpserver.url_for("/c"), etag='"v1"')
    assert (page.status, page.body) == (304, b"")


def test_declared_size_over_the_cap(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/big").respond_with_data(
        b"x" * (OPTIONS.max_bytes + 1), content_type="text/html"
    )
    with pytest.raises(FetchError, match="larger than the 0.1 MB limit"):
        fetcher.fetch(httpserver.url_for("/big"))


def test_streamed_size_over_the_cap(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    def stream(request: Request) -> Response:
        chunks = (b"x" * 8192 for _ in range(100))  # no Content-Length
        return Response(chunks, content_type="text/html")

    httpserver.expect_request("/stream").respond_with_handler(stream)
    with pytest.raises(FetchError, match="larger than"):
        fetcher.fetch(httpserver.url_for("/stream"))


def test_gzip_is_capped_after_decompression(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    bomb = gzip.compress(b"<p>" + b"a" * (10 * OPTIONS.max_bytes))
    assert len(bomb) < OPTIONS.max_bytes
    httpserver.expect_request("/bomb").respond_with_data(
        bomb, content_type="text/html", headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(FetchError, match="larger than"):
        fetcher.fetch(httpserver.url_for("/bomb"))


@pytest.mark.parametrize("content_type", ["image/jpeg", "application/octet-stream", "video/mp4"])
def test_binary_content_types_are_refused(
    httpserver: HTTPServer, fetcher: Fetcher, content_type: str
) -> None:
    httpserver.expect_request("/bin").respond_with_data(b"\x00\x01", content_type=content_type)
    with pytest.raises(FetchError, match="is not a page"):
        fetcher.fetch(httpserver.url_for("/bin"))


def test_slow_server_is_abandoned_at_the_timeout(httpserver: HTTPServer) -> None:
    released = threading.Event()

    def slow(request: Request) -> Response:
        released.wait(10)  # past the timeout; let go once the fetcher gave up
        return Response("late", content_type="text/html")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    fetcher = loopback_fetcher(replace(OPTIONS, timeout=0.5))
    try:
        with pytest.raises(FetchError, match="timed out after 0.5s"):
            fetcher.fetch(httpserver.url_for("/slow"))
    finally:
        released.set()
    assert fetcher.requests_made == 2  # robots.txt, then the page once: given up, not retried


def test_connection_refused_is_a_fetch_error(fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match="cannot connect"):
        fetcher.fetch("http://127.0.0.1:9/")


def test_other_schemes_are_refused(fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match="refused: ftp scheme"):
        fetcher.fetch("ftp://127.0.0.1/file")


CAFE = "Café déjà vu – “quoted” €5"


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        (CAFE.encode("utf-8"), "text/html; charset=utf-8", "utf-8"),
        (CAFE.encode("cp1252"), "text/html; charset=windows-1252", "cp1252"),
        (CAFE.encode("cp1252"), "text/html; charset=iso-8859-1", "cp1252"),
        (b'<meta charset="windows-1252">' + CAFE.encode("cp1252"), "text/html", "cp1252"),
        (
            b'<?xml version="1.0" encoding="ISO-8859-15"?><a/>',
            "application/xml",
            "iso8859-15",
        ),
        (CAFE.encode("utf-8"), "text/html", "utf-8"),
        (b"\xef\xbb\xbf" + CAFE.encode("utf-8"), "text/html", "utf-8-sig"),
    ],
)
def test_encoding_detection(body: bytes, header: str, expected: str) -> None:
    assert detect_encoding(body, header) == expected


def test_local_files_only_below_the_roots(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "a.html").write_text("<p>a</p>")
    (tmp_path / "secret.html").write_text("<p>secret</p>")
    fetcher = loopback_fetcher(OPTIONS, local_roots=[site])

    assert fetcher.fetch((site / "a.html").as_uri()).text == "<p>a</p>"
    with pytest.raises(FetchError, match="outside the directories"):
        fetcher.fetch((tmp_path / "secret.html").as_uri())
    with pytest.raises(FetchError, match="outside the directories"):
        fetcher.fetch(site.as_uri() + "/../secret.html")
    with pytest.raises(FetchError, match="file not found"):
        fetcher.fetch((site / "missing.html").as_uri())


def test_local_directory_lists_its_html_files(tmp_path: Path) -> None:
    (tmp_path / "b.html").write_text("b")
    (tmp_path / "a.htm").write_text("a")
    (tmp_path / "notes.txt").write_text("n")
    page = loopback_fetcher(OPTIONS, local_roots=[tmp_path]).fetch(tmp_path.as_uri() + "/")
    assert page.content_type == "text/html"
    assert '<a href="a.htm">' in page.text and '<a href="b.html">' in page.text
    assert "notes" not in page.text


# --- politeness, retries, limits (issue 3) -------------------------------------------


def test_fifty_megabytes_stop_at_the_default_cap(httpserver: HTTPServer) -> None:
    def huge(request: Request) -> Response:
        return Response((b"x" * 65536 for _ in range(800)), content_type="text/html")

    httpserver.expect_request("/huge").respond_with_handler(huge)
    fetcher = loopback_fetcher(replace(OPTIONS, max_bytes=10 * 1024 * 1024))
    with pytest.raises(FetchError, match="larger than the 10.0 MB limit"):
        fetcher.fetch(httpserver.url_for("/huge"))


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                accepted.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    listener.close()
    for connection in accepted:
        connection.close()


def test_server_that_never_answers_is_abandoned_at_the_timeout(silent_server: str) -> None:
    fetcher = loopback_fetcher(replace(OPTIONS, timeout=0.5))
    with pytest.raises(FetchError, match="timed out after 0.5s"):
        fetcher.fetch(silent_server)
    assert fetcher.requests_made == 1


def test_trickling_body_is_abandoned_at_the_total_timeout() -> None:
    """Each read is quick, so only the deadline can stop the download: the server counts
    the bytes it could send before the fetcher shut the connection (no wall-clock gap)."""
    sent: list[int] = []

    def trickle(handler: SimHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", "200")
        handler.end_headers()
        count = 0
        with contextlib.suppress(OSError):
            for _ in range(200):
                handler.wfile.write(b"x")
                handler.wfile.flush()
                count += 1
                time.sleep(0.05)
        sent.append(count)

    with SiteSim() as site:
        site.respond("/slow", trickle)
        fetcher = loopback_fetcher(replace(OPTIONS, timeout=1.0))
        with pytest.raises(FetchError, match="timed out after 1s"):
            fetcher.fetch(site.url("/slow"))
        wait_until_set(sent)
    assert sent[0] < 200  # cut before the body was over


FRENCH = (
    "Le conseil municipal a voté mardi soir la création de deux kilomètres de pistes "
    "cyclables protégées le long du quai. « C’est une décision attendue depuis dix ans », "
    "a déclaré l’élue chargée des déplacements ; les travaux coûteront 2 millions d’euros."
)
JAPANESE = (
    "市議会は火曜日の夜、川沿いの道路に保護された自転車道を二キロメートル整備する計画を承認した。"
    "工事は夏に始まり、約六か月かかる見込みで、その間も道路は一方向に通行できる。"
    "十年近く自転車道を求めてきた市民団体は決定を歓迎したが、駅まで延長すべきだと述べた。"
)


@pytest.mark.parametrize(("text", "encoding"), [(FRENCH, "cp1252"), (JAPANESE, "shift_jis")])
def test_pages_without_charset_header_decode_correctly(
    httpserver: HTTPServer, fetcher: Fetcher, text: str, encoding: str
) -> None:
    body = f"<html><body><p>{text}</p></body></html>".encode(encoding)
    httpserver.expect_request("/page").respond_with_data(body, content_type="text/html")
    page = fetcher.fetch(httpserver.url_for("/page"))
    assert text in page.text


def test_source_request_options_are_sent(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request(
        "/private",
        headers={"User-Agent": "MyReader/2.0", "X-Api-Key": "k1", "Cookie": "session=abc"},
    ).respond_with_data("<p>ok</p>", content_type="text/html")
    request = RequestOptions(
        headers=(("X-Api-Key", "k1"),),
        cookies=(("session", "abc"),),
        user_agent="MyReader/2.0",
    )
    assert fetcher.fetch(httpserver.url_for("/private"), request=request).text == "<p>ok</p>"


def test_requests_go_through_the_source_proxy() -> None:
    with SiteSim() as proxy:
        proxy.respond(
            "http://origin.invalid/page",
            lambda handler: handler.send_body(200, b"<p>via proxy</p>", "text/html"),
        )
        request = RequestOptions(proxy=proxy.origin, obey_robots=False)
        page = loopback_fetcher(OPTIONS).fetch("http://origin.invalid/page", request=request)
    assert page.text == "<p>via proxy</p>"
    assert proxy.paths() == ["http://origin.invalid/page"]


def test_requests_go_through_the_environment_proxy_unless_no_proxy_names_the_host(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/direct").respond_with_data(
        "<p>direct</p>", content_type="text/html"
    )
    request = RequestOptions(obey_robots=False)
    with SiteSim() as proxy:
        proxy.respond(
            "http://origin.invalid/page",
            lambda handler: handler.send_body(200, b"<p>via proxy</p>", "text/html"),
        )
        monkeypatch.setenv("HTTP_PROXY", proxy.origin)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        fetcher = loopback_fetcher(OPTIONS)
        proxied = fetcher.fetch("http://origin.invalid/page", request=request)
        direct = fetcher.fetch(httpserver.url_for("/direct"), request=request)
    assert proxied.text == "<p>via proxy</p>"
    assert direct.text == "<p>direct</p>"
    assert proxy.paths() == ["http://origin.invalid/page"]


def test_long_retry_after_skips_until_a_later_run(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/busy").respond_with_data(
        "later", status=503, headers={"Retry-After": "7200"}
    )
    fetcher = loopback_fetcher(replace(OPTIONS, retries=3, retry_after_limit=3600))
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(httpserver.url_for("/busy"))
    assert caught.value.retry_after == 3600  # capped
    assert "asked for a pause of 3600s (Retry-After), so it is skipped" in caught.value.message
    # the host's pause holds for other pages too, without asking the server again
    with pytest.raises(FetchError, match="asked for a pause of 3600s more"):
        fetcher.fetch(httpserver.url_for("/other"))
    assert len(httpserver.log) == 2  # robots.txt, /busy once


def test_unreachable_robots_txt_disallows_for_now(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("oops", status=500)
    fetcher = loopback_fetcher(replace(OPTIONS, retries=0))
    with pytest.raises(FetchError, match=r"robots.txt is unreachable \(HTTP 500"):
        fetcher.fetch(httpserver.url_for("/page"))
    assert [r.path for r, _ in httpserver.log] == ["/robots.txt"]


def test_crawl_delay_spaces_requests() -> None:
    """Spacing as the fetcher's own clock saw it: a fake clock, a fake transport."""
    clock = FakeClock()
    transport = FakeTransport(
        clock,
        {
            "/robots.txt": [
                Reply(
                    body="User-agent: *\nCrawl-delay: 0.3\n", headers={"Content-Type": "text/plain"}
                )
            ],
            "/p": [Reply()],
        },
    )
    fetcher = Fetcher(OPTIONS, clock=clock, transport=transport)
    for _ in range(3):
        fetcher.fetch("https://news.example/p")
    sent = [when for when, _ in transport.sent]  # robots.txt, then the page three times
    assert [path for _, path in transport.sent] == ["/robots.txt", "/p", "/p", "/p"]
    assert [round(b - a, 6) for a, b in itertools.pairwise(sent[1:])] == [0.3, 0.3]


def test_retries_back_off_on_the_clock_and_heed_retry_after() -> None:
    clock = FakeClock()
    transport = FakeTransport(
        clock,
        {
            "/robots.txt": [Reply(404)],
            "/busy": [Reply(503), Reply(503), Reply()],
            "/slow-down": [Reply(429, headers={"Retry-After": "7"}), Reply()],
        },
    )
    options = replace(OPTIONS, retries=2, backoff=1.0)
    fetcher = Fetcher(options, clock=clock, transport=transport)
    assert fetcher.fetch("https://news.example/busy").status == 200
    first, second, third = transport.times("/busy")
    assert 0.5 <= second - first <= 1.0  # half the step, plus jitter up to the step
    assert 1.0 <= third - second <= 2.0  # the step doubles
    assert fetcher.fetch("https://news.example/slow-down").status == 200
    asked, again = transport.times("/slow-down")
    assert again - asked == pytest.approx(7)  # the pause the server asked for


def test_stop_interrupts_a_waiting_request() -> None:
    clock = StuckClock()
    transport = FakeTransport(clock, {"/p": [Reply()]})
    options = replace(OPTIONS, politeness=Politeness(per_host_delay=30))
    fetcher = Fetcher(options, clock=clock, transport=transport)
    no_robots = RequestOptions(obey_robots=False)
    fetcher.fetch("https://news.example/p", request=no_robots)
    outcome: list[BaseException] = []

    def second_fetch() -> None:
        try:
            fetcher.fetch("https://news.example/p", request=no_robots)
        except FetchStoppedError as error:
            outcome.append(error)

    waiting = threading.Thread(target=second_fetch)
    waiting.start()
    assert clock.waiting.wait(10)  # waiting its 30 s turn
    fetcher.stop()
    waiting.join(10)
    assert not waiting.is_alive()
    assert [str(error) for error in outcome] == [
        "https://news.example/p: not fetched: feeds is stopping"
    ]
    assert len(transport.sent) == 1


def test_headers_trickled_a_byte_at_a_time_are_cut_at_the_timeout() -> None:
    """One deadline covers the whole download, headers included: each byte comes well
    within the read timeout, so only the deadline can stop it (the server counts what it
    could send before the fetcher shut the connection)."""
    headers = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Padding: " + b"x" * 400
    sent: list[int] = []

    def trickle(handler: SimHandler) -> None:
        count = 0
        with contextlib.suppress(OSError):
            for byte in headers:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                count += 1
                time.sleep(0.02)
        sent.append(count)
        handler.close_connection = True

    with SiteSim() as site:
        site.respond("/slow", trickle)
        fetcher = loopback_fetcher(replace(OPTIONS, timeout=0.5, retries=0))
        with pytest.raises(FetchError, match=r"timed out after 0.5s"):
            fetcher.fetch(site.url("/slow"))
        wait_until_set(sent)
    assert sent[0] < len(headers)  # cut before the headers were over


def wait_until_set(values: list[int]) -> None:
    """Wait (10 s at most) for a server handler to record what it managed to send."""
    for _ in range(200):
        if values:
            return
        time.sleep(0.05)
    raise AssertionError("the server never noticed the connection was shut")
