"""Schema migrations of the results database (Alembic).

`ensure_schema` brings any database nbrepro opens to the current schema: a new
database gets the tables and is stamped; a database written before migrations
existed (no `alembic_version` table) is stamped with the baseline and upgraded; an
older one is upgraded. A database already at `HEAD` costs one query, and Alembic is
imported only when there is something to do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, MetaData, inspect, text
from sqlalchemy.exc import DBAPIError

HERE = Path(__file__).parent
BASELINE = "0001"  # the schema of nbrepro 0.1.0, the last release without migrations
HEAD = "0002"  # the newest revision in versions/; a test keeps the two in step


def revision(conn: Connection) -> str | None:
    """The database's Alembic revision, None when it has no `alembic_version`."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _at_head(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
    except DBAPIError:  # no such table (yet)
        return False


@contextmanager
def _exclusive(engine: Engine) -> Iterator[None]:
    """One migrator at a time: two nbrepro processes opening a new or old database at
    once must not both create or alter its tables."""
    if engine.dialect.name == "postgresql":
        key = int(hashlib.sha256(b"nbrepro-migrations").hexdigest()[:15], 16)
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        from filelock import FileLock

        with FileLock(database + ".migrate.lock", timeout=600):
            yield
        return
    yield


def alembic_config(conn: Connection | None = None):  # -> alembic.config.Config
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def ensure_schema(engine: Engine, metadata: MetaData) -> None:
    if _at_head(engine):
        return
    with _exclusive(engine):
        if _at_head(engine):  # another process migrated while this one waited
            return
        with engine.begin() as conn:
            current = revision(conn)
            if current is None and not inspect(conn).has_table("checks"):
                _create_new(conn, metadata)
                return
        from alembic import command

        with engine.begin() as conn:
            config = alembic_config(conn)
            if current is None:  # written by a release before migrations existed
                command.stamp(config, BASELINE)
            command.upgrade(config, "head")


def _create_new(conn: Connection, metadata: MetaData) -> None:
    """A new database: the tables as the models define them (`metadata`), stamped at
    HEAD (the migrations produce the same schema; a test compares the two)."""
    metadata.create_all(conn)
    conn.execute(text(
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"))
    conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": HEAD})
