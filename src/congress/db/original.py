"""Converting a database of the original OpenStack Congress to this Congress's revision 0001.

Imports: standard library, SQLAlchemy, Alembic (through the caller's config) and congress.db's
errors and models (constants only).

The original's last schema revision is ``c0125080d572`` (reference section 6). ``convert`` reads
every row of that schema, converts it in memory (so that a row it cannot take is refused before
anything changes), drops the original's tables, lets Alembic create revision 0001 on the same
connection and fills it; the caller then upgrades to head as usual. ADR 0012 records why.

What becomes of the original's rows:

- ``policies`` (live ones, ``deleted == ""``) stay live; ``policiesdeleted`` (and any soft-deleted
  row left in ``policies``) become our deleted policies (``policiesdeleted`` with
  ``deleted_revision``).
- ``policy_rules`` keep their id, text, name, comment and timestamps; soft-deleted ones
  (``deleted`` = own id) stay soft-deleted; a live rule of no live policy becomes deleted.
  ``fingerprint`` comes from the caller's ``Fingerprinter`` (our policy engine's digest of the
  checked rule, computed in ``congress.cmd``: this layer cannot parse rules); a second live rule
  of one policy with the same fingerprint keeps none (NULL never conflicts).
- Revisions: every creation and deletion, in the order of its timestamp, is one revision
  (a rule never before its policy, a deletion never before its creation); ``policy_revision``
  ends at the last one.
- ``datasources`` keep their config text: the original stored secrets exactly as we do (each
  value Fernet-encrypted with the key file ``aes_key``, their names listed under
  ``__encrypted_fields``); a null config becomes ``{}`` and an encrypted field without a value
  leaves the list. ``dstabledata`` (push data, JSON lists of rows) and ``library_policies``
  (``rules`` JSON text) are copied; push data of a datasource that no longer exists is dropped.

Nothing is written unless every row converts: ``ConversionError`` (an ``UnsupportedSchema``)
names the first that does not. On PostgreSQL and SQLite the whole conversion is one transaction
with the upgrade that follows; on MySQL/MariaDB each DDL statement commits by itself (back the
database up first: docs/migration.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from congress.db import errors, models

LOG = logging.getLogger(__name__)

ORIGINAL_HEAD = "c0125080d572"
"""The original's last revision (``library_policies``), the only one converted."""

ORIGINAL_REVISIONS = (
    "initial_db",
    "532e9e1f0f3a",
    "56e86d51ec62",
    "3cee191c4f84",
    "01e78af70b91",
    "aabe895bbd4d",
    ORIGINAL_HEAD,
)
"""The original's migration chain, oldest first."""

ORIGINAL_TABLES = (
    "dstabledata",
    "datasources",
    "policy_rules",
    "policiesdeleted",
    "policies",
    "library_policies",
)
"""The original's tables at ``c0125080d572``, in the order they are dropped."""

ENCRYPTED_FIELDS = "__encrypted_fields"
TARGET_REVISION = "0001"


class ConversionError(errors.UnsupportedSchema):
    """A row of the original's database that cannot be converted (the message says which)."""


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: str
    policy_name: str
    rule: str
    live: bool


@dataclass(frozen=True, slots=True)
class DatasourceInfo:
    name: str
    driver: str
    config: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Catalog:
    """What a fingerprinter needs: the live policies, every rule, the datasources."""

    policies: Sequence[PolicyInfo]
    rules: Sequence[RuleInfo]
    datasources: Sequence[DatasourceInfo]


Fingerprinter = Callable[[Catalog], Mapping[str, str | None]]
"""Rule id -> fingerprint (as the policy engine computes it for a new rule), or None."""


