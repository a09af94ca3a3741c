"""Audits: a batch of repositories, their GitHub and publication metadata, their checks.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audits",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("input_problems", sa.JSON(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "audit_repositories",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("audit_id", sa.Integer(), sa.ForeignKey("audits.id"), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("full_name", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("options_key", sa.String(64), nullable=True),
        sa.Column("check_id", sa.Integer(), sa.ForeignKey("checks.id"), nullable=True),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("worker", sa.String(255), nullable=True),
        sa.Column("commit", sa.String(64), nullable=True),
        sa.Column("commit_date", sa.String(40), nullable=True),
        sa.Column("default_branch", sa.String(255), nullable=True),
        sa.Column("stars", sa.Integer(), nullable=True),
        sa.Column("license", sa.String(255), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=True),
        sa.Column("pushed_at", sa.String(40), nullable=True),
        sa.UniqueConstraint("audit_id", "url", name="uq_audit_repository_url"),
    )
    op.create_index("ix_audit_repositories_audit_id", "audit_repositories", ["audit_id"])
    op.create_index("ix_audit_repositories_status", "audit_repositories", ["status"])
    op.create_index("ix_audit_repositories_check_id", "audit_repositories", ["check_id"])
    op.create_table(
        "audit_publications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("audit_repository_id", sa.Integer(),
                  sa.ForeignKey("audit_repositories.id"), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("doi", sa.String(255), nullable=True),
        sa.Column("pmcid", sa.String(32), nullable=True),
        sa.Column("pmid", sa.String(32), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("journal", sa.String(512), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.UniqueConstraint("audit_repository_id", "key", name="uq_publication"),
    )
    op.create_index("ix_audit_publications_audit_repository_id", "audit_publications",
                    ["audit_repository_id"])


def downgrade() -> None:
    op.drop_table("audit_publications")
    op.drop_table("audit_repositories")
    op.drop_table("audits")
