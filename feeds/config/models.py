"""The config's models (pydantic, frozen): what each section holds and its defaults, and
the resolved ``Config`` and ``Feed`` the rest of the program reads."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from feeds import __version__
from feeds.config.types import (
    FEED_ID,
    Delay,
    Domain,
    Duration,
    FieldSelector,
    HttpUrl,
    Regex,
    Selector,
    check_broker_url,
    check_cron,
    check_database_url,
    check_language,
    check_proxy_url,
    check_redis_url,
)
from feeds.errors import MissingExtraError
from feeds.extraction.rules import SiteRules
from feeds.extraction.site_config import SiteConfigs
from feeds.extras import installed
from feeds.fields import DEFAULT_FIELDS, FIELDS
from feeds.privacy import Redactor, is_secret_header
from feeds.publishing.formats import FORMATS, reserved_feed_ids
from feeds.urls import host_key

NO_FEEDS_YET = "no feeds yet"
"""How a config without feeds begins its error (``feeds add`` takes one to fill)."""
DEFAULT_USER_AGENT = f"feeds/{__version__} (self-hosted full-text feed service)"

ModelT = TypeVar("ModelT", bound="_Model")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServeSettings(_Model):
    """Where ``output/`` is served over HTTP."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)


RedisUrl = Annotated[str, AfterValidator(check_redis_url)]
BrokerUrl = Annotated[str, AfterValidator(check_broker_url)]


class ClusterSettings(_Model):
    """Several machines running one set of feeds: ``feeds run`` keeps the schedule (in
    the database) and sends the due runs to a queue, ``feeds worker`` processes run them
    (Celery, through a Redis or RabbitMQ broker)."""

    broker: BrokerUrl
    """The broker the runs are queued in: Redis (``redis://``) or RabbitMQ (``amqp://``)."""
    politeness: RedisUrl | None = None
    """The Redis server per-host politeness is kept in, for all workers (none: the
    broker's, which must then be Redis)."""
    visibility_timeout: Duration = timedelta(hours=1)
    """Redis only: how long a run taken by a worker that died is held before another
    worker redoes it; longer than the longest run (a shorter one costs only a delivery
    turned away). RabbitMQ gives such a run back as soon as the worker's connection drops."""
    resend_after: Duration = timedelta(minutes=15)
    """How long a due run sent to the queue may stay not done before the scheduler sends it
    again (its message lost with a broker's restart, say); a run sent twice runs once."""
    worker_threads: int = Field(8, ge=1)
    """Feed runs one ``feeds worker`` process runs at once."""
    metrics_port: int | None = Field(None, ge=0, le=65535)
    """Where each ``feeds worker`` serves ``/metrics`` (0: a free port, logged; none:
    nowhere)."""
    prefix: str = Field("feeds", pattern=r"^[A-Za-z0-9_.-]+$")
    """Starts the queue's and the politeness keys' names: several clusters on one server."""

    @model_validator(mode="after")
    def _politeness_in_redis(self) -> Self:
        if self.politeness is None and not self.broker.startswith("redis"):
            raise ValueError(
                "with a RabbitMQ broker, set politeness: redis://host:6379/0 (per-host "
                "politeness is kept in Redis)"
            )
        return self

    @property
    def politeness_url(self) -> str:
        """Where per-host politeness is kept."""
        return self.politeness or self.broker

    @property
    def redis_broker(self) -> bool:
        """Whether the broker is Redis (else RabbitMQ)."""
        return self.broker.startswith("redis")


class OnDemandSettings(_Model):
    """``GET /full?url=FEED_URL``: a full-text version of any RSS, Atom or JSON feed of
    the allowed domains, made on first request, then kept fresh on the schedule."""

    allow: tuple[Domain, ...] = Field(min_length=1)
    """The domains (and their subdomains) whose feeds may be asked for; their feeds'
    origins are trusted as a configured source's are."""
    token: str | None = None
    """Asked for as ``&token=`` when set (keep it secret: it is never logged)."""
    max_feeds: int = Field(50, ge=1)
    """On-demand feeds kept at most; past that, a new one is refused (429)."""
    max_items: int = Field(20, ge=1, le=500)
    """Items of an on-demand feed (``&max=N`` asks for fewer)."""