@dataclass
class Conversion:
    """The rows of revision 0001's tables, ready to insert, and what was noticed on the way."""

    policies: list[dict[str, Any]] = field(default_factory=list)
    deleted_policies: list[dict[str, Any]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    datasources: list[dict[str, Any]] = field(default_factory=list)
    table_data: list[dict[str, Any]] = field(default_factory=list)
    library: list[dict[str, Any]] = field(default_factory=list)
    revision: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        live_rules = sum(1 for r in self.rules if r["deleted"] == "")
        return (
            f"{len(self.policies)} policies ({len(self.deleted_policies)} deleted), "
            f"{live_rules} rules ({len(self.rules) - live_rules} deleted), "
            f"{len(self.datasources)} datasources, {len(self.table_data)} tables of push data, "
            f"{len(self.library)} library policies; policy revision {self.revision}"
        )


# --------------------------------------------------------------------------- detection


def is_original(revision: str | None) -> bool:
    """Whether ``revision`` is one of the original's (any of its chain)."""
    return revision in ORIGINAL_REVISIONS


def refusal(revision: str) -> str:
    """Why a database at ``revision`` (not ours) cannot be upgraded."""
    if revision in ORIGINAL_REVISIONS:
        return (
            f"the database is at OpenStack Congress revision {revision}, older than its last "
            f"({ORIGINAL_HEAD}): upgrade it with the original's 'congress-db-manage upgrade "
            "head' first (docs/migration.md)"
        )
    return (
        f"the database is at revision {revision!r}, which is neither one of this Congress's "
        f"nor OpenStack Congress's last ({ORIGINAL_HEAD}): is [database] connection the "
        "right database? Nothing was changed"
    )


# --------------------------------------------------------------------------- the original's tables

_TIME = sa.DateTime()


def _audit() -> list[sa.ColumnClause[Any]]:
    return [
        sa.column("created_at", _TIME),
        sa.column("updated_at", _TIME),
        sa.column("deleted_at", _TIME),
        sa.column("deleted", sa.String()),
    ]


def _policy_columns() -> list[sa.ColumnClause[Any]]:
    return [
        sa.column("id", sa.String()),
        sa.column("name", sa.String()),
        sa.column("abbreviation", sa.String()),
        sa.column("description", sa.Text()),
        sa.column("owner", sa.Text()),
        sa.column("kind", sa.Text()),
        *_audit(),
    ]


def _original_tables() -> dict[str, sa.TableClause]:
    return {
        "policies": sa.table("policies", *_policy_columns()),
        "policiesdeleted": sa.table("policiesdeleted", *_policy_columns()),
        "policy_rules": sa.table(
            "policy_rules",
            sa.column("id", sa.String()),
            sa.column("rule", sa.Text()),
            sa.column("policy_name", sa.Text()),
            sa.column("comment", sa.String()),
            sa.column("name", sa.String()),
            *_audit(),
        ),
        **_same_tables(),
    }


def _target_tables() -> dict[str, sa.TableClause]:
    """Revision 0001's tables that the conversion fills (frozen here, like a migration)."""

    def policy() -> list[sa.ColumnClause[Any]]:
        return [*_policy_columns(), sa.column("revision", sa.BigInteger())]

    return {
        "policies": sa.table("policies", *policy()),
        "policiesdeleted": sa.table(
            "policiesdeleted", *policy(), sa.column("deleted_revision", sa.BigInteger())
        ),
        "policy_rules": sa.table(
            "policy_rules",
            sa.column("id", sa.String()),
            sa.column("rule", sa.Text()),
            sa.column("policy_name", sa.String()),
            sa.column("comment", sa.String()),
            sa.column("name", sa.String()),
            sa.column("fingerprint", sa.String()),
            sa.column("revision", sa.BigInteger()),
            sa.column("deleted_revision", sa.BigInteger()),
            *_audit(),
        ),
        "policy_revision": sa.table(
            "policy_revision",
            sa.column("id", sa.Integer()),
            sa.column("revision", sa.BigInteger()),
            sa.column("updated_at", _TIME),
        ),
        **_same_tables(),
    }


def _same_tables() -> dict[str, sa.TableClause]:
    """The tables whose columns the original and revision 0001 share."""
    return {
        "datasources": sa.table(
            "datasources",
            sa.column("id", sa.String()),
            sa.column("name", sa.String()),
            sa.column("driver", sa.String()),
            sa.column("config", sa.Text()),
            sa.column("description", sa.Text()),
            sa.column("enabled", sa.Boolean()),
        ),
        "dstabledata": sa.table(
            "dstabledata",
            sa.column("ds_id", sa.String()),
            sa.column("tablename", sa.String()),
            sa.column("tabledata", sa.Text()),
        ),
        "library_policies": sa.table(
            "library_policies",
            sa.column("id", sa.String()),
            sa.column("name", sa.String()),
            sa.column("abbreviation", sa.String()),
            sa.column("description", sa.Text()),
            sa.column("kind", sa.String()),
            sa.column("rules", sa.Text()),
        ),
    }


def _read(connection: Connection, table: sa.TableClause) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in connection.execute(sa.select(*table.c))]


