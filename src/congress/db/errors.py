"""Errors of the persistence layer, each with a stable string code.

Imports: standard library only.

Hierarchy::

    DBError                     every error raised on purpose by congress.db
    ├── NotFound                code resource_not_found: no live row has that id or name
    ├── Conflict                the change clashes with what is stored (HTTP 409 material)
    │   ├── DuplicateName       code duplicate_name: a live row already has that name
    │   ├── DuplicateId         code duplicate_id: a row already has that id
    │   ├── DuplicateRule       code duplicate_rule: the policy already has a live rule with
    │   │                       that fingerprint
    │   └── StaleRevision       code stale_revision: the policy revision moved past the one the
    │                           caller expected (catch up, re-check, try again)
    ├── InvalidValue            code invalid_value: a value does not fit its column (too long)
    │                           or the database refuses it as invalid (a NUL on PostgreSQL,
    │                           text a MariaDB column cannot hold, a lone surrogate)
    ├── UnsupportedSchema       code unsupported_schema: the database is at a revision that
    │                           cannot be migrated (unknown, or an old OpenStack Congress one),
    │                           or a row of OpenStack Congress's cannot be converted
    └── DatabaseError           code database_error: the database failed (unreachable, or
        └── RetryLimitExceeded  code retry_limit_exceeded: deadlocks/serialization failures
                                went on after every retry

Repository functions raise the ``Conflict``/``NotFound``/``InvalidValue`` family themselves, and
turn the database's refusal of a value (``engine.invalid_value``: a ``DataError``) into
``InvalidValue`` too, whether called with an ``Engine`` or a ``Session``. ``DatabaseError`` comes
only from ``engine.run_in_transaction`` (and so from repository functions called with an
``Engine``), which wraps the other SQLAlchemy errors it could not handle; the original is chained
as ``__cause__`` (of ``InvalidValue`` too). After any error raised inside a caller's own
``Session``, that session's transaction must be rolled back.
"""

from __future__ import annotations

CODES: dict[str, str] = {
    "resource_not_found": "no live row has that id or name",
    "conflict": "the change clashes with what is stored",
    "duplicate_name": "a live row of that kind already has that name",
    "duplicate_id": "a row of that kind already has that id",
    "duplicate_rule": "the policy already has a live rule with that fingerprint",
    "stale_revision": "the policy revision is not the one the caller expected",
    "invalid_value": "a value does not fit its column or the database refuses it",
    "database_error": "the database failed",
    "retry_limit_exceeded": "deadlocks or serialization failures persisted after every retry",
    "unsupported_schema": "the database is at a schema revision that cannot be migrated",
}


class DBError(Exception):
    """Base of every error raised on purpose by ``congress.db``."""

    code = "database_error"


class NotFound(DBError):
    """No live row of ``kind`` has the identifier ``key``."""

    code = "resource_not_found"

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} not found: {key}")
        self.kind = kind
        self.key = key


class Conflict(DBError):
    """The change clashes with what is stored."""

    code = "conflict"


class DuplicateName(Conflict):
    """A live ``kind`` named ``name`` already exists."""

    code = "duplicate_name"

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"{kind} name already in use: {name}")
        self.kind = kind
        self.name = name


class DuplicateId(Conflict):
    """A ``kind`` with id ``id`` already exists."""

    code = "duplicate_id"

    def __init__(self, kind: str, id: str) -> None:
        super().__init__(f"{kind} id already in use: {id}")
        self.kind = kind
        self.id = id


class DuplicateRule(Conflict):
    """Policy ``policy_name`` already has a live rule with fingerprint ``fingerprint``."""

    code = "duplicate_rule"

    def __init__(self, policy_name: str, fingerprint: str | None) -> None:
        which = "" if fingerprint is None else f" (fingerprint {fingerprint})"
        super().__init__(f"rule already exists in policy {policy_name}{which}")
        self.policy_name = policy_name
        self.fingerprint = fingerprint


class StaleRevision(Conflict):
    """The policy revision is ``actual``, not the ``expected`` one the change was checked at."""

    code = "stale_revision"

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"policy revision is {actual}, expected {expected}")
        self.expected = expected
        self.actual = actual


class InvalidValue(DBError):
    """``field`` holds a value that its column cannot store.

    ``field`` is ``value`` when the database did not say which."""

    code = "invalid_value"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class DatabaseError(DBError):
    """The database failed; the SQLAlchemy error is the ``__cause__``."""

    code = "database_error"


class RetryLimitExceeded(DatabaseError):
    """A transaction kept hitting deadlocks or serialization failures ``attempts`` times."""

    code = "retry_limit_exceeded"

    def __init__(self, attempts: int) -> None:
        super().__init__(f"transaction failed {attempts} times on deadlocks or conflicts")
        self.attempts = attempts


class UnsupportedSchema(DBError):
    """The database is at a schema revision that cannot be migrated, or holds a row of
    OpenStack Congress's that cannot be converted (the message says which); nothing changed."""

    code = "unsupported_schema"
