"""The storage contract, held by every implementation (SQLite, PostgreSQL and memory):
items, URLs, ordering, validators, source health, runs, feed info, transactions, batched
lookups. Then the databases' schema: migrations, older databases, file errors, times."""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds.errors import StorageError
from feeds.models import Item, Page, RunError, RunReport
from feeds.run.policy import edit_date
from feeds.storage.database import DatabaseStore
from feeds.storage.interface import (
    RunRecord,
    SourceHealth,
    Store,
    Validators,
    WorkerSeen,
    content_hash,
    document_etag,
)
from feeds.storage.memory import MemoryState
from feeds.storage.migrate import HEAD, LAST_LEGACY_SCHEMA, MIGRATIONS
from feeds.storage.schema import TIME_FORMAT, metadata
from tests.services import postgres_schema

OpenStore = Callable[[], Store]
"""Opens a new connection to the same state."""


@pytest.fixture(params=["sqlite", "memory", "postgres"])
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    """Each contract test runs against every implementation (PostgreSQL in a schema of
    its own, dropped after)."""
    if request.param == "sqlite":
        yield lambda: DatabaseStore.in_directory(tmp_path)
    elif request.param == "memory":
        yield MemoryState().connect
    else:
        with postgres_schema() as url:
            yield lambda: DatabaseStore.at(url)


@pytest.fixture
def store(connect: OpenStore) -> Iterator[Store]:
    with connect() as opened:
        yield opened


T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def make_item(n: int, **fields: object) -> Item:
    values: dict[str, object] = {
        "id": f"urn:uuid:{n:08d}-0000-5000-8000-000000000000",
        "feed": "f",
        "url": f"https://news.example/{n}",
        "title": f"Story {n}",
        "published": T0 + timedelta(hours=n),
        "updated": T0 + timedelta(hours=n),
        "summary": "s",
        "content_html": "<p>c</p>",
        "fingerprint": (1, 2, 3 + n),
        "first_seen": T0,
        "categories": ("a", "b"),
        "aliases": (f"https://news.example/{n}?from=home",),
        "language": "ko" if n % 2 else None,  # an item's own language, or none
    }
    values.update(fields)
    return Item(**values)  # type: ignore[arg-type]


# the contract


def test_documents_are_kept_and_only_changed_ones_get_a_new_time(store: Store) -> None:
    later = T0 + timedelta(hours=1)
    with store.transaction():
        assert store.put_documents({"a.xml": b"<a/>", "a.html": b"<p>"}, T0) == (
            "a.xml",
            "a.html",
        )
    with store.transaction():
        assert store.put_documents({"a.xml": b"<a/>", "a.html": b"<p>new"}, later) == ("a.html",)
    kept = store.document("a.xml")
    assert kept is not None
    assert (kept.body, kept.etag, kept.modified) == (b"<a/>", document_etag(b"<a/>"), T0)
    assert store.document_version("a.html") == (document_etag(b"<p>new"), later)
    assert store.document("missing") is None and store.document_version("missing") is None
    assert store.document_names(["a.xml", "a.html", "b.xml"]) == {"a.xml", "a.html"}
    with store.transaction():
        assert store.remove_documents(["a.html", "missing"]) == ["a.html"]
    assert store.document_names(["a.xml", "a.html"]) == {"a.xml"}


def test_a_due_run_done_covers_its_time_and_earlier_ones(store: Store) -> None:
    assert not store.due_run_done("f", T0)
    with store.transaction():
        store.record_due_run("f", T0, T0 + timedelta(minutes=1))
        store.record_due_run("f", T0, T0 + timedelta(minutes=2))  # a redelivery: kept once
    assert store.due_run_done("f", T0)
    assert store.due_run_done("f", T0 - timedelta(hours=1))  # overtaken by a later run
    assert not store.due_run_done("f", T0 + timedelta(seconds=1))
    assert not store.due_run_done("other", T0)


