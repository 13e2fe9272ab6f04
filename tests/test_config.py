"""Config loading: defaults, resolution, and errors that name file, line and field."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from feeds.config import load_config, parse_duration
from feeds.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return caught.value


MINIMAL = "feeds:\n  news:\n    sources:\n      - url: https://example.com/news/\n"


def test_defaults_and_resolution(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))

    settings = config.settings
    assert settings.output_dir == tmp_path.resolve() / "output"
    assert settings.state_dir == tmp_path.resolve() / "state"
    assert settings.base_url == "http://localhost:8080/"
    assert settings.max_items == 50
    feed = config.feeds["news"]
    assert (feed.id, feed.title, feed.description) == ("news", "news", "news")
    assert feed.interval == timedelta(hours=1)
    assert feed.max_items == 50
    assert feed.sources[0].location == "https://example.com/news/"


def test_feed_values_override_settings(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "settings:\n  interval: 2h\n  max_items: 10\n  base_url: https://feeds.example/x\n"
            "feeds:\n  news:\n    title: News\n    interval: 15m\n    max_items: 5\n"
            "    sources:\n      - url: https://example.com/\n",
        )
    )
    feed = config.feeds["news"]
    assert (feed.title, feed.interval, feed.max_items) == ("News", timedelta(minutes=15), 5)
    assert config.settings.base_url == "https://feeds.example/x/"


def test_local_path_resolves_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<html></html>")
    config = load_config(
        write(tmp_path, "feeds:\n  a:\n    sources:\n      - path: site/index.html\n")
    )
    source = config.feeds["a"].sources[0]
    assert source.path == (tmp_path / "site" / "index.html").resolve()
    assert source.location.startswith("file:///")
    assert config.local_roots == ((tmp_path / "site").resolve(),)


def test_source_rules_merge_over_feed_rules(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "feeds:\n  a:\n    extract:\n      body: .post\n      remove: [.ads]\n"
            "    sources:\n      - url: https://example.com/\n"
            "        extract:\n          title: h1.big\n          remove: [.share]\n",
        )
    )
    feed = config.feeds["a"]
    rules = feed.rules_for(feed.sources[0])
    assert rules is not None
    assert (rules.body, rules.title, rules.remove) == (".post", "h1.big", (".ads", ".share"))


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
    ],
)
def test_durations(text: str, duration: timedelta) -> None:
    assert parse_duration(text) == duration


@pytest.mark.parametrize("text", ["5", "1 hour", "0s", "h", "", "-1m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration|longer"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("feeds:\n  news:\n    sources: [\n", 4, "", "invalid YAML"),
        (
            "feeds:\n  news:\n    titel: x\n    sources:\n      - url: https://e.com/\n",
            3,
            "feeds.news.titel",
            "unknown key (did you mean `title`?)",
        ),
        (
            "settings:\n  max_items: lots\n" + MINIMAL,
            2,
            "settings.max_items",
            "must be a whole number (got 'lots')",
        ),
        (
            "feeds:\n  news:\n    sources:\n      - links: a.story\n",
            4,
            "feeds.news.sources[0]",
            "needs exactly one of `url`",
        ),
        (
            "feeds:\n  news:\n    sources:\n      - url: ftp://e.com/\n",
            4,
            "feeds.news.sources[0].url",
            "not an http(s) URL",
        ),
        (
            "feeds:\n  news:\n    sources:\n      - url: https://e.com/\n        links: 'a['\n",
            5,
            "feeds.news.sources[0].links",
            "not a valid CSS selector",
        ),
        (
            "settings:\n  interval: soon\n" + MINIMAL,
            2,
            "settings.interval",
            "not a duration",
        ),
        (
            "feeds:\n  bad id:\n    sources: [{url: 'https://e.com/'}]\n",
            2,
            "feeds.bad id",
            "feed id",
        ),
        ("feeds:\n  news:\n    sources: []\n", 3, "feeds.news.sources", "at least one source"),
        ("feeds:\n  news:\n    sources: https://e.com/\n", 3, "feeds.news.sources", "a list"),
        ("settings: {}\n", 1, "feeds", "required, but missing"),
        (
            "settings:\n  output_dir: out\n  state_dir: out/state\n" + MINIMAL,
            1,
            "settings",
            "must not be inside output_dir",
        ),
        (
            "feeds:\n  a:\n    sources: [{url: 'https://e.com/'}]\n  a:\n    x: 1\n",
            4,
            "",
            "duplicate key",
        ),
    ],
)
def test_mistakes_name_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, message: str
) -> None:
    error = error_of(tmp_path, text)

    assert (error.line, error.field) == (line, field)
    assert message in error.message
    assert str(error).startswith(f"{tmp_path / 'feeds.yaml'}:{line}: ")
    assert "\n" not in str(error)


def test_several_mistakes_are_each_reported_on_their_line(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        "settings:\n  max_items: 0\nfeeds:\n  news:\n    sources:\n      - url: x\n",
    )
    lines = str(error).splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("feeds.yaml:2: settings.max_items: must be at least 1 (got 0)")
    assert ":6: feeds.news.sources[0].url: 'x' is not an http(s) URL" in lines[1]


REUSED_ANCHOR = """\
feeds:
  a: &sources
    sources: [{url: "https://example.org/"}]
  b: &sources
    sources: [{url: "https://example.com/"}]
  c: *sources
