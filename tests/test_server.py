"""The HTTP server of the output directory: validators, 304, HEAD, gzip, types, safety."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from feeds.service.server import DirectorySource, FeedServer

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    + b"<item/>" * 200
    + b"</channel></rss>\n"
)


@pytest.fixture
def output(tmp_path: Path) -> Path:
    out = tmp_path / "output"
    out.mkdir()
    (out / "news.xml").write_bytes(FEED)
    (out / "news.atom").write_bytes(b"<feed/>")
    (out / "news.json").write_bytes(b"{}")
    (out / "feeds.opml").write_bytes(b"<opml/>")
    (out / "index.html").write_bytes(b"<!DOCTYPE html><p>index</p>")
    (out / ".news.xml.tmp123").write_bytes(b"half written")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "feeds.sqlite3").write_bytes(b"secret")
    (out / "sub").mkdir()
    (out / "sub" / "x.xml").write_bytes(b"<x/>")
    return out


@pytest.fixture
def server(output: Path) -> Iterator[FeedServer]:
    health = {"healthy": True}

    def report() -> tuple[bool, dict[str, Any]]:
        return health["healthy"], {"status": "ok" if health["healthy"] else "failing"}

    instance = FeedServer(
        DirectorySource(output), host="127.0.0.1", port=0, health=report, max_age=lambda name: 900
    )
    instance.health_state = health  # type: ignore[attr-defined]
    instance.start()
    yield instance
    instance.stop()


def request(
    server: FeedServer, path: str, method: str = "GET", **headers: str
) -> http.client.HTTPResponse:
    host, port = server.address
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.putrequest(method, path, skip_accept_encoding=True)
    for name, value in headers.items():
        connection.putheader(name.replace("_", "-"), value)
    connection.endheaders()
    response = connection.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/news.xml", "application/rss+xml; charset=utf-8"),
        ("/news.atom", "application/atom+xml; charset=utf-8"),
        ("/news.json", "application/feed+json; charset=utf-8"),
        ("/feeds.opml", "text/x-opml; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
    ],
)
def test_content_types_and_caching(server: FeedServer, path: str, content_type: str) -> None:
    response = request(server, path)
    assert response.status == 200
    assert response.getheader("Content-Type") == content_type
    assert response.getheader("Cache-Control") == "public, max-age=900"
    assert response.getheader("ETag", "").startswith('"')
    assert response.getheader("Last-Modified", "").endswith(" GMT")


def test_conditional_requests_get_304(server: FeedServer) -> None:
    first = request(server, "/news.xml")
    etag, modified = first.getheader("ETag", ""), first.getheader("Last-Modified", "")
    assert first.body == FEED  # type: ignore[attr-defined]
    again = request(server, "/news.xml", If_None_Match=etag)
    assert (again.status, again.body) == (304, b"")  # type: ignore[attr-defined]
    assert again.getheader("ETag") == etag
    assert request(server, "/news.xml", If_None_Match='"other", ' + etag).status == 304
    assert request(server, "/news.xml", If_None_Match='"other"').status == 200
    assert request(server, "/news.xml", If_Modified_Since=modified).status == 304
    assert (
        request(server, "/news.xml", If_Modified_Since="Mon, 01 Jan 2001 00:00:00 GMT").status
        == 200
    )


def test_changed_file_gets_a_new_etag(server: FeedServer, output: Path) -> None:
    etag = request(server, "/news.atom").getheader("ETag")
    (output / "news.atom").write_bytes(b"<feed>changed</feed>")
    response = request(server, "/news.atom", If_None_Match=etag or "")
    assert response.status == 200
    assert response.body == b"<feed>changed</feed>"  # type: ignore[attr-defined]


def test_head_has_headers_and_no_body(server: FeedServer) -> None:
    response = request(server, "/news.xml", "HEAD")
    assert response.status == 200
    assert response.getheader("Content-Length") == str(len(FEED))
    assert response.body == b""  # type: ignore[attr-defined]


def test_gzip_when_asked(server: FeedServer) -> None:
    response = request(server, "/news.xml", Accept_Encoding="gzip, deflate")
    assert response.getheader("Content-Encoding") == "gzip"
    assert response.getheader("Vary") == "Accept-Encoding"
    assert gzip.decompress(response.body) == FEED  # type: ignore[attr-defined]
    etag = response.getheader("ETag", "")
    assert etag.endswith('-gz"')
    assert request(server, "/news.xml", Accept_Encoding="gzip", If_None_Match=etag).status == 304
    assert (
        request(server, "/news.xml", Accept_Encoding="gzip;q=0").getheader("Content-Encoding")
        is None
    )
    assert (
        request(server, "/news.atom", Accept_Encoding="gzip").getheader("Content-Encoding") is None
    )  # tiny


@pytest.mark.parametrize(
    "path",
    [
        "/../state/feeds.sqlite3",
        "/%2e%2e/state/feeds.sqlite3",
        "/%2E%2E%2Fstate%2Ffeeds.sqlite3",
        "/..%2f..%2fetc%2fpasswd",
        "/%252e%252e/state/feeds.sqlite3",
        "//etc/passwd",
        "/etc/passwd",
        "/sub/x.xml",
        "/sub",
        "/.news.xml.tmp123",
        "/news.xml%00.txt",
        "/news.xml/",
        "/..\\state\\feeds.sqlite3",
        "/" + "a" * 5000,
    ],
)
def test_nothing_but_output_files(server: FeedServer, path: str) -> None:
    assert request(server, path).status == 404


def test_only_get_and_head(server: FeedServer) -> None:
    response = request(server, "/news.xml", "POST")
    assert (response.status, response.getheader("Allow")) == (405, "GET, HEAD")


def test_healthz(server: FeedServer) -> None:
    response = request(server, "/healthz")
    assert (response.status, response.body) == (200, b'{\n "status": "ok"\n}')  # type: ignore[attr-defined]
    server.health_state["healthy"] = False  # type: ignore[attr-defined]
    assert request(server, "/healthz").status == 503


@pytest.mark.parametrize(
    "path",
    [
        "/%2e%2e%2fstate%2ffeeds.sqlite3",
        "/%2e%2e%5cstate%5cfeeds.sqlite3",  # backslashes, encoded
        "/%c0%ae%c0%ae/state/feeds.sqlite3",  # overlong UTF-8 dots
        "/%c0%af..%c0%afstate%c0%affeeds.sqlite3",  # overlong UTF-8 slashes
        "/%ef%bc%8e%ef%bc%8e/state/feeds.sqlite3",  # full-width dots
        "/%25%32%65%25%32%65/state/feeds.sqlite3",  # double-encoded, every byte
        "/..%00/state/feeds.sqlite3",
        "/.%2e/state/feeds.sqlite3",
        "/news.xml/../../state/feeds.sqlite3",
        "/./../state/feeds.sqlite3",
        "/;/../state/feeds.sqlite3",
        "/%2fetc%2fpasswd",
        "/%5c..%5cstate%5cfeeds.sqlite3",
        "/....//state/feeds.sqlite3",
        "/..;/state/feeds.sqlite3",
        "http://127.0.0.1/../state/feeds.sqlite3",  # an absolute request target
        "/.%6eews.xml.tmp123",
        "/%2enews.xml.tmp123",
        "/sub%2fx.xml",
    ],
)
def test_traversal_in_every_encoding_is_refused(server: FeedServer, path: str) -> None:
    response = request(server, path)
    assert response.status in (400, 404), path
    assert b"secret" not in response.body and b"half written" not in response.body  # type: ignore[attr-defined]


def test_huge_urls_and_headers_are_refused_and_the_server_goes_on(server: FeedServer) -> None:
    long_query = request(server, "/news.xml?" + "a" * 200_000)  # readers add cache-busters
    assert (long_query.status, long_query.body) == (200, FEED)  # type: ignore[attr-defined]
    assert request(server, "/news.xml?" + "a" * 400_000).status in (400, 414, 431)
    huge_header = request(server, "/news.xml", X_Padding="b" * 300_000)
    assert huge_header.status in (400, 431)
    many_headers = {f"X_Header_{n}": "c" * 100 for n in range(2000)}
    assert request(server, "/news.xml", **many_headers).status in (200, 400, 431)
    assert request(server, "/news.xml").status == 200


def test_many_clients_at_once_all_get_correct_answers(server: FeedServer, output: Path) -> None:
    """A bounded load test: 200 clients on 127.0.0.1, 20 requests each (plain, gzip,
    conditional, HEAD, missing), every answer checked."""
    import threading

    clients, per_client = 200, 20
    etag = request(server, "/news.xml").getheader("ETag")
    expected = {"/news.atom": b"<feed/>", "/news.json": b"{}", "/news.xml": FEED}
    wrong: list[str] = []
    done = [0]
    lock = threading.Lock()

    def client(number: int) -> None:
        for n in range(per_client):
            kind = (number + n) % 5
            try:
                if kind == 0:
                    path = ("/news.xml", "/news.atom", "/news.json")[n % 3]
                    response = request(server, path)
                    ok = response.status == 200 and response.body == expected[path]  # type: ignore[attr-defined]
                elif kind == 1:
                    response = request(server, "/news.xml", Accept_Encoding="gzip")
                    ok = response.status == 200 and gzip.decompress(response.body) == FEED  # type: ignore[attr-defined]
                elif kind == 2:
                    response = request(server, "/news.xml", If_None_Match=etag or "")
                    ok = response.status == 304 and response.body == b""  # type: ignore[attr-defined]
                elif kind == 3:
                    response = request(server, "/news.xml", "HEAD")
                    ok = response.status == 200 and response.getheader("Content-Length") == str(
                        len(FEED)
                    )
                else:
                    ok = request(server, "/missing.xml").status == 404
            except OSError as exc:
                ok, response = False, exc  # type: ignore[assignment]
            with lock:
                done[0] += 1
                if not ok:
                    wrong.append(f"client {number} request {n}: {response!r}")

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert done[0] == clients * per_client
    assert wrong == []


def test_150_slow_connections_do_not_starve_healthz(server: FeedServer) -> None:
    """Clients that open a connection and send half a request (slowloris) hold a
    connection each, not a thread: with 150 of them, more than waitress's default limit
    of 100, /healthz and the feeds still answer."""
    host, port = server.address
    slow = []
    try:
        for _ in range(150):
            client = socket.create_connection((host, port), timeout=5)
            client.sendall(b"GET /news.xml HTTP/1.1\r\nHost: feeds\r\nX-Slow: ")
            slow.append(client)
        health = request(server, "/healthz")
        assert health.status == 200
        assert json.loads(health.body) == {"status": "ok"}  # type: ignore[attr-defined]
        assert request(server, "/news.xml").status == 200
    finally:
        for client in slow:
            client.close()


def test_servers_sharing_a_database_serve_the_same_bytes_and_validators() -> None:
    from datetime import UTC, datetime

    from feeds.service.server import DatabaseSource
    from feeds.storage.memory import MemoryState

    state = MemoryState()
    published = datetime(2024, 3, 1, 12, 0, 30, 123456, tzinfo=UTC)
    with state.connect() as store, store.transaction():
        store.put_documents({"news.xml": FEED, "index.html": b"<p>index</p>"}, published)
    servers = [
        FeedServer(
            DatabaseSource(state.connect, "test state"),
            host="127.0.0.1",
            port=0,
            health=lambda: (True, {}),
        )
        for _ in range(2)
    ]
    for instance in servers:
        instance.start()
    try:
        first, second = (request(instance, "/news.xml") for instance in servers)
        assert first.status == second.status == 200
        assert first.body == second.body == FEED  # type: ignore[attr-defined]
        assert first.getheader("ETag") == second.getheader("ETag")
        assert first.getheader("Last-Modified") == "Fri, 01 Mar 2024 12:00:30 GMT"
        assert second.getheader("Last-Modified") == first.getheader("Last-Modified")
        # a reader revalidating against either server gets a 304
        for instance in servers:
            etag = first.getheader("ETag") or ""
            assert request(instance, "/news.xml", If_None_Match=etag).status == 304
            modified = first.getheader("Last-Modified") or ""
            assert request(instance, "/news.xml", If_Modified_Since=modified).status == 304
        assert request(servers[1], "/").body == b"<p>index</p>"  # type: ignore[attr-defined]
        for path in ("/missing.xml", "/../news.xml", "/.news.xml"):
            assert request(servers[0], path).status == 404
        with state.connect() as store, store.transaction():
            store.put_documents({"news.xml": FEED + b"\n"}, published)
        changed = request(servers[0], "/news.xml")
        assert changed.body == FEED + b"\n"  # type: ignore[attr-defined]
        assert changed.getheader("ETag") != first.getheader("ETag")
    finally:
        for instance in servers:
            instance.stop()


def test_a_database_server_keeps_a_connection_and_replaces_a_broken_one() -> None:
    from datetime import UTC, datetime

    from feeds.errors import StorageError
    from feeds.service.server import DatabaseSource
    from feeds.storage.memory import MemoryState, MemoryStore

    state = MemoryState()
    with state.connect() as store, store.transaction():
        store.put_documents({"news.xml": FEED}, datetime(2024, 3, 1, tzinfo=UTC))
    opened: list[MemoryStore] = []

    def connect() -> MemoryStore:
        opened.append(state.connect())
        return opened[-1]

    source = DatabaseSource(connect, "test state")
    assert source.representation("news.xml") is not None
    assert source.representation("news.xml") is not None
    assert len(opened) == 1  # one connection for the thread, not one per request

    def broken(name: str) -> None:
        raise StorageError("state database: the server closed the connection")

    opened[0].document_version = broken  # type: ignore[method-assign, assignment]
    with pytest.raises(StorageError):
        source.representation("news.xml")
    representation = source.representation("news.xml")  # a new connection
    assert representation is not None and representation.body == FEED
    assert len(opened) == 2


def _disk_used(directory: Path) -> int:
    """Bytes in the files this process holds open in ``directory`` (temporary files are
    unlinked at once: they are found through the process's open descriptors)."""
    used = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            if str(fd.readlink()).startswith(str(directory)):
                used += fd.stat().st_size
        except OSError:
            continue
    return used


def test_slow_readers_of_a_big_feed_cost_neither_disk_nor_a_copy_each_and_are_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import random
    import tempfile
    import time

    import psutil

    spill = tmp_path / "tmp"  # where waitress would put the copies it makes
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    out = tmp_path / "out"
    out.mkdir()
    big = random.Random(1).randbytes(10 * 1024 * 1024)  # 10 MB that gzip cannot shrink
    (out / "big.xml").write_bytes(big)
    instance = FeedServer(
        DirectorySource(out),
        host="127.0.0.1",
        port=0,
        health=lambda: (True, {"status": "ok"}),
        idle_timeout=2,
    )
    instance.start()
    host, port = instance.address
    me = psutil.Process(os.getpid())
    readers: list[socket.socket] = []
    try:
        request(instance, "/big.xml")  # read once: the document is cached
        before = me.memory_info().rss
        for _ in range(200):  # each asks for the feed, then reads nothing
            reader = socket.create_connection((host, port), timeout=5)
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            reader.sendall(b"GET /big.xml HTTP/1.1\r\nHost: x\r\n\r\n")
            readers.append(reader)
        time.sleep(1)
        grown = me.memory_info().rss - before
        spilled = _disk_used(spill)
        health = request(instance, "/healthz")  # answered beside them
        assert health.status == 200
        print(
            f"200 slow readers of a 10 MB feed: {spilled} bytes on disk, "
            f"memory +{grown / 2**20:.0f} MB"
        )
        assert spilled == 0
        assert grown < 100 * 2**20  # 200 copies would be 2 GB
        deadline = time.monotonic() + 15  # cut once idle for 2 s (checked every second)
        while time.monotonic() < deadline:
            if len(instance._server._map) <= 2:  # the listener and waitress's trigger
                break
            time.sleep(0.2)
        assert len(instance._server._map) <= 2
    finally:
        for reader in readers:
            reader.close()
        instance.stop()
