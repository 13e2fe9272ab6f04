"""The SQLite state: schema, items, URLs, ordering, failures."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds.errors import StorageError
from feeds.models import Item, RunError, RunReport
from feeds.storage.sqlite import (
    MIGRATIONS,
    SourceHealth,
    Store,
    Validators,
    format_time,
    parse_time,
)

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
    }
    values.update(fields)
    return Item(**values)  # type: ignore[arg-type]


def test_schema_is_migrated_and_reopened(tmp_path: Path) -> None:
    with Store.in_directory(tmp_path) as store, store.transaction():
        store.add_item(make_item(1))
    with Store.in_directory(tmp_path) as store:
        assert store.count_items("f") == 1
    db = sqlite3.connect(tmp_path / "feeds.sqlite3")
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_items_round_trip_newest_first(tmp_path: Path) -> None:
    items = [make_item(n) for n in range(3)]
    with Store.in_directory(tmp_path) as store:
        with store.transaction():
            for item in items:
                store.add_item(item)
        stored = store.items("f", limit=2)
    assert stored == [replace(items[2], aliases=()), replace(items[1], aliases=())]


def test_ties_keep_insertion_order_newest_last(tmp_path: Path) -> None:
    same_time = [make_item(n, published=T0, updated=T0) for n in range(3)]
    with Store.in_directory(tmp_path) as store:
        with store.transaction():
            for item in same_time:
                store.add_item(item)
        assert [i.title for i in store.items("f", 10)] == ["Story 2", "Story 1", "Story 0"]


def test_urls_lead_to_items_per_feed(tmp_path: Path) -> None:
    with Store.in_directory(tmp_path) as store:
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


def test_recent_items_carry_fingerprints(tmp_path: Path) -> None:
    big = (2**64 - 1, 2**63, 0)
    with Store.in_directory(tmp_path) as store:
        with store.transaction():
            store.add_item(make_item(1, fingerprint=big))
        [known] = store.newest_fingerprints("f")
    assert (known.id, known.title, known.fingerprint) == (make_item(1).id, "Story 1", big)


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    with Store.in_directory(tmp_path) as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.add_item(make_item(1))
            raise RuntimeError("crash")
        assert store.count_items("f") == 0


def test_duplicate_id_is_a_storage_error(tmp_path: Path) -> None:
    with Store.in_directory(tmp_path) as store, store.transaction():
        store.add_item(make_item(1))
        with pytest.raises(StorageError, match="UNIQUE constraint"):
            store.add_item(make_item(1))


def test_run_history(tmp_path: Path) -> None:
    report = RunReport(feed="f", new=2, sources=1, errors=(RunError("s", "u", "m"),), duration=1.5)
    with Store.in_directory(tmp_path) as store, store.transaction():
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
        Store.in_directory(tmp_path)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "feeds.sqlite3")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StorageError, match="newer version of feeds"):
        Store.in_directory(tmp_path)


def test_time_format_sorts_as_text() -> None:
    times = [T0, T0 + timedelta(microseconds=1), T0 + timedelta(days=400)]
    texts = [format_time(t) for t in times]
    assert texts == sorted(texts)
    assert [parse_time(t) for t in texts] == times


def test_version_1_database_is_upgraded_keeping_items(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "feeds.sqlite3")
    db.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
    db.execute(
        "INSERT INTO items (feed, id, url, title, published, updated, summary, content_html,"
        " fingerprint, first_seen) VALUES ('f', 'i', 'u', 't', ?, ?, 's', 'c', x'', ?)",
        (format_time(T0),) * 3,
    )
    db.commit()
    db.close()
    with Store.in_directory(tmp_path) as store:
        [item] = store.items("f", 10)
        assert (item.id, item.title) == ("i", "t")
        # no hash yet: the first re-check stores one without calling the item edited
        with store.transaction():
            assert not store.update_item("i", replace(make_item(1), feed="f"), T0)
    assert sqlite3.connect(tmp_path / "feeds.sqlite3").execute("PRAGMA user_version").fetchone()[
        0
    ] == len(MIGRATIONS)


def test_validators_round_trip(tmp_path: Path) -> None:
    with Store.in_directory(tmp_path) as store, store.transaction():
        assert store.validators("https://a/") == Validators()
        store.save_validators("https://a/", Validators('"e1"', "Tue, 05 Mar 2024"), T0)
        assert store.validators("https://a/") == Validators('"e1"', "Tue, 05 Mar 2024")
        store.save_validators("https://a/", Validators(), T0)
        assert store.validators("https://a/") == Validators()


def test_source_health_counts_failures_until_a_success(tmp_path: Path) -> None:
    later = T0 + timedelta(hours=2)
    with Store.in_directory(tmp_path) as store, store.transaction():
        assert store.source_health("f", "s") == SourceHealth()
        store.record_source_failure("f", "s", "HTTP 500", T0, None)
        store.record_source_failure("f", "s", "HTTP 502", T0, later)
        health = store.source_health("f", "s")
        assert (health.failures, health.last_error, health.next_attempt) == (2, "HTTP 502", later)
        store.record_source_success("f", "s", later)
        health = store.source_health("f", "s")
        assert (health.failures, health.next_attempt, health.last_success) == (0, None, later)


def test_update_item_keeps_id_link_and_dates_unless_content_changed(tmp_path: Path) -> None:
    original = make_item(1)
    edited = replace(original, id="other", url="https://elsewhere/", content_html="<p>new</p>")
    later = T0 + timedelta(days=1)
    with Store.in_directory(tmp_path) as store:
        with store.transaction():
            store.add_item(original, "source")
            assert not store.update_item(original.id, original, later)
            assert store.update_item(original.id, edited, later)
        [stored] = store.items("f", 10)
        assert (stored.id, stored.url, stored.published) == (
            original.id,
            original.url,
            original.published,
        )
        assert (stored.content_html, stored.updated) == ("<p>new</p>", later)
        assert [r.id for r in store.recent_items("f", "source", T0)] == [original.id]
        assert store.recent_items("f", "source", later) == []


def test_an_article_failure_count_ends_when_its_url_becomes_known(tmp_path: Path) -> None:
    with Store.in_directory(tmp_path) as store, store.transaction():
        item = make_item(1)
        for url in (item.aliases[0], "https://news.example/left-out"):
            assert store.count_article_failure("f", url, "HTTP 404", T0) == 1
            assert store.count_article_failure("f", url, "HTTP 404", T0) == 2
        store.add_item(item)  # the failing URL is one of the item's
        store.add_rejected("f", ["https://news.example/left-out"], "", "too old", T0)
        for url in (item.aliases[0], "https://news.example/left-out"):
            assert store.count_article_failure("f", url, "HTTP 404", T0) == 1  # counted anew
        assert store.count_article_failure("other", item.aliases[0], "HTTP 404", T0) == 1
