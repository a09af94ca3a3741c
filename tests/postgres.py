"""A fresh PostgreSQL database per test, on the server scripts/postgres.sh starts
(`$NBREPRO_TEST_POSTGRES` names another server)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

SERVER = os.environ.get("NBREPRO_TEST_POSTGRES",
                        "postgresql+psycopg://nbrepro:nbrepro@127.0.0.1:54329/postgres")


@contextmanager
def fresh_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    name = f"nbrepro_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        pytest.fail(f"no PostgreSQL server at {SERVER} (scripts/postgres.sh starts one): "
                    f"{exc.orig}")
    try:
        yield SERVER.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
