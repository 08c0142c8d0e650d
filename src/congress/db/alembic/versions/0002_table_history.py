"""The history of watched tables: ``table_history``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-20

Imports: Alembic and SQLAlchemy only (a migration is frozen: never import congress.db.models).
One entry per change of a watched table; ``key`` (unique) collapses the entries that several
policy engines write for one logical change (docs/history.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def upgrade() -> None:
    op.create_table(
        "table_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("policy_name", sa.String(255), nullable=False),
        sa.Column("table_name", sa.String(255), nullable=False),
        sa.Column("op", sa.String(6), nullable=False),
        sa.Column(
            "row", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=False
        ),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
            nullable=False,
        ),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("node_id", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_table_history"),
        sa.UniqueConstraint("key", name="uq_table_history_key"),
        # ids are never reused (notification sinks keep a cursor into them, and retention
        # may delete the newest entry)
        sqlite_autoincrement=True,
        **MYSQL,
    )
    op.create_index(
        "ix_table_history_time", "table_history", ["policy_name", "table_name", "created_at"]
    )
    op.create_index(
        "ix_table_history_row", "table_history", ["policy_name", "table_name", "row_hash"]
    )


def downgrade() -> None:
    op.drop_table("table_history")
