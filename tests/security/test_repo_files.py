"""nbrepro reads only regular files inside the audited repository (issue item 12):
dependency files, settings and sanitize files that link out of it, `..` and absolute
paths, FIFOs and oversized files are reported, never read; crafted contents of the
right kind but the wrong shape are reported, never a crash."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from nbrepro import repoconfig
from nbrepro.errors import ConfigError, RepositoryFileError
from nbrepro.stages.source import read_repo_file, scratch_copy
from nbrepro.stages.spec import read_spec

SECRET = "aws_secret_access_key = s3cr3t-do-not-leak"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A secret file outside the repository."""
    secret = tmp_path / "home" / ".aws" / "credentials"
    secret.parent.mkdir(parents=True)
    secret.write_text(f"[default]\n{SECRET}\nregex: s3cr3t\nreplace: x\n")
    return secret


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("name", ["requirements.txt", "environment.yml", "Pipfile",
                                  "Pipfile.lock", "runtime.txt", "apt.txt", "setup.cfg"])
def test_dependency_files_linking_outside_are_not_read(repo: Path, outside: Path,
                                                       name: str) -> None:
    os.symlink(outside, repo / name)
    spec = read_spec(repo)
    shown = json.dumps(spec.to_dict())
    assert "s3cr3t" not in shown
    if name != "setup.cfg":  # read only for its name (a project)
        assert any(line.startswith(name) and "outside the repository" in line
                   for line in spec.skipped), spec.skipped


def test_an_included_requirements_file_linking_outside_is_not_read(repo: Path,
                                                                   outside: Path) -> None:
    (repo / "requirements.txt").write_text("-r more.txt\nsix\n")
    os.symlink(outside, repo / "more.txt")
    spec = read_spec(repo)
    assert "s3cr3t" not in json.dumps(spec.to_dict())
    assert [r.spec for r in spec.requirements] == ["six"]


def test_a_fifo_does_not_block_the_check(repo: Path) -> None:
    os.mkfifo(repo / "requirements.txt")
    done: list[object] = []
    thread = threading.Thread(target=lambda: done.append(read_spec(repo)), daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert done, "reading a FIFO blocked"
    with pytest.raises(RepositoryFileError, match="not a regular file"):
        read_repo_file(repo, "requirements.txt")
    copy = scratch_copy(repo)  # the scratch copy skips it too (copying it would block)
    assert not (copy / "requirements.txt").exists()


def test_oversized_files_are_not_read(repo: Path) -> None:
    (repo / "big.txt").write_bytes(b"x" * 2048)
    with pytest.raises(RepositoryFileError, match="larger"):
        read_repo_file(repo, "big.txt", limit=1024)
    assert read_repo_file(repo, "big.txt", limit=4096) == b"x" * 2048


@pytest.mark.parametrize("crafted", [
    "[1, 2, 3]", '{"_meta": "x", "default": ["numpy"]}',
    '{"_meta": {"requires": {"python_version": ["3.8"]}}, "default": {"numpy": 3}}',
])
def test_crafted_pipfile_locks_are_reported_not_crashes(repo: Path, crafted: str) -> None:
    (repo / "Pipfile.lock").write_text(crafted)
    spec = read_spec(repo)
    assert spec.python_version is None


@pytest.mark.parametrize("where", ["absolute", "dotdot", "link"])
def test_sanitize_with_reads_only_inside_the_repository(repo: Path, outside: Path,
                                                        where: str) -> None:
    name = {"absolute": str(outside), "dotdot": os.path.relpath(outside, repo),
            "link": "ci/sanitize.cfg"}[where]
    if where == "link":
        (repo / "ci").mkdir()
        os.symlink(outside, repo / name)
    (repo / "pyproject.toml").write_text(f"[tool.nbrepro]\nsanitize-with = {name!r}\n")
    with pytest.raises(ConfigError, match="outside the repository") as error:
        repoconfig.load(repo)
    assert "s3cr3t" not in str(error.value)


def test_pytest_sanitize_files_linking_outside_are_skipped(repo: Path, outside: Path) -> None:
    os.symlink(outside, repo / "sanitize.cfg")
    (repo / "pytest.ini").write_text("[pytest]\naddopts = --nbval --nbval-sanitize-with "
                                     "sanitize.cfg\n")
    config = repoconfig.load(repo)
    assert config.settings.sanitizers == []
    assert config.described == []


def test_a_pyproject_linking_outside_is_not_read(repo: Path, outside: Path) -> None:
    os.symlink(outside, repo / "pyproject.toml")
    with pytest.raises(ConfigError) as error:
        repoconfig.load(repo)
    assert "s3cr3t" not in str(error.value)
