"""Initial schema: policies, rules, the policy revision, datasources, push data, the library and
the execution log.

Revision ID: 0001
Revises:
Create Date: 2025-11-25

Imports: Alembic and SQLAlchemy only (a migration is frozen: never import congress.db.models).
Table and column names follow the original Congress; ``policy_revision``, ``action_executions``
and the revision/fingerprint columns are new.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def _id(name: str = "id", **kwargs: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.String(36), nullable=False, **kwargs)


def _name(name: str = "name", nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.String(255), nullable=nullable)


def _time(name: str, nullable: bool = True) -> sa.Column[Any]:
    kind = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    return sa.Column(name, kind, nullable=nullable)


def _long_text(name: str) -> sa.Column[Any]:
    kind = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
    return sa.Column(name, kind, nullable=False)


def _audit() -> list[sa.Column[Any]]:
    return [
        _time("created_at", nullable=False),
        _time("updated_at"),
        _time("deleted_at"),
        sa.Column("deleted", sa.String(36), nullable=False, server_default=""),
    ]


def _policy_columns() -> list[sa.Column[Any]]:
    return [
        _id(),
        _name(),
        sa.Column("abbreviation", sa.String(5), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _name("owner"),
        sa.Column("kind", sa.String(36), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        *_audit(),
    ]


def upgrade() -> None:
    op.create_table(
        "policies",
        *_policy_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_policies"),
        sa.UniqueConstraint("name", name="uq_policies_name"),
        **MYSQL,
    )
    op.create_table(
        "policiesdeleted",
        *_policy_columns(),
        sa.Column("deleted_revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_policiesdeleted"),
        **MYSQL,
    )
    op.create_index("ix_policiesdeleted_deleted_revision", "policiesdeleted", ["deleted_revision"])
    _create_rules()
    revisions = op.create_table(
        "policy_revision",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_policy_revision"),
        **MYSQL,
    )
    op.bulk_insert(revisions, [{"id": 1, "revision": 0}])
    _create_datasources()
    op.create_table(
        "library_policies",
        _id(),
        _name(),
        sa.Column("abbreviation", sa.String(5), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(36), nullable=False),
        _long_text("rules"),
        sa.PrimaryKeyConstraint("id", name="pk_library_policies"),
        sa.UniqueConstraint("name", name="uq_library_policies_name"),
        **MYSQL,
    )
    _create_executions()


def _create_rules() -> None:
    op.create_table(
        "policy_rules",
        _id(),
        sa.Column("rule", sa.Text(), nullable=False),
        _name("policy_name"),
        _name("comment"),
        _name("name", nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("deleted_revision", sa.BigInteger(), nullable=True),
        *_audit(),
        sa.PrimaryKeyConstraint("id", name="pk_policy_rules"),
        sa.UniqueConstraint(
            "policy_name", "fingerprint", "deleted", name="uq_policy_rules_fingerprint"
        ),
        **MYSQL,
    )
    op.create_index("ix_policy_rules_policy_name", "policy_rules", ["policy_name", "deleted"])
    op.create_index("ix_policy_rules_revision", "policy_rules", ["revision"])
    op.create_index("ix_policy_rules_deleted_revision", "policy_rules", ["deleted_revision"])


def _create_datasources() -> None:
    op.create_table(
        "datasources",
        _id(),
        _name(),
        _name("driver"),
        _long_text("config"),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_datasources"),
        sa.UniqueConstraint("name", name="uq_datasources_name"),
        **MYSQL,
    )
    op.create_table(
        "dstabledata",
        _id("ds_id"),
        _name("tablename"),
        _long_text("tabledata"),
        sa.PrimaryKeyConstraint("ds_id", "tablename", name="pk_dstabledata"),
        sa.ForeignKeyConstraint(
            ["ds_id"],
            ["datasources.id"],
            name="fk_dstabledata_ds_id_datasources",
            ondelete="CASCADE",
        ),
        **MYSQL,
    )


def _create_executions() -> None:
    op.create_table(
        "action_executions",
        _id(),
        _time("created_at", nullable=False),
        _time("updated_at"),
        _name("policy", nullable=True),
        _name("datasource"),
        _name("action"),
        _long_text("args"),
        sa.Column("revision", sa.BigInteger(), nullable=True),
        sa.Column("derivation", sa.Text(), nullable=True),
        _name("node_id", nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_action_executions"),
        **MYSQL,
    )
    op.create_index("ix_action_executions_created_at", "action_executions", ["created_at"])


def downgrade() -> None:
    for table in (
        "action_executions",
        "library_policies",
        "dstabledata",
        "datasources",
        "policy_revision",
        "policy_rules",
        "policiesdeleted",
        "policies",
    ):
        op.drop_table(table)
