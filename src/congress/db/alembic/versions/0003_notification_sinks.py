"""Notification sinks: ``notification_sinks``, ``notification_cursors``,
``notification_dead_letters`` and ``notification_leases``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-27

Imports: Alembic and SQLAlchemy only (a migration is frozen: never import congress.db.models).
A sink sends the changes of some watched tables (their ``table_history`` entries) to a webhook
or an oslo.messaging topic; its cursor says how far it got, a batch it could not deliver after
every retry becomes a dead letter, and the lease names the one node that delivers
(docs/notifications.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
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
        "notification_sinks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("topic", sa.String(255), nullable=True),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("tables", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("max_retries", sa.Integer(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_notification_sinks"),
        sa.UniqueConstraint("name", name="uq_notification_sinks_name"),
        **MYSQL,
    )
    op.create_table(
        "notification_cursors",
        sa.Column("sink_id", sa.String(36), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        _time("updated_at", nullable=True),
        sa.PrimaryKeyConstraint("sink_id", name="pk_notification_cursors"),
        **MYSQL,
    )
    op.create_table(
        "notification_dead_letters",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("sink_id", sa.String(36), nullable=False),
        sa.Column("policy_name", sa.String(255), nullable=False),
        sa.Column("table_name", sa.String(255), nullable=False),
        sa.Column(
            "payload", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=False
        ),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_notification_dead_letters"),
        **MYSQL,
    )
    op.create_index(
        "ix_notification_dead_letters_sink", "notification_dead_letters", ["sink_id", "id"]
    )
    op.create_table(
        "notification_leases",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("name", name="pk_notification_leases"),
        **MYSQL,
    )


def downgrade() -> None:
    op.drop_table("notification_leases")
    op.drop_table("notification_dead_letters")
    op.drop_table("notification_cursors")
    op.drop_table("notification_sinks")
