"""What `nbrepro report` and `nbrepro badge` read: one check's result, from the JSON
that `nbrepro check --json` wrote or from a results database.

`RESULTS` is a JSON file (or `-` for standard input), a SQLite file, or any
SQLAlchemy URL. In a database, `check_id` picks the check; without it, the newest
finished check (else the newest check, with what it has so far).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from nbrepro.errors import InputError
from nbrepro.model import CheckResult

SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class ResultsSource:
    kind: str  # "json" or "db"
    location: str  # a path ("-": stdin) for json, a SQLAlchemy URL for db


def classify(text: str) -> ResultsSource:
    """Say what a RESULTS argument is, without loading it."""
    if text == "-":
        return ResultsSource("json", "-")
    if "://" in text:
        return ResultsSource("db", text)
    path = Path(text).expanduser()
    if not path.exists():
        raise InputError(f"no such file: {text}")
    if not path.is_file():
        raise InputError(f"not a results file or database: {text}")
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise InputError(f"cannot read {text}: {exc.strerror}") from None
    if head == SQLITE_MAGIC:
        from nbrepro.store import database_url  # only for a database: SQLAlchemy

        return ResultsSource("db", database_url(text))
    return ResultsSource("json", str(path))


def load_check(text: str, check_id: int | None = None) -> CheckResult:
    """One check's result from RESULTS (see the module's doc)."""
    source = classify(text)
    if source.kind == "json":
        if check_id is not None:
            raise InputError("--check picks a check in a database, not in a JSON file")
        return _from_json(source.location)
    return _from_db(source.location, check_id)


def _from_json(location: str) -> CheckResult:
    try:
        raw = sys.stdin.read() if location == "-" else Path(location).read_text(encoding="utf-8")
        data = json.loads(raw)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not an nbrepro results file: {location}: {exc}") from None
    try:
        if not isinstance(data, dict) or not isinstance(data.get("notebooks"), list):
            raise ValueError("no 'notebooks' list")
        return CheckResult.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"not an nbrepro results file: {location}: {exc}") from None


def _from_db(url: str, check_id: int | None) -> CheckResult:
    from nbrepro.model import CheckState
    from nbrepro.store import Store

    sqlite_file = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None
    if sqlite_file not in (None, ":memory:") and not Path(str(sqlite_file)).is_file():
        raise InputError(f"no such database: {url}")  # opening it would create it
    store = Store(url)
    if check_id is None:
        checks = store.list_checks(limit=1000)
        if not checks:
            raise InputError(f"no checks in {url}")
        finished = [c for c in checks if c["state"] == CheckState.FINISHED]
        check_id = (finished or checks)[0]["id"]
    result = store.get_result(check_id)
    if result is None:
        raise InputError(f"no check with id {check_id} in {url}")
    return result