def test_documents_put_in_a_failed_transaction_are_not_kept(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.put_documents({"a.xml": b"<a/>"}, T0)
        raise RuntimeError("the disk filled up")
    assert store.document("a.xml") is None


def test_items_round_trip_newest_first(store: Store) -> None:
    items = [make_item(n) for n in range(3)]
    with store.transaction():
        for item in items:
            store.add_item(item)
    stored = store.items("f", limit=2)
    assert stored == [replace(items[2], aliases=()), replace(items[1], aliases=())]
    assert store.count_items("f") == 3 and store.count_items("other") == 0


def test_ties_keep_insertion_order_newest_last(store: Store) -> None:
    same_time = [make_item(n, published=T0, updated=T0) for n in range(3)]
    with store.transaction():
        for item in same_time:
            store.add_item(item)
    assert [i.title for i in store.items("f", 10)] == ["Story 2", "Story 1", "Story 0"]


def test_writes_are_seen_by_every_connection(connect: OpenStore) -> None:
    with connect() as first, first.transaction():
        first.add_item(make_item(1))
    with connect() as second:
        assert second.count_items("f") == 1


def test_urls_lead_to_items_per_feed(store: Store) -> None:
    with store.transaction():
        store.add_item(make_item(1))
        store.add_urls("f", make_item(1).id, ["https://news.example/amp/1"])
    assert (
        store.item_id_for_urls("f", ["https://x.example/", "https://news.example/amp/1"])
        == make_item(1).id
    )
    assert store.known_urls(
        "f", ["https://news.example/1?from=home", "https://news.example/2"]
    ) == {"https://news.example/1?from=home": make_item(1).id}
    assert store.known_urls("other-feed", ["https://news.example/1"]) == {}


def test_known_urls_of_a_long_listing_in_one_call(store: Store) -> None:
    """More URLs than SQLite takes parameters in one query: items, left-out URLs under
    these rules and under others."""
    with store.transaction():
        for n in range(0, 1500, 3):
            store.add_item(make_item(n))
        store.add_rejected(
            "f", [f"https://news.example/{n}" for n in range(1, 1500, 3)], "r", "old", T0
        )
        store.add_rejected(
            "f", [f"https://news.example/{n}" for n in range(2, 1500, 3)], "q", "old", T0
        )
    urls = [f"https://news.example/{n}" for n in range(1500)]
    known = store.known_urls("f", urls, "r")
    assert len(known) == 1000
    assert known["https://news.example/0"] == make_item(0).id
    assert known["https://news.example/1"] == ""
    assert "https://news.example/2" not in known


def test_an_item_stored_twice_is_kept_once(store: Store) -> None:
    """Idempotent by id: a run redone after a crash adds nothing twice."""
    with store.transaction():
        store.add_item(make_item(1))
        store.add_item(make_item(1, title="Another title"))
    assert [item.title for item in store.items("f", 10)] == ["Story 1"]


def test_recent_items_carry_fingerprints(store: Store) -> None:
    big = (2**64 - 1, 2**63, 0)
    with store.transaction():
        store.add_item(make_item(1, fingerprint=big))
    [known] = store.newest_fingerprints("f")
    assert (known.id, known.title, known.fingerprint) == (make_item(1).id, "Story 1", big)


def test_transaction_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.add_item(make_item(1))
        store.save_validators("https://a/", Validators('"e"'), T0)
        raise RuntimeError("crash")
    assert store.count_items("f") == 0
    assert store.validators("https://a/") == Validators()


def test_run_history(store: Store) -> None:
    failed = RunReport(
        feed="f", new=0, sources=1, sources_failed=1, errors=(RunError("s", "u", "m"),)
    )
    with store.transaction():
        store.record_run(RunReport(feed="f", new=2, sources=1, duration=1.5), T0)
        store.record_run(failed, T0 + timedelta(hours=1))
    assert store.recent_runs("f", 10) == [
        RunRecord(T0 + timedelta(hours=1), 1, 1, 0, "u: m"),
        RunRecord(T0, 1, 0, 0, None),
    ]
    assert store.recent_runs("f", 1) == store.recent_runs("f", 10)[:1]
    assert store.new_items_since("f", T0) == 2
    assert store.new_items_since("f", T0 + timedelta(minutes=1)) == 0
    assert store.recent_runs("other", 10) == []


def test_validators_round_trip(store: Store) -> None:
    with store.transaction():
        assert store.validators("https://a/") == Validators()
        store.save_validators("https://a/", Validators('"e1"', "Tue, 05 Mar 2024"), T0)
        assert store.validators("https://a/") == Validators('"e1"', "Tue, 05 Mar 2024")
        store.save_validators("https://a/", Validators(), T0)
        assert store.validators("https://a/") == Validators()


def test_source_health_counts_failures_until_a_success(store: Store) -> None:
    later = T0 + timedelta(hours=2)
    with store.transaction():
        assert store.source_health("f", "s") == SourceHealth()
        store.record_source_failure("f", "s", "HTTP 500", T0, None)
        store.record_source_failure("f", "s", "HTTP 502", T0, later)
        health = store.source_health("f", "s")
        assert (health.failures, health.last_error, health.next_attempt) == (2, "HTTP 502", later)
        store.record_source_success("f", "s", later, "config-key")
        store.record_links_seen("f", "s", 12)
        store.set_broken("f", "s", "no links")
    health = store.source_health("f", "s")
    assert (health.failures, health.next_attempt, health.last_success) == (0, None, later)
    assert (health.config, health.links_seen, health.broken) == ("config-key", 12, "no links")
    assert store.sources_health("f") == {"s": health}
    with store.transaction():
        store.set_broken("f", "s", None)
    assert store.source_health("f", "s").broken is None


def test_replaced_content_keeps_id_link_and_first_seen(store: Store) -> None:
    original = make_item(1)
    edited = replace(
        original, id="other", url="https://elsewhere/", content_html="<p>new</p>", language="de"
    )
    later = T0 + timedelta(days=1)
    with store.transaction():
        store.add_item(original, "source")
    assert store.stored_hash("f", original.id) == content_hash(original)
    assert store.stored_hash("f", "nothing") is None
    key = store.newest_state("f", 10)[1]
    with store.transaction():
        store.replace_content(original.id, edited, later)
    [stored] = store.items("f", 10)
    assert (stored.id, stored.url, stored.published, stored.first_seen) == (
        original.id,
        original.url,
        original.published,
        original.first_seen,
    )
    assert (stored.content_html, stored.updated, stored.language) == ("<p>new</p>", later, "de")
    assert store.stored_hash("f", original.id) == content_hash(edited)
    assert store.newest_state("f", 10) == (later, store.newest_state("f", 10)[1])
    assert store.newest_state("f", 10)[1] != key
    with store.transaction():
        store.replace_content(original.id, original, None)  # the date stays
    assert store.items("f", 10)[0].updated == later
    assert [r.id for r in store.recent_items("f", "source", T0)] == [original.id]
    assert store.recent_items("f", "source", later) == []


def test_feed_info_round_trip(store: Store) -> None:
    assert (store.feed_icon("f"), store.published_key("f")) == (None, None)
    with store.transaction():
        store.set_feed_icon("f", "https://news.example/icon.png")
        store.set_published_key("f", "key")
    assert store.feed_icon("f") == "https://news.example/icon.png"
    assert store.published_key("f") == "key"
    assert store.feed_icon("other") is None


def test_an_article_failure_count_ends_when_its_url_becomes_known(store: Store) -> None:
    with store.transaction():
        item = make_item(1)
        for url in (item.aliases[0], "https://news.example/left-out"):
            assert store.count_article_failure("f", url, "HTTP 404", T0) == 1
            assert store.count_article_failure("f", url, "HTTP 404", T0) == 2
        assert store.article_failures("f", [item.url, item.aliases[0]]) == {item.aliases[0]: 2}
        store.add_item(item)  # the failing URL is one of the item's
        store.add_rejected("f", ["https://news.example/left-out"], "", "too old", T0)
        for url in (item.aliases[0], "https://news.example/left-out"):
            assert store.count_article_failure("f", url, "HTTP 404", T0) == 1  # counted anew
        assert store.count_article_failure("other", item.aliases[0], "HTTP 404", T0) == 1


# the schema and its migrations


def test_schema_is_migrated_and_reopened(tmp_path: Path) -> None:
    with DatabaseStore.in_directory(tmp_path) as store, store.transaction():
        store.add_item(make_item(1))
    with DatabaseStore.in_directory(tmp_path) as store:
        assert store.count_items("f") == 1
    db = sqlite3.connect(tmp_path / "feeds.sqlite3")
    assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_head_is_the_newest_revision() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migrations_make_the_declared_schema(backend: str, tmp_path: Path) -> None:
    """What the revisions create is what ``schema`` declares: no table, column or index
    of one is missing from the other (Alembic's own comparison)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def compared(store: DatabaseStore) -> list[object]:
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection)
            return [
                difference
                for difference in compare_metadata(context, metadata)
                if isinstance(difference, tuple)
                and difference[0].startswith(("add_", "remove_"))
                and not (difference[0] == "remove_table" and difference[1].name == "feeds_schema")
            ]

    if backend == "sqlite":
        with DatabaseStore.in_directory(tmp_path) as store:
            assert compared(store) == []
    else:
        with postgres_schema() as url, DatabaseStore.at(url) as store:
            assert compared(store) == []


def test_run_errors_are_kept_as_json(tmp_path: Path) -> None:
    report = RunReport(feed="f", new=2, sources=1, errors=(RunError("s", "u", "m"),), duration=1.5)
    with DatabaseStore.in_directory(tmp_path) as store, store.transaction():
        store.record_run(report, T0)
    row = (
        sqlite3.connect(tmp_path / "feeds.sqlite3")
        .execute("SELECT feed, new, errors FROM runs")
        .fetchone()
    )
    assert row == ("f", 2, '[{"source": "s", "url": "u", "message": "m"}]')


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "feeds.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="cannot open the state database .* move it away"):
        DatabaseStore.in_directory(tmp_path)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    with DatabaseStore.in_directory(tmp_path):
        pass
    db = sqlite3.connect(tmp_path / "feeds.sqlite3")
    db.execute("UPDATE alembic_version SET version_num = 'ffff'")
    db.commit()
    db.close()
    with pytest.raises(StorageError, match=r"newer version of feeds \(ffff\)"):
        DatabaseStore.in_directory(tmp_path)


def test_newer_legacy_schema_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "feeds.sqlite3")
    db.execute(f"PRAGMA user_version = {LAST_LEGACY_SCHEMA['sqlite'] + 1}")
    db.close()
    with pytest.raises(StorageError, match="newer version of feeds"):
        DatabaseStore.in_directory(tmp_path)


def test_times_are_kept_as_text_that_sorts_as_time(tmp_path: Path) -> None:
    times = [T0 + timedelta(days=400), T0, T0 + timedelta(microseconds=1)]
    with DatabaseStore.in_directory(tmp_path) as store:
        for n, time in enumerate(times):
            store.add_item(make_item(n, published=time, updated=time))
        assert {item.published for item in store.items("f", 10)} == set(times)
    stored = sqlite3.connect(tmp_path / "feeds.sqlite3").execute(
        "SELECT published FROM items ORDER BY published"
    )
    assert [row[0] for row in stored] == [t.strftime(TIME_FORMAT) for t in sorted(times)]


LEGACY_SCHEMA_1 = """
    CREATE TABLE items (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, feed TEXT NOT NULL, id TEXT NOT NULL,
        url TEXT NOT NULL, title TEXT NOT NULL, author TEXT, published TEXT NOT NULL,
        updated TEXT NOT NULL, summary TEXT NOT NULL, content_html TEXT NOT NULL, image TEXT,
        categories TEXT NOT NULL DEFAULT '[]', fingerprint BLOB NOT NULL,
        first_seen TEXT NOT NULL, UNIQUE (feed, id)
    );
    CREATE INDEX items_by_date ON items (feed, published DESC, first_seen DESC, seq DESC);
    CREATE TABLE item_urls (
        feed TEXT NOT NULL, url TEXT NOT NULL, item_id TEXT NOT NULL, PRIMARY KEY (feed, url)
    ) WITHOUT ROWID;
    CREATE TABLE runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, feed TEXT NOT NULL, started TEXT NOT NULL,
        duration REAL NOT NULL, new INTEGER NOT NULL, updated INTEGER NOT NULL,
        unchanged INTEGER NOT NULL, skipped INTEGER NOT NULL, failed INTEGER NOT NULL,
        sources INTEGER NOT NULL, sources_failed INTEGER NOT NULL,
        errors TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX runs_by_feed ON runs (feed, seq DESC);
    PRAGMA user_version = 1;
"""
"""The schema of the first release (SQLite's migration 1), before Alembic."""


def test_version_1_database_is_upgraded_keeping_items(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "feeds.sqlite3")
    db.executescript(LEGACY_SCHEMA_1)
    db.execute(
        "INSERT INTO items (feed, id, url, title, published, updated, summary, content_html,"
        " fingerprint, first_seen) VALUES ('f', 'i', 'u', 't', ?, ?, 's', 'c', x'', ?)",
        (T0.strftime(TIME_FORMAT),) * 3,
    )
    db.commit()
    db.close()
    with DatabaseStore.in_directory(tmp_path) as store:
        [item] = store.items("f", 10)
        assert (item.id, item.title) == ("i", "t")
        # no hash yet: the first re-check stores one without calling the item edited
        stored = store.stored_hash("f", "i")
        assert stored == "" and edit_date(stored, T0) is None
        store.save_page("f", "i", "s", Page("u", "u", 200, "text/html", b"<p>", "utf-8", T0))
        assert [kept.item_id for kept in store.stored_pages("f", 10)] == ["i"]  # a new table
    db = sqlite3.connect(tmp_path / "feeds.sqlite3")
    assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_last_legacy_database_is_adopted_as_it_is(backend: str, tmp_path: Path) -> None:
    """A database of the last schema numbered before Alembic (SQLite's 11, PostgreSQL's
    3: the tables ``schema`` declares) is marked as up to date, its rows untouched."""
    from sqlalchemy import create_engine, make_url, text

    def adopted(url: str, legacy: str, reopen: Callable[[], DatabaseStore]) -> None:
        engine = create_engine(url)
        with engine.begin() as connection:
            metadata.create_all(connection)
            connection.execute(text(legacy))
        engine.dispose()
        with reopen() as store:
            store.add_item(make_item(1))
            assert store.count_items("f") == 1
            assert store.item_id_for_urls("f", [make_item(1).url]) == make_item(1).id

    if backend == "sqlite":
        adopted(
            f"sqlite:///{tmp_path / 'feeds.sqlite3'}",
            f"PRAGMA user_version = {LAST_LEGACY_SCHEMA['sqlite']}",
            lambda: DatabaseStore.in_directory(tmp_path),
        )
    else:
        with postgres_schema() as url:
            adopted(
                make_url(url).set(drivername="postgresql+psycopg").render_as_string(False),
                "CREATE TABLE feeds_schema (version INTEGER); "
                f"INSERT INTO feeds_schema VALUES ({LAST_LEGACY_SCHEMA['postgresql']})",
                lambda: DatabaseStore.at(url),
            )


def test_pages_are_kept_for_the_newest_items(store: Store) -> None:
    page = Page(
        url="https://news.example/1",
        final_url="https://news.example/1",
        status=200,
        content_type="text/html",
        body=b"<p>one</p>" * 100,
        encoding="utf-8",
        fetched_at=T0,
    )
    with store.transaction():
        for n in range(3):
            store.add_item(make_item(n))
            store.save_page(
                "f", make_item(n).id, "s", replace(page, url=f"https://news.example/{n}")
            )
        store.set_extraction_key("f", "rules")
    assert [p.item_id for p in store.stored_pages("f", 2)] == [make_item(2).id, make_item(1).id]
    [newest] = store.stored_pages("f", 1)
    assert (newest.source, newest.page.body, newest.page.fetched_at) == ("s", page.body, T0)
    with store.transaction():
        store.prune_pages("f", 1)
    assert [p.item_id for p in store.stored_pages("f", 10)] == [make_item(2).id]
    assert store.extraction_key("f") == "rules" and store.extraction_key("g") is None


def test_a_due_run_is_claimed_once_and_sent_again_only_while_not_done(store: Store) -> None:
    later = T0 + timedelta(hours=1)
    store.schedule_feed("f", T0)
    store.schedule_feed("g", later)
    assert [(row.feed, row.next_due, row.sent_due) for row in store.schedule()] == [
        ("f", T0, None),
        ("g", later, None),
    ]
    assert store.claim_due("f", T0, later, T0)
    assert not store.claim_due("f", T0, later, T0)  # a second scheduler finds it taken
    [row] = [row for row in store.schedule() if row.feed == "f"]
    assert (row.next_due, row.sent_due, row.sent_at, row.sends) == (later, T0, T0, 1)
    # not sent again before its grace ends; then once, whoever asks
    assert not store.claim_resend("f", T0, T0 + timedelta(seconds=5), T0)
    assert store.claim_resend("f", T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=1))
    assert not store.claim_resend("f", T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=1))
    store.unsend("f", T0)  # the broker refused it: sent again at once
    assert store.claim_resend("f", T0, T0 + timedelta(minutes=6), T0)
    assert store.settle_done() == 0
    store.record_due_run("f", T0, T0 + timedelta(minutes=7))
    assert store.settle_done() == 1
    [row] = [row for row in store.schedule() if row.feed == "f"]
    assert (row.sent_due, row.sent_at, row.sends) == (None, None, 3)
    assert not store.claim_resend("f", T0, later, later)
    store.schedule_feed("f", T0)  # moved (its interval changed)
    store.unschedule(["g", "unknown"])
    assert [(row.feed, row.next_due) for row in store.schedule()] == [("f", T0)]


