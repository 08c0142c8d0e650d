"""The history of watched tables: every row inserted into or deleted from a watched table, with
its time and policy revision (docs/history.md).

Imports: standard library, SQLAlchemy, congress.db's errors, models and _support.

Each function takes an ``Engine`` (its own transaction, retried on deadlocks) or a ``Session``
(the caller's transaction). An entry's ``key`` identifies the logical change: a digest of the
policy, the table, the op, the row and the activation that caused it, which every policy engine
of a deployment names the same way. ``record_history`` inserts entries and silently skips those
whose key is already stored (``INSERT OR IGNORE``/``ON CONFLICT DO NOTHING`` on SQLite and
PostgreSQL, ``ON DUPLICATE KEY UPDATE`` with no change on MariaDB), so the entries of one change
written by several engines collapse into one, whichever commits first. Entries of one row share
a ``row_hash``; a row's state at a time is the op of its latest entry at or before that time
(by time, then id).

Rows are stored as JSON text (ASCII only, so that any string a driver read, a lone surrogate or a
NUL included, can be stored by every database).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Insert, and_, delete, func, or_, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from congress.db import errors, models
from congress.db._support import check_length, from_json, transactional
from congress.db.models import TableHistoryRow

INSERT = "insert"
DELETE = "delete"
OPS = (INSERT, DELETE)
DEFAULT_LIMIT = 1000
_CHUNK = 500  # ids or hashes per IN (...) list, well under every database's limit
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class NewHistoryEntry:
    """A change to record: ``row`` was inserted into (or deleted from) ``policy:table`` at
    ``created_at`` because of ``activation`` (the same on every engine for the same cause)."""

    policy: str
    table: str
    op: str
    row: Sequence[Any]
    activation: str
    created_at: datetime
    revision: int
    node_id: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A recorded change. ``row`` is the row as a list; ``created_at`` is aware (UTC); ``key``
    identifies the logical change (the same for every engine that saw it)."""

    id: int
    policy: str
    table: str
    op: str
    row: list[Any]
    created_at: datetime
    revision: int
    node_id: str | None
    key: str


