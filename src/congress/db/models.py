"""SQLAlchemy 2 declarative models: the tables of Congress's database.

Imports: standard library and SQLAlchemy only. Nothing outside ``congress.db`` uses these classes:
the repository modules turn rows into the plain records of ``congress.db.records``.

Table and column names are the original Congress's; ``action_executions``, ``policy_revision``,
``table_history``, the ``notification_*`` tables and the
``revision``/``deleted_revision``/``fingerprint`` columns are new.
Invariants:

- ``policies`` holds live policies only; deleting one moves its row to ``policiesdeleted``. So the
  unique constraint on ``policies.name`` is "unique among live policies" and a deleted policy's
  name can be reused.
- ``policy_rules`` rows are soft-deleted: ``deleted`` is ``""`` while the rule is live and the
  rule's own id once deleted, so ``uq_policy_rules_fingerprint`` (policy_name, fingerprint,
  deleted) covers live rules only. A NULL fingerprint never conflicts.
- ``policy_revision`` has exactly one row (id 1). Every policy or rule change increments its
  ``revision`` in the change's own transaction and stamps the changed rows with the new value
  (``revision`` when created, ``deleted_revision`` when deleted). The row lock on that one row
  orders the writers, so revisions are committed in increasing order: a reader that sees revision
  N in a snapshot sees every change up to N and none after it. No table is ever locked.
- Timestamps are stored as naive UTC (microseconds on MySQL/MariaDB too) and read back aware.
- JSON columns are text written by the repository (``LONGTEXT`` on MySQL/MariaDB); tables on
  MySQL/MariaDB are InnoDB, utf8mb4 with the binary collation, so names compare exactly as on
  PostgreSQL and SQLite (case-sensitive).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}
MYSQL_TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}
LONG_TEXT = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
UUID_LENGTH = 36
NAME_LENGTH = 255
ABBREVIATION_LENGTH = 5
KIND_LENGTH = 36
STATUS_LENGTH = 32
FINGERPRINT_LENGTH = 64


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and returned aware (tzinfo=UTC)."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class _Audit:
    """The original's audit columns; ``deleted`` is ``""`` for live rows, the row's id after."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted: Mapped[str] = mapped_column(String(UUID_LENGTH), default="", server_default="")


class _PolicyColumns(_Audit):
    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    abbreviation: Mapped[str] = mapped_column(String(ABBREVIATION_LENGTH))
    description: Mapped[str] = mapped_column(Text())
    owner: Mapped[str] = mapped_column(String(NAME_LENGTH))
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    revision: Mapped[int] = mapped_column(BigInteger())


