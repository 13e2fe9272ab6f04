"""The run's policy: every decision as a pure function (no HTTP, no database, no clock),
and the step that applies a source's decisions in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feeds.errors import ExtractionError, FetchError, SourceError, StorageError
from feeds.models import Item, Link
from feeds.run.changes import Broken, Failed, SourceChanges, Worked
from feeds.run.policy import (
    BACKOFF_LIMIT,
    GIVE_UP_AFTER_RUNS,
    articles_broken,
    edit_date,
    failed_in_a_row,
    give_up_reason,
    keeps_validators,
    lasting,
    links_verdict,
    next_attempt,
    plan_links,
    retry_after,
    run_result,
    skip_reason,
    source_key,
)
from feeds.storage.interface import SourceHealth, Validators
from feeds.storage.memory import MemoryState

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def links(*names: str) -> list[Link]:
    return [Link(url=f"https://news.example/{name}", source="s") for name in names]


# a run's result


@pytest.mark.parametrize(
    ("sources", "sources_failed", "failed", "result"),
    [
        (2, 0, 0, "ok"),
        (2, 1, 0, "partial"),
        (2, 0, 3, "partial"),
        (2, 2, 0, "failed"),
        (0, 0, 0, "ok"),
    ],
)
def test_run_result(sources: int, sources_failed: int, failed: int, result: str) -> None:
    assert run_result(sources, sources_failed, failed) == result


# before a source is read


def test_a_failing_source_waits_for_its_next_attempt_unless_it_was_changed() -> None:
    assert skip_reason(SourceHealth(), NOW, "key") is None
    waiting = SourceHealth(
        failures=3, last_error="HTTP 503", next_attempt=NOW + HOUR, failed_config="key"
    )
    assert skip_reason(waiting, NOW, "key") == (
        "skipped: 3 failures in a row (last: HTTP 503); next attempt after 2026-11-29 13:00 UTC "
        "(`feeds once --retry` tries it now)"
    )
    assert skip_reason(waiting, NOW + HOUR, "key") is None
    assert skip_reason(waiting, NOW, "another key") is None  # its configuration changed


def test_waiting_runs_are_passed_over_when_failures_are_counted() -> None:
    assert run_result(2, 0, 0, sources_skipped=2) == "waiting"
    assert run_result(2, 1, 0, sources_skipped=1) == "failed"
    assert run_result(2, 0, 0, sources_skipped=1) == "partial"
    assert failed_in_a_row(["failed", "waiting", "failed", "ok", "failed"]) == 2
    assert failed_in_a_row(["waiting", "waiting"]) == 0
    assert failed_in_a_row(["partial", "failed"]) == 0


def test_backoff_doubles_up_to_a_day_and_heeds_retry_after() -> None:
    assert next_attempt(1, HOUR, NOW) is None  # one failure keeps the schedule
    assert next_attempt(2, HOUR, NOW) == NOW + 2 * HOUR
    assert next_attempt(3, HOUR, NOW) == NOW + 4 * HOUR
    assert next_attempt(60, HOUR, NOW) == NOW + BACKOFF_LIMIT
    assert next_attempt(1, HOUR, NOW, retry_after=7200) == NOW + 2 * HOUR
    assert next_attempt(3, HOUR, NOW, retry_after=60) == NOW + 4 * HOUR
    assert retry_after(FetchError("u", "HTTP 429", status=429, retry_after=30)) == 30
    assert retry_after(ExtractionError("u", "no article")) is None


def test_the_source_key_changes_with_its_configuration_or_rules() -> None:
    assert source_key("source A", "rules") == source_key("source A", "rules")
    assert source_key("source A", "rules") != source_key("source B", "rules")
    assert source_key("source A", "rules") != source_key("source A", "other rules")


# what a source yielded


def test_links_where_there_were_some_and_an_empty_listing() -> None:
    seen = SourceHealth(links_seen=12)
    assert links_verdict(5, True, seen, None, "https://n/") == links_verdict(
        5, False, SourceHealth(), None, "https://n/"
    )
    empty_feed = links_verdict(0, False, seen, None, "https://n/feed")
    assert empty_feed.broken is not None and "after 12 last time" in empty_feed.broken
    assert empty_feed.failure is None  # an empty feed can be just that
    first_sitemap = links_verdict(0, False, SourceHealth(), None, "https://n/sitemap.xml")
    assert first_sitemap.broken is None and first_sitemap.failure is None
    listing = links_verdict(0, True, SourceHealth(), "h2 a", "https://n/")
    assert listing.failure == (
        "its `links` selector 'h2 a' matched nothing; check it (`feeds preview --source https://n/`)"
    )
    automatic = links_verdict(0, True, SourceHealth(), None, "https://n/")
    assert automatic.failure is not None and "set a `links` selector" in automatic.failure


def test_new_links_in_order_within_the_budget() -> None:
    found = links("a", "b", "c", "d")
    known = {"https://news.example/a": "id-a", "https://news.example/b": ""}
    plan = plan_links(found, known, {}, None)
    assert [link.url for link in plan.new] == ["https://news.example/c", "https://news.example/d"]
    assert (plan.unchanged, plan.budget, plan.postponed) == (2, None, 0)
    assert plan_links(found, known, {"id-a": True}, None).unchanged == 1  # re-checked
    tight = plan_links(found, known, {}, 1)
    assert [link.url for link in tight.new] == ["https://news.example/c"]
    assert (tight.budget, tight.postponed) == (0, 1)
    spent = plan_links(found, known, {}, 0)
    assert (spent.new, spent.budget, spent.postponed) == ([], 0, 2)
    roomy = plan_links(found, known, {}, 5)
    assert (len(roomy.new), roomy.budget, roomy.postponed) == (2, 3, 0)


# how its articles went


def test_a_source_is_broken_when_none_of_several_articles_extract() -> None:
    assert articles_broken(extracted=0, failed_extractions=0) is None
    assert articles_broken(extracted=0, failed_extractions=1) is None
    assert articles_broken(extracted=1, failed_extractions=5) is None
    reason = articles_broken(extracted=0, failed_extractions=2)
    assert reason is not None and "none of its 2 new articles" in reason


def test_validators_are_kept_only_when_nothing_was_left_for_later() -> None:
    assert keeps_validators(True, True, False)
    assert not keeps_validators(False, True, False)  # an article to try again
    assert not keeps_validators(True, False, False)  # a page of the source failed
    assert not keeps_validators(True, True, True)  # the budget left links for later


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ExtractionError("u", "no article"), True),
        (FetchError("u", "HTTP 404", status=404), True),
        (FetchError("u", "HTTP 410", status=410), True),
        (FetchError("u", "HTTP 429", status=429), False),
        (FetchError("u", "HTTP 408", status=408), False),
        (FetchError("u", "HTTP 503", status=503), False),
        (FetchError("u", "connection refused"), False),
        (SourceError("u", "unexpected error"), False),
    ],
)
def test_which_failures_last(error: SourceError, expected: bool) -> None:
    assert lasting(error) is expected


def test_the_feed_gives_up_on_an_article_at_its_third_lasting_failure() -> None:
    gone = FetchError("u", "HTTP 404", status=404)
    for before in range(GIVE_UP_AFTER_RUNS - 1):
        assert give_up_reason(gone, before) is None
    assert (
        give_up_reason(gone, GIVE_UP_AFTER_RUNS - 1)
        == "HTTP 404; given up after it failed in 3 runs"
    )
    assert give_up_reason(FetchError("u", "HTTP 503", status=503), 10) is None


def test_an_edit_dates_the_item_unless_it_predates_hashes() -> None:
    assert edit_date("a-hash", NOW) == NOW
    assert edit_date("", NOW) is None


# applying a source's decisions


def make_item(n: int) -> Item:
    return Item(
        id=f"id-{n}",
        feed="f",
        url=f"https://news.example/{n}",
        title=f"Story {n}",
        published=NOW,
        updated=NOW,
        summary="s",
        content_html="<p>c</p>",
        fingerprint=(n,),
        first_seen=NOW,
        aliases=(f"https://news.example/{n}?amp",),
    )


def test_changes_see_their_own_new_items_and_land_together() -> None:
    state = MemoryState()
    store = state.connect()
    changes = SourceChanges("f", "https://news.example/", NOW)
    changes.add_item(make_item(1))
    assert changes.item_for_urls(store, ["https://news.example/1?amp"]) == "id-1"  # not stored yet
    assert store.count_items("f") == 0
    changes.add_urls("id-1", ["https://news.example/one"])
    changes.rejected.append((["https://news.example/old"], "rules", "too old"))
    changes.article_failures.append(("https://news.example/gone", "HTTP 404"))
    changes.validators["https://news.example/"] = Validators('"e"')
    changes.icon = "https://news.example/icon.png"
    changes.links_seen = 4
    changes.broken = Broken(None)
    changes.outcome = Worked("key")
    changes.apply(store)
    known = store.known_urls("f", ["https://news.example/one", "https://news.example/old"], "rules")
    assert known == {"https://news.example/one": "id-1", "https://news.example/old": ""}
    assert store.article_failures("f", ["https://news.example/gone"]) == {
        "https://news.example/gone": 1
    }
    assert store.validators("https://news.example/") == Validators('"e"')
    assert store.feed_icon("f") == "https://news.example/icon.png"
    health = store.source_health("f", "https://news.example/")
    assert (health.links_seen, health.config, health.last_success) == (4, "key", NOW)


def test_a_failed_apply_writes_nothing() -> None:
    state = MemoryState()
    store = state.connect()
    changes = SourceChanges("f", "s", NOW, outcome=Failed("HTTP 500", NOW + HOUR))
    changes.add_item(make_item(1))

    class Refusing(type(store)):  # type: ignore[misc]
        def record_source_failure(self, *args: object) -> None:
            raise StorageError("the disk is full")

    with pytest.raises(StorageError):
        changes.apply(Refusing(state))
    assert store.count_items("f") == 0
    changes.apply(store)
    assert store.count_items("f") == 1
    assert store.source_health("f", "s").next_attempt == NOW + HOUR