"""


@pytest.mark.filterwarnings("error")  # the parser's warning does not escape as a Python one
def test_a_yaml_warning_is_a_config_warning_naming_the_line(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, REUSED_ANCHOR))

    assert [str(s.url) for s in config.feeds["c"].sources] == ["https://example.com/"]
    assert config.warnings == [
        f"{tmp_path / 'feeds.yaml'}:4: YAML: found duplicate anchor 'sources'; the aliases "
        "after it refer to this second definition"
    ]
    assert load_config(write(tmp_path, MINIMAL)).warnings == []


def test_other_warnings_while_parsing_are_shown_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load = YAML.load

    def load_warning(self: YAML, text: str) -> object:
        warnings.warn("something else", UserWarning, stacklevel=1)
        return load(self, text)

    monkeypatch.setattr(YAML, "load", load_warning)
    with pytest.warns(UserWarning, match="something else"):
        config = load_config(write(tmp_path, REUSED_ANCHOR))
    assert len(config.warnings) == 1 and "duplicate anchor" in config.warnings[0]


def test_missing_local_path(tmp_path: Path) -> None:
    error = error_of(tmp_path, "feeds:\n  a:\n    sources:\n      - path: nowhere/\n")
    assert (error.line, error.field) == (4, "feeds.a.sources[0].path")
    assert "does not exist" in error.message


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "absent.yaml")


def test_not_a_mapping(tmp_path: Path) -> None:
    assert "must be a mapping" in error_of(tmp_path, "- a\n- b\n").message
    assert "empty" in error_of(tmp_path, "# nothing\n").message


@pytest.mark.parametrize(
    ("source", "line", "field", "message"),
    [
        (
            "        kind: rss\n",
            5,
            "feeds.news.sources[0].kind",
            "must be 'auto', 'feed', 'sitemap' or 'listing' (got 'rss')",
        ),
        (
            "        url_pattern: '(unclosed'\n",
            5,
            "feeds.news.sources[0].url_pattern",
            "not a valid regular expression",
        ),
        ("        item: {title: h2}\n", 5, "feeds.news.sources[0].item.selector", "required"),
        (
            "        item: {selector: li, link: 'a@1bad'}\n",
            5,
            "feeds.news.sources[0].item.link",
            "not an attribute name",
        ),
        (
            "        item: {selector: li, date_format: 'dd.mm.yyyy'}\n",
            5,
            "feeds.news.sources[0].item.date_format",
            "not a strptime format",
        ),
        (
            "        allow_domains: ['not a domain']\n",
            5,
            "feeds.news.sources[0].allow_domains[0]",
            "not a domain name",
        ),
        (
            "        links: a\n        item: {selector: li}\n",
            4,
            "feeds.news.sources[0]",
            "keep one",
        ),
        (
            "        max_pages: 0\n",
            5,
            "feeds.news.sources[0].max_pages",
            "must be at least 1 (got 0)",
        ),
        ("        proxy: proxy.local:3128\n", 5, "feeds.news.sources[0].proxy", "not a proxy URL"),
        ("        robots: no\n", 5, "feeds.news.sources[0].robots", "'obey' or 'ignore'"),
    ],
)
def test_source_key_mistakes(
    tmp_path: Path, source: str, line: int, field: str, message: str
) -> None:
    error = error_of(
        tmp_path, "feeds:\n  news:\n    sources:\n      - url: https://e.com/\n" + source
    )
    assert (error.line, error.field) == (line, field)
    assert message in error.message


def test_filter_rules_in_both_forms(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "feeds:\n  news:\n    include: [ferry, {pattern: Bridge, fields: [title], case_sensitive: true}]\n"
            "    exclude:\n      - pattern: sponsored\n        fields: [content, url]\n"
            "    sources: [{url: 'https://e.com/'}]\n",
        )
    )
    feed = config.feeds["news"]
    assert [(r.pattern, r.fields, r.case_sensitive) for r in feed.include] == [
        ("ferry", ("title", "content"), False),
        ("Bridge", ("title",), True),
    ]
    assert feed.exclude[0].fields == ("content", "url")


def test_bad_filter_rule(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        "feeds:\n  news:\n    exclude:\n      - pattern: x\n        fields: [body]\n"
        "    sources: [{url: 'https://e.com/'}]\n",
    )
    assert (error.line, error.field) == (5, "feeds.news.exclude[0].fields[0]")
    assert "'title', 'content', 'author', 'categories' or 'url'" in error.message


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("61 * * * *", "'61 * * * *': minute '61' is not in 0-59"),
        ("0 24 * * *", "hour '24' is not in 0-23"),
        ("0 7 32 * *", "day '32' is not in 1-31"),
        ("0 7 * 13 *", "month '13' is not in 1-12 or jan-dec"),
        ("0 7 * * 8", "weekday '8' is not in 0-7 or sun-sat"),
        ("*/0 * * * *", "the minute step '0' is not a number above 0"),
    ],
)
def test_a_cron_out_of_range_is_refused(tmp_path: Path, cron: str, message: str) -> None:
    error = error_of(
        tmp_path, f"feeds:\n  news:\n    cron: '{cron}'\n    sources: [{{url: 'https://e.com/'}}]\n"
    )
    assert (error.line, error.field) == (3, "feeds.news.cron")
    assert message in error.message


def test_cron_and_interval_together_are_refused(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        "feeds:\n  news:\n    cron: '0 7 * * *'\n    interval: 1h\n"
        "    sources: [{url: 'https://e.com/'}]\n",
    )
    assert error.field == "feeds.news"
    assert "`cron` and `interval` both say when the feed runs: keep one" in error.message


def test_weekdays_are_counted_as_crontab_counts_them() -> None:
    """0 and 7 are Sunday, as in crontab (APScheduler 3 alone would take 0 for Monday)."""
    from apscheduler.triggers.cron import CronTrigger

    from feeds.schedule import standard_weekdays

    sunday = datetime(2026, 11, 29, tzinfo=UTC)
    for cron in ("0 7 * * 0", "0 7 * * 7", "0 7 * * sun", "0 7 * * 0-2", "0 7 * * fri-sun"):
        trigger = CronTrigger.from_crontab(standard_weekdays(cron), timezone=UTC)
        assert trigger.get_next_fire_time(None, sunday) == sunday.replace(hour=7), cron
    assert standard_weekdays("*/5 9-17 * * 1-5") == "*/5 9-17 * * mon,tue,wed,thu,fri"


def test_a_base_url_on_another_port_than_the_server_is_a_warning(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "settings:\n  serve: {port: 8090}\n" + MINIMAL))
    [warning] = config.warnings
    assert "says port 8080, but `feeds run` serves on port 8090" in warning
    behind_a_proxy = "settings:\n  serve: {port: 8090}\n  base_url: https://feeds.example/\n"
    assert load_config(write(tmp_path, behind_a_proxy + MINIMAL)).warnings == []
    agreeing = "settings:\n  serve: {port: 8090}\n  base_url: http://localhost:8090/\n"
    assert load_config(write(tmp_path, agreeing + MINIMAL)).warnings == []


def test_mistakes_are_said_in_our_words_and_a_typo_first(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        "settings:\n  serve: 8080\n  run_at_start: maybe\n"
        "feeds:\n  news:\n    soruces: [{url: 'https://e.com/'}]\n",
    )
    lines = str(error).splitlines()
    assert "feeds.news.soruces: unknown key (did you mean `sources`?)" in lines[0]
    assert any(
        "settings.serve: must be a mapping (indented `key: value` lines) (got 8080)" in line
        for line in lines
    )
    assert any(
        "settings.run_at_start: must be true or false (got 'maybe')" in line for line in lines
    )
    assert not any("Input should be" in line or "instance of" in line for line in lines)


def test_the_environment_can_say_where_to_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container binds 0.0.0.0 and its health check finds the port, whatever config
    is mounted."""
    monkeypatch.setenv("FEEDS_SERVE_HOST", "0.0.0.0")
    monkeypatch.setenv("FEEDS_SERVE_PORT", "8090")
    config = load_config(write(tmp_path, MINIMAL))
    assert (config.settings.serve.host, config.settings.serve.port) == ("0.0.0.0", 8090)
    monkeypatch.setenv("FEEDS_SERVE_PORT", "http")
    error = error_of(tmp_path, MINIMAL)
    assert (
        error.field == "$FEEDS_SERVE_PORT"
        and "must be a whole number (got 'http')" in error.message
    )