# --------------------------------------------------------------------------- conversion


def read_original(connection: Connection, fingerprinter: Fingerprinter | None = None) -> Conversion:
    """Read and convert every row of an original database at ``c0125080d572`` (changes
    nothing). Raises ``ConversionError`` for a row that cannot be converted."""
    source = {name: _read(connection, table) for name, table in _original_tables().items()}
    return convert_rows(source, fingerprinter)


def convert_rows(
    source: Mapping[str, Sequence[Mapping[str, Any]]],
    fingerprinter: Fingerprinter | None = None,
) -> Conversion:
    """Convert the original's rows (table name -> rows as mappings) to revision 0001's."""
    out = Conversion()
    stamp = _naive(datetime.now(UTC))
    live: dict[str, dict[str, Any]] = {}
    gone: dict[str, dict[str, Any]] = {}
    for row in source["policies"]:
        target = live if not row.get("deleted") else gone
        target[row["id"]] = _policy(row, stamp)
    for row in source["policiesdeleted"]:
        if row["id"] not in live:
            gone.setdefault(row["id"], _policy(row, stamp))
    for policy in gone.values():
        policy["deleted"] = policy["id"]
        policy["deleted_at"] = policy["deleted_at"] or policy["updated_at"] or stamp
    live_names = {p["name"] for p in live.values()}
    if len(live_names) != len(live):
        raise ConversionError("two live policies of the original have the same name")

    rules: list[dict[str, Any]] = []
    for row in source["policy_rules"]:
        rule = _rule(row, stamp)
        if not rule["deleted"] and rule["policy_name"] not in live_names:
            rule["deleted"] = rule["id"]
            rule["deleted_at"] = rule["updated_at"] or stamp
            out.notes.append(
                f"rule {rule['id']} of policy {rule['policy_name']!r}, which does not exist, "
                "was kept as deleted"
            )
        rules.append(rule)

    _assign_revisions(out, live, gone, rules)
    _fingerprint(out, live, rules, source, fingerprinter)
    out.policies = sorted(live.values(), key=lambda p: (p["revision"], p["id"]))
    out.deleted_policies = sorted(gone.values(), key=lambda p: (p["revision"], p["id"]))
    out.rules = sorted(rules, key=lambda r: (r["revision"], r["created_at"], r["id"]))

    ids = set()
    for row in source["datasources"]:
        ds = _datasource(row, out.notes)
        ids.add(ds["id"])
        out.datasources.append(ds)
    for row in source["dstabledata"]:
        if row["ds_id"] not in ids:
            out.notes.append(
                f"push data of table {row['tablename']!r} of datasource {row['ds_id']}, which "
                "does not exist, was dropped"
            )
            continue
        out.table_data.append(_table_data(row))
    out.library = [_library_policy(row) for row in source["library_policies"]]
    return out


def _naive(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _text(row: Mapping[str, Any], column: str, limit: int | None, what: str) -> str:
    value = row.get(column)
    text = "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        raise ConversionError(
            f"{what}: {column} is longer than {limit} characters ({len(text)}); shorten it in "
            "the original first"
        )
    return text


