"""Storing a check's rows: a result full of an audited repository's words (NUL
characters, names longer than their column) is stored on SQLite and PostgreSQL alike,
and reads back as it was made to fit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from nbrepro.model import (
    CellResult,
    CellStatus,
    CheckResult,
    NotebookResult,
    RepositoryInfo,
    Verdict,
)
from nbrepro.store import Store
from tests.postgres import fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        yield Store(f"sqlite:///{tmp_path / 'writes.sqlite'}")
        return
    with fresh_database() as url:
        opened = Store(url)
        try:
            yield opened
        finally:
            opened.engine.dispose()


def test_hostile_words_in_cells_and_notebooks_are_stored_made_to_fit(store: Store) -> None:
    cells = [CellResult(index=i, status=CellStatus.DIFFERENT, reason=f"reason\x00{i}",
                        detail="x" * 100_000 + "\x00", execution_seconds=0.5)
             for i in range(120)]
    notebook = NotebookResult(path="odd\x00name.ipynb", verdict=Verdict.DIFFERS,
                              exception="E" * 1000, cells=cells)
    check_id = store.record_check(CheckResult(
        repository=RepositoryInfo(source="https://example.org/r", commit="c" * 40),
        notebooks=[notebook, NotebookResult(path="empty.ipynb", verdict=Verdict.REPRODUCED)]))
    with store.engine.connect() as conn:
        runs = conn.execute(text(
            "SELECT n.path, r.exception, r.id FROM notebooks n JOIN runs r "
            "ON r.notebook_id = n.id WHERE n.check_id = :c ORDER BY n.id"),
            {"c": check_id}).all()
        stored = conn.execute(text(
            'SELECT c."index", c.status, c.reason, c.detail, c.seconds FROM cells c '
            "WHERE c.run_id = :r ORDER BY c.id"), {"r": runs[0][2]}).all()
        others = conn.execute(text("SELECT count(*) FROM cells WHERE run_id = :r"),
                              {"r": runs[1][2]}).scalar()
    assert runs[0][0] == "odd\ufffdname.ipynb" and runs[1][0] == "empty.ipynb"
    assert len(runs[0][1]) == 256 and runs[0][1].endswith("\u2026")
    assert [row[0] for row in stored] == list(range(120))  # every cell, in order
    assert stored[7][1:3] == ("different", "reason\ufffd7")
    assert stored[7][3] == "x" * 100_000 + "\ufffd" and stored[7][4] == 0.5
    assert others == 0
