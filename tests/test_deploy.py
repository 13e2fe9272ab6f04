"""The deployment files: the Docker image listens where the environment says and pins its
versions; the systemd unit is hardened (its exposure measured where systemd-analyze is)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

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
def test_the_systemd_unit_is_hardened() -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(ROOT / "deploy" / "feeds.service")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    exposure = re.search(r"Overall exposure level for feeds.service: ([\d.]+)", result.stdout)
    assert exposure is not None, result.stdout + result.stderr
    assert float(exposure.group(1)) <= 3.0
