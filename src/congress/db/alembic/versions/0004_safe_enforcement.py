"""Safe enforcement: ``policy_settings`` (dry-run, action grace, circuit breaker) and the
driver's answer of an action, ``action_executions.result``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

Imports: Alembic and SQLAlchemy only (a migration is frozen: never import congress.db.models).
A policy's settings row exists once one of its settings left its default; each change bumps
the policy revision and stamps the row with it, so every policy engine reads it
(docs/enforcement.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def _time(name: str, nullable: bool = False) -> sa.Column[Any]:
    kind = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    return sa.Column(name, kind, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "policy_settings",
        sa.Column("policy_id", sa.String(36), nullable=False),
        sa.Column("policy_name", sa.String(255), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("action_grace_seconds", sa.Float(), nullable=True),
        sa.Column("breaker_state", sa.String(16), nullable=False),
        sa.Column("breaker_reason", sa.Text(), nullable=True),
        _time("breaker_tripped_at", nullable=True),
        sa.Column("breaker_tripped_by", sa.String(255), nullable=True),
        sa.Column("breaker_counts", sa.Text(), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        _time("updated_at", nullable=True),
        sa.PrimaryKeyConstraint("policy_id", name="pk_policy_settings"),
        **MYSQL,
    )
    op.create_index("ix_policy_settings_revision", "policy_settings", ["revision"])
    with op.batch_alter_table("action_executions") as batch:
        batch.add_column(
            sa.Column(
                "result",
                sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("action_executions") as batch:
        batch.drop_column("result")
    op.drop_index("ix_policy_settings_revision", table_name="policy_settings")
    op.drop_table("policy_settings")