def canonical_json(value: object) -> str:
    """The JSON text stored and digested for ``value``: ASCII, compact (NaN and infinities are
    written as Python's ``json`` writes them, and read back the same way)."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def _digest(*parts: str) -> str:
    """sha256 hex of ``parts`` joined by newlines (JSON texts and names: ASCII JSON has no raw
    newline, and only the last part may be free text)."""
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def history_key(policy: str, table: str, op: str, row: Sequence[Any], activation: str) -> str:
    """The identity of one logical change (sha256 hex)."""
    return _key(canonical_json([policy, table]), op, canonical_json(list(row)), activation)


def row_hash(policy: str, table: str, row: Sequence[Any]) -> str:
    """The identity of one row of one table (sha256 hex)."""
    return _digest(canonical_json([policy, table]), canonical_json(list(row)))


def _key(where: str, op: str, row_text: str, activation: str) -> str:
    return _digest(where, op, row_text, activation)


def _entry(row: TableHistoryRow) -> HistoryEntry:
    return HistoryEntry(
        id=row.id,
        policy=row.policy_name,
        table=row.table_name,
        op=row.op,
        row=list(from_json(row.row)),
        created_at=row.created_at,
        revision=row.revision,
        node_id=row.node_id,
        key=row.key,
    )


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _insert_ignoring_duplicates(session: Session) -> Insert:
    """An INSERT into ``table_history`` that skips rows whose ``key`` is already stored."""
    table = models.Base.metadata.tables[TableHistoryRow.__tablename__]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=["key"])
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=["key"])
    if dialect in ("mysql", "mariadb"):
        # not INSERT IGNORE: that would also turn real errors (a value too long) into warnings
        return mysql.insert(table).on_duplicate_key_update(id=table.c.id)
    raise errors.InvalidValue("database", f"no insert-or-ignore for {dialect}")


@transactional()
def record_history(session: Session, entries: Sequence[NewHistoryEntry]) -> None:
    """Record ``entries`` in their order (one statement, executed for many rows); an entry
    whose key is already stored is skipped. Raises InvalidValue for an unknown op or a name
    longer than a column."""
    if not entries:
        return
    params = []
    wheres: dict[tuple[str, str], str] = {}
    for entry in entries:
        if entry.op not in OPS:
            raise errors.InvalidValue("op", f"{entry.op!r} is not one of {', '.join(OPS)}")
        check_length("policy_name", entry.policy, models.NAME_LENGTH)
        check_length("table_name", entry.table, models.NAME_LENGTH)
        check_length("node_id", entry.node_id, models.NAME_LENGTH)
        where = wheres.get((entry.policy, entry.table))
        if where is None:
            where = wheres[(entry.policy, entry.table)] = canonical_json(
                [entry.policy, entry.table]
            )
        row_text = canonical_json(list(entry.row))  # once: stored, and in both digests
        params.append(
            {
                "key": _key(where, entry.op, row_text, entry.activation),
                "policy_name": entry.policy,
                "table_name": entry.table,
                "op": entry.op,
                "row": row_text,
                "row_hash": _digest(where, row_text),
                "created_at": entry.created_at,
                "revision": entry.revision,
                "node_id": entry.node_id,
            }
        )
    session.connection().execute(_insert_ignoring_duplicates(session), params)


def _of_table(policy: str, table: str) -> ColumnElement[bool]:
    return and_(TableHistoryRow.policy_name == policy, TableHistoryRow.table_name == table)


def _latest(*conditions: ColumnElement[bool]) -> Any:
    """A subquery of the entries matching ``conditions``, each with ``rn`` 1 for the latest
    entry of its row (by time, then id) among them."""
    rank = (
        func.row_number()
        .over(
            partition_by=TableHistoryRow.row_hash,
            order_by=(TableHistoryRow.created_at.desc(), TableHistoryRow.id.desc()),
        )
        .label("rn")
    )
    return select(TableHistoryRow, rank).where(*conditions).subquery()


@transactional(readonly=True)
def history_after(session: Session, after_id: int, limit: int = 1000) -> list[HistoryEntry]:
    """Up to ``limit`` entries whose id is above ``after_id``, by id (what a notification
    sink sends after its cursor)."""
    if limit <= 0:
        return []
    statement = (
        select(TableHistoryRow)
        .where(TableHistoryRow.id > after_id)
        .order_by(TableHistoryRow.id)
        .limit(limit)
    )
    return [_entry(row) for row in session.scalars(statement)]


@transactional(readonly=True)
def history_as_of(session: Session, policy: str, table: str, when: datetime) -> list[list[Any]]:
    """The rows of ``policy:table`` at ``when`` (entries at ``when`` included): those whose
    latest entry by then is an insert. Sorted as the engine sorts rows."""
    ranked = _latest(_of_table(policy, table), TableHistoryRow.created_at <= when)
    statement = select(ranked.c.row).where(ranked.c.rn == 1, ranked.c.op == INSERT)
    rows = [list(from_json(text)) for text in session.scalars(statement)]
    return sorted(rows, key=lambda row: repr(tuple(row)))


@transactional(readonly=True)
def history_counts(
    session: Session, policy: str, table: str, times: Sequence[datetime]
) -> list[int]:
    """How many rows ``policy:table`` had at each of ``times`` (ascending; entries at a time
    included), as ``history_as_of`` would answer each.

    A row's entries that are not repeats of its state alternate, insert first, so the number
    of rows at ``t`` is the sum, over those entries up to ``t``, of +1 per insert and -1 per
    delete: the database finds them (``lag``: the row's previous op) and sums them per time."""
    if not times:
        return []
    prev = (
        func.lag(TableHistoryRow.op)
        .over(
            partition_by=TableHistoryRow.row_hash,
            order_by=(TableHistoryRow.created_at, TableHistoryRow.id),
        )
        .label("prev")
    )
    entries = (
        select(TableHistoryRow.created_at, TableHistoryRow.op, prev)
        .where(_of_table(policy, table), TableHistoryRow.created_at <= times[-1])
        .subquery()
    )
    flips = or_(
        and_(entries.c.prev.is_(None), entries.c.op == INSERT), entries.c.prev != entries.c.op
    )
    statement = (
        select(entries.c.created_at, entries.c.op, func.count())
        .where(flips)
        .group_by(entries.c.created_at, entries.c.op)
        .order_by(entries.c.created_at)
    )
    counts: list[int] = []
    now = 0
    for created_at, op, n in session.execute(statement):
        while len(counts) < len(times) and created_at > times[len(counts)]:
            counts.append(now)  # every change up to that time is in
        now += n if op == INSERT else -n
    counts.extend([now] * (len(times) - len(counts)))
    return counts


@transactional(readonly=True)
def history_latest(session: Session, policy: str, table: str) -> list[HistoryEntry]:
    """The latest entry of every row ``policy:table`` has had (an insert: the row is there)."""
    ranked = _latest(_of_table(policy, table))
    latest = aliased(TableHistoryRow, ranked)
    statement = select(latest).where(ranked.c.rn == 1).order_by(ranked.c.id)
    return [_entry(row) for row in session.scalars(statement)]


@transactional(readonly=True)
def history_tables(session: Session) -> list[tuple[str, str]]:
    """Every (policy, table) with entries, sorted."""
    statement = select(TableHistoryRow.policy_name, TableHistoryRow.table_name).distinct()
    return sorted((p, t) for p, t in session.execute(statement))


def _ops_before(
    session: Session, policy: str, table: str, before: datetime, hashes: Iterable[str]
) -> dict[str, str]:
    """For each row hash, the op of its latest entry before ``before`` (rows without one are
    left out)."""
    out: dict[str, str] = {}
    for chunk in _chunks(sorted(set(hashes))):
        ranked = _latest(
            _of_table(policy, table),
            TableHistoryRow.created_at < before,
            TableHistoryRow.row_hash.in_(chunk),
        )
        statement = select(ranked.c.row_hash, ranked.c.op).where(ranked.c.rn == 1)
        out.update((h, op) for h, op in session.execute(statement))
    return out


@transactional(readonly=True)
def history_changes(
    session: Session,
    policy: str,
    table: str,
    *,
    since: datetime,
    until: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[HistoryEntry]:
    """The changes of ``policy:table`` from ``since`` (included) to ``until`` (excluded), in
    order (time, then id), at most ``limit`` of them. An entry whose op is its row's state
    already (the same op as the row's previous change kept, or as its latest entry before
    ``since``) is a redundant repeat and left out."""
    if limit <= 0:
        return []
    out: list[HistoryEntry] = []
    state: dict[str, str] = {}  # row hash -> op of its last change (kept or before since)
    known: set[str] = set()  # row hashes whose state before ``since`` was looked up
    cursor: tuple[datetime, int] | None = None
    page = max(limit, 100)
    conditions = [_of_table(policy, table), TableHistoryRow.created_at >= since]
    if until is not None:
        conditions.append(TableHistoryRow.created_at < until)
    while len(out) < limit:
        statement = select(TableHistoryRow).where(*conditions)
        if cursor is not None:
            at, last_id = cursor
            statement = statement.where(
                or_(
                    TableHistoryRow.created_at > at,
                    and_(TableHistoryRow.created_at == at, TableHistoryRow.id > last_id),
                )
            )
        statement = statement.order_by(TableHistoryRow.created_at, TableHistoryRow.id).limit(page)
        rows = list(session.scalars(statement))
        if not rows:
            break
        fresh = {row.row_hash for row in rows} - known
        state.update(_ops_before(session, policy, table, since, fresh))
        known |= fresh
        for row in rows:
            if state.get(row.row_hash) == row.op:
                continue
            state[row.row_hash] = row.op
            out.append(_entry(row))
            if len(out) == limit:
                break
        if len(rows) < page:
            break
        cursor = (rows[-1].created_at, rows[-1].id)
    return out


@transactional()
def prune_history(session: Session, older_than: datetime, limit: int = 10000) -> int:
    """Delete up to ``limit`` entries made before ``older_than`` but those needed to answer as
    of ``older_than``: the latest entry before it of each row whose latest op then is an
    insert (a row still there keeps the change that inserted it). Returns how many were
    deleted (fewer than ``limit``: there are no more)."""
    ranked = (
        select(
            TableHistoryRow.id,
            TableHistoryRow.op,
            func.row_number()
            .over(
                partition_by=TableHistoryRow.row_hash,
                order_by=(TableHistoryRow.created_at.desc(), TableHistoryRow.id.desc()),
            )
            .label("rn"),
        )
        .where(TableHistoryRow.created_at < older_than)
        .subquery()
    )
    doomed_ids = select(ranked.c.id).where(or_(ranked.c.rn > 1, ranked.c.op == DELETE))
    doomed = list(session.scalars(doomed_ids.order_by(ranked.c.id).limit(limit)))
    for chunk in _chunks(doomed):
        session.execute(delete(TableHistoryRow).where(TableHistoryRow.id.in_(chunk)))
    return len(doomed)
