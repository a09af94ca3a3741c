"""The Docker engine and offline base image the docker-backend tests run against.

Tests of the docker backend are never skipped: when no engine answers, the session
fixture starts one with the project's own scripts (`scripts/docker-engine.sh`) and
builds the offline base image (`scripts/base-image.sh`), exactly as CI does.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest

from tests.helpers.docker import ROOT

pytestmark = pytest.mark.slow


def test_engine_answers_and_base_image_exists(docker_engine: str, docker_client: Any) -> None:
    assert docker_client.ping()
    image = docker_client.images.get(docker_engine)
    assert image.id


def test_scripts_are_idempotent(docker_engine: str) -> None:
    """A second run of the CI scripts only checks: no second engine, no rebuild."""
    for script in ("docker-engine.sh", "base-image.sh"):
        started = time.monotonic()
        proc = subprocess.run([str(ROOT / "scripts" / script)], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert time.monotonic() - started < 30, f"{script} did work on a ready machine"
