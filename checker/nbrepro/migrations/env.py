"""Alembic's entry point: migrations run on the connection nbrepro hands over."""

from __future__ import annotations

from alembic import context

from nbrepro.store import Base

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` run by hand: open the configured URL
    from sqlalchemy import create_engine

    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    connection = engine.connect()

# batch mode: SQLite alters a table by copying it
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
