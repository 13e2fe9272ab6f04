"""CPU time by stage (``feeds.timing``): exclusive of nested stages, from any thread, and
what ``feeds once`` writes for the benchmark."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from feeds.timing import StageTimes, write_stage_times


def spin(turns: int) -> int:
    total = 0
    for number in range(turns):
        total += number * number
    return total


def test_a_stage_is_timed_without_the_stages_inside_it() -> None:
    times = StageTimes()
    with times.stage("outer"):
        spin(20_000)
        with times.stage("inner"):
            spin(200_000)
    seconds = times.snapshot()
    assert set(seconds) == {"outer", "inner"}
    assert 0 < seconds["outer"] < seconds["inner"]


def test_stages_of_several_threads_add_up() -> None:
    times = StageTimes()

    def work() -> None:
        with times.stage("fetch"):
            spin(50_000)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times.merge({"fetch": 1.0, "parse": 2.0})
    seconds = times.snapshot()
    assert seconds["fetch"] > 1.0 and seconds["parse"] == 2.0


def test_once_writes_the_stages_where_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_stage_times(0.5)  # not asked: nothing written, nothing raised
    target = tmp_path / "stages.json"
    monkeypatch.setenv("FEEDS_STAGE_TIMES", str(target))
    write_stage_times(0.5)
    report = json.loads(target.read_text())
    assert report["parent"]["imports"] == 0.5
    assert report["parent_cpu"] > 0 and isinstance(report["workers"], dict)
