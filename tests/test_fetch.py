"""Fetching over HTTP from 127.0.0.1, and local files."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from feeds.errors import FetchError
from feeds.fetch import Fetcher, FetchOptions, detect_encoding

OPTIONS = FetchOptions(user_agent="feeds-test/1", timeout=2.0, max_bytes=64 * 1024)


@pytest.fixture
def fetcher() -> Fetcher:
    return Fetcher(OPTIONS)


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
    def slow(request: Request) -> Response:
        time.sleep(1.5)
        return Response("late", content_type="text/html")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    fetcher = Fetcher(FetchOptions(user_agent="t", timeout=0.5))
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out after 0.5s"):
        fetcher.fetch(httpserver.url_for("/slow"))
    assert time.monotonic() - started < 1.4


def test_connection_refused_is_a_fetch_error(fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match="cannot connect"):
        fetcher.fetch("http://127.0.0.1:9/")


def test_other_schemes_are_refused(fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match="unsupported URL scheme 'ftp'"):
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
    fetcher = Fetcher(OPTIONS, local_roots=[site])

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
    page = Fetcher(OPTIONS, local_roots=[tmp_path]).fetch(tmp_path.as_uri() + "/")
    assert page.content_type == "text/html"
    assert '<a href="a.htm">' in page.text and '<a href="b.html">' in page.text
    assert "notes" not in page.text
