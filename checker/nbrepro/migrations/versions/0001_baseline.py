"""The schema of nbrepro 0.1.0 (checks, repositories, environments, notebooks, runs, cells).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repositories",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(2048), nullable=False),
        sa.Column("commit", sa.String(64), nullable=True),
        sa.Column("path", sa.String(4096), nullable=True),
    )
    op.create_index("ix_repositories_source", "repositories", ["source"])
    op.create_table(
        "checks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("repository_id", sa.Integer(), sa.ForeignKey("repositories.id"),
                  nullable=True),
        sa.Column("source", sa.String(2048), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16), nullable=True),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
    )
    op.create_index("ix_checks_state", "checks", ["state"])
    op.create_table(
        "environments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("check_id", sa.Integer(), sa.ForeignKey("checks.id"), nullable=False),
        sa.Column("key", sa.String(64), nullable=True),
        sa.Column("backend", sa.String(32), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("python_version", sa.String(32), nullable=True),
        sa.Column("requested_python", sa.String(32), nullable=True),
        sa.Column("declared_files", sa.JSON(), nullable=False),
        sa.Column("requirements", sa.JSON(), nullable=False),
        sa.Column("resolver", sa.String(16), nullable=True),
        sa.Column("lock", sa.Text(), nullable=True),
        sa.Column("failed_requirement", sa.String(512), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("build_log", sa.Text(), nullable=True),
        sa.Column("resolve_seconds", sa.Float(), nullable=True),
        sa.Column("build_seconds", sa.Float(), nullable=True),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.Column("sandbox", sa.String(32), nullable=True),
        sa.Column("network", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_environments_check_id", "environments", ["check_id"])
    op.create_table(
        "notebooks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("check_id", sa.Integer(), sa.ForeignKey("checks.id"), nullable=False),
        sa.Column("path", sa.String(4096), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("nbformat", sa.String(16), nullable=True),
        sa.Column("language", sa.String(64), nullable=True),
        sa.Column("kernel_name", sa.String(128), nullable=True),
        sa.Column("python_version", sa.String(32), nullable=True),
        sa.Column("cells", sa.Integer(), nullable=False),
        sa.Column("code_cells", sa.Integer(), nullable=False),
        sa.Column("has_outputs", sa.Boolean(), nullable=False),
        sa.Column("top_down", sa.Boolean(), nullable=False),
        sa.Column("imports", sa.JSON(), nullable=False),
    )
    op.create_index("ix_notebooks_check_id", "notebooks", ["check_id"])
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("notebook_id", sa.Integer(), sa.ForeignKey("notebooks.id"), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("exception", sa.String(256), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("failing_cell", sa.Integer(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_runs_notebook_id", "runs", ["notebook_id"])
    op.create_index("ix_runs_verdict", "runs", ["verdict"])
    op.create_index("ix_runs_exception", "runs", ["exception"])
    op.create_table(
        "cells",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
    )
    op.create_index("ix_cells_run_id", "cells", ["run_id"])
    op.create_index("ix_cells_status", "cells", ["status"])


def downgrade() -> None:
    for table in ("cells", "runs", "notebooks", "environments", "checks", "repositories"):
        op.drop_table(table)