def _policy(row: Mapping[str, Any], stamp: datetime) -> dict[str, Any]:
    what = f"policy {row.get('name')!r} ({row.get('id')})"
    name = _text(row, "name", models.NAME_LENGTH, what)
    if not name:
        raise ConversionError(f"{what}: no name")
    created = row.get("created_at")
    return {
        "id": _text(row, "id", models.UUID_LENGTH, what),
        "name": name,
        "abbreviation": _text(row, "abbreviation", models.ABBREVIATION_LENGTH, what)
        or name[: models.ABBREVIATION_LENGTH],
        "description": _text(row, "description", None, what),
        "owner": _text(row, "owner", models.NAME_LENGTH, what) or "user",
        "kind": _text(row, "kind", models.KIND_LENGTH, what) or "nonrecursive",
        "created_at": _naive(created) if created is not None else stamp,
        "updated_at": _maybe_naive(row.get("updated_at")),
        "deleted_at": _maybe_naive(row.get("deleted_at")),
        "deleted": "",
    }


def _maybe_naive(value: datetime | None) -> datetime | None:
    return None if value is None else _naive(value)


def _rule(row: Mapping[str, Any], stamp: datetime) -> dict[str, Any]:
    what = f"rule {row.get('id')} of policy {row.get('policy_name')!r}"
    rule_id = _text(row, "id", models.UUID_LENGTH, what)
    deleted = bool(row.get("deleted"))
    created = row.get("created_at")
    name = row.get("name")
    return {
        "id": rule_id,
        "rule": _text(row, "rule", None, what),
        "policy_name": _text(row, "policy_name", models.NAME_LENGTH, what),
        "comment": _text(row, "comment", models.NAME_LENGTH, what),
        "name": None if name is None else _text(row, "name", models.NAME_LENGTH, what),
        "fingerprint": None,
        "created_at": _naive(created) if created is not None else stamp,
        "updated_at": _maybe_naive(row.get("updated_at")),
        "deleted_at": (_maybe_naive(row.get("deleted_at")) or stamp) if deleted else None,
        "deleted": rule_id if deleted else "",
    }


_ORDER = {"policy": 0, "rule": 1, "rule_deleted": 2, "policy_deleted": 3}


def _assign_revisions(
    out: Conversion,
    live: Mapping[str, dict[str, Any]],
    gone: Mapping[str, dict[str, Any]],
    rules: Sequence[dict[str, Any]],
) -> None:
    """One revision per creation and deletion, in timestamp order; then no rule before its
    policy and no deletion before its creation."""
    events: list[tuple[datetime, int, str, dict[str, Any]]] = []
    for policy in [*live.values(), *gone.values()]:
        events.append((policy["created_at"], _ORDER["policy"], "revision", policy))
    for policy in gone.values():
        events.append((policy["deleted_at"], _ORDER["policy_deleted"], "deleted_revision", policy))
    for rule in rules:
        events.append((rule["created_at"], _ORDER["rule"], "revision", rule))
        if rule["deleted"]:
            events.append((rule["deleted_at"], _ORDER["rule_deleted"], "deleted_revision", rule))
    events.sort(key=lambda e: (e[0], e[1], e[3]["id"]))
    for number, (_, _, column, row) in enumerate(events, start=1):
        row[column] = number
    last = len(events)
    # a rule belongs to the policy of its name that was live when it was created: the last
    # one created before it (the first one if none was, a live rule to the live one)
    created: dict[str, list[tuple[datetime, int]]] = {}
    for policy in sorted([*gone.values(), *live.values()], key=lambda p: p["revision"]):
        created.setdefault(policy["name"], []).append((policy["created_at"], policy["revision"]))
    live_revision = {p["name"]: p["revision"] for p in live.values()}
    for rule in rules:
        owners = created.get(rule["policy_name"], [])
        before = [revision for at, revision in owners if at <= rule["created_at"]]
        owner = before[-1] if before else (owners[0][1] if owners else 0)
        if not rule["deleted"]:
            owner = live_revision.get(rule["policy_name"], owner)
        rule["revision"] = max(rule["revision"], owner)
        if rule["deleted"]:
            rule["deleted_revision"] = max(rule["deleted_revision"], rule["revision"])
        else:
            rule["deleted_revision"] = None
    for policy in gone.values():
        policy["deleted_revision"] = max(policy["deleted_revision"], policy["revision"])
    out.revision = max(
        [last]
        + [r["revision"] for r in rules]
        + [r["deleted_revision"] or 0 for r in rules]
        + [p["deleted_revision"] for p in gone.values()]
    )


