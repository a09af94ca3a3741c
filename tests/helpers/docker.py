"""The Docker engine and offline base image the docker-backend tests run against.

Tests of the docker backend are never skipped: when no engine answers,
`ensure_engine` starts one with the project's own scripts (`scripts/docker-engine.sh`)
and builds the offline base image (`scripts/base-image.sh`), exactly as CI does.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = os.environ.get("NBREPRO_TEST_BASE_IMAGE", "nbrepro-test-base:bookworm")


def engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        proc = subprocess.run(["docker", "version"], capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0


@functools.cache
def ensure_engine() -> str:
    """A Docker engine that answers, and the name of the offline base image: what the
    `docker_engine` fixtures of the docker-backend test modules return."""
    if not engine_answers():
        subprocess.run([str(ROOT / "scripts" / "docker-engine.sh")], check=True, timeout=900)
    subprocess.run([str(ROOT / "scripts" / "base-image.sh"), BASE_IMAGE], check=True,
                   timeout=1800)
    return BASE_IMAGE


def engine_client() -> Any:
    import docker

    ensure_engine()
    return docker.from_env()


def containers_of(client: Any, pid: int) -> list[Any]:
    """Kernel containers started by the nbrepro process `pid` (on this host); the owner
    label is `<host>:<pid>:<start time>`."""
    prefix = f"{socket.gethostname()}:{pid}:"
    found = client.containers.list(all=True, filters={"label": "org.nbrepro.owner"},
                                   ignore_removed=True)  # others come and go meanwhile
    return [c for c in found if c.labels["org.nbrepro.owner"].startswith(prefix)]


def start_nbrepro(*args: str, env: dict[str, str] | None = None,
                  cwd: Path | None = None) -> subprocess.Popen[str]:
    """`nbrepro ARGS` as a child process (its pid names the containers it starts)."""
    return subprocess.Popen([sys.executable, "-m", "nbrepro", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 900) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def read_json(path: Path) -> dict[str, Any]:
    assert path.is_file(), f"no results written to {path}"
    return json.loads(path.read_text())


def wait_for(predicate: Any, timeout: float = 120, step: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