def test_workers_are_seen_as_they_last_said(store: Store) -> None:
    store.worker_seen(WorkerSeen("w1", T0, 2, 0))
    store.worker_seen(WorkerSeen("w2", T0 - timedelta(minutes=5), 0, 0))
    store.worker_seen(WorkerSeen("w1", T0 + timedelta(seconds=10), 1, 3))
    assert store.workers_seen(T0 - timedelta(minutes=1)) == [
        WorkerSeen("w1", T0 + timedelta(seconds=10), 1, 3)
    ]
    assert [w.name for w in store.workers_seen(T0 - timedelta(hours=1))] == ["w1", "w2"]


def test_feeds_asked_for_on_demand_are_kept_once_the_oldest_first(store: Store) -> None:
    store.add_on_demand("https://b.example/feed", 20, T0 + timedelta(minutes=1))
    store.add_on_demand("https://a.example/feed", 20, T0)
    store.add_on_demand("https://a.example/feed", 20, T0 + timedelta(hours=1))  # kept as it is
    assert store.on_demand_feeds() == [
        ("https://a.example/feed", 20),
        ("https://b.example/feed", 20),
    ]


def test_kept_pages_are_zstd_and_older_zlib_ones_still_read() -> None:
    from feeds.storage.codec import pack_body, unpack_body

    body = (
        b"<html><body>" + b"<p>The harbour's story, again and again.</p>" * 500 + b"</body></html>"
    )
    packed = pack_body(body)
    assert packed.startswith(b"\x28\xb5\x2f\xfd") and len(packed) < len(body) / 10
    assert unpack_body(packed) == body
    assert unpack_body(zlib.compress(body, 6)) == body  # as kept before