def test_a_database_that_is_not_postgresql_is_refused(tmp_path: Path) -> None:
    error = error_of(tmp_path, "settings:\n  database: mysql://db/feeds\n" + MINIMAL)
    assert (error.line, error.field) == (2, "settings.database")
    assert "'mysql://db/feeds' is not a PostgreSQL URL" in error.message
    assert "leave `database` out to keep the state in SQLite" in error.message


def test_remove_takes_out_a_feed_named_like_a_key_and_leaves_every_other_line(
    tmp_path: Path,
) -> None:
    from feeds.config import remove_feed

    text = (
        "# my feeds\n"
        "settings:\n"
        "  state_dir: state   # kept here\n"
        "feeds:\n"
        "  news:\n"
        "    title: News of the day\n"
        "    sources: [{url: 'https://a.example/'}]\n"
        "  # the one to go\n"
        "  title:\n"
        "    sources:\n"
        "      - url: 'https://b.example/'\n"
        "  # the last one\n"
        "  '2024':\n"
        "    sources: [{url: 'https://c.example/'}]\n"
    )
    file = tmp_path / "feeds.yaml"
    file.write_text(text)
    remove_feed(file, "title")
    assert file.read_text() == text.replace(
        "  title:\n    sources:\n      - url: 'https://b.example/'\n", ""
    )
    remove_feed(file, "2024")
    assert file.read_text().endswith("  # the one to go\n  # the last one\n")
    assert "title: News of the day" in file.read_text()


