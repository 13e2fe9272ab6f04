"""Pages built by scripts, rendered in headless Chromium (a source's ``render: true``).

The only module that imports Playwright. One browser per process, started on the first
page that needs it, reused, restarted after ``RESTART_AFTER`` pages (a long-lived browser
only grows), closed with the fetcher. It runs in a thread of its own with an asyncio loop
(Playwright's objects belong to one thread); ``Renderer.render`` may be called from any
thread, and at most ``max_pages`` pages are open at once.

The browser sends nothing itself: every request a page makes is intercepted and either
refused or made by the fetcher (``Fetcher.fetch``), so it obeys what every request obeys:
the address guard (internal addresses, other schemes), robots.txt, per-host politeness,
the User-Agent, the size limit and the download deadline. What Chromium would fetch
outside the interception (speculation rules' prerenders and prefetches, preconnects,
WebSockets, subframes, WebRTC's relays) can only reach the ``RefusingProxy``, Chromium's
one way out, loopback included; those features are turned off by flags as well, and
WebRTC may not send UDP around the proxy. The page's own document is the one the fetcher
already has (fetched with its validators: a page that did not change is not rendered at
all). Images, media, fonts, stylesheets and the known ad and tracking hosts are never
requested: the text is what a feed needs, and nothing leaks.

Bounded: a page whose document is not parsed within the download deadline is cut, with
its browser tab; one that is, but keeps loading or fetching, is taken as it is at the
deadline. The DOM handed over is cut at ``max_bytes`` (its serialised size). A renderer
process that grows past ``memory_limit`` is killed, which fails its page alone (each page
has a browser context, so a renderer, of its own); V8's heap is capped at the same size.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from feeds.errors import FetchError, FetchStoppedError
from feeds.extras import installed
from feeds.fetching.refusing_proxy import RefusingProxy
from feeds.models import Page
from feeds.urls import same_document

if TYPE_CHECKING:
    import psutil
    from playwright.async_api import Browser, Playwright, Route, WebSocketRoute

log = logging.getLogger(__name__)

T = TypeVar("T")

INSTALL_HINT = (
    "render: true needs a browser: install feeds with its browser extra "
    "(pip install 'feeds[browser]') and Chromium (Debian: apt-get install chromium), "
    "or set FEEDS_CHROMIUM to a Chromium executable"
)
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
"""Where Chromium is looked for (Debian's package first), unless FEEDS_CHROMIUM says."""
RESTART_AFTER = 200
"""Pages a browser renders before it is replaced by a fresh one (its memory only grows)."""
SETTLE_SECONDS = 2.0
"""After the load event, how long the page may go on fetching (its scripts' requests)
before its DOM is taken as it is."""
CONTENT_SECONDS = 10.0
"""Longest the browser may take to hand the DOM over (a script can keep it busy)."""
SKIPPED_TYPES = frozenset(
    {"image", "media", "font", "stylesheet", "texttrack", "manifest", "eventsource", "websocket"}
)
"""Resource types never requested: none of them changes the text of the DOM."""
TRACKERS = (
    "doubleclick.net",
    "googlesyndication.com",
    "googletagmanager.com",
    "google-analytics.com",
    "googleadservices.com",
    "adservice.google.com",
    "amazon-adsystem.com",
    "facebook.net",
    "connect.facebook.com",
    "scorecardresearch.com",
    "quantserve.com",
    "chartbeat.com",
    "hotjar.com",
    "taboola.com",
    "outbrain.com",
    "criteo.com",
    "criteo.net",
    "adnxs.com",
    "pubmatic.com",
    "rubiconproject.com",
    "moatads.com",
)
"""Ad and tracking hosts (and their subdomains) a rendered page never reaches."""

MEMORY_CHECK_SECONDS = 0.02
"""How often the renderers' memory is read while pages are open."""
RESERVED_DATA = 1024 * 1024 * 1024
"""Data a renderer reserves and never touches (about 600 MB here, reached only once it
has started): the cap on its data is this plus its memory limit."""
DISABLED_FEATURES = (
    # what Chromium fetches by itself, outside the request interception
    "Prerender2",
    "SpeculationRulesPrefetchFuture",
    "SpeculationRulesPrefetchProxy",
    "PreloadingHeuristics",
    "NoStatePrefetch",
    "LoadingPredictorUseLocalPredictions",
    "WebRtcHideLocalIpsWithMdns",
    # Playwright's own list, restated: Chromium reads only the last --disable-features
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
)
"""Chromium features turned off for rendering."""

Fetch = Callable[[str], Page]
"""Fetches a URL a page asked for, as the page's source fetches (its request options)."""


def chromium_path() -> str | None:
    """The Chromium to run: FEEDS_CHROMIUM, else the first of ``CHROMIUM_PATHS`` there is."""
    configured = os.environ.get("FEEDS_CHROMIUM")
    if configured:
        return shutil.which(configured) or (configured if Path(configured).is_file() else None)
    return next((path for path in CHROMIUM_PATHS if Path(path).is_file()), None)


def browser_available() -> str | None:
    """Why pages cannot be rendered here (None: they can): the browser extra (Playwright,
    psutil) and a Chromium."""
    if not installed("browser") or chromium_path() is None:
        return INSTALL_HINT
    return None


def is_tracker(host: str) -> bool:
    """Whether ``host`` is (under) a known ad or tracking host."""
    host = host.lower().rstrip(".")
    return any(host == tracker or host.endswith("." + tracker) for tracker in TRACKERS)


def refusal(url: str, resource_type: str) -> str | None:
    """Why a page's request is not made at all (None: the fetcher makes it)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"{parts.scheme}: URLs are not fetched"
    if resource_type in SKIPPED_TYPES:
        return f"no {resource_type} is needed for the text"
    if is_tracker(parts.hostname or ""):
        return "an ad or tracking host"
    return None


def browser_process(marker: str) -> psutil.Process | None:
    """The Chromium this process started (through Playwright's driver) whose command line
    holds ``marker`` (its proxy's address, which no other browser has): its main
    process, not one of its helpers."""
    import psutil

    for process in psutil.Process().children(recursive=True):
        try:
            cmdline = process.cmdline()
        except psutil.Error:
            continue
        if any(marker in arg for arg in cmdline) and not any(
            arg.startswith("--type=") for arg in cmdline
        ):
            return process
    return None


def bound_renderers(browser: psutil.Process, limit: int) -> int:
    """Hold the browser's renderer processes to ``limit`` bytes: each one's data
    (RLIMIT_DATA: what it may write, ArrayBuffers and the DOM included) is capped at
    ``RESERVED_DATA`` plus ``limit``, so that an allocation past it crashes that renderer
    at once; one whose resident memory passes ``limit`` is killed (this is checked every
    ``MEMORY_CHECK_SECONDS``). How many were killed."""
    import psutil

    killed = 0
    try:
        helpers = browser.children(recursive=True)
    except psutil.Error:
        return 0
    for renderer in helpers:
        try:
            if "--type=renderer" not in renderer.cmdline():
                continue
            if renderer.rlimit(psutil.RLIMIT_DATA)[0] == psutil.RLIM_INFINITY:
                data = max(renderer.memory_info().data, RESERVED_DATA) + limit
                renderer.rlimit(psutil.RLIMIT_DATA, (data, data))
            resident = renderer.memory_info().rss
            if resident > limit:
                renderer.kill()
                killed += 1
                log.warning(
                    "render: a page's renderer used %d MB, over %d MB (settings.render_memory): "
                    "closed",
                    resident // 2**20,
                    limit // 2**20,
                )
        except psutil.Error:
            continue
    return killed


class Renderer:
    """Renders pages in one headless Chromium, started when first needed."""

    def __init__(
        self,
        *,
        max_pages: int,
        timeout: float,
        user_agent: str,
        max_bytes: int = 10 * 1024 * 1024,
        memory_limit: int = 512 * 1024 * 1024,
    ) -> None:
        """``max_pages`` open at once; ``timeout`` seconds for a page to load (the
        download deadline); ``user_agent`` as every request says; the DOM handed over is
        cut at ``max_bytes``; a page's renderer may use ``memory_limit`` bytes."""
        self.max_pages = max_pages
        self.timeout = timeout
        self.user_agent = user_agent
        self.max_bytes = max_bytes
        self.memory_limit = memory_limit
        self.refused: deque[tuple[str, str]] = deque(maxlen=100)
        """The last requests refused, (URL, why), for tests."""
        self.renderers_killed = 0
        """Renderer processes killed for using more than ``memory_limit``."""
        self._proxy = RefusingProxy(self._refuse)
        self._proxy_url: str | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._browser_process: psutil.Process | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._browser_pages = 0
        self._open_pages = 0
        self._slots: asyncio.Semaphore | None = None
        self._fetches = ThreadPoolExecutor(max(4, 4 * max_pages), thread_name_prefix="render")
        self._closed = False
        self._waiting: set[Future[Any]] = set()

    # the caller's side

    def render(self, page: Page, fetch: Fetch) -> Page:
        """The page as its scripts leave it: ``page`` (already fetched) loaded in the
        browser, every request it makes refused or made by ``fetch``. ``FetchError`` when
        it cannot be rendered (no browser, the deadline passed)."""
        why = browser_available()
        if why is not None:
            raise FetchError(page.url, why)
        html = self._call(page.url, self._render(page, fetch))
        body = html.encode("utf-8")
        if len(body) > self.max_bytes:
            log.warning(
                "render: %s: the page's DOM is %d bytes, cut at %d (settings.max_page_size)",
                page.url,
                len(body),
                self.max_bytes,
            )
            body = body[: self.max_bytes].decode("utf-8", "ignore").encode("utf-8")
        return replace(
            page,
            body=body,
            encoding="utf-8",
            content_type="text/html",
            fetched_at=datetime.now(UTC),
        )

    def close(self) -> None:
        """Close the browser and its thread (pages being rendered fail)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
            waiting = list(self._waiting)
        for future in waiting:  # pages still waiting for a slot, or loading
            future.cancel()
        if loop is not None and thread is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._shut_down(), loop).result(30)
            except Exception:  # a browser that will not close is killed with the process
                log.warning("the browser did not close cleanly", exc_info=True)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
        self._fetches.shutdown(wait=False, cancel_futures=True)

    def _call(self, url: str, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` in the browser's thread and wait for it: a page waits for
        one of the ``max_pages`` slots, then its load is bounded by the deadline."""
        with self._lock:
            if self._closed:
                coroutine.close()
                raise FetchStoppedError(url)
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="browser", daemon=True
                )
                self._thread.start()
            future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
            self._waiting.add(future)
        try:
            return future.result()
        except CancelledError:
            raise FetchStoppedError(url) from None
        finally:
            with self._lock:
                self._waiting.discard(future)

    # the browser's thread

    async def _render(self, page: Page, fetch: Fetch) -> str:
        from playwright.async_api import Error

        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_pages)
        async with self._slots:
            browser = await self._current_browser(page.url)
            self._open_pages += 1
            context = await browser.new_context(
                user_agent=self.user_agent, service_workers="block", accept_downloads=False
            )
            killed_before = self.renderers_killed
            try:
                await context.route("**/*", lambda route: self._answer(route, page, fetch))
                await context.route_web_socket("**/*", self._refuse_web_socket)
                tab = await context.new_page()
                if self._browser_process is not None:  # before the page's scripts run
                    await self._bound_renderers(self._browser_process)
                # our deadline, not Playwright's (30 s), cuts a page
                tab.set_default_timeout((self.timeout + 60) * 1000)
                try:
                    await self._load(tab, page.final_url)
                    return await asyncio.wait_for(self._dom(tab), CONTENT_SECONDS)
                except TimeoutError:
                    raise FetchError(
                        page.url,
                        f"the page was not ready within {self.timeout:g}s (settings.timeout) "
                        "in the browser: its document never finished, or its scripts kept "
                        "the browser busy",
                    ) from None
                except Error as exc:  # the page crashed, the browser went away
                    message = exc.message.splitlines()[0] if exc.message else type(exc).__name__
                    limit = f"{self.memory_limit // 2**20} MB in the browser"
                    if self.renderers_killed > killed_before:
                        raise FetchError(
                            page.url,
                            f"the page used more than {limit} (settings.render_memory), "
                            "and was closed",
                        ) from None
                    if "crash" in message.lower():
                        raise FetchError(
                            page.url,
                            f"the page crashed its browser process, most likely by asking for "
                            f"more than {limit} (settings.render_memory)",
                        ) from None
                    raise FetchError(
                        page.url, f"the browser could not load it: {message}"
                    ) from None
            finally:
                try:  # requests still waiting on the fetcher are dropped, not left pending
                    await asyncio.wait_for(context.unroute_all(behavior="ignoreErrors"), 2)
                except Exception:  # a page its scripts keep busy: closing it ends them
                    log.debug("cannot unroute the page's requests", exc_info=True)
                await self._close_quietly(context)
                self._open_pages -= 1
                self._browser_pages += 1
                await self._maybe_restart()

    async def _load(self, tab: Any, url: str) -> None:
        """Load the page: its document parsed within the deadline (else TimeoutError),
        then, while the deadline allows, its load event and a quiet network (at most
        ``SETTLE_SECONDS``): a page that keeps loading or fetching is taken as it is."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        await asyncio.wait_for(tab.goto(url, wait_until="domcontentloaded"), self.timeout)
        for state, longest in (("load", self.timeout), ("networkidle", SETTLE_SECONDS)):
            remaining = min(longest, deadline - loop.time())
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(tab.wait_for_load_state(state), remaining)
            except TimeoutError:
                return

    async def _dom(self, tab: Any) -> str:
        """The page's serialised DOM, cut in the browser near ``max_bytes`` so that a page
        that wrote a huge one does not cross over whole."""
        html = await tab.evaluate(
            """limit => {
                const root = document.documentElement;
                const html = root ? root.outerHTML : "";
                return "<!DOCTYPE html>" + (html.length > limit ? html.slice(0, limit) : html);
            }""",
            self.max_bytes + 1,
        )
        return str(html)

    async def _answer(self, route: Route, page: Page, fetch: Fetch) -> None:
        request = route.request
        url = request.url
        if request.is_navigation_request() and same_document(url, page.final_url):
            await route.fulfill(
                status=200,
                body=page.body,
                headers={"Content-Type": f"text/html; charset={page.encoding}"},
            )
            return
        if request.is_navigation_request():
            # a 204 leaves the document where it is (an abort would put an error page in
            # its place), and nothing is requested
            self._refuse(url, "a page may not lead the browser elsewhere")
            await route.fulfill(status=204)
            return
        why = refusal(url, request.resource_type)
        if why is None and request.method != "GET":
            why = f"{request.method} requests are not made"
        if why is not None:
            self._refuse(url, why)
            await route.abort("blockedbyclient")
            return
        loop = asyncio.get_running_loop()
        try:
            fetched = await loop.run_in_executor(self._fetches, fetch, url)
        except FetchError as error:
            self._refuse(url, error.message)
            await route.abort("failed")
            return
        content_type = fetched.content_type or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith(("json", "xml", "script")):
            content_type += f"; charset={fetched.encoding}"
        await route.fulfill(
            status=fetched.status,
            body=fetched.body,
            headers={"Content-Type": content_type, "Access-Control-Allow-Origin": "*"},
        )

    async def _refuse_web_socket(self, socket: WebSocketRoute) -> None:
        self._refuse(socket.url, "a page may not open WebSockets")
        await socket.close(code=1008, reason="refused")

    def _refuse(self, url: str, why: str) -> None:
        log.debug("render: not requested: %s (%s)", url, why)
        self.refused.append((url, why))

    async def _current_browser(self, url: str) -> Browser:
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        from playwright.async_api import Error, async_playwright

        sandbox = os.geteuid() != 0
        if self._playwright is None:
            self._playwright = await async_playwright().start()
            if not sandbox:  # at info, at the first start: the service's log says it once
                log.info(
                    "feeds runs as root: Chromium's sandbox cannot be used; run feeds as an "
                    "ordinary user to have it"
                )
        if self._proxy_url is None:
            self._proxy_url = await self._proxy.start()
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch_memory())
        try:
            self._browser = await self._playwright.chromium.launch(
                executable_path=chromium_path(),
                headless=True,
                chromium_sandbox=sandbox,
                args=self._arguments(),
            )
        except Error as exc:
            raise FetchError(url, f"the browser would not start: {exc.message}") from None
        self._browser_pages = 0
        self._browser_process = await asyncio.to_thread(browser_process, self._proxy_url)
        log.info("browser started (%s)", chromium_path())
        return self._browser

    def _arguments(self) -> list[str]:
        """Chromium's command line: the refusing proxy its only way out, loopback
        included; what it would fetch by itself turned off; V8's heap capped."""
        return [
            f"--proxy-server={self._proxy_url}",
            "--proxy-bypass-list=<-loopback>",
            "--disable-features=" + ",".join(DISABLED_FEATURES),
            "--dns-prefetch-disable",
            "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
            "--webrtc-ip-handling-policy=disable_non_proxied_udp",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-domain-reliability",
            "--no-pings",
            f"--js-flags=--max-old-space-size={max(16, self.memory_limit // 2**20)}",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--mute-audio",
        ]

    async def _watch_memory(self) -> None:
        """Kill a renderer that grows past ``memory_limit``: its page fails alone."""
        while True:
            await asyncio.sleep(MEMORY_CHECK_SECONDS)
            process = self._browser_process
            if self._open_pages and process is not None:
                await self._bound_renderers(process)

    async def _bound_renderers(self, process: psutil.Process) -> None:
        killed = await asyncio.to_thread(bound_renderers, process, self.memory_limit)
        self.renderers_killed += killed

    async def _maybe_restart(self) -> None:
        if self._browser_pages >= RESTART_AFTER and self._open_pages == 0:
            browser, self._browser = self._browser, None
            if browser is not None:
                log.info("browser restarted after %d pages", self._browser_pages)
                await self._close_quietly(browser)

    async def _shut_down(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._browser is not None:
            await self._close_quietly(self._browser)
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None
        await self._proxy.close()

    @staticmethod
    async def _close_quietly(closable: Any) -> None:
        try:
            await asyncio.wait_for(closable.close(), 10)
        except Exception:  # closing what already went away
            log.debug("closing the browser's %s failed", type(closable).__name__, exc_info=True)
