"""Load ``feeds.yaml`` into a frozen, validated configuration.

Every mistake is reported as ``file:line: field: what is wrong``. Relative paths in the
file (``output_dir``, ``state_dir``, a source's ``path``) are resolved against the
directory that holds the config file, so the result does not depend on the working
directory a service was started from.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import warnings
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Self, TypeVar, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ByteSize,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import (
    MarkedYAMLError,
    ReusedAnchorWarning,
    YAMLError,
    YAMLFutureWarning,
    YAMLWarning,
)

from feeds import __version__
from feeds.errors import ConfigError, MissingExtraError
from feeds.extras import installed
from feeds.fields import DEFAULT_FIELDS, FIELDS
from feeds.html import compile_selector
from feeds.patterns import compile_pattern
from feeds.privacy import LOGS, Redactor, is_secret_header
from feeds.publishing.formats import FORMATS, reserved_feed_ids
from feeds.schedule import cron_trigger

NO_FEEDS_YET = "no feeds yet"
"""How a config without feeds begins its error (``feeds add`` takes one to fill)."""
DEFAULT_USER_AGENT = f"feeds/{__version__} (self-hosted full-text feed service)"

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?")
_DURATION_HINT = "write a duration such as 30s, 15m, 1h or 2d"
_FEED_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_ATTRIBUTE = re.compile(r"[A-Za-z_:][-A-Za-z0-9_:.]*")
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}|localhost")
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


def parse_duration(value: object, *, allow_zero: bool = False) -> timedelta:
    """``30s``, ``15m``, ``1h``, ``2d`` or combinations such as ``1h30m`` -> timedelta.
    Fractions of seconds are written ``0.5s``; ``0`` is accepted only with ``allow_zero``."""
    if isinstance(value, timedelta):
        duration = value
    elif allow_zero and value in (0, "0"):
        duration = timedelta(0)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.replace(" ", "").lower())):
        if not any(match.groups()):
            raise ValueError(f"{value!r} is not a duration; {_DURATION_HINT}")
        days, hours, minutes = (int(part or 0) for part in match.groups()[:3])
        seconds = float(match.group(4) or 0)
        duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    else:
        raise ValueError(f"{value!r} is not a duration; {_DURATION_HINT}")
    if not duration and not allow_zero:
        raise ValueError("must be longer than 0s")
    return duration


def _check_selector(value: str) -> str:
    compile_selector(value)
    return value


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


def _check_regex(value: str) -> str:
    compile_pattern(value)  # PatternError, a ValueError, says what RE2 cannot run
    return value


def _check_field_selector(value: str) -> str:
    css, at, attribute = value.rpartition("@")
    if not at:
        css = value
    elif not _ATTRIBUTE.fullmatch(attribute):
        raise ValueError(f"{attribute!r} after '@' is not an attribute name")
    if css:  # empty: the entry element itself
        compile_selector(css)
    return value


def _check_domain(value: str) -> str:
    domain = value.strip().lower().removeprefix("www.")
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"{value!r} is not a domain name such as example.com")
    return domain


def _check_cron(value: str) -> str:
    cron_trigger(value)  # APScheduler's own check, in our words (ValueError)
    return value


def _check_database_url(value: str) -> str:
    if urlsplit(value).scheme not in ("postgresql", "postgres"):
        raise ValueError(
            f"{value!r} is not a PostgreSQL URL (postgresql://user@host:5432/database); "
            "leave `database` out to keep the state in SQLite"
        )
    return value


def _check_redis_url(value: str) -> str:
    if urlsplit(value).scheme not in ("redis", "rediss"):
        raise ValueError(f"{value!r} is not a Redis URL (redis://host:6379/0)")
    return value


def _check_language(value: str) -> str:
    if not _LANGUAGE.fullmatch(value):
        raise ValueError(f"{value!r} is not a language tag such as en or en-GB")
    return value


def _check_proxy_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https", "socks5", "socks5h") or not parts.hostname:
        raise ValueError(f"{value!r} is not a proxy URL (http://host:port)")
    return value


Regex = Annotated[str, AfterValidator(_check_regex)]
FieldSelector = Annotated[str, AfterValidator(_check_field_selector)]
"""A CSS selector, optionally followed by ``@attribute`` to read that attribute's value."""
Domain = Annotated[str, AfterValidator(_check_domain)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Delay = Annotated[timedelta, BeforeValidator(partial(parse_duration, allow_zero=True))]
Selector = Annotated[str, AfterValidator(_check_selector)]
HttpUrl = Annotated[str, AfterValidator(_check_http_url)]


_ModelT = TypeVar("_ModelT", bound="_Model")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServeSettings(_Model):
    """Where ``output/`` is served over HTTP."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)


RedisUrl = Annotated[str, AfterValidator(_check_redis_url)]


class ClusterSettings(_Model):
    """Several machines running one set of feeds: ``feeds run`` enqueues the due runs,
    ``feeds worker`` processes run them (Celery, through a Redis broker)."""

    broker: RedisUrl
    """The Redis server the runs are queued in."""
    politeness: RedisUrl | None = None
    """The Redis server per-host politeness is kept in, for all workers (none: the broker's)."""
    visibility_timeout: Duration = timedelta(hours=1)
    """How long a run taken by a worker that died is held before another worker redoes
    it; longer than the longest run (a shorter one costs only a delivery turned away)."""
    worker_threads: int = Field(8, ge=1)
    """Feed runs one ``feeds worker`` process runs at once."""
    prefix: str = Field("feeds", pattern=r"^[A-Za-z0-9_.-]+$")
    """Starts the queue's and the politeness keys' names: several clusters on one Redis."""

    @property
    def politeness_url(self) -> str:
        """Where per-host politeness is kept."""
        return self.politeness or self.broker


class Settings(_Model):
    """Global settings; every key has a default."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    output_dir: Path = Path("output")
    state_dir: Path = Path("state")
    base_url: HttpUrl = "http://localhost:8080/"
    database: Annotated[str, AfterValidator(_check_database_url)] | None = None
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

    @field_validator("output_dir", "state_dir")
    @classmethod
    def _resolve_dir(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve(value, info)

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
    max_pages: int = Field(5, ge=1, le=50)

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
            max_pages=self.max_pages if "max_pages" in self.model_fields_set else base.max_pages,
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
    proxy: Annotated[str, AfterValidator(_check_proxy_url)] | None = None

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
    language: Annotated[str, AfterValidator(_check_language)] | None = None
    formats: tuple[FormatName, ...] = tuple(FORMATS)
    interval: Duration | None = None
    cron: Annotated[str, AfterValidator(_check_cron)] | None = None
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


def _check_feed_id(value: str) -> str:
    if not _FEED_ID.fullmatch(value):
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


FeedId = Annotated[str, AfterValidator(_check_feed_id)]


class _Document(_Model):
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
    def _some_feeds(cls, value: Any) -> Any:
        if value is None or (isinstance(value, Mapping) and not value):
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


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration."""

    file: Path
    settings: Settings
    feeds: Mapping[str, Feed]
    yaml_warnings: tuple[str, ...] = field(default=(), compare=False)
    """What the YAML parser warned about (a reused anchor...), with file and line."""

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
            *_serving_mismatch(self.settings),
            *_missing_extras(self.settings),
        ]

    @property
    def redactor(self) -> Redactor:
        """Takes the config's secrets out of a text: source and proxy URLs' credentials
        and queries, cookie and credential header values."""
        sources = [source for feed in self.feeds.values() for source in feed.sources]
        urls = [s.url for s in sources if s.url] + [s.proxy for s in sources if s.proxy]
        values = [v for s in sources for v in s.cookies.values()]
        values += [v for s in sources for k, v in s.headers.items() if is_secret_header(k)]
        return Redactor.of(urls, values)

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


SERVE_ENVIRONMENT = {"FEEDS_SERVE_HOST": "host", "FEEDS_SERVE_PORT": "port"}
"""Environment variables that override ``settings.serve`` (a container binds 0.0.0.0)."""


def _served_as_the_environment_says(settings: Settings, file: Path) -> Settings:
    given = {key: os.environ[name] for name, key in SERVE_ENVIRONMENT.items() if name in os.environ}
    if not given:
        return settings
    try:
        serve = ServeSettings.model_validate({**settings.serve.model_dump(), **given})
    except ValidationError as exc:
        error = exc.errors()[0]
        name = next(n for n, key in SERVE_ENVIRONMENT.items() if key == error["loc"][0])
        raise ConfigError(file, None, f"${name}", _message(error)) from None
    return settings.model_copy(update={"serve": serve})


def _missing_extras(settings: Settings) -> list[str]:
    """What the settings ask for that an extra not installed does."""
    if (settings.database or settings.cluster) and not installed("cluster"):
        return [
            str(
                MissingExtraError("a shared state (settings.database, settings.cluster)", "cluster")
            )
        ]
    return []


def _serving_mismatch(settings: Settings) -> list[str]:
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


def load_config(file: Path | str) -> Config:
    """Read and validate a config file; raises ``ConfigError`` naming file, line and field."""
    path = Path(file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, None, "", f"cannot read the config file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, "", "the config file is not UTF-8 text") from exc
    return parse_config(text, path)


def parse_config(text: str, file: Path) -> Config:
    """Validate YAML text as if read from ``file`` (relative paths resolve beside it)."""
    try:
        tree, yaml_warnings = _load_yaml(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(file, line, "", f"invalid YAML: {problem}") from exc
    except YAMLError as exc:
        raise ConfigError(file, None, "", f"invalid YAML: {exc}") from exc
    except (TypeError, ValueError, RecursionError) as exc:  # ruamel on a mapping as a key...
        raise ConfigError(file, None, "", f"YAML this file cannot use: {exc}") from exc
    _check_expansion(tree, file)
    if tree is None:
        raise ConfigError(file, 1, "feeds", "the file is empty; it needs at least one feed")
    if not isinstance(tree, Mapping):
        raise ConfigError(file, 1, "", "the file must be a mapping with `settings` and `feeds`")
    context = {"base_dir": file.resolve().parent}
    try:
        document = _Document.model_validate(tree, context=context)
    except ValidationError as exc:
        # an unknown key first: a misspelt key is named before the one it misses
        errors = sorted(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
        first, *more = [_config_error(file, tree, error) for error in errors]
        raise ConfigError(first.file, first.line, first.field, first.message, more=more) from None
    settings = _served_as_the_environment_says(document.settings, file)
    config = Config(
        file=file,
        settings=settings,
        feeds={
            feed_id: _resolve_feed(feed_id, spec, settings)
            for feed_id, spec in document.feeds.items()
        },
        yaml_warnings=tuple(
            _yaml_warning(file, warning.message, warning.category) for warning in yaml_warnings
        ),
    )
    LOGS.add(config.redactor)  # from now on, no log line shows them
    return config


_YAML_WARNINGS = (YAMLWarning, YAMLFutureWarning)
REMOVED_KEYS = {
    "stylesheet": "removed: browsers are dropping XSLT; every feed now has a page for "
    "people, output/<feed>.html, linked from index.html. Delete this line",
}
"""Keys earlier versions took, with what to do instead."""
MAX_YAML_VALUES = 100_000
"""Values a config may hold once its aliases are expanded: far more than any real one,
far fewer than an alias bomb (703 bytes that expand to billions)."""
MAX_YAML_ALIASES = 1_000
"""Aliases a config may use: ``<<: *defaults`` per feed is a handful."""
_MAX_YAML_DEPTH = 64


def _check_expansion(tree: Any, file: Path) -> None:
    """Refuse a YAML tree whose aliases expand it beyond ``MAX_YAML_VALUES`` values (or
    that uses more than ``MAX_YAML_ALIASES`` aliases), before anything walks it whole.
    The parser shares an aliased node rather than copying it, so sizes are counted once
    per node: linear in the file, whatever it expands to."""
    sizes: dict[int, int] = {}
    aliases = 0

    def size(node: Any, depth: int) -> int:
        nonlocal aliases
        if not isinstance(node, (Mapping, list)):
            return 1
        if id(node) in sizes:
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                raise _too_big(file, node, f"more than {MAX_YAML_ALIASES:,} aliases")
            return sizes[id(node)]
        if depth > _MAX_YAML_DEPTH:
            raise _too_big(file, node, f"values nested more than {_MAX_YAML_DEPTH} deep")
        children = [*node.keys(), *node.values()] if isinstance(node, Mapping) else node
        total = 1 + sum(size(child, depth + 1) for child in children)
        if total > MAX_YAML_VALUES:
            raise _too_big(
                file, node, f"more than {MAX_YAML_VALUES:,} values once its aliases are expanded"
            )
        sizes[id(node)] = total
        return total

    size(tree, 0)


def _too_big(file: Path, node: Any, what: str) -> ConfigError:
    line = getattr(getattr(node, "lc", None), "line", None)
    return ConfigError(
        file,
        line + 1 if isinstance(line, int) else None,
        "",
        f"the YAML holds {what} (an alias bomb?); write the values out, or use fewer aliases",
    )


def _load_yaml(text: str) -> tuple[Any, list[warnings.WarningMessage]]:
    """The YAML tree of ``text``, and the parser's warnings, caught to be reported with
    the config's file and line (any other warning is shown as usual)."""
    with warnings.catch_warnings(record=True) as caught:
        for category in _YAML_WARNINGS:
            warnings.simplefilter("always", category)
        tree = YAML(typ="rt").load(text)
    for other in (w for w in caught if not issubclass(w.category, _YAML_WARNINGS)):
        warnings.showwarning(other.message, other.category, other.filename, other.lineno)
    return tree, [w for w in caught if issubclass(w.category, _YAML_WARNINGS)]


def _yaml_warning(file: Path, message: Warning | str, category: type[Warning]) -> str:
    """A YAML parser's warning as one line naming the file and line (the last position
    the parser's message gives: the second occurrence of a reused anchor, say)."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    positions = re.findall(r"line (\d+)", str(message))
    where = f"{file}:{positions[-1]}" if positions else str(file)
    text = lines[0] if lines else category.__name__
    if issubclass(category, ReusedAnchorWarning):
        text += "; the aliases after it refer to this second definition"
    return f"{where}: YAML: {text}"


def _resolve_feed(feed_id: str, spec: FeedConfig, settings: Settings) -> Feed:
    return Feed(
        id=feed_id,
        title=spec.title or feed_id,
        description=spec.description or spec.title or feed_id,
        link=spec.link,
        language=spec.language,
        interval=spec.interval or settings.interval,
        max_items=spec.max_items or settings.max_items,
        sources=spec.sources,
        extract=spec.extract,
        max_new_per_run=spec.max_new_per_run or settings.max_new_per_run,
        max_age=spec.max_age,
        include=spec.include,
        exclude=spec.exclude,
        icon=spec.icon,
        formats=spec.formats,
        cron=spec.cron,
    )


def _resolve(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    path = value.expanduser()
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    return Path(str(path.resolve()))


def _config_error(file: Path, tree: Any, error: ErrorDetails) -> ConfigError:
    location = [part for part in error["loc"] if part != "[key]"]
    field = _field_name(location)
    return ConfigError(file, _line_of(tree, location), field, _message(error))


def _field_name(location: Sequence[int | str]) -> str:
    name = ""
    for part in location:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        if key in REMOVED_KEYS:
            return REMOVED_KEYS[key]
        message = "unknown key"
        allowed = _allowed_keys(error)
        if allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            message += f" (did you mean `{close[0]}`?)" if close else ""
            message += f"; allowed here: {', '.join(allowed)}"
        return message
    if kind in _KINDS_OF_VALUE:
        return f"must be {_KINDS_OF_VALUE[kind]} (got {error['input']!r})"
    if kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        return f"must be {words} {(error.get('ctx') or {}).get(key)} (got {error['input']!r})"
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message.replace("a valid tuple", "a list").replace("a valid dictionary", "a mapping")
    if kind.endswith(("_type", "_parsing")):
        message += f" (got {error['input']!r})"
    return message


_KINDS_OF_VALUE = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
    "model_type": "a mapping (indented `key: value` lines)",
    "model_attributes_type": "a mapping (indented `key: value` lines)",
    "dict_type": "a mapping (indented `key: value` lines)",
    "tuple_type": "a list (lines starting with `- `, or [a, b])",
    "list_type": "a list (lines starting with `- `, or [a, b])",
}
"""What a value of the wrong kind should have been, in our words (pydantic's error types)."""
_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("more than", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("less than", "lt"),
}


def _allowed_keys(error: ErrorDetails) -> list[str]:
    model = _model_at([part for part in error["loc"][:-1] if part != "[key]"])
    return list(model.model_fields) if model is not None else []


def _model_at(location: Sequence[int | str]) -> type[BaseModel] | None:
    """The config model that describes the mapping found at ``location``."""
    model: type[BaseModel] = _Document
    index = 0
    while index < len(location):
        nested = _nested_model(model, str(location[index]))
        if nested is None:
            return None
        model, step = nested
        index += step
    return model


def _nested_model(model: type[BaseModel], key: str) -> tuple[type[BaseModel], int] | None:
    """The model of the value under ``key`` of ``model``, read from its field's type, and
    how many steps of a location lead to it: 1 for a model, 2 where a mapping's id or a
    list's index comes first (``feeds.<id>``, ``sources[0]``)."""
    field = model.model_fields.get(key)
    if field is None:
        return None
    annotation: Any = field.annotation
    while get_origin(annotation) in (Union, UnionType):  # `X | None`
        annotation = next((a for a in get_args(annotation) if a is not type(None)), None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, 1
    for inner in get_args(annotation):
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner, 2
    return None


def _line_of(tree: Any, location: Sequence[int | str]) -> int:
    """The 1-based line of the deepest node of ``location`` that exists in the YAML tree."""
    node = tree
    line = node.lc.line + 1 if isinstance(node, CommentedMap) else 1
    for part in location:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def with_options(model: _ModelT, given: Mapping[str, Any], where: str) -> _ModelT:
    """``model`` (a source, extraction rules) with the fields ``given`` on the command line
    (``where`` names them), checked as the config would check them."""
    fields = {name: value for name, value in given.items() if value not in (None, ())}
    try:
        return type(model).model_validate({**model.model_dump(exclude_unset=True), **fields})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise ConfigError(where, None, field, _message(error)) from None


def append_feed(file: Path, feed_id: str, entry: Mapping[str, Any]) -> None:
    """Add a feed to a config file: created when missing, its `feeds:` filled when empty.
    The rest of the file stays as it was, byte for byte (comments, order, indentation):
    the entry is written in the file's own indentation after its last feed. The new text
    is validated first: a file that would not load is left as it was (``ConfigError``)."""
    text = file.read_text(encoding="utf-8") if file.exists() else ""
    new_text = _with_feed(text, file, feed_id, entry)
    parse_config(new_text, file)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(new_text, encoding="utf-8")


def remove_feed(file: Path, feed_id: str) -> None:
    """Take a feed out of a config file; the rest of the file stays as it was, byte for
    byte (the feed's lines, where ruamel read them, are cut; comments before the next
    feed kept). Refused (``ConfigError``) for the only feed: a config needs one."""
    text = file.read_text(encoding="utf-8")
    config = parse_config(text, file)
    if feed_id not in config.feeds:
        raise ConfigError(file, None, f"feeds.{feed_id}", "no such feed")
    if len(config.feeds) == 1:
        raise ConfigError(
            file, None, f"feeds.{feed_id}", "the config's only feed: add another first"
        )
    lines = text.splitlines(keepends=True)
    start, end = _feed_lines(text, file, feed_id)
    while end > start + 1 and lines[end - 1].lstrip().startswith("#"):
        end -= 1  # comments just before the next feed are that feed's
    new_text = "".join(lines[:start] + lines[end:])
    parse_config(new_text, file)
    file.write_text(new_text, encoding="utf-8")


def _feed_lines(text: str, file: Path, feed_id: str) -> tuple[int, int]:
    """The lines ``[start, end)`` a feed takes in the file, found by ruamel's round trip
    (where it read each key), never by a pattern: a feed named like a key (``title``) is
    the feed, wherever such a key stands."""
    tree: Any = YAML(typ="rt").load(text)
    feeds: Any = tree["feeds"]
    if not isinstance(feeds, CommentedMap) or feeds.fa.flow_style():
        raise ConfigError(
            file, None, f"feeds.{feed_id}",
            "`feeds:` is written inline ({...}): take the feed out by hand",
        )  # fmt: skip
    keys = list(feeds)
    position = [str(key) for key in keys].index(feed_id)  # `2024:` is read as a number
    start = feeds.lc.key(keys[position])[0]
    following = keys[position + 1 :]
    if following:
        return start, feeds.lc.key(following[0])[0]
    top = list(tree)
    after = top[top.index("feeds") + 1 :]
    return start, tree.lc.key(after[0])[0] if after else len(text.splitlines())


def check_new_feed_id(config: Config | None, feed_id: str) -> None:
    """Raise ``ConfigError`` unless ``feed_id`` can name a new feed of ``config``."""
    file = config.file if config else Path("feeds.yaml")
    try:
        _check_feed_id(feed_id)
    except ValueError as exc:
        raise ConfigError(file, None, f"feeds.{feed_id}", str(exc)) from None
    if config is not None and feed_id in config.feeds:
        raise ConfigError(file, None, f"feeds.{feed_id}", "a feed with this id exists already")


def _with_feed(text: str, file: Path, feed_id: str, entry: Mapping[str, Any]) -> str:
    tree: Any = YAML(typ="rt").load(text) if text.strip() else None
    # the file's indentation: that of its first nested key (2 when it has none)
    nested = re.search(r"(?m)^( +)[^\s#-]", text)
    indent = len(nested.group(1)) if nested else 2
    if tree is None:
        tree = CommentedMap()
    if not isinstance(tree, MutableMapping):
        raise ConfigError(file, 1, "", "the file must be a mapping with `settings` and `feeds`")
    feeds: Any = tree.get("feeds")
    if feeds is not None and not isinstance(feeds, Mapping):
        raise ConfigError(file, None, "feeds", "`feeds:` must be a mapping of feed ids to add to")
    if feeds is not None and feed_id in feeds:
        raise ConfigError(file, None, f"feeds.{feed_id}", "a feed with this id exists already")
    block = _indented(yaml_text({feed_id: entry}, indent=indent), indent)
    keys = list(tree)
    if "feeds" not in tree:
        return text + ("\n" if text and not text.endswith("\n") else "") + "feeds:\n" + block
    if keys[-1] == "feeds":  # the usual layout: the new feed goes at the end of the file
        body = text.rstrip("\n")
        if not feeds:  # `feeds:` with nothing under it (or `feeds: {}`): its line, as read
            lines = body.split("\n")
            read: Any = tree  # ruamel's mapping: it knows the line it read each key on
            lines[read.lc.key("feeds")[0]] = "feeds:"
            body = "\n".join(lines)
        return body + "\n" + block
    yaml = YAML(typ="rt")  # `feeds:` before other keys: ruamel places it, in this indentation
    yaml.indent(mapping=indent, sequence=indent + 2, offset=indent)
    if not feeds:
        feeds = tree["feeds"] = CommentedMap()
    feeds[feed_id] = _plain_to_yaml(entry)
    buffer = io.StringIO()
    yaml.dump(tree, buffer)
    return buffer.getvalue()


def _indented(text: str, indent: int) -> str:
    return "".join(" " * indent + line if line.strip() else line for line in text.splitlines(True))


def yaml_text(data: Mapping[str, Any], *, indent: int = 2) -> str:
    """YAML for a config fragment, as ``feeds add`` prints it."""
    yaml = YAML(typ="rt")
    yaml.indent(mapping=indent, sequence=indent + 2, offset=indent)
    buffer = io.StringIO()
    yaml.dump(_plain_to_yaml(data), buffer)
    return buffer.getvalue()


def _plain_to_yaml(value: Any) -> Any:
    if isinstance(value, Mapping):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[key] = _plain_to_yaml(item)
        return mapping
    if isinstance(value, list | tuple):
        sequence = CommentedSeq()
        sequence.extend(_plain_to_yaml(item) for item in value)
        return sequence
    return value
