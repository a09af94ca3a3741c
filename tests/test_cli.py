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


def test_path_without_notebooks(run_cli, tmp_path: Path):
    result = run_cli("check", str(tmp_path))
    assert result.code == 1
    assert "no notebooks found" in result.stdout
