"""The command line: exit statuses, summaries, and nothing written on a config mistake."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.cli import main
from feeds.publishing.formats import FORMATS
from feeds.publishing.json_feed import JSON_FEED
from tests.feedcheck import check_feed
from tests.newssite import NewsSite

ROOT = Path(__file__).parent.parent


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


BROKEN_CONFIGS = {
    "bad yaml": ("feeds:\n  news:\n    sources: [\n", 4, ""),
    "unknown key": (
        "feeds:\n  news:\n    sources:\n      - url: https://e.com/\n        linsk: a\n",
        5,
        "feeds.news.sources[0].linsk",
    ),
    "wrong type": (
        "settings:\n  max_items: many\nfeeds:\n  news:\n    sources: [{url: 'https://e.com/'}]\n",
        2,
        "settings.max_items",
    ),
    "missing url": (
        "feeds:\n  news:\n    sources:\n      - links: a\n",
        4,
        "feeds.news.sources[0]",
    ),
}


@pytest.mark.parametrize("command", ["once", "check"])
@pytest.mark.parametrize("case", BROKEN_CONFIGS, ids=list(BROKEN_CONFIGS))
def test_broken_config_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, case: str, command: str
) -> None:
    text, line, field = BROKEN_CONFIGS[case]
    config = tmp_path / "feeds.yaml"
    config.write_text(text)  # output/ and state/ would go beside it

    status, out, err = invoke("--config", str(config), command)

    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    expected = f"{config}:{line}: {field + ': ' if field else ''}"
    assert err.startswith(expected), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.yaml"]


def test_check_accepts_the_bundled_config() -> None:
    status, out, _ = invoke("--config", str(ROOT / "config" / "feeds.yaml"), "check")
    assert status == 0
    assert "OK, 1 feeds, 1 sources" in out


def test_check_shows_the_config_warnings(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "feeds:\n  news:\n    sources:\n      - url: https://example.com/news/\n"
        "        robots: ignore\n"
    )
    status, out, err = invoke("--config", str(config), "check")
    assert status == 0
    assert "OK, 1 feeds, 1 sources" in out
    assert err == (
        "warning: feed news: source https://example.com/news/ ignores robots.txt (robots: ignore)\n"
    )


def test_once_runs_the_bundled_sample_site_offline(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    shutil.copytree(ROOT / "config", config_dir)

    status, out, err = invoke("--config", str(config_dir / "feeds.yaml"), "once")

    assert status == 0, err
    assert out.startswith("riverside: 3 new, 0 updated, 0 unchanged, 0 duplicate, 0 failed")
    for fmt in FORMATS.values():  # every format, strictly checked
        parsed = check_feed((tmp_path / "output" / f"riverside{fmt.suffix}").read_bytes(), fmt.name)
        assert len(parsed["items"] if fmt is JSON_FEED else parsed.entries) == 3
    assert (tmp_path / "state" / "feeds.sqlite3").is_file()

    status, out, _ = invoke("--config", str(config_dir / "feeds.yaml"), "once")
    assert status == 0
    assert "0 new, 0 updated, 3 unchanged" in out
    assert out.rstrip().endswith("files unchanged")


def test_once_unknown_feed_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds:\n  a:\n    sources: [{url: 'https://e.com/'}]\n")
    status, _, err = invoke("--config", str(config), "once", "--feed", "b")
    assert status == 2
    assert "no feed named b (the config has: a)" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.yaml"]


def test_once_exits_1_when_a_feed_fails_entirely(tmp_path: Path, news_site: NewsSite) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "settings: {per_host_delay: 0, retries: 0}\n"
        "feeds:\n"
        f"  good:\n    sources: [{{url: '{news_site.listing_url}'}}]\n"
        f"  dead:\n    sources: [{{url: '{news_site.origin}/gone/'}}]\n"
    )

    status, out, _ = invoke("--config", str(config), "once")

    assert status == 1
    lines = out.splitlines()  # feeds run at once: in the order they end
    assert any(line.startswith("good: 3 new") for line in lines)
    dead = next(n for n, line in enumerate(lines) if line.startswith("dead: "))
    assert lines[dead].startswith("dead: FAILED: no source could be read; nothing published yet.")
    assert lines[dead].endswith("; no files written")
    assert lines[dead + 1] == f"  ! {news_site.origin}/gone/: HTTP 404 NOT FOUND"
    assert not list((tmp_path / "output").glob("dead.*"))  # no empty feed
    index = (tmp_path / "output" / "index.html").read_text()
    assert "Not published yet: no source of this feed could be read so far." in index
    assert (
        'href="dead.' not in index
        and "dead." not in (tmp_path / "output" / "feeds.opml").read_text()
    )
    _, err = invoke("--config", str(config), "once")[1:]
    assert "HTTP 404" not in err  # each failure said once: in the summary, not the log too


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "feeds", "--version"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.stdout.strip() == "feeds, version 0.1.0"


HEAVY_MODULES = ("trafilatura", "lxml", "requests", "pydantic", "feedgen", "apscheduler", "rich")


@pytest.mark.parametrize("argument", ["--version", "--help"])
def test_version_and_help_import_nothing_heavy(argument: str) -> None:
    """They answer at once: none of the libraries that take seconds to import is loaded
    (measured: 0.07 s for `feeds --version`, against 2.5 to 4.9 s before)."""
    program = (
        "import sys\n"
        "from feeds.cli import main\n"
        f"try:\n    main([{argument!r}])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_log_lines_carry_no_second_timestamp_in_the_journal(tmp_path: Path) -> None:
    """Under systemd (JOURNAL_STREAM names standard error) the journal stamps lines."""
    program = (
        "import logging, os, sys\n"
        "status = os.fstat(sys.stderr.fileno())\n"
        "os.environ['JOURNAL_STREAM'] = f'{status.st_dev}:{status.st_ino}'\n"
        "from feeds.cli.logs import setup_logging\n"
        "setup_logging('info')\n"
        "logging.getLogger('feeds.test').info('hello')\n"
    )
    with (tmp_path / "err").open("w") as err:
        subprocess.run([sys.executable, "-c", program], stderr=err, check=True)
    assert (tmp_path / "err").read_text() == "INFO feeds.test: hello\n"


def test_the_command_keeps_mains_exit_status_and_skips_the_last_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``feeds`` (``entry``) exits as ``main`` says, with what is left frozen for the
    process's end instead of collected."""
    import feeds.cli as cli_module

    def failing() -> None:
        raise SystemExit(3)

    monkeypatch.setattr(cli_module, "main", failing)
    try:
        with pytest.raises(SystemExit) as exited:
            cli_module.entry()
        assert exited.value.code == 3
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
