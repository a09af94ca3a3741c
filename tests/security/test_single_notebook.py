"""A single notebook is checked with the git work tree around it, but never more
(issue item 9): the search stops at the Jupyter server's root (`--within`) and never
takes a folder that holds the user's home, even a home kept in git."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nbrepro.errors import InputError
from nbrepro.stages.source import open_source
from tests.security.helpers import check, write_notebook


@pytest.fixture
def home_in_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder kept in git, with a secret and a project without .git of its own."""
    home = tmp_path / "home"
    (home / ".git").mkdir(parents=True)
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text("PRIVATE KEY")
    write_notebook(home / "projects" / "study" / "analysis.ipynb", [("print(1 + 1)", "2\n")])
    monkeypatch.setenv("HOME", str(home))
    return home


def test_a_home_kept_in_git_is_never_the_repository(home_in_git: Path) -> None:
    notebook = home_in_git / "projects" / "study" / "analysis.ipynb"
    src = open_source(str(notebook))
    assert src.root == notebook.parent
    assert src.selected == ["analysis.ipynb"]


def test_the_search_stops_at_the_server_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # a work tree above the server's root
    served = tmp_path / "served"
    notebook = served / "study" / "analysis.ipynb"
    write_notebook(notebook, [("print(1 + 1)", "2\n")])
    assert open_source(str(notebook)).root == tmp_path  # the command line: up to "/"
    assert open_source(str(notebook), within=served).root == notebook.parent
    (served / ".git").mkdir()  # the server's root is itself a work tree: it may be taken
    assert open_source(str(notebook), within=served).root == served


def test_a_notebook_directly_in_the_home_folder_is_refused(home_in_git: Path) -> None:
    notebook = home_in_git / "scratch.ipynb"
    shutil.copy(home_in_git / "projects" / "study" / "analysis.ipynb", notebook)
    with pytest.raises(InputError, match="home folder"):
        open_source(str(notebook))


@pytest.mark.slow
def test_the_command_line_copies_only_the_notebook_folder(home_in_git: Path,
                                                          tmp_path: Path) -> None:
    notebook = home_in_git / "projects" / "study" / "analysis.ipynb"
    run = check(notebook, tmp_path, "--within", str(home_in_git))
    assert run.code == 0, run.stderr
    assert run.result is not None
    assert run.result["repository"]["path"] == str(notebook.parent)
    assert [n["path"] for n in run.result["notebooks"]] == ["analysis.ipynb"]
