"""The deployment files: the Docker image listens where the environment says and pins its
versions; the systemd units are hardened (their exposure measured where systemd-analyze is); the
cluster's config is a valid one."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from feeds.config import load_config

ROOT = Path(__file__).resolve().parent.parent


def test_the_image_serves_where_its_environment_says_and_pins_its_versions() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ENV FEEDS_SERVE_HOST=0.0.0.0 FEEDS_SERVE_PORT=8080" in dockerfile
    [health] = [line for line in dockerfile.splitlines() if "healthz" in line and "CMD" in line]
    assert "FEEDS_SERVE_PORT" in health and "8080" not in health  # follows the port
    assert "pip install -c constraints.txt ." in dockerfile
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "deploy" / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {
        re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        for requirement in project["dependencies"]
    }
    assert needed <= pinned, needed - pinned


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
@pytest.mark.parametrize(
    ("unit", "name"),
    [
        ("feeds.service", "feeds.service"),
        ("cluster/feeds-cluster@.service", "feeds-cluster@worker.service"),
        ("feeds.service+feeds-browser.conf", "feeds.service"),  # with the browser's drop-in
    ],
)
def test_the_systemd_units_are_hardened(unit: str, name: str, tmp_path: Path) -> None:
    instance = tmp_path / name  # a template is analysed as one of its instances
    unit_file, _, drop_in = unit.partition("+")
    text = (ROOT / "deploy" / unit_file).read_text()
    if drop_in:
        added = (ROOT / "deploy" / drop_in).read_text().split("[Service]\n", 1)[1]
        text = text.replace("[Install]", added + "\n[Install]")
    instance.write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(instance)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    exposure = re.search(rf"Overall exposure level for {re.escape(name)}: ([\d.]+)", result.stdout)
    assert exposure is not None, result.stdout + result.stderr
    assert float(exposure.group(1)) <= 3.0


def test_the_cluster_config_is_a_valid_cluster_config(tmp_path: Path) -> None:
    text = (ROOT / "deploy" / "cluster" / "feeds.cluster.yaml").read_text()
    sample = ROOT / "config" / "sample-site" / "index.html"
    config_file = tmp_path / "feeds.yaml"
    config_file.write_text(text.replace("/app/sample-site/index.html", str(sample)))
    settings = load_config(config_file).settings
    assert settings.cluster is not None and settings.database is not None
    assert settings.publishes_to_database