def _fingerprint(
    out: Conversion,
    live: Mapping[str, dict[str, Any]],
    rules: Sequence[dict[str, Any]],
    source: Mapping[str, Sequence[Mapping[str, Any]]],
    fingerprinter: Fingerprinter | None,
) -> None:
    if fingerprinter is None:
        return
    catalog = Catalog(
        policies=[PolicyInfo(p["name"], p["kind"]) for p in live.values()],
        rules=[RuleInfo(r["id"], r["policy_name"], r["rule"], not r["deleted"]) for r in rules],
        datasources=[
            DatasourceInfo(str(d.get("name")), str(d.get("driver")), _config_of(d.get("config")))
            for d in source["datasources"]
        ],
    )
    found = fingerprinter(catalog)
    taken: set[tuple[str, str]] = set()
    for rule in sorted(rules, key=lambda r: (r["revision"], r["id"])):
        value = found.get(rule["id"])
        if value is not None and len(value) > models.FINGERPRINT_LENGTH:
            value = None
        if value is not None and not rule["deleted"]:
            key = (rule["policy_name"], value)
            if key in taken:
                out.notes.append(
                    f"rule {rule['id']} of policy {rule['policy_name']!r} repeats an earlier "
                    "rule: kept without a fingerprint"
                )
                value = None
            else:
                taken.add(key)
        rule["fingerprint"] = value