class PolicyRow(_PolicyColumns, Base):
    """A live policy."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("name", name="uq_policies_name"), MYSQL_TABLE_OPTIONS)


class DeletedPolicyRow(_PolicyColumns, Base):
    """A deleted policy, moved out of ``policies``; ``deleted_revision`` is when."""

    __tablename__ = "policiesdeleted"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    deleted_revision: Mapped[int] = mapped_column(BigInteger(), index=True)


class RuleRow(_Audit, Base):
    """A rule (or fact) of a policy, live while ``deleted == ""``."""

    __tablename__ = "policy_rules"
    __table_args__ = (
        UniqueConstraint(
            "policy_name", "fingerprint", "deleted", name="uq_policy_rules_fingerprint"
        ),
        Index("ix_policy_rules_policy_name", "policy_name", "deleted"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    rule: Mapped[str] = mapped_column(Text())
    policy_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    comment: Mapped[str] = mapped_column(String(NAME_LENGTH))
    name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    fingerprint: Mapped[str | None] = mapped_column(String(FINGERPRINT_LENGTH))
    revision: Mapped[int] = mapped_column(BigInteger(), index=True)
    deleted_revision: Mapped[int | None] = mapped_column(BigInteger(), index=True)


class RevisionRow(Base):
    """The single row (id 1) holding the current policy revision."""

    __tablename__ = "policy_revision"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    revision: Mapped[int] = mapped_column(BigInteger())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DatasourceRow(Base):
    """A configured datasource; ``config`` is JSON text (secrets already encrypted by callers)."""

    __tablename__ = "datasources"
    __table_args__ = (UniqueConstraint("name", name="uq_datasources_name"), MYSQL_TABLE_OPTIONS)

    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    driver: Mapped[str] = mapped_column(String(NAME_LENGTH))
    config: Mapped[str] = mapped_column(LONG_TEXT)
    description: Mapped[str | None] = mapped_column(Text())
    enabled: Mapped[bool] = mapped_column(Boolean())
    owner: Mapped[str] = mapped_column(String(NAME_LENGTH), server_default="user")
    """``user`` (the operator's) or the id of the project that owns it (docs/tenancy.md)."""
    shared_with: Mapped[str | None] = mapped_column(Text())
    """JSON list of the project ids that may read its tables (``["*"]``: every project)."""
    project_columns: Mapped[str | None] = mapped_column(Text())
    """JSON ``{table: column}``: the operator's choice of the column naming a row's project,
    over the driver's (``TableSpec.project_column``)."""


class TableDataRow(Base):
    """Persisted push data of one datasource table: ``tabledata`` is a JSON list of rows."""

    __tablename__ = "dstabledata"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    ds_id: Mapped[str] = mapped_column(
        String(UUID_LENGTH), ForeignKey("datasources.id", ondelete="CASCADE"), primary_key=True
    )
    tablename: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    tabledata: Mapped[str] = mapped_column(LONG_TEXT)


class LibraryPolicyRow(Base):
    """A library policy: a named set of rules (JSON text) that can be activated."""

    __tablename__ = "library_policies"
    __table_args__ = (
        UniqueConstraint("name", name="uq_library_policies_name"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    abbreviation: Mapped[str] = mapped_column(String(ABBREVIATION_LENGTH))
    description: Mapped[str] = mapped_column(Text())
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    rules: Mapped[str] = mapped_column(LONG_TEXT)
    owner: Mapped[str] = mapped_column(String(NAME_LENGTH), server_default="user")
    """``user`` (the operator's, every project may activate it) or a project id."""


class ActionExecutionRow(Base):
    """One entry of the execution log: an action a policy (or the API) asked a datasource for."""

    __tablename__ = "action_executions"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    policy: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    datasource: Mapped[str] = mapped_column(String(NAME_LENGTH))
    action: Mapped[str] = mapped_column(String(NAME_LENGTH))
    args: Mapped[str] = mapped_column(LONG_TEXT)
    revision: Mapped[int | None] = mapped_column(BigInteger())
    derivation: Mapped[str | None] = mapped_column(Text())
    node_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    status: Mapped[str] = mapped_column(String(STATUS_LENGTH))
    detail: Mapped[str | None] = mapped_column(Text())
    result: Mapped[str | None] = mapped_column(LONG_TEXT, nullable=True)
    """The driver's answer (JSON text) of an action that ran."""


BREAKER_STATE_LENGTH = 16


class PolicySettingsRow(Base):
    """The enforcement settings and circuit breaker of one live policy (``policy_id``), absent
    while every setting has its default. ``revision`` is the policy revision of the last change
    (a settings change bumps the revision, so every engine reads it: docs/enforcement.md)."""

    __tablename__ = "policy_settings"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    policy_id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    policy_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    dry_run: Mapped[bool] = mapped_column(Boolean())
    action_grace_seconds: Mapped[float | None] = mapped_column(Float())
    breaker_state: Mapped[str] = mapped_column(String(BREAKER_STATE_LENGTH))
    breaker_reason: Mapped[str | None] = mapped_column(Text())
    breaker_tripped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    breaker_tripped_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    breaker_counts: Mapped[str | None] = mapped_column(Text())
    revision: Mapped[int] = mapped_column(BigInteger(), index=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


HISTORY_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only
OP_LENGTH = 6


class TableHistoryRow(Base):
    """One change of a watched table: a row inserted into or deleted from ``policy_name``'s
    ``table_name`` (``row``: JSON text of the row as a list). ``key`` identifies the logical
    change (a digest of policy, table, op, row and the change's activation), so that every
    engine of a deployment recording it leaves one entry; ``row_hash`` (a digest of policy,
    table and row) groups the entries of one row."""

    __tablename__ = "table_history"
    __table_args__ = (
        UniqueConstraint("key", name="uq_table_history_key"),
        Index("ix_table_history_time", "policy_name", "table_name", "created_at"),
        Index("ix_table_history_row", "policy_name", "table_name", "row_hash"),
        {**MYSQL_TABLE_OPTIONS, "sqlite_autoincrement": True},  # ids never reused (cursors)
    )

    id: Mapped[int] = mapped_column(HISTORY_ID, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(FINGERPRINT_LENGTH))
    policy_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    table_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    op: Mapped[str] = mapped_column(String(OP_LENGTH))
    row: Mapped[str] = mapped_column(LONG_TEXT)
    row_hash: Mapped[str] = mapped_column(String(FINGERPRINT_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revision: Mapped[int] = mapped_column(BigInteger())
    node_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH))


SINK_TYPE_LENGTH = 16


class NotificationSinkRow(Base):
    """A notification sink: where the changes of some watched tables are sent (a webhook
    ``url`` or an oslo.messaging ``topic``). ``secret`` is the webhook's HMAC key, encrypted by
    the caller; ``tables`` is a JSON list of ``policy:table`` patterns."""

    __tablename__ = "notification_sinks"
    __table_args__ = (
        UniqueConstraint("name", name="uq_notification_sinks_name"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    sink_type: Mapped[str] = mapped_column("type", String(SINK_TYPE_LENGTH))
    url: Mapped[str | None] = mapped_column(Text())
    topic: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    secret: Mapped[str | None] = mapped_column(Text())
    tables: Mapped[str] = mapped_column(Text())
    enabled: Mapped[bool] = mapped_column(Boolean())
    max_retries: Mapped[int] = mapped_column(Integer())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NotificationCursorRow(Base):
    """How far a sink got: ``last_id`` is the id of the last ``table_history`` entry delivered
    or dead-lettered (every entry up to it is done). ``sink_id`` is a sink's id, or a built-in
    sink's name (``_config``): no foreign key."""

    __tablename__ = "notification_cursors"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    sink_id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotificationDeadLetterRow(Base):
    """A batch of changes of one table that a sink could not deliver after every retry:
    ``payload`` is the JSON text that was to be sent, ``error`` the last failure."""

    __tablename__ = "notification_dead_letters"
    __table_args__ = (
        Index("ix_notification_dead_letters_sink", "sink_id", "id"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(HISTORY_ID, primary_key=True, autoincrement=True)
    sink_id: Mapped[str] = mapped_column(String(UUID_LENGTH))
    policy_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    table_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    payload: Mapped[str] = mapped_column(LONG_TEXT)
    error: Mapped[str] = mapped_column(Text())
    attempts: Mapped[int] = mapped_column(Integer())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NotificationLeaseRow(Base):
    """A lease: ``holder`` (a node id) may act alone until ``expires_at`` (renewed by
    compare-and-set, never by locking a table)."""

    __tablename__ = "notification_leases"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    holder: Mapped[str] = mapped_column(String(NAME_LENGTH))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


ACTION_LENGTH = 32


class PolicyVersionRow(Base):
    """One change of a policy (docs/policy-lifecycle.md): its ``version`` (1, 2, ... per
    policy), what was done (``action``), by whom (``user_id``, ``project_id``: None without
    authentication), through which node, when, and the policy's full state ``before`` and
    ``after`` (JSON text; None before a creation and after a deletion). ``revision`` is the
    policy revision the change produced; ``detail`` is JSON text (a rollback's target version,
    an activation's library policy). Written in the change's own transaction; kept when the
    policy is deleted (rows are keyed by the policy's id, not its name)."""

    __tablename__ = "policy_versions"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    policy_id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    version: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    policy_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    action: Mapped[str] = mapped_column(String(ACTION_LENGTH))
    user_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    project_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    node_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    before: Mapped[str | None] = mapped_column(LONG_TEXT)
    after: Mapped[str | None] = mapped_column(LONG_TEXT)
    revision: Mapped[int] = mapped_column(BigInteger())
    detail: Mapped[str | None] = mapped_column(Text())


class ProjectQuotaRow(Base):
    """The quotas of one project (``*``: of every project without its own row), JSON text
    ``{quota: limit}``; a quota absent here takes ``[tenancy]``'s default (docs/tenancy.md)."""

    __tablename__ = "project_quotas"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    project_id: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    quotas: Mapped[str] = mapped_column(Text())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


ALL_TABLES = tuple(Base.metadata.sorted_tables)
