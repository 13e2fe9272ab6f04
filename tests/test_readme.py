"""The README's "A first feed in five minutes", run as written in a fresh shell: a shell
of its own, a home of its own, no ``--config`` and no venv path (the site's address is
a local one: tests never touch the internet)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.newssite import numbered_articles, serve_news
from tests.sitesim import SiteSim
from tests.test_service import free_port, get, wait_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_URL = "https://example.com/news/"


def five_minute_commands() -> list[str]:
    """The commands of the README's section, comments left out."""
    section = (ROOT / "README.md").read_text().split("## A first feed in five minutes")[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


@pytest.fixture
def site() -> Iterator[SiteSim]:
    with SiteSim("127.0.0.1") as sim:
        yield sim


def test_the_readme_five_minutes_run_as_written(site: SiteSim, tmp_path: Path) -> None:
    serve_news(site, numbered_articles(3))
    commands = five_minute_commands()
    assert commands[0] == ". .venv/bin/activate" and commands[-1] == "feeds run"
    assert all("--config" not in command and "bin/feeds" not in command for command in commands)
    assert EXAMPLE_URL in " ".join(commands)
    steps = [command.replace(EXAMPLE_URL, site.url("/news/")) for command in commands[:-1]]
    this_venv = Path(sys.executable).parent
    if this_venv != ROOT / ".venv" / "bin":  # the tests run from another environment
        steps[0] = f"export PATH={this_venv}:$PATH"
    port = free_port()
    shell = {
        "HOME": str(tmp_path),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "FEEDS_SERVE_PORT": str(port),  # the machine's 8080 may be taken
    }
    script = "set -e\n" + "\n".join(steps) + "\nexec feeds run\n"
    service = subprocess.Popen(
        ["bash", "--noprofile", "--norc", "-c", script],
        cwd=ROOT,
        env=shell,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: service.poll() is not None or get(f"http://127.0.0.1:{port}/status")[0] == 200,
            timeout=90,
            what="the commands and the service",
        )
        assert service.poll() is None, service.communicate()[0]
        config = tmp_path / "feeds" / "feeds.yaml"
        assert "  the-harbour-herald:\n" in config.read_text()
        status, body, _ = get(f"http://127.0.0.1:{port}/the-harbour-herald.atom")
        assert status == 200 and body.count(b"</entry>") == 3
    finally:
        if service.poll() is None:
            os.killpg(service.pid, signal.SIGTERM)
        output, _ = service.communicate(timeout=30)
    assert service.returncode == 0, output
    assert "Wrote feeds.yaml. Next: feeds add URL --write" in output
    assert "the-harbour-herald: 3 new" in output
