"""CPU time by stage: what each part of a run costs, where it runs.

Every process keeps its own tally (``TIMES``): a stage is timed with the CPU clock of the
thread that runs it (``time.thread_time``), exclusive of the stages nested in it, so the
stages of a process add up to no more than its CPU time. Extraction workers send theirs
back with each article; ``feeds once`` writes the run's to the file named by
``$FEEDS_STAGE_TIMES`` (what ``bench/scale.py`` reads). Timing costs a clock read at each
stage's start and end (well under a microsecond).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

STAGE_TIMES_ENVIRONMENT = "FEEDS_STAGE_TIMES"


class StageTimes:
    """CPU seconds by stage, from any thread of the process."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as ``name`` (without the stages timed inside it)."""
        stack: list[list[float]] = self._local.__dict__.setdefault("stack", [])
        frame = [time.thread_time(), 0.0]  # start, time of the stages nested in it
        stack.append(frame)
        try:
            yield
        finally:
            stack.pop()
            spent = time.thread_time() - frame[0]
            if stack:
                stack[-1][1] += spent
            self.add(name, spent - frame[1])

    def add(self, name: str, seconds: float) -> None:
        """Count ``seconds`` more for ``name``."""
        with self._lock:
            self._seconds[name] = self._seconds.get(name, 0.0) + seconds

    def merge(self, seconds: Mapping[str, float]) -> None:
        """Count another tally's stages (a worker's, for one article) in this one."""
        for name, value in seconds.items():
            self.add(name, value)

    def snapshot(self) -> dict[str, float]:
        """The stages' seconds so far."""
        with self._lock:
            return dict(self._seconds)


TIMES = StageTimes()
"""This process's tally."""
WORKERS = StageTimes()
"""In the parent: its extraction workers' tally, as their articles came back."""


def stage(name: str) -> AbstractContextManager[None]:
    """Time the block as the stage ``name`` of this process."""
    return TIMES.stage(name)


def write_stage_times(started_cpu: float) -> None:
    """Write this process's stages and its workers' to ``$FEEDS_STAGE_TIMES``, when set;
    ``started_cpu``: the process's CPU time when its command began (its imports)."""
    path = os.environ.get(STAGE_TIMES_ENVIRONMENT)
    if not path:
        return
    report = {
        "parent": {"imports": started_cpu, **TIMES.snapshot()},
        "parent_cpu": time.process_time(),
        "workers": WORKERS.snapshot(),
    }
    Path(path).write_text(json.dumps(report, indent=1))
