"""A feed run with its state in PostgreSQL (settings.database), as `feeds once` runs it:
the same results as with SQLite, and nothing in the state directory."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from feeds.cli import main
from tests.newssite import numbered_articles, serve_news
from tests.services import postgres_schema
from tests.sitesim import SiteSim


def test_once_and_status_with_the_state_in_postgresql(site: SiteSim, tmp_path: Path) -> None:
    serve_news(site, numbered_articles(3))
    with postgres_schema() as url:
        config = tmp_path / "feeds.yaml"
        config.write_text(
            "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
            f"  database: '{url}'\n"
            f"feeds:\n  news:\n    sources: [{{url: '{site.url('/news/')}'}}]\n"
        )
        runner = CliRunner()
        first = runner.invoke(main, ["--config", str(config), "once"], catch_exceptions=False)
        assert first.exit_code == 0, first.output
        assert first.stdout.startswith("news: 3 new")
        again = runner.invoke(main, ["--config", str(config), "once"], catch_exceptions=False)
        assert "0 new" in again.stdout and "1 source page unchanged" in again.stdout
        status = runner.invoke(main, ["--config", str(config), "status", "--json"])
        [news] = json.loads(status.stdout)
        assert (news["result"], news["items"], news["new_last_day"]) == ("ok", 3, 3)
    assert not (tmp_path / "state" / "feeds.sqlite3").exists()
    assert (tmp_path / "output" / "news.atom").is_file()


def test_documents_published_to_the_database_and_not_to_files(
    site: SiteSim, tmp_path: Path
) -> None:
    from feeds.storage.database import DatabaseStore

    serve_news(site, numbered_articles(2))
    with postgres_schema() as url:
        config = tmp_path / "feeds.yaml"
        config.write_text(
            "settings:\n  output_dir: output\n  state_dir: state\n  per_host_delay: 0\n"
            f"  database: '{url}'\n  publish_to: database\n"
            f"feeds:\n  news:\n    sources: [{{url: '{site.url('/news/')}'}}]\n"
        )
        ran = CliRunner().invoke(main, ["--config", str(config), "once"], catch_exceptions=False)
        assert ran.exit_code == 0, ran.output
        assert "news.xml (in the database)" in ran.stdout
        with DatabaseStore.at(url) as store:
            wanted = {"news.xml", "news.atom", "news.html", "index.html"}
            assert store.document_names(wanted) == wanted
            document = store.document("news.xml")
            assert document is not None and b"<rss" in document.body
    assert not (tmp_path / "output" / "news.xml").exists()