FEED_DEFAULTS = ("interval", "max_items", "max_new_per_run", "site_config")
"""The settings each feed takes as it is loaded: a reloaded config's feeds carry their new
values, so they take effect at once (the other settings need a restart)."""


class Settings(_Model):
    """Global settings; every key has a default."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    output_dir: Path = Path("output")
    state_dir: Path = Path("state")
    base_url: HttpUrl = "http://localhost:8080/"
    database: Annotated[str, AfterValidator(check_database_url)] | None = None
    """Where the state is kept when several machines share it: a postgresql:// URL
    (none: SQLite in ``state_dir``)."""
    interval: Duration = timedelta(hours=1)
    max_items: int = Field(50, ge=1)
    max_new_per_run: int = Field(100, ge=1)
    """New articles a feed fetches per run at most (a feed's own setting wins); the
    rest wait for the next runs, newest first."""
    user_agent: str = DEFAULT_USER_AGENT
    timeout: Duration = timedelta(seconds=30)
    connect_timeout: Duration = timedelta(seconds=10)
    max_page_size: ByteSize = Field(ByteSize(10 * 1024 * 1024), gt=0)
    per_host_delay: Delay = timedelta(seconds=1)
    per_host_concurrency: int = Field(2, ge=1)
    concurrency: int = Field(8, ge=1)
    render_pages: int = Field(4, ge=1)
    """Pages open at once in the browser, for ``render: true`` sources."""
    render_memory: ByteSize = Field(ByteSize(512 * 1024 * 1024), ge=64 * 1024 * 1024)
    """Memory one rendered page's browser process may use before it is closed."""
    extract_workers: int | None = Field(None, ge=0)
    """Processes that extract articles (None: one per core; 0: none, the feed's own thread)."""
    extract_timeout: Duration = timedelta(seconds=60)
    """Longest one article page may take to extract in a worker process."""
    extract_recycle_after: int = Field(500, ge=1)
    """Article pages a worker process extracts before a new one takes its place (what
    lxml and trafilatura keep between pages cannot grow without bound)."""
    site_config: tuple[Path, ...] = ()
    """Directories of site config files (the Full-Text RSS format: a clone of
    fivefilters/ftr-site-config, your own): an article's host takes the rules of its file,
    a later directory's file over an earlier one's, a feed's own ``extract`` over both."""
    parallel_feeds: int = Field(32, ge=1)
    """Feeds run at once, by ``feeds once`` and by the service when several are due."""
    retries: int = Field(3, ge=0)
    retry_delay: Duration = timedelta(seconds=1)
    max_retry_wait: Duration = timedelta(minutes=1)
    retry_after_limit: Duration = timedelta(hours=1)
    websub_hub: HttpUrl | None = None
    run_at_start: bool = True
    jitter: Delay | None = None
    unhealthy_after: int = Field(3, ge=1)
    stop_timeout: Duration = timedelta(seconds=10)
    serve: ServeSettings = ServeSettings()
    cluster: ClusterSettings | None = None
    on_demand: OnDemandSettings | None = None
    publish_to: Literal["files", "database"] | None = None
    """Where feed documents go: files in ``output_dir``, or the state's database, served
    from there by any ``feeds serve`` (none: the database in a cluster, else files)."""

    @property
    def publishes_to_database(self) -> bool:
        """Whether feed documents are kept in the database rather than ``output_dir``."""
        if self.publish_to is None:
            return self.cluster is not None
        return self.publish_to == "database"

    @model_validator(mode="after")
    def _cluster_shares_the_state(self) -> Self:
        if self.cluster is not None and self.database is None:
            raise ValueError(
                "a cluster (settings.cluster) keeps its state where every machine reaches "
                "it: set settings.database to a postgresql:// URL"
            )
        return self

    @model_validator(mode="after")
    def _on_demand_on_one_machine(self) -> Self:
        if self.on_demand is not None and self.cluster is not None:
            raise ValueError(
                "on_demand is served by `feeds run` on one machine; it cannot be set with "
                "cluster yet"
            )
        return self

    @field_validator("output_dir", "state_dir")
    @classmethod
    def _resolve_dir(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve(value, info)

    @field_validator("site_config")
    @classmethod
    def _site_config_dirs(cls, value: tuple[Path, ...], info: ValidationInfo) -> tuple[Path, ...]:
        directories = tuple(_resolve(path, info) for path in value)
        for directory in directories:
            if not directory.is_dir():
                raise ValueError(f"{directory} is not a directory of site config files")
        return directories

    @field_validator("base_url")
    @classmethod
    def _slash_terminated(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def _state_outside_output(self) -> Self:
        output, state = self.output_dir.resolve(), self.state_dir.resolve()
        if state == output or state.is_relative_to(output):
            raise ValueError(
                "state_dir must not be inside output_dir (output/ is served to the public)"
            )
        return self


class ExtractRules(_Model):
    """Per-site extraction rules: CSS selectors that override automatic extraction."""

    title: Selector | None = None
    body: Selector | None = None
    author: Selector | None = None
    date: Selector | None = None
    remove: tuple[Selector, ...] = ()
    next_page: Selector | None = None
    single_page: Selector | None = None
    """The link to the whole article on one page (a print view), fetched instead."""
    max_pages: int = Field(5, ge=1, le=50)
    strip_image_src: tuple[str, ...] = ()
    """Images whose address contains one of these are removed (as site configs say)."""
    replace: tuple[tuple[str, str], ...] = ()
    """Pairs of text to find in the page's HTML and what to put instead, before parsing."""
    autodetect: bool = True
    """Whether automatic extraction takes over when ``body`` finds nothing."""
    prune: bool = False
    """Whether what ``body`` finds is cleaned as automatic extraction cleans a page
    (default: used as it is)."""

    def merged_over(self, base: ExtractRules | None) -> ExtractRules:
        """These rules, with ``base`` filling what they leave unset (``remove`` adds up)."""
        if base is None:
            return self
        return ExtractRules(
            title=self.title or base.title,
            body=self.body or base.body,
            author=self.author or base.author,
            date=self.date or base.date,
            remove=base.remove + tuple(s for s in self.remove if s not in base.remove),
            next_page=self.next_page or base.next_page,
            single_page=self.single_page or base.single_page,
            max_pages=self.max_pages if "max_pages" in self.model_fields_set else base.max_pages,
            strip_image_src=base.strip_image_src + self.strip_image_src,
            replace=base.replace + self.replace,
            autodetect=self.autodetect and base.autodetect,
            prune=self.prune if self.body else base.prune,
        )


class ItemSelectors(_Model):
    """Where each entry of a listing page is, and where its fields are inside it."""

    selector: Selector
    title: FieldSelector | None = None
    link: FieldSelector | None = None
    summary: FieldSelector | None = None
    content: FieldSelector | None = None
    date: FieldSelector | None = None
    date_format: str | None = None
    author: FieldSelector | None = None
    image: FieldSelector | None = None

    @field_validator("date_format")
    @classmethod
    def _check_format(cls, value: str | None) -> str | None:
        if value is not None and "%" not in value:
            raise ValueError(f"{value!r} is not a strptime format such as '%d.%m.%Y %H:%M'")
        return value


def _one_of(value: str, names: Sequence[str]) -> str:
    if value not in names:
        quoted = [repr(name) for name in names]
        listed = f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
        raise ValueError(f"must be {listed} (got {value!r})")
    return value


def _filter_field(value: str) -> str:
    return _one_of(value, list(FIELDS))


def _source_kind(value: str) -> str:
    from feeds.sources.kinds import KINDS  # the kinds' readers read this module's models

    return _one_of(value, ["auto", *KINDS])


def _format_name(value: str) -> str:
    return _one_of(value, list(FORMATS))


FilterField = Annotated[str, AfterValidator(_filter_field)]
"""A field of an item that a rule searches (``feeds.fields.FIELDS``)."""
SourceKindName = Annotated[str, AfterValidator(_source_kind)]
"""``auto`` or a source kind (``feeds.sources.kinds.KINDS``)."""
FormatName = Annotated[str, AfterValidator(_format_name)]
"""An output format (``feeds.publishing.formats.FORMATS``)."""


class FilterRule(_Model):
    """A regular expression items must (include) or must not (exclude) match."""

    pattern: Regex
    fields: tuple[FilterField, ...] = DEFAULT_FIELDS
    case_sensitive: bool = False

    @model_validator(mode="before")
    @classmethod
    def _pattern_alone(cls, value: Any) -> Any:
        return {"pattern": value} if isinstance(value, str) else value

    @field_validator("fields")
    @classmethod
    def _some_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(f"name at least one of {', '.join(FIELDS)}")
        return value


class SourceConfig(_Model):
    """Where a feed's articles come from: a web page (``url``) or local files (``path``)."""

    url: HttpUrl | None = None
    path: Path | None = None
    kind: SourceKindName = "auto"
    links: Selector | None = None
    item: ItemSelectors | None = None
    follow: bool = True
    next_page: Selector | None = None
    max_pages: int | None = Field(None, ge=1, le=1000)
    url_pattern: Regex | None = None
    url_exclude: Regex | None = None
    allow_domains: tuple[Domain, ...] = ()
    max_age: Duration | None = None
    extract: ExtractRules | None = None
    refresh: Duration | None = None
    robots: Literal["obey", "ignore"] = "obey"
    render: bool = False
    """Load its web pages (listings and articles) in headless Chromium: for sites whose
    scripts write the links or the article."""
    headers: dict[str, str] = Field(default_factory=dict)
    cookies: dict[str, str] = Field(default_factory=dict)
    user_agent: str | None = None
    proxy: Annotated[str, AfterValidator(check_proxy_url)] | None = None

    @field_validator("path")
    @classmethod
    def _resolve_path(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:  # `path:` left empty: the one-location check says what to do
            return None
        path = _resolve(value, info)
        if not path.exists():
            raise ValueError(f"{path} does not exist")
        return path

    @model_validator(mode="after")
    def _one_location(self) -> Self:
        if (self.url is None) == (self.path is None):
            raise ValueError(
                "a source needs exactly one of `url` (a web page) or `path` (local files)"
            )
        if self.links and self.item:
            raise ValueError("`links` and `item` both say where the articles are: keep one")
        if not self.follow and self.item is None and self.kind not in ("feed", "auto"):
            raise ValueError("`follow: false` needs `item` selectors (or a feed source)")
        return self

    @property
    def location(self) -> str:
        """The source's address: its URL, or a ``file://`` URL for a local path."""
        if self.url is not None:
            return self.url
        assert self.path is not None
        uri = self.path.as_uri()
        return uri + "/" if self.path.is_dir() else uri

    @property
    def is_directory(self) -> bool:
        """A local directory: every HTML file in it is an article."""
        return self.path is not None and self.path.is_dir()


class FeedConfig(_Model):
    """One feed as written in the YAML file."""

    title: str | None = None
    description: str | None = None
    link: HttpUrl | None = None
    icon: HttpUrl | None = None
    language: Annotated[str, AfterValidator(check_language)] | None = None
    formats: tuple[FormatName, ...] = tuple(FORMATS)
    interval: Duration | None = None
    cron: Annotated[str, AfterValidator(check_cron)] | None = None
    max_items: int | None = Field(None, ge=1)
    max_new_per_run: int | None = Field(None, ge=1)
    max_age: Duration | None = None
    include: tuple[FilterRule, ...] = ()
    exclude: tuple[FilterRule, ...] = ()
    sources: tuple[SourceConfig, ...]
    extract: ExtractRules | None = None

    @model_validator(mode="after")
    def _one_schedule(self) -> Self:
        if self.cron is not None and self.interval is not None:
            raise ValueError(
                "`cron` and `interval` both say when the feed runs: keep one (cron for set "
                "times, interval for a period)"
            )
        return self

    @field_validator("formats")
    @classmethod
    def _some_formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(f"name at least one of {', '.join(FORMATS)}")
        return tuple(dict.fromkeys(value))

    @field_validator("sources", mode="before")
    @classmethod
    def _some_sources(cls, value: Any) -> Any:
        if isinstance(value, Sequence) and not isinstance(value, str) and not value:
            raise ValueError("a feed needs at least one source")
        return value


def check_feed_id(value: str) -> str:
    if not FEED_ID.fullmatch(value):
        raise ValueError(
            f"feed id {value!r} must be letters, digits, '-', '_' or '.' "
            "(it names the output files)"
        )
    if value.lower() in reserved_feed_ids():
        raise ValueError(
            f"feed id {value!r} is taken by the service's own files and paths "
            f"({', '.join(sorted(reserved_feed_ids()))}): name the feed otherwise"
        )
    return value


FeedId = Annotated[str, AfterValidator(check_feed_id)]


class ConfigDocument(_Model):
    settings: Settings
    feeds: dict[FeedId, FeedConfig]

    @model_validator(mode="before")
    @classmethod
    def _settings_default(cls, data: Any) -> Any:
        # validated like a written `settings: {}`, so defaults resolve beside the file
        if isinstance(data, Mapping) and data.get("settings") is None:
            return {**data, "settings": {}}
        return data

    @field_validator("feeds", mode="before")
    @classmethod
    def _some_feeds(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or (isinstance(value, Mapping) and not value):
            if info.context and not info.context.get("feeds_required", True):
                return {}  # a starter config, read to add a feed to or to preview with
            raise ValueError(NO_FEEDS_YET + "; add one with `feeds add URL --write` (or by hand)")
        return value


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed with the settings' defaults applied: what the pipeline runs."""

    id: str
    title: str
    description: str
    link: str | None
    language: str | None
    interval: timedelta
    max_items: int
    sources: tuple[SourceConfig, ...]
    extract: ExtractRules | None
    max_new_per_run: int | None = None
    max_age: timedelta | None = None
    include: tuple[FilterRule, ...] = ()
    exclude: tuple[FilterRule, ...] = ()
    icon: str | None = None
    formats: tuple[str, ...] = tuple(FORMATS)
    cron: str | None = None
    site_configs: SiteConfigs | None = field(default=None, compare=False)
    """The site config files of ``settings.site_config``, shared by every feed."""

    @property
    def source_urls(self) -> list[str]:
        """The URLs of the feed's web sources."""
        return [str(source.url) for source in self.sources if source.url is not None]

    def max_age_for(self, source: SourceConfig) -> timedelta | None:
        """How old an article of ``source`` may be: its own ``max_age``, else the feed's."""
        return source.max_age or self.max_age

    def rules_for(self, source: SourceConfig) -> ExtractRules | None:
        """The extraction rules for articles of ``source``: its own over the feed's."""
        if source.extract is None:
            return self.extract
        return source.extract.merged_over(self.extract)

    def site_rules(self, url: str) -> SiteRules | None:
        """The rules of the site config file that serves ``url``'s host, if any."""
        if self.site_configs is None:
            return None
        config = self.site_configs.for_host(host_key(url))
        return config.rules if config is not None else None


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration."""

    file: Path
    settings: Settings
    feeds: Mapping[str, Feed]
    yaml_warnings: tuple[str, ...] = field(default=(), compare=False)
    """What the YAML parser warned about (a reused anchor...), with file and line."""
    site_configs: SiteConfigs | None = field(default=None, compare=False)
    """The site config files of ``settings.site_config`` (None: there are none)."""

    @property
    def warnings(self) -> list[str]:
        """What is valid but deserves a word at start: the YAML parser's warnings, and
        settings such as a source that ignores robots.txt."""
        return [
            *self.yaml_warnings,
            *(
                f"feed {feed.id}: source {source.location} ignores robots.txt (robots: ignore)"
                for feed in self.feeds.values()
                for source in feed.sources
                if source.robots == "ignore"
            ),
            *serving_mismatch(self.settings),
            *missing_extras(self.settings),
        ]

    @property
    def redactor(self) -> Redactor:
        """Takes the config's secrets out of a text: source and proxy URLs' credentials
        and queries, cookie and credential header values."""
        sources = [source for feed in self.feeds.values() for source in feed.sources]
        urls = [s.url for s in sources if s.url] + [s.proxy for s in sources if s.proxy]
        values = [v for s in sources for v in s.cookies.values()]
        values += [v for s in sources for k, v in s.headers.items() if is_secret_header(k)]
        if self.settings.on_demand is not None and self.settings.on_demand.token:
            values.append(self.settings.on_demand.token)
        return Redactor.of(urls, values)

    def on_demand_feed(self, url: str, max_items: int) -> Feed:
        """The feed ``GET /full`` makes of the feed at ``url``: its entries' pages
        extracted as a configured feed's are, ``max_items`` of them."""
        digest = hashlib.sha256(f"{url} {max_items}".encode()).hexdigest()[:12]
        return Feed(
            id=f"full-{digest}",
            title=f"Full text of {url}",
            description=f"The entries of {url}, in full",
            link=None,
            language=None,
            interval=self.settings.interval,
            max_items=max_items,
            sources=(SourceConfig(url=url, kind="feed"),),
            extract=None,
            max_new_per_run=self.settings.max_new_per_run,
            site_configs=self.site_configs,
        )

    @property
    def trusted_urls(self) -> tuple[str, ...]:
        """URLs the config names (source URLs, the WebSub hub): requests may go to their
        origins (host and port) whatever address they resolve to."""
        return tuple(dict.fromkeys(u for feed in self.feeds.values() for u in self.named_by(feed)))

    @property
    def trusted_domains(self) -> tuple[str, ...]:
        """The domains of the sources' ``allow_domains`` (their subdomains too)."""
        domains = [d for f in self.feeds.values() for s in f.sources for d in s.allow_domains]
        return tuple(dict.fromkeys(domains))

    def named_by(self, feed: Feed) -> list[str]:
        """The URLs one feed names: its sources', and the WebSub hub it pings."""
        urls = feed.source_urls
        if self.settings.websub_hub is not None:
            urls.append(str(self.settings.websub_hub))
        return urls

    @property
    def local_roots(self) -> tuple[Path, ...]:
        """Directories that local (``path:``) sources may read files from."""
        roots = []
        for feed in self.feeds.values():
            for source in feed.sources:
                if source.path is not None:
                    roots.append(source.path if source.path.is_dir() else source.path.parent)
        return tuple(dict.fromkeys(roots))


def _resolve(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    path = value.expanduser()
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    return Path(str(path.resolve()))


def missing_extras(settings: Settings) -> list[str]:
    """What the settings ask for that an extra not installed does."""
    if (settings.database or settings.cluster) and not installed("cluster"):
        return [
            str(
                MissingExtraError("a shared state (settings.database, settings.cluster)", "cluster")
            )
        ]
    return []


def serving_mismatch(settings: Settings) -> list[str]:
    """A ``base_url`` on this machine (localhost, or the served address) with another port
    than the one ``feeds run`` serves on: self links and OPML would point where nothing
    is served. A base_url elsewhere is a proxy's address, which may differ."""
    parts = urlsplit(settings.base_url)
    local = {"localhost", "127.0.0.1", "::1", settings.serve.host}
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if parts.hostname not in local or port == settings.serve.port:
        return []
    return [
        f"settings.base_url ({settings.base_url}) says port {port}, but `feeds run` serves "
        f"on port {settings.serve.port} (settings.serve.port): self links and OPML point "
        "where nothing is served; make them agree (base_url is where readers reach "
        "output_dir)"
    ]
