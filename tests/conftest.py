"""Shared test fixtures: an isolated nbrepro cache and database per test session, the
fixture repositories, and a runner for the real `nbrepro` command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import leak_guard

REPOS = Path(__file__).parent / "fixtures" / "repos"


def pytest_configure(config: pytest.Config) -> None:
    # The run fails if a kernel or container nbrepro started outlives the tests.
    leak_guard.register(config)


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """nbrepro's environment/lock cache and default database live in a temp dir for
    the whole session (uv's own package cache is shared, which keeps builds fast)."""
    root = tmp_path_factory.mktemp("nbrepro-cache")
    saved = {k: os.environ.get(k) for k in ("NBREPRO_CACHE_DIR", "NBREPRO_DB")}
    os.environ["NBREPRO_CACHE_DIR"] = str(root / "cache")
    os.environ["NBREPRO_DB"] = f"sqlite:///{root / 'default.sqlite'}"
    yield root
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def repo(tmp_path: Path):
    """Copy a fixture repository to a temp dir and return its path."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(REPOS / name, target)
        return target

    return copy


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str
    json: dict[str, Any] | None
    pid: int = 0  # of the nbrepro process: names the kernels it started

    def notebook(self, path: str) -> dict[str, Any]:
        assert self.json is not None, self.stderr
        for nb in self.json["notebooks"]:
            if nb["path"] == path:
                return nb
        raise AssertionError(f"{path} not in {[n['path'] for n in self.json['notebooks']]}")


def nbrepro(*args: str, tmp: Path | None = None, timeout: float = 600) -> CliRun:
    """Run the real command line; with `tmp`, also ask for JSON output and parse it."""
    argv = [sys.executable, "-m", "nbrepro", *args]
    out = None
    if tmp is not None:
        out = tmp / "result.json"
        argv += ["--json", str(out)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    data = json.loads(out.read_text()) if out is not None and out.exists() else None
    return CliRun(proc.returncode, stdout, stderr, data, proc.pid)


@pytest.fixture
def run_cli(tmp_path: Path):
    def run(*args: str, json_output: bool = True, timeout: float = 600) -> CliRun:
        return nbrepro(*args, tmp=tmp_path if json_output else None, timeout=timeout)

    return run
