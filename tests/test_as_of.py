"""Dated resolution (`--as-of`): unpinned requirements resolve to what was current
when the notebooks were last run, stepping forward when that cannot be had."""

from __future__ import annotations

import os
import subprocess
from datetime import date, timedelta
from pathlib import Path

import nbformat
import pytest

from nbrepro.stages.as_of import cutoff
from tests.security.helpers import write_notebook


def _commit(root: Path, when: str) -> None:
    stamp = f"{when}T12:00:00"
    env = dict(os.environ, GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "analysis"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                       cwd=root, check=True, capture_output=True, env=env)


def _stamped(cells: int = 1, when: str = "2019-07-01T10:00:00.000Z") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")
                                         for _ in range(cells)])
    for cell in nb.cells:
        cell.metadata["execution"] = {"iopub.execute_input": when, "shell.execute_reply": when}
    return nb


def test_the_cutoff_is_the_day_after_the_last_commit_that_touched_the_notebooks(tmp_path):
    write_notebook(tmp_path / "a.ipynb", [("print(1)", "1\n")])
    _commit(tmp_path, "2020-06-01")
    found = cutoff(tmp_path, ["a.ipynb"], [])
    assert found is not None and found.date == "2020-06-02"
    assert "last commit" in found.source and "2020-06-01" in found.source


def test_a_loose_folder_is_dated_by_the_execution_times_it_stores(tmp_path):
    stamped = _stamped()
    papermill = nbformat.v4.new_notebook()
    papermill.metadata["papermill"] = {"start_time": "2021-02-03T04:05:06.7", "end_time": None}
    found = cutoff(tmp_path, ["a.ipynb"], [stamped, papermill])
    assert found is not None and found.date == "2021-02-04"
    assert "execution time" in found.source


@pytest.mark.parametrize("stamp", [
    (date.today() + timedelta(days=30)).isoformat(),  # the future
    "1970-01-01T00:00:00Z", "2021-02-30T00:00:00Z", "not a date", "2021-1-1", 20210101,
])
def test_implausible_timestamps_date_nothing(tmp_path, stamp):
    nb = _stamped()
    nb.cells[0].metadata["execution"] = {"iopub.execute_input": stamp}
    assert cutoff(tmp_path, ["a.ipynb"], [nb]) is None


def test_notebook_names_are_never_pathspec_magic(tmp_path):
    """A notebook named like a git pathspec (`:(glob)*`) is that file, not a pattern
    that dates the repository by other files."""
    write_notebook(tmp_path / "old.ipynb", [("print(1)", "1\n")])
    _commit(tmp_path, "2018-01-01")
    assert cutoff(tmp_path, [":(glob)*.ipynb"], []) is None


@pytest.mark.slow
def test_unpinned_requirements_resolve_as_of_the_last_commit(tmp_path, run_cli):
    root = tmp_path / "study"
    write_notebook(root / "analysis.ipynb", [("import six\nprint(six.__version__)", "1.15.0\n")])
    (root / "requirements.txt").write_text("six\n")
    _commit(root, "2020-06-01")  # six 1.15.0: May 2020; 1.16.0: May 2021
    dated = run_cli("check", str(root), "--as-of", "auto")
    assert dated.notebook("analysis.ipynb")["verdict"] == "reproduced", dated.stderr
    lock = dated.json["lock"]
    assert lock["pins"]["six"] == "1.15.0"
    assert (lock["exclude_newer"], lock["dating"]) == ("2020-06-02", "as-of")
    assert "resolved as of 2020-06-02 (the last commit that touched the notebooks " \
           "(2020-06-01))" in dated.stdout
    today = run_cli("check", str(root), "--as-of", "none")
    assert today.json["lock"]["pins"]["six"] != "1.15.0"
    assert today.notebook("analysis.ipynb")["verdict"] == "differs"


@pytest.mark.slow
def test_a_package_that_cannot_be_had_as_of_the_date_is_taken_as_of_today(tmp_path, run_cli):
    """The ladder: only the package that fails steps forward; the rest stay dated."""
    root = tmp_path / "study"
    write_notebook(root / "analysis.ipynb", [
        ("import six, typing_extensions\nprint(six.__version__)", "1.15.0\n")])
    (root / "requirements.txt").write_text("six\ntyping-extensions>=4.12\n")  # June 2024
    _commit(root, "2020-06-01")
    result = run_cli("check", str(root), "--as-of", "auto")
    assert result.notebook("analysis.ipynb")["verdict"] == "reproduced", result.stderr
    lock = result.json["lock"]
    assert lock["pins"]["six"] == "1.15.0"  # still as of the date
    assert (lock["exclude_newer"], lock["forwarded"]) == ("2020-06-02", ["typing-extensions"])
    assert "today's typing-extensions (as of that date they could not be had)" in result.stdout
    assert "taking today's typing-extensions" in result.stderr


@pytest.mark.slow
def test_with_pip_tools_the_whole_environment_steps_forward(tmp_path, run_cli):
    root = tmp_path / "study"
    write_notebook(root / "analysis.ipynb", [("import typing_extensions\nprint('ok')", "ok\n")])
    (root / "requirements.txt").write_text("typing-extensions>=4.12\n")
    _commit(root, "2020-06-01")
    result = run_cli("check", str(root), "--as-of", "auto", "--resolver", "pip-tools")
    assert result.notebook("analysis.ipynb")["verdict"] == "reproduced", result.stderr
    lock = result.json["lock"]
    assert lock["exclude_newer"] is None and lock["forwarded"] == []
    assert lock["dating"].startswith("today's packages: as of 2020-06-02 it failed")
    assert "resolved with today's packages: as of 2020-06-02 it failed" in result.stdout
