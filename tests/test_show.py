"""`nbrepro show [CHECK_ID]` and `nbrepro list`: come back to a result without
re-running it (the real command line, a real SQLite database)."""

from __future__ import annotations

import json
import sqlite3

from tests.conftest import REPOS


def _db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'results.sqlite'}"


def test_show_and_list_read_past_checks(run_cli, tmp_path):
    db = _db(tmp_path)
    # invalid notebooks are judged without building anything: two quick real checks
    first = run_cli("check", str(REPOS / "invalid"), "--db", db)
    second = run_cli("check", str(REPOS / "invalid"), "--db", db, "--json", "-",
                     json_output=False)
    assert first.code == second.code == 1
    stored = json.loads(second.stdout)

    latest = run_cli("show", "--db", db, "--json", "-", json_output=False)
    assert latest.code == 0, latest.stderr
    shown = json.loads(latest.stdout)
    assert shown["check_id"] == stored["check_id"] == 2
    assert shown["notebooks"] == stored["notebooks"] and shown["verdict"] == "not-checked"

    table = run_cli("show", "1", "--db", db, json_output=False)
    assert table.code == 0
    assert "check 1: finished" in table.stdout
    assert "broken_json.ipynb" in table.stdout and "not valid JSON" in table.stdout

    page = tmp_path / "one.html"
    assert run_cli("show", "1", "--db", db, "--html", str(page), json_output=False).code == 0
    assert 'data-verdict="not-checked"' in page.read_text()

    listing = run_cli("list", "--db", db, json_output=False)
    assert listing.code == 0
    rows = [ln for ln in listing.stdout.splitlines() if "invalid" in ln]
    assert len(rows) == 2 and "finished" in rows[0] and "not-checked" in rows[0]
    as_json = json.loads(run_cli("list", "--db", db, "-n", "1", "--json", "-",
                                 json_output=False).stdout)
    assert [(r["id"], r["state"], r["notebooks"]) for r in as_json] == [(2, "finished", 2)]


def test_show_of_an_interrupted_check_never_reads_reproduced(run_cli, tmp_path):
    db = tmp_path / "results.sqlite"
    run_cli("check", str(REPOS / "invalid"), "--db", f"sqlite:///{db}")
    con = sqlite3.connect(db)
    with con:  # as a check killed outright leaves it: running, its process gone
        con.execute("update checks set state = 'running', pid = 999999999, result = null")
    shown = run_cli("show", "--db", f"sqlite:///{db}", "--json", "-", json_output=False)
    data = json.loads(shown.stdout)
    assert data["interrupted"] is True and data["verdict"] == "not-checked"


def test_show_errors_are_one_line(run_cli, tmp_path):
    db = _db(tmp_path)
    empty = run_cli("show", "--db", db, json_output=False)
    assert empty.code == 2 and "no checks yet" in empty.stderr
    run_cli("check", str(REPOS / "invalid"), "--db", db)
    missing = run_cli("show", "42", "--db", db, json_output=False)
    assert missing.code == 2 and "no check with id 42" in missing.stderr
    assert "Traceback" not in missing.stderr
    nothing = run_cli("list", "--db", f"sqlite:///{tmp_path / 'empty.sqlite'}",
                      json_output=False)
    assert nothing.code == 0 and "no checks yet" in nothing.stdout