def test_a_typo_under_any_nested_setting_gets_a_suggestion(tmp_path: Path) -> None:
    file = tmp_path / "feeds.yaml"
    file.write_text(
        "settings:\n  cluster:\n    brokr: redis://127.0.0.1:6379/0\n"
        "feeds:\n  news:\n    sources: [{url: 'https://a.example/'}]\n"
    )
    with pytest.raises(ConfigError, match=r"cluster\.brokr: unknown key \(did you mean `broker`"):
        load_config(file)


def test_a_broken_xpath_rule_is_named_with_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "feeds:\n  a:\n    extract:\n      title: //h1\n      body: //div[@class='x'\n"
        "    sources: [{url: 'https://example.com/'}]\n",
    )
    with pytest.raises(ConfigError) as mistake:
        load_config(path)
    assert (mistake.value.line, mistake.value.field) == (5, "feeds.a.extract.body")
    assert "not a valid XPath expression" in str(mistake.value)


def test_on_demand_needs_allowed_domains_and_runs_on_one_machine(tmp_path: Path) -> None:
    feeds = "feeds:\n  a:\n    sources: [{url: 'https://example.com/'}]\n"
    with pytest.raises(ConfigError, match="settings.on_demand.allow"):
        load_config(write(tmp_path, "settings:\n  on_demand: {allow: []}\n" + feeds))
    with pytest.raises(ConfigError, match="on_demand is served by `feeds run` on one machine"):
        load_config(
            write(
                tmp_path,
                "settings:\n  database: postgresql://db/feeds\n"
                "  cluster: {broker: 'redis://127.0.0.1:6379/0'}\n"
                "  on_demand: {allow: [example.com]}\n" + feeds,
            )
        )
    config = load_config(
        write(tmp_path, "settings:\n  on_demand: {allow: [example.com], token: t0ken}\n" + feeds)
    )
    assert "t0ken" not in config.redactor("GET /full?url=x&token=t0ken")
