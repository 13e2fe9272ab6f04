"""The proxy every connection of the rendering browser must go through, which refuses them.

Chromium is started with this proxy as its only way out (loopback included), so a
connection it opens by itself, outside Playwright's request interception (a prerender or
prefetch of speculation rules, a preconnect, a WebSocket, a subframe navigation, a TURN
relay of WebRTC), reaches this socket and nothing else. Every request a rendered page is
allowed to make is answered by the fetcher through the interception and never reaches the
network from the browser; so this proxy has nothing to forward: it reads the request's
head (bounded), records what was asked and answers 403. Only the loop of the browser's
thread uses it; it imports nothing but asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

HEAD_LIMIT = 16 * 1024
"""Bytes of a request's head read before it is refused anyway."""
HEAD_SECONDS = 5.0
"""Longest a connection may take to send its request line."""
REFUSAL = (
    b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 45\r\n"
    b"Connection: close\r\n\r\nfeeds: the browser may not connect by itself.\n"
)

Refused = Callable[[str, str], None]
"""Told of each refused connection: what it asked for (``CONNECT host:port``, or the
request's method and URL) and why."""


class RefusingProxy:
    """An HTTP proxy on 127.0.0.1 that answers every request and tunnel with 403."""

    def __init__(self, refused: Refused) -> None:
        self._refused = refused
        self._server: asyncio.Server | None = None
        self.connections = 0
        """Connections the browser opened to it (every one refused)."""

    async def start(self) -> str:
        """Listen on a free loopback port; the proxy's address for ``--proxy-server``."""
        self._server = await asyncio.start_server(self._refuse, "127.0.0.1", 0, limit=HEAD_LIMIT)
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def close(self) -> None:
        """Stop listening (connections being refused finish on their own)."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            line = await asyncio.wait_for(reader.readline(), HEAD_SECONDS)
            asked = " ".join(line.decode("latin-1").split()[:2]) or "(nothing)"
            self._refused(asked, "the browser's own connection: only the fetcher's requests leave")
            writer.write(REFUSAL)
            await asyncio.wait_for(writer.drain(), HEAD_SECONDS)
        except (TimeoutError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            self._refused("(unreadable request)", "the browser's own connection")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), HEAD_SECONDS)
