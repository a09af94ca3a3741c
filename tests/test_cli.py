"""Bad input to the command line: one line on stderr, exit 2, no traceback, and
nothing already recorded lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.helpers.cli import REPOS


def _assert_one_line_error(result, *needles: str) -> None:
    assert result.code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_missing_path(run_cli, tmp_path):
    result = run_cli("check", str(tmp_path / "nope"), json_output=False)
    _assert_one_line_error(result, "no such file or directory")


def test_not_a_notebook_or_directory(run_cli, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    _assert_one_line_error(run_cli("check", str(f), json_output=False), "not a notebook")


@pytest.mark.parametrize("url", ["file:///nonexistent/repo.git", "http://127.0.0.1:9/repo.git"])
def test_unreachable_url(run_cli, url):
    _assert_one_line_error(run_cli("check", url, json_output=False), "cannot clone", url)


@pytest.mark.parametrize("target", ["missing-dir/out.json", "."])
def test_unwritable_json_path(run_cli, tmp_path, target):
    result = run_cli("check", str(REPOS / "reproduces"), "--json", str(tmp_path / target),
                     json_output=False)
    _assert_one_line_error(result)


def test_bad_database_url(run_cli):
    result = run_cli("check", str(REPOS / "reproduces"), "--db", "notadb://x", json_output=False)
    _assert_one_line_error(result, "database")


def test_unknown_option_is_a_usage_error(run_cli):
    result = run_cli("check", "--frobnicate", ".", json_output=False)
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "No such option" in result.stderr


def test_bad_date(run_cli):
    result = run_cli("check", str(REPOS / "reproduces"), "--exclude-newer", "last tuesday",
                     json_output=False)
    _assert_one_line_error(result, "not a date")


def test_a_sqlite_file_path_names_the_database(run_cli, tmp_path, monkeypatch):
    """`--db results.sqlite` is the file, as `nbrepro report results.sqlite` reads it;
    the audit's last line suggests that very spelling."""
    monkeypatch.chdir(tmp_path)
    first = run_cli("check", str(REPOS / "reproduces"), "--db", "results.sqlite",
                    json_output=False)
    assert first.code == 0, first.stderr
    listed = run_cli("list", "--db", "results.sqlite", json_output=False)
    assert listed.code == 0 and "reproduced" in listed.stdout, listed.stderr
    assert "reproduces" in run_cli("report", "results.sqlite", json_output=False).stdout
    con = sqlite3.connect(tmp_path / "results.sqlite")
    assert con.execute("select count(*) from runs").fetchone()[0] == 1
    _assert_one_line_error(run_cli("check", str(REPOS / "reproduces"), "--db",
                                   "no/such/folder/results.sqlite", json_output=False),
                           "database folder does not exist")


def test_bad_input_loses_nothing_already_recorded(run_cli, tmp_path):
    db = tmp_path / "keep.sqlite"
    url = f"sqlite:///{db}"
    first = run_cli("check", str(REPOS / "invalid"), "--db", url, json_output=False)
    assert first.code == 1  # invalid notebooks are results
    _assert_one_line_error(run_cli("check", str(tmp_path / "nope"), "--db", url,
                                   json_output=False))
    con = sqlite3.connect(db)
    assert con.execute("select count(*) from runs").fetchone()[0] == 2


def test_version(run_cli):
    result = run_cli("--version", json_output=False)
    assert result.code == 0 and "nbrepro" in result.stdout


def test_help_lists_the_options(run_cli):
    out = run_cli("check", "--help", json_output=False).stdout
    for option in ("--json", "--db", "--cell-timeout", "--notebook-timeout", "--resolver",
                   "--keep-going", "--no-cache"):
        assert option in out


