"""Policy lifecycle: ``policy_versions``, every change of every policy with who, when, through
which node and the policy's state before and after.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

Imports: Alembic and SQLAlchemy only (a migration is frozen: never import congress.db.models).
A policy's versions are numbered from 1 (its creation); a policy that existed before this
revision starts its versions at its first change (docs/policy-lifecycle.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
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


def _long_text(name: str) -> sa.Column[Any]:
    kind = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
    return sa.Column(name, kind, nullable=True)


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("policy_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("policy_name", sa.String(255), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.Column("project_id", sa.String(255), nullable=True),
        sa.Column("node_id", sa.String(255), nullable=True),
        _time("created_at"),
        _long_text("before"),
        _long_text("after"),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("policy_id", "version", name="pk_policy_versions"),
        **MYSQL,
    )


def downgrade() -> None:
    op.drop_table("policy_versions")
