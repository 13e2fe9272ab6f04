"""Where requests may go: internal addresses are refused unless the config names the host,
before the request and on every redirect, names checked after DNS resolution.

Every request that is expected to be refused is refused before any connection: no test
here connects anywhere but 127.0.0.0/8 (public addresses are only ever resolved to by
fake resolvers, and refused or never connected to).
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trustme
from pytest_httpserver import HTTPServer

from feeds.config import SourceConfig
from feeds.errors import FetchError
from feeds.fetching.addresses import AddressGuard, Resolver, is_public_address
from feeds.fetching.client import Fetcher, FetchOptions, RequestOptions
from feeds.fetching.hosts import Politeness
from feeds.models import Link
from feeds.service.setup import fetcher_for, follow
from feeds.storage import open_store
from tests.conftest import WriteConfig, run_once
from tests.sitesim import SiteSim

INTERNAL = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",  # the cloud metadata service (AWS, GCP, Azure, OpenStack)
    "100.100.100.200",  # Alibaba Cloud metadata (shared address space)
    "100.64.0.1",
    "0.0.0.0",
    "192.0.0.1",
    "198.18.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "224.0.0.1",
    "::1",
    "::",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd00:ec2::254",  # the AWS metadata service over IPv6
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
    "::127.0.0.2",  # IPv4-compatible
    "::ffff:0:7f00:2",  # IPv4-translated (SIIT)
    "::ffff:0:a9fe:a9fe",  # 169.254.169.254, translated
    "64:ff9b::7f00:2",  # NAT64's well-known prefix before 127.0.0.2
    "64:ff9b::a9fe:a9fe",  # and before the metadata service
    "64:ff9b:1::808:808",  # NAT64 for local use (RFC 8215)
    "ff02::1",
    "not an address",
]
PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "2606:4700:4700::1111",
    "2a00:1450:4001::1",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8: the public address it carries
]


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(address)


def fake_dns(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]

    return resolve


DNS = fake_dns(
    {
        "news.example": ["93.184.215.14"],
        "metadata.example": ["169.254.169.254"],
        "intranet.example": ["10.1.2.3"],
        "rebind.example": ["93.184.215.14", "127.0.0.1"],  # one public, one internal answer
        "wiki.corp.example": ["10.9.9.9"],
    }
)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.0.0.1:8080/admin",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://192.168.0.1/setup.cgi",
        "http://10.0.0.5:6379/",
        "http://0.0.0.0:8000/",
        "http://metadata.example/computeMetadata/v1/",
        "http://intranet.example/",
        "https://intranet.example./",  # a trailing dot is the same name
        "http://rebind.example/",
        "http://user:password@intranet.example/",
    ],
)
def test_internal_destinations_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match="internal address"):
        AddressGuard(["news.example"], resolver=DNS).check(url)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://news.example/file",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "dict://127.0.0.1:11211/stats",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "http:///no-host",
        "http://news.example:port/",
    ],
)
def test_other_schemes_and_broken_urls_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match="refused"):
        AddressGuard(["news.example"], resolver=DNS).check(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0x7f.0.0.1/",  # hexadecimal
        "http://0177.0.0.1/",  # octal
        "http://127.1/",  # short form
        "http://localhost/",
    ],
)
def test_odd_spellings_of_loopback_are_refused_after_resolution(url: str) -> None:
    """The system resolver reads these spellings as 127.0.0.1 (numeric: no DNS query)."""
    with pytest.raises(FetchError, match="internal address"):
        AddressGuard().check(url)


def test_hosts_named_by_the_config_are_trusted() -> None:
    guard = AddressGuard(["127.0.0.1", "intranet.example"], ["corp.example"], resolver=DNS)
    guard.check("http://127.0.0.1:8080/news/")
    guard.check("http://intranet.example/page")
    guard.check("http://wiki.corp.example/page")  # a subdomain of an allow_domains entry
    guard.check("http://news.example/story")  # public
    with pytest.raises(FetchError, match="is an internal address"):
        guard.check("http://127.0.0.2/")  # not the host the config names


def test_unresolvable_names_are_left_to_fail_on_their_own() -> None:
    AddressGuard(resolver=DNS).check("http://no-such-host.invalid/")


def test_the_config_trusts_its_source_hosts_hub_and_allowed_domains(
    write_config: WriteConfig,
) -> None:
    config = write_config(
        "settings:\n  websub_hub: http://hub.example/\nfeeds:\n  a:\n    sources:\n"
        "      - url: http://127.0.0.1:8000/news/\n        allow_domains: [corp.example]\n"
        "      - url: https://news.example/feed.xml\n"
    )
    assert set(config.trusted_urls) == {
        "http://127.0.0.1:8000/news/",
        "https://news.example/feed.xml",
        "http://hub.example/",
    }
    assert config.trusted_domains == ("corp.example",)
    guard = AddressGuard(config.trusted_urls, config.trusted_domains, resolver=DNS)
    guard.check("http://127.0.0.1:8000/other")  # the origin a source names
    with pytest.raises(FetchError, match="internal address"):
        guard.check("http://127.0.0.1:22/")  # the same host on another port is not named


def test_a_feed_trusts_only_what_its_own_sources_name(
    write_config: WriteConfig,
) -> None:
    from feeds.run.feed import feed_trust

    config = write_config(
        "feeds:\n"
        "  a:\n    sources: [{url: 'http://127.0.0.2:8001/news/'}]\n"
        "  b:\n    sources: [{url: 'http://127.0.0.3:8002/admin-area/', "
        "allow_domains: [corp.example]}]\n"
    )
    guard = AddressGuard(config.trusted_urls, config.trusted_domains, resolver=DNS)
    a, b = feed_trust(config.feeds["a"]), feed_trust(config.feeds["b"])
    guard.check("http://127.0.0.2:8001/story", a)
    guard.check("http://127.0.0.3:8002/admin", b)
    guard.check("http://wiki.corp.example/", b)
    for url in ("http://127.0.0.3:8002/admin", "http://wiki.corp.example/"):
        with pytest.raises(FetchError, match="internal address"):
            guard.check(url, a)  # named by feed b only
    guard.check("http://127.0.0.3:8002/admin")  # the config as a whole names it


# through the fetcher: every redirect is checked, and nothing reaches the internal host


@pytest.fixture
def internal() -> SiteSim:
    """A server on 127.0.0.2 that the config does not name: a page must not reach it."""
    with SiteSim("127.0.0.2") as site:
        site.add("/secret", "<p>internal secret</p>")
        yield site


NO_ROBOTS = RequestOptions(obey_robots=False)


def fetcher(guard: AddressGuard | None = None) -> Fetcher:
    options = FetchOptions(
        user_agent="feeds-test/1", retries=0, politeness=Politeness(per_host_delay=0)
    )
    return Fetcher(options, guard=guard or AddressGuard(["127.0.0.1"]))


def redirect(httpserver: HTTPServer, path: str, location: str) -> str:
    httpserver.expect_request(path).respond_with_data(
        "", status=302, headers={"Location": location}
    )
    return httpserver.url_for(path)


def test_a_redirect_to_an_internal_host_is_refused(httpserver: HTTPServer, internal: SiteSim):
    url = redirect(httpserver, "/go", internal.url("/secret"))
    with fetcher() as client, pytest.raises(FetchError, match="127.0.0.2 is an internal"):
        client.fetch(url)
    internal.collect()
    assert internal.paths() == []


def test_a_redirect_to_a_name_resolving_to_loopback_is_refused(httpserver: HTTPServer):
    httpserver.expect_request("/secret").respond_with_data("internal secret")
    url = redirect(httpserver, "/go", f"http://localhost:{httpserver.port}/secret")
    with fetcher() as client, pytest.raises(FetchError, match=r"localhost \(.*\) is an internal"):
        client.fetch(url)
    assert all(request.path != "/secret" for request, _ in httpserver.log)


def test_a_chain_of_redirects_is_checked_at_every_hop(httpserver: HTTPServer, internal: SiteSim):
    second = redirect(httpserver, "/second", internal.url("/secret"))
    first = redirect(httpserver, "/first", second)
    with fetcher() as client, pytest.raises(FetchError, match="internal"):
        client.fetch(first)
    internal.collect()
    assert internal.paths() == []
    assert [request.path for request, _ in httpserver.log][-2:] == ["/first", "/second"]


def test_a_redirect_to_another_scheme_is_refused(httpserver: HTTPServer) -> None:
    url = redirect(httpserver, "/go", "file:///etc/passwd")
    with fetcher() as client, pytest.raises(FetchError, match="file"):
        client.fetch(url)


def test_an_article_redirecting_inside_fails_alone_and_the_rest_is_published(
    write_config: WriteConfig, httpserver: HTTPServer, internal: SiteSim
) -> None:
    article = (
        "<html><head><title>{t}</title></head><body><article><h1>{t}</h1>"
        + "<p>The harbour council met on Tuesday and talked at length about the ferries. </p>" * 8
        + "</article></body></html>"
    )
    httpserver.expect_request("/news/").respond_with_data(
        '<main><a class="story" href="/news/good">A good story about ferries</a>'
        '<a class="story" href="/news/trap">A story that redirects inside</a></main>',
        content_type="text/html",
    )
    httpserver.expect_request("/news/good").respond_with_data(
        article.format(t="A good story about ferries"), content_type="text/html"
    )
    redirect(httpserver, "/news/trap", internal.url("/secret"))
    config = write_config(
        f"feeds:\n  news:\n    sources:\n      - url: {httpserver.url_for('/news/')}\n"
        "        links: a.story\n"
    )
    report = run_once(config, "news")
    assert (report.new, report.failed) == (1, 1)
    assert "internal address" in report.errors[0].message
    internal.collect()
    assert internal.paths() == []
    with open_store(config.settings.state_dir) as store:
        assert [item.title for item in store.items("news", 10)] == ["A good story about ferries"]


def test_a_reloaded_config_brings_the_hosts_it_names(
    write_config: WriteConfig, httpserver: HTTPServer
) -> None:
    """The service follows an edited config: a feed added on 127.0.0.1 can reach it."""
    httpserver.expect_request("/page").respond_with_data("<p>ok</p>", content_type="text/html")
    page = httpserver.url_for("/page")
    sources = "feeds:\n  a:\n    sources:\n      - url: https://news.example/\n"
    with fetcher_for(write_config(sources)) as client:
        with pytest.raises(FetchError, match="127.0.0.1 is an internal"):
            client.fetch(page)
        assert httpserver.log == []  # not even its robots.txt was asked for
        follow(client, write_config(sources + f"  b:\n    sources:\n      - url: {page}\n"))
        assert client.fetch(page).text == "<p>ok</p>"


# when connecting: the name is resolved again, checked, and the connection pinned to it


def test_connectable_gives_the_checked_addresses_of_an_untrusted_name() -> None:
    guard = AddressGuard(["intranet.example"], resolver=DNS)
    assert guard.connectable("intranet.example", 80) is None  # trusted: connect as usual
    assert guard.connectable("93.184.216.34", 80) is None  # nothing to resolve
    assert guard.connectable("news.example", 443) == ["93.184.215.14"]
    for refused in ("127.0.0.1", "metadata.example", "rebind.example"):
        with pytest.raises(FetchError, match="internal address"):
            guard.connectable(refused, 80)


def rebinding(first: str, then: str) -> Resolver:
    """A name that resolves to ``first`` once, then to ``then``."""
    answers = [first]

    def resolve(host: str, port: int) -> list[str]:
        return [answers.pop() if answers else then]

    return resolve


def test_a_name_rebinding_to_an_internal_address_after_the_check_is_refused(
    internal: SiteSim,
) -> None:
    port = urlsplit(internal.url("/")).port
    guard = AddressGuard(resolver=rebinding("93.184.215.14", "127.0.0.2"))
    with (
        fetcher(guard) as client,
        pytest.raises(
            FetchError, match=r"rebind\.example \(127\.0\.0\.2\) is an internal address"
        ) as refused,
    ):
        client.fetch(f"http://rebind.example:{port}/secret", request=NO_ROBOTS)
    assert refused.value.url == f"http://rebind.example:{port}/secret"
    internal.collect()
    assert internal.paths() == []


@pytest.fixture
def resolving_to_127_0_0_2(monkeypatch: pytest.MonkeyPatch) -> AddressGuard:
    """A guard that resolves every name to 127.0.0.2, counted as public here. The names
    used are ones the system cannot resolve: a page arrives only if the connection is
    made to the address the guard resolved."""
    public = is_public_address
    monkeypatch.setattr(
        "feeds.fetching.addresses.is_public_address",
        lambda address: address == "127.0.0.2" or public(address),
    )
    return AddressGuard(resolver=lambda host, port: ["127.0.0.2"])


def test_a_connection_goes_to_the_address_that_was_checked(
    internal: SiteSim, resolving_to_127_0_0_2: AddressGuard
) -> None:
    port = urlsplit(internal.url("/")).port
    with fetcher(resolving_to_127_0_0_2) as client:
        page = client.fetch(f"http://pinned.invalid:{port}/secret", request=NO_ROBOTS)
    assert b"internal secret" in page.body
    internal.collect()
    assert internal.paths() == ["/secret"]


def test_an_https_connection_goes_to_the_address_checked_and_verifies_the_name(
    resolving_to_127_0_0_2: AddressGuard, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("pinned.invalid").configure_cert(context)
    with SiteSim("127.0.0.2") as site:
        site.add("/secret", "<p>internal secret</p>")
        site.server.socket = context.wrap_socket(site.server.socket, server_side=True)
        port = urlsplit(site.url("/")).port
        with fetcher(resolving_to_127_0_0_2) as client:
            page = client.fetch(f"https://pinned.invalid:{port}/secret", request=NO_ROBOTS)
            assert b"internal secret" in page.body
            with pytest.raises(FetchError, match="certificate"):  # checked against the name
                client.fetch(f"https://127.0.0.2:{port}/secret", request=NO_ROBOTS)


def test_a_redirect_to_what_only_another_feed_names_is_refused(
    httpserver: HTTPServer, internal: SiteSim, write_config: WriteConfig
) -> None:
    from feeds.run.feed import feed_trust

    config = write_config(
        "feeds:\n"
        f"  a:\n    sources: [{{url: '{httpserver.url_for('/news/')}'}}]\n"
        f"  b:\n    sources: [{{url: '{internal.url('/')}'}}]\n"
    )
    url = redirect(httpserver, "/go", internal.url("/secret"))
    guard = AddressGuard(config.trusted_urls, config.trusted_domains)
    feed_a = RequestOptions(obey_robots=False, trust=feed_trust(config.feeds["a"]))
    with fetcher(guard) as client:
        with pytest.raises(FetchError, match="127.0.0.2 is an internal"):
            client.fetch(url, request=feed_a)
        internal.collect()
        assert internal.paths() == []
        feed_b = RequestOptions(obey_robots=False, trust=feed_trust(config.feeds["b"]))
        assert client.fetch(internal.url("/secret"), request=feed_b).status == 200


NOW = datetime(2024, 3, 10, tzinfo=UTC)


def test_the_same_host_on_another_port_is_not_the_source_site() -> None:
    from feeds.extraction.article import continuation
    from feeds.html import parse_document
    from feeds.sources import filter_links

    source = SourceConfig(url="http://127.0.0.1:8001/news/")
    links = [
        Link(url="http://127.0.0.1:8001/story", source=source.location),
        Link(url="http://127.0.0.1:8002/admin", source=source.location),
        Link(url="http://127.0.0.1/other", source=source.location),
    ]
    kept = filter_links(links, source, site=source.location, max_age=None, now=NOW)
    assert [link.url for link in kept] == ["http://127.0.0.1:8001/story"]
    page = "http://127.0.0.1:8001/story"
    document = parse_document('<a rel="next" href="http://127.0.0.1:8002/story/2">2</a>')
    assert continuation(document, page, page, None) is None  # not joined as a next page
    document = parse_document('<a rel="next" href="http://127.0.0.1:8001/story/2">2</a>')
    assert continuation(document, page, page, None) == "http://127.0.0.1:8001/story/2"