def test_path_without_notebooks_says_so_on_stderr_with_its_own_status(run_cli, tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("check", str(empty))
    assert result.code == 5, (result.stdout, result.stderr)  # as pytest's "no tests collected"
    assert result.stderr.startswith("nbrepro: no notebooks found")
    assert result.stdout == ""


def test_unwritable_outputs_are_refused_before_any_work(run_cli, tmp_path):
    db = tmp_path / "untouched.sqlite"
    for option in ("--json", "--html"):
        result = run_cli("check", str(REPOS / "reproduces"), option, "/proc/x.json",
                         "--db", f"sqlite:///{db}", json_output=False)
        _assert_one_line_error(result, option, "/proc/x.json")
    result = run_cli("check", str(REPOS / "reproduces"), "--output-dir", "/proc/out",
                     "--db", f"sqlite:///{db}", json_output=False)
    _assert_one_line_error(result, "--output-dir")
    assert not db.exists()  # nothing ran, nothing was recorded


def test_two_outputs_to_stdout_are_refused(run_cli):
    result = run_cli("check", str(REPOS / "reproduces"), "--json", "-", "--html", "-",
                     json_output=False)
    _assert_one_line_error(result, "stdout")


@pytest.mark.parametrize("version", ["banana", "3.x", "3.11.2.1", ""])
def test_malformed_python_version(run_cli, version):
    result = run_cli("check", str(REPOS / "reproduces"), "--python", version, json_output=False)
    _assert_one_line_error(result, "--python", "not a Python version")


@pytest.mark.parametrize("version", ["3.42", "2.7"])
def test_unavailable_python_lists_the_ones_here(run_cli, version):
    import sys

    result = run_cli("check", str(REPOS / "reproduces"), "--python", version, json_output=False)
    _assert_one_line_error(result, f"--python {version}", "never downloads")
    assert ".".join(map(str, sys.version_info[:3])) in result.stderr  # what exists here


@pytest.mark.parametrize("expr", ["a and", "(a or b", "not", "a b", ")"])
def test_malformed_keyword_expression(run_cli, expr):
    _assert_one_line_error(run_cli("check", str(REPOS / "reproduces"), "-k", expr,
                                   json_output=False), "-k")


@pytest.mark.parametrize("subdir", ["../outside", "/abs"])
def test_subdir_outside_the_repository(run_cli, subdir):
    _assert_one_line_error(run_cli("check", str(REPOS / "chain"), "--subdir", subdir,
                                   json_output=False), "--subdir")


def test_usage_errors_answer_before_the_pipeline_is_imported(tmp_path):
    """`nbrepro check /nonexistent` used to import nbformat, jsonschema and SQLAlchemy
    (5-8 s) before saying "no such file"."""
    import subprocess
    import sys
    import time

    probe = ("import sys, runpy\n"
             "sys.argv = ['nbrepro', 'check', sys.argv[1]]\n"
             "try:\n    runpy.run_module('nbrepro', run_name='__main__')\n"
             "except SystemExit as e:\n"
             "    heavy = sorted(m for m in ('nbformat', 'jsonschema', 'sqlalchemy', 'rich',"
             " 'nbrepro.check', 'nbrepro.store') if m in sys.modules)\n"
             "    print(e.code, heavy)\n")
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "nonexistent")],
                         capture_output=True, text=True, timeout=60)
    seconds = time.monotonic() - started
    assert out.stdout.strip() == "2 []", out.stdout + out.stderr
    assert "no such file or directory" in out.stderr
    assert seconds < 4, seconds


def test_progress_line_names_cells_as_the_table_does():
    """The progress line says `In [n]`, as the notebook and the results table do."""
    import io

    from rich.console import Console

    from nbrepro.cli import ConsoleProgress

    shown: list[str] = []

    class Recorded(ConsoleProgress):
        def _show(self, text: str) -> None:
            shown.append(text)

    console = Console(file=io.StringIO(), width=200)
    progress = Recorded(console)
    progress.notebook_started("model.ipynb", 0, 2, 3, {0: "In [1]", 2: "In [7]", 3: "cell 3"})
    progress.cell_done("model.ipynb", 2, 2, 3)
    assert shown[-1] == "execute [1/2] model.ipynb In [7] done (2/3 code cells)"
    progress.warning("something to know")
    assert "nbrepro: warning: something to know" in console.file.getvalue()
