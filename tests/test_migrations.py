"""Schema migrations: every database nbrepro opens ends at the newest revision, with
the schema the models describe, whether it is new, older, or was written by nbrepro
0.1.0 (before migrations existed); on SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from nbrepro import migrations
from nbrepro.audit.database import AuditDatabase
from nbrepro.store import Base, Store
from tests.postgres import fresh_database

RELEASE_DB = Path(__file__).parent / "fixtures" / "databases" / "nbrepro-0.1.0.sqlite"


def _differences(url: str) -> list[object]:
    engine = create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        return compare_metadata(context, Base.metadata)


def test_head_is_the_newest_revision() -> None:
    script = ScriptDirectory.from_config(migrations.alembic_config())
    assert script.get_current_head() == migrations.HEAD


def test_migrations_from_nothing_give_the_models_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'migrated.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(migrations.alembic_config(conn), "head")
    assert _differences(url) == []


def test_a_new_database_is_created_at_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    Store(url)
    assert _differences(url) == []
    with sqlite3.connect(tmp_path / "new.sqlite") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (migrations.HEAD,)]


def test_a_database_of_release_0_1_0_opens_and_upgrades(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    shutil.copy(RELEASE_DB, db)
    with sqlite3.connect(db) as conn:  # as that release wrote it: no migrations table
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "alembic_version" not in tables and "checks" in tables
    store = Store(f"sqlite:///{db}")
    old = store.get_result(1)
    assert old is not None and old.notebooks[0].verdict.value == "reproduced"
    assert old.repository.source == "https://example.org/lab/analysis.git"
    assert _differences(f"sqlite:///{db}") == []
    assert not AuditDatabase(store).has_audits()  # the new tables are there, empty
    Store(f"sqlite:///{db}")  # and a second opening changes nothing
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (migrations.HEAD,)]
        assert conn.execute("SELECT count(*) FROM checks").fetchone() == (1,)


def test_a_database_one_revision_behind_is_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'behind.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(migrations.alembic_config(conn), migrations.BASELINE)
    Store(url)
    assert _differences(url) == []


@pytest.mark.slow
def test_postgresql_new_and_upgraded_databases_match_the_models() -> None:
    with fresh_database() as url:
        Store(url)
        assert _differences(url) == []
    with fresh_database() as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            command.upgrade(migrations.alembic_config(conn), migrations.BASELINE)
        engine.dispose()
        Store(url)
        assert _differences(url) == []
