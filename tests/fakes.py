"""Stand-ins that make time and the network deterministic: a clock that moves only when
something waits on it, and a transport that answers the fetcher from a script and notes
when (by that clock) each request went out."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from feeds.fetching.clock import Interrupt
from feeds.fetching.hosts import HostGate, Slots
from feeds.models import Page


class FakeClock:
    """A monotonic clock that moves only when waited on, or advanced: a wait returns at
    once (unless the interrupt has come), the time moved on by what it asked for."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.waits: list[float] = []
        """Every wait asked for, in order."""

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def wait(self, interrupt: Interrupt, seconds: float) -> bool:
        if interrupt.wait(0):
            return True
        with self._lock:
            self.waits.append(seconds)
            self._now += max(0.0, seconds)
        return False


class StuckClock(FakeClock):
    """A clock whose waits last until they are interrupted (a very long wait)."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, interrupt: Interrupt, seconds: float) -> bool:
        self.waiting.set()
        return interrupt.wait(None)


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes | str = b"<html><body><p>page</p></body></html>"
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": "text/html"})


class FakeTransport(requests.adapters.BaseAdapter):
    """Answers each path from ``script``: a list of replies (given in turn, the last one
    again and again) or a function of the request; 404 for any other path. Notes each
    request's path with the ``clock`` time it was sent at."""

    def __init__(
        self,
        clock: FakeClock,
        script: Mapping[str, list[Reply] | Callable[[requests.PreparedRequest], Reply]],
    ) -> None:
        super().__init__()
        self.clock = clock
        self.script = dict(script)
        self.sent: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def send(
        self, request: requests.PreparedRequest, *args: object, **kwargs: object
    ) -> requests.Response:
        path = urlsplit(request.url or "").path
        with self._lock:
            self.sent.append((self.clock.now(), path))
            answer = self.script.get(path)
            if answer is None:
                reply = Reply(404, b"not here")
            elif callable(answer):
                reply = answer(request)
            else:
                reply = answer.pop(0) if len(answer) > 1 else answer[0]
        response = requests.Response()
        response.status_code = reply.status
        response.reason = "OK" if reply.status < 400 else "Error"
        response.headers = CaseInsensitiveDict(reply.headers)
        body = reply.body.encode() if isinstance(reply.body, str) else reply.body
        response.raw = io.BytesIO(body)
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass

    def times(self, path: str) -> list[float]:
        """When requests for ``path`` went out, in order."""
        return [when for when, sent in self.sent if sent == path]


def note_gate_starts(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> dict[int, list[float]]:
    """When (by ``clock``) each host gate let a request start, by gate: the spacing the
    fetcher keeps, seen from the client, where no wall clock disturbs it."""
    starts: dict[int, list[float]] = {}
    turn = HostGate.turn

    @contextmanager
    def noted_turn(gate: HostGate, max_wait: float, shared: Slots | None = None) -> Iterator[None]:
        with turn(gate, max_wait, shared):
            starts.setdefault(id(gate), []).append(clock.now())
            yield

    monkeypatch.setattr(HostGate, "turn", noted_turn)
    return starts


FETCHED = datetime(2024, 1, 1, tzinfo=UTC)


def fetched_page(
    body: str | bytes,
    url: str = "https://news.example/news/",
    *,
    content_type: str = "text/html",
    encoding: str = "utf-8",
    fetched_at: datetime = FETCHED,
) -> Page:
    """A page as the fetcher hands it over (status 200, final URL its URL)."""
    data = body.encode() if isinstance(body, str) else body
    return Page(url, url, 200, content_type, data, encoding, fetched_at)
