"""Shared test fixtures: an isolated nbrepro cache and database per test session, the
fixture repositories, and a runner for the real `nbrepro` command."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import leak_guard
from tests.helpers.cli import REPOS, CliRun, nbrepro
from tests.helpers.docker import engine_client, ensure_engine


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


@pytest.fixture
def run_cli(tmp_path: Path):
    def run(*args: str, json_output: bool = True, timeout: float = 600) -> CliRun:
        return nbrepro(*args, tmp=tmp_path if json_output else None, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def docker_engine() -> str:
    """A Docker engine that answers, and the offline base image's name."""
    return ensure_engine()


@pytest.fixture(scope="session")
def docker_client() -> Any:
    return engine_client()
