"""Multi-tenancy (docs/tenancy.md): who owns datasources and library policies, which projects a
datasource is shared with and which column of each of its tables names a row's project, and the
quotas of each project.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

Imports: Alembic and SQLAlchemy only (a migration is frozen: never import congress.db.models).
Rows that exist before this revision belong to the operator (``owner`` ``user``, the original's
value) and are shared with nobody.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def _owner() -> sa.Column[Any]:
    return sa.Column("owner", sa.String(255), nullable=False, server_default="user")


def upgrade() -> None:
    op.add_column("datasources", _owner())
    op.add_column("datasources", sa.Column("shared_with", sa.Text(), nullable=True))
    op.add_column("datasources", sa.Column("project_columns", sa.Text(), nullable=True))
    op.add_column("library_policies", _owner())
    kind = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    op.create_table(
        "project_quotas",
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("quotas", sa.Text(), nullable=False),
        sa.Column("updated_at", kind, nullable=True),
        sa.PrimaryKeyConstraint("project_id", name="pk_project_quotas"),
        **MYSQL,
    )


def downgrade() -> None:
    op.drop_table("project_quotas")
    with op.batch_alter_table("library_policies") as batch:
        batch.drop_column("owner")
    with op.batch_alter_table("datasources") as batch:
        batch.drop_column("project_columns")
        batch.drop_column("shared_with")
        batch.drop_column("owner")
