"""Without a working sandbox, audited code does not run unless the user says so
(issue item 5): `nbrepro check` stops with one line naming bubblewrap and the ways
out, before any work; `--no-sandbox` runs it, recorded as `sandbox: none`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from nbrepro.check import CheckOptions, check
from nbrepro.errors import BackendUnavailable
from tests.helpers.cli import REPOS
from tests.security.helpers import check as run_check


@pytest.fixture
def broken_bwrap(tmp_path: Path) -> dict[str, str]:
    """A PATH whose `bwrap` cannot create namespaces (as where user namespaces are
    disabled): it exits with an error, as the real one does there."""
    folder = tmp_path / "bin"
    folder.mkdir()
    fake = folder / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def test_no_working_bubblewrap_refuses_with_one_line(tmp_path: Path,
                                                     broken_bwrap: dict[str, str]) -> None:
    repo = shutil.copytree(REPOS / "reproduces", tmp_path / "repo")
    run = run_check(repo, tmp_path, env=broken_bwrap)
    assert run.code == 2, (run.stdout, run.stderr)
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, run.stderr
    assert "bubblewrap" in lines[0]
    assert "--no-sandbox" in lines[0] and "--backend docker" in lines[0]
    assert "Traceback" not in run.stderr
    assert run.result is None  # stopped before any work


@pytest.mark.slow
def test_no_sandbox_runs_it_as_the_user_and_says_so(tmp_path: Path,
                                                    broken_bwrap: dict[str, str]) -> None:
    repo = shutil.copytree(REPOS / "reproduces", tmp_path / "repo")
    run = run_check(repo, tmp_path, "--no-sandbox", env=broken_bwrap)
    assert run.code == 0, run.stderr
    assert run.result is not None
    assert run.result["environment"]["sandbox"] == "none"


def test_the_library_fails_closed_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server runs checks through the same `check()`: `CheckOptions.sandbox` is
    its explicit setting."""
    from nbrepro.isolation.sandbox import Bubblewrap

    monkeypatch.setattr(Bubblewrap, "available", classmethod(lambda cls: False))
    repo = shutil.copytree(REPOS / "reproduces", tmp_path / "repo")
    with pytest.raises(BackendUnavailable, match="bubblewrap"):
        check(str(repo), CheckOptions())
