"""Load ``feeds.yaml`` into a frozen, validated configuration.

Every mistake is reported as ``file:line: field: what is wrong``. Relative paths in the
file (``output_dir``, ``state_dir``, a source's ``path``) are resolved against the
directory that holds the config file, so the result does not depend on the working
directory a service was started from.
"""

from __future__ import annotations

import difflib
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ValidationError,
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

from feeds.config.models import (
    Config,
    ConfigDocument,
    Feed,
    FeedConfig,
    ModelT,
    ServeSettings,
    Settings,
)
from feeds.errors import ConfigError
from feeds.extraction.site_config import SiteConfigs
from feeds.privacy import LOGS

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


def load_config(file: Path | str, *, feeds_required: bool = True) -> Config:
    """Read and validate a config file; raises ``ConfigError`` naming file, line and field.
    Without ``feeds_required``, a file with no feed yet (as ``feeds init`` writes it) loads."""
    path = Path(file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, None, "", f"cannot read the config file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, "", "the config file is not UTF-8 text") from exc
    return parse_config(text, path, feeds_required=feeds_required)


def parse_config(text: str, file: Path, *, feeds_required: bool = True) -> Config:
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
    if tree is None and feeds_required:
        raise ConfigError(file, 1, "feeds", "the file is empty; it needs at least one feed")
    tree = {} if tree is None else tree
    if not isinstance(tree, Mapping):
        raise ConfigError(file, 1, "", "the file must be a mapping with `settings` and `feeds`")
    context = {"base_dir": file.resolve().parent, "feeds_required": feeds_required}
    try:
        document = ConfigDocument.model_validate(tree, context=context)
    except ValidationError as exc:
        # an unknown key first: a misspelt key is named before the one it misses
        errors = sorted(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
        first, *more = [_config_error(file, tree, error) for error in errors]
        raise ConfigError(first.file, first.line, first.field, first.message, more=more) from None
    settings = _served_as_the_environment_says(document.settings, file)
    site_configs = SiteConfigs(settings.site_config) if settings.site_config else None
    config = Config(
        file=file,
        settings=settings,
        feeds={
            feed_id: _resolve_feed(feed_id, spec, settings, site_configs)
            for feed_id, spec in document.feeds.items()
        },
        yaml_warnings=tuple(
            _yaml_warning(file, warning.message, warning.category) for warning in yaml_warnings
        ),
        site_configs=site_configs,
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


def _resolve_feed(
    feed_id: str, spec: FeedConfig, settings: Settings, site_configs: SiteConfigs | None
) -> Feed:
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
        site_configs=site_configs,
    )


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
    model: type[BaseModel] = ConfigDocument
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


def with_options(model: ModelT, given: Mapping[str, Any], where: str) -> ModelT:
    """``model`` (a source, extraction rules) with the fields ``given`` on the command line
    (``where`` names them), checked as the config would check them."""
    fields = {name: value for name, value in given.items() if value not in (None, ())}
    try:
        return type(model).model_validate({**model.model_dump(exclude_unset=True), **fields})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise ConfigError(where, None, field, _message(error)) from None
