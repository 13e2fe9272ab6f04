"""The user's config: the scalar values it holds (``types``), its models and the resolved
``Config`` (``models``), reading and checking ``feeds.yaml`` (``load``), and edits of the
file (``edit``). What the rest of the program uses is named here."""

from feeds.config.edit import append_feed, check_new_feed_id, remove_feed, yaml_text
from feeds.config.load import load_config, parse_config, with_options
from feeds.config.models import (
    FEED_DEFAULTS,
    NO_FEEDS_YET,
    Config,
    ExtractRules,
    Feed,
    FeedConfig,
    FilterRule,
    ItemSelectors,
    ServeSettings,
    Settings,
    SourceConfig,
)
from feeds.config.types import parse_duration

__all__ = [
    "FEED_DEFAULTS",
    "NO_FEEDS_YET",
    "Config",
    "ExtractRules",
    "Feed",
    "FeedConfig",
    "FilterRule",
    "ItemSelectors",
    "ServeSettings",
    "Settings",
    "SourceConfig",
    "append_feed",
    "check_new_feed_id",
    "load_config",
    "parse_config",
    "parse_duration",
    "remove_feed",
    "with_options",
    "yaml_text",
]