def _config_of(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return dict(value) if isinstance(value, dict) else {}


def _datasource(row: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    what = f"datasource {row.get('name')!r} ({row.get('id')})"
    name = _text(row, "name", models.NAME_LENGTH, what)
    if not name:
        raise ConversionError(f"{what}: no name")
    text = row.get("config")
    try:
        config = json.loads(text) if text else None
    except ValueError as exc:
        raise ConversionError(f"{what}: config is not JSON ({exc})") from exc
    changed = config is None
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ConversionError(f"{what}: config is not a JSON object")
    listed = config.get(ENCRYPTED_FIELDS)
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
            raise ConversionError(f"{what}: {ENCRYPTED_FIELDS} is not a list of option names")
        kept = [n for n in listed if isinstance(config.get(n), str)]
        if kept != listed:
            notes.append(
                f"{what}: encrypted fields without a value were left out of {ENCRYPTED_FIELDS}"
            )
            config[ENCRYPTED_FIELDS] = kept
            changed = True
    enabled = row.get("enabled")
    return {
        "id": _text(row, "id", models.UUID_LENGTH, what),
        "name": name,
        "driver": _text(row, "driver", models.NAME_LENGTH, what),
        "config": json.dumps(config, ensure_ascii=False) if changed else str(text),
        "description": row.get("description"),
        "enabled": True if enabled is None else bool(enabled),
    }


def _table_data(row: Mapping[str, Any]) -> dict[str, Any]:
    what = f"push data of table {row.get('tablename')!r} of datasource {row.get('ds_id')}"
    text = row.get("tabledata")
    try:
        rows = json.loads(text) if text else []
    except ValueError as exc:
        raise ConversionError(f"{what}: not JSON ({exc})") from exc
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise ConversionError(f"{what}: not a JSON list of rows")
    return {
        "ds_id": row["ds_id"],
        "tablename": _text(row, "tablename", models.NAME_LENGTH, what),
        "tabledata": text if text else "[]",
    }


def _library_policy(row: Mapping[str, Any]) -> dict[str, Any]:
    what = f"library policy {row.get('name')!r} ({row.get('id')})"
    name = _text(row, "name", models.NAME_LENGTH, what)
    text = row.get("rules")
    try:
        rules = json.loads(text) if text else []
    except ValueError as exc:
        raise ConversionError(f"{what}: rules are not JSON ({exc})") from exc
    if not isinstance(rules, list):
        raise ConversionError(f"{what}: rules are not a JSON list")
    return {
        "id": _text(row, "id", models.UUID_LENGTH, what),
        "name": name,
        "abbreviation": _text(row, "abbreviation", models.ABBREVIATION_LENGTH, what)
        or name[: models.ABBREVIATION_LENGTH],
        "description": _text(row, "description", None, what),
        "kind": _text(row, "kind", models.KIND_LENGTH, what) or "nonrecursive",
        "rules": text if text else "[]",
    }


def read_datasources(connection: Connection) -> list[DatasourceInfo]:
    """The datasources (name, driver, config) of a database of ours or of the original's (the
    ``datasources`` table is the same in both); none when there is no such table."""
    if "datasources" not in sa.inspect(connection).get_table_names():
        return []
    table = _original_tables()["datasources"]
    rows = connection.execute(sa.select(table.c.name, table.c.driver, table.c.config)).all()
    return [DatasourceInfo(str(r.name), str(r.driver), _config_of(r.config)) for r in rows]


def read_policy_kinds(connection: Connection) -> list[PolicyInfo]:
    """The live policies (name, kind) of a database of ours or of the original's."""
    if "policies" not in sa.inspect(connection).get_table_names():
        return []
    table = _original_tables()["policies"]
    rows = connection.execute(sa.select(table.c.name, table.c.kind, table.c.deleted)).all()
    return [PolicyInfo(str(r.name), str(r.kind)) for r in rows if not r.deleted]


# --------------------------------------------------------------------------- writing


def drop_original(connection: Connection) -> None:
    """Drop the original's tables and forget its revision (``alembic_version`` stays, empty)."""
    existing = set(sa.inspect(connection).get_table_names())
    for name in ORIGINAL_TABLES:
        if name in existing:
            connection.execute(
                sa.text(f"DROP TABLE {connection.dialect.identifier_preparer.quote(name)}")
            )
    connection.execute(sa.text("DELETE FROM alembic_version"))


def write(connection: Connection, conversion: Conversion) -> None:
    """Fill revision 0001's (empty) tables with ``conversion``."""
    tables = _target_tables()
    batches: Iterable[tuple[str, list[dict[str, Any]]]] = (
        ("policies", conversion.policies),
        ("policiesdeleted", conversion.deleted_policies),
        ("policy_rules", conversion.rules),
        ("datasources", conversion.datasources),
        ("dstabledata", conversion.table_data),
        ("library_policies", conversion.library),
    )
    for name, rows in batches:
        if rows:
            connection.execute(sa.insert(tables[name]), rows)
    connection.execute(
        sa.update(tables["policy_revision"])
        .where(tables["policy_revision"].c.id == 1)
        .values(revision=conversion.revision, updated_at=_naive(datetime.now(UTC)))
    )


def convert(
    connection: Connection,
    create_0001: Callable[[], None],
    fingerprinter: Fingerprinter | None = None,
) -> Conversion:
    """Convert the original's database on ``connection`` to revision 0001: read and convert
    everything, drop the original's tables, ``create_0001()`` (Alembic's upgrade to 0001 on the
    same connection), fill the new tables. Returns what was converted."""
    conversion = read_original(connection, fingerprinter)
    drop_original(connection)
    create_0001()
    write(connection, conversion)
    for note in conversion.notes:
        LOG.warning("converting the OpenStack Congress database: %s", note)
    LOG.info("converted the OpenStack Congress database: %s", conversion.summary())
    return conversion
