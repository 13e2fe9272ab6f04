"""Edits of the user's config file (``feeds add --write``, ``feeds remove``), each
through ruamel's round trip so that every other line, comment and blank stays as the
user wrote it."""

from __future__ import annotations

import io
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from feeds.config.load import parse_config
from feeds.config.models import Config, check_feed_id
from feeds.errors import ConfigError


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
        check_feed_id(feed_id)
    except ValueError as exc:
        raise ConfigError(file, None, f"feeds.{feed_id}", str(exc)) from None
    if config is not None and feed_id in config.feeds:
        raise ConfigError(file, None, f"feeds.{feed_id}", "a feed with this id exists already")


def _with_feed(text: str, file: Path, feed_id: str, entry: Mapping[str, Any]) -> str:
    tree: Any = YAML(typ="rt").load(text) if text.strip() else None
    if tree is None:
        tree = CommentedMap()
    if not isinstance(tree, MutableMapping):
        raise ConfigError(file, 1, "", "the file must be a mapping with `settings` and `feeds`")
    indent = _indentation(tree)
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


def _indentation(tree: Mapping[Any, Any]) -> int:
    """The file's indentation: the column ruamel read its first nested key at (2 when it
    has none)."""
    for value in tree.values():
        if isinstance(value, CommentedMap) and value:
            return int(value.lc.key(next(iter(value)))[1])
    return 2


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
