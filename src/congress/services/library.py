"""The policy library service: named sets of rules kept in the database, apart from the live
policies, until someone activates one (reference sections 1.3, 3.2, 3.3 and 7).

May import congress.datalog, congress.db, congress.common, the other services, PyYAML and the
standard library.

- The library is filled from YAML files (``policy_library_path``) when its table is empty
  (``load_on_first_start``); each file holds one or more documents, each document one policy:
  ``name, description, depends-on?, kind?, abbreviation?, rules: [{rule, comment?, name?}]``.
  A file loads whole or not at all: a file that does not parse, holds an invalid policy or a
  name already taken is logged and skipped.
- Bodies from the API and documents from files are validated the same way (``validate``):
  lengths, kinds, and every rule must parse as exactly one rule or fact. Whether a rule fits a
  policy kind or the datasource schemas is checked when the policy is activated.
- Answers are plain dicts in the wire shape
  ``{id, name, description, kind, abbreviation, rules: [{rule, name, comment}]}`` (no ``rules``
  when they were not asked for).
- ``activate`` creates a live policy with the library policy's rules through the policy engine
  service, all or nothing.

Errors: ``congress.services.errors`` (``LibraryPolicyNotFound`` 404, ``LibraryPolicyExists`` and
``PolicyExists`` 409, ``InvalidLibraryPolicy`` 400 naming the field) and, for rules that do not
parse, ``congress.datalog.errors.PolicyError`` whose messages start with the field
(``rules[2].rule: ...``) and keep the line and column.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
import pathlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml
from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.orm import Session

from congress.datalog import errors as dl
from congress.datalog import names
from congress.datalog.ast import Rule
from congress.datalog.parser import parse
from congress.db import api as db
from congress.db import errors as db_errors
from congress.db import records
from congress.db.engine import run_in_transaction
from congress.services import errors
from congress.services.policy_engine import PolicyEngineService, PolicyView, RuleView
from congress.services.policy_versions import Actor

LOG = logging.getLogger(__name__)

KINDS = ("nonrecursive", "materialized", "action", "database")
"""Kinds a library policy may have (``z3`` is not supported; the others are internal)."""
DEFAULT_KIND = "nonrecursive"
NAME_LENGTH = 255
ABBREVIATION_LENGTH = 5
RULE_FIELD_LENGTH = 255
FILE_SUFFIXES = (".yaml", ".yml")

_POLICY_KEYS = frozenset({"name", "description", "kind", "abbreviation", "rules", "depends-on"})
_RULE_KEYS = frozenset({"rule", "name", "comment"})
_LOAD_ATTEMPTS = 3

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LibraryRule:
    rule: str
    name: str | None
    comment: str

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "name": self.name, "comment": self.comment}


@dataclass(frozen=True, slots=True)
class LibraryPolicySpec:
    """A validated library policy body (no id)."""

    name: str
    description: str
    kind: str
    abbreviation: str | None  # None: the first 5 characters of the name
    rules: tuple[LibraryRule, ...]
    depends_on: tuple[str, ...] = ()  # accepted, documentation only: not stored


# -- validation -------------------------------------------------------------------------------
def validate(body: object, *, allow_id: str | None = None) -> LibraryPolicySpec:
    """Check a library policy body; JSON ``null`` counts as absent.

    ``id`` may appear only when it equals ``allow_id`` (a PUT body echoing the policy read);
    ``owner_id`` is ignored (the owner is who creates it: docs/tenancy.md), so a body read
    with GET can be sent back.
    Raises ``InvalidLibraryPolicy`` naming the field, or ``PolicyError`` for a rule that does not
    parse.
    """
    if not isinstance(body, Mapping):
        raise errors.InvalidLibraryPolicy("body", "must be an object")
    present = {k: v for k, v in body.items() if v is not None and k != "owner_id"}
    if "id" in present:
        if allow_id is None:
            raise errors.InvalidLibraryPolicy("id", "must not be provided")
        if present.pop("id") != allow_id:
            raise errors.InvalidLibraryPolicy("id", "does not match the library policy's id")
    unknown = sorted(str(k) for k in present if k not in _POLICY_KEYS)
    if unknown:
        raise errors.InvalidLibraryPolicy(unknown[0], "unknown field")

    name = _string(present, "name", required=True, limit=NAME_LENGTH)
    assert name is not None
    if not name:
        raise errors.InvalidLibraryPolicy("name", "must not be empty")
    description = _string(present, "description") or ""
    kind = _string(present, "kind") or DEFAULT_KIND
    if kind == "z3":
        raise errors.InvalidLibraryPolicy("kind", "policy kind z3 is not supported")
    if kind not in KINDS:
        raise errors.InvalidLibraryPolicy(
            "kind", f"must be one of {', '.join(KINDS)}, not {kind!r}"
        )
    abbreviation = _string(present, "abbreviation", limit=ABBREVIATION_LENGTH)
    if abbreviation == "":
        raise errors.InvalidLibraryPolicy("abbreviation", "must be 1 to 5 characters")

    depends = present.get("depends-on", [])
    if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
        raise errors.InvalidLibraryPolicy("depends-on", "must be a list of policy names")

    if "rules" not in present:
        raise errors.InvalidLibraryPolicy("rules", "is required")
    items = present["rules"]
    if not isinstance(items, list):
        raise errors.InvalidLibraryPolicy("rules", "must be a list of {rule, name?, comment?}")
    rules = tuple(_rule(i, item) for i, item in enumerate(items))
    return LibraryPolicySpec(name, description, kind, abbreviation, rules, tuple(depends))


def _string(
    fields: Mapping[Any, Any],
    key: str,
    *,
    required: bool = False,
    limit: int | None = None,
    where: str = "",
) -> str | None:
    field = f"{where}{key}"
    value = fields.get(key)
    if value is None:
        if required:
            raise errors.InvalidLibraryPolicy(field, "is required")
        return None
    if not isinstance(value, str):
        raise errors.InvalidLibraryPolicy(field, f"must be a string, not {type(value).__name__}")
    if limit is not None and len(value) > limit:
        raise errors.InvalidLibraryPolicy(field, f"must be at most {limit} characters")
    return value


def _rule(index: int, item: object) -> LibraryRule:
    where = f"rules[{index}]"
    if not isinstance(item, Mapping):
        raise errors.InvalidLibraryPolicy(where, "must be an object {rule, name?, comment?}")
    present = {k: v for k, v in item.items() if v is not None}
    unknown = sorted(str(k) for k in present if k not in _RULE_KEYS)
    if unknown:
        raise errors.InvalidLibraryPolicy(f"{where}.{unknown[0]}", "unknown field")
    text = _string(present, "rule", required=True, where=f"{where}.")
    assert text is not None
    name = _string(present, "name", limit=RULE_FIELD_LENGTH, where=f"{where}.")
    comment = _string(present, "comment", limit=RULE_FIELD_LENGTH, where=f"{where}.") or ""
    _check_parses(f"{where}.rule", text)
    return LibraryRule(text, name, comment)


def _check_parses(field: str, text: str) -> None:
    try:
        statements = parse(text)
    except dl.PolicyError as e:
        problems = [dataclasses.replace(p, message=f"{field}: {p.message}") for p in e.problems]
        raise dl.PolicyError(problems) from e
    if len(statements) != 1:
        raise errors.InvalidLibraryPolicy(
            field, f"must hold exactly one rule or fact, found {len(statements)}"
        )
    if not isinstance(statements[0], Rule):
        raise errors.InvalidLibraryPolicy(field, "must be a rule or a fact, not an event")


# -- answers ----------------------------------------------------------------------------------
def _stored_rules(rules: Sequence[LibraryRule]) -> list[dict[str, Any]]:
    return [r.as_dict() for r in rules]


def _wire_rule(item: object) -> dict[str, Any]:
    """A stored rule in the wire shape (stored rules are normally already in it)."""
    if not isinstance(item, Mapping):
        return {"rule": str(item), "name": None, "comment": ""}
    return {
        "rule": item.get("rule"),
        "name": item.get("name"),
        "comment": item.get("comment") or "",
    }


def _answer(record: records.LibraryPolicy, *, include_rules: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record.id,
        "name": record.name,
        "description": record.description,
        "kind": record.kind,
        "abbreviation": record.abbreviation,
        "owner_id": record.owner,
    }
    if include_rules:
        out["rules"] = [_wire_rule(r) for r in record.rules or []]
    return out


# -- the service ------------------------------------------------------------------------------
class LibraryService:
    """The library policies of one database; ``engine`` creates the policies activated."""

    def __init__(self, database: DbEngine, engine: PolicyEngineService) -> None:
        self._db = database
        self._engine = engine

    # -- loading files ------------------------------------------------------------------------
    def load_directory(self, path: str | pathlib.Path) -> int:
        """Load every ``*.yaml``/``*.yml`` file under ``path`` (subfolders included, in name
        order); returns how many policies were added.

        A file that cannot be read, does not parse, holds an invalid policy or a name that is
        already in the library (or in an earlier file) is logged and skipped as a whole.
        """
        return self._load(pathlib.Path(path), only_if_empty=False)

    def load_on_first_start(self, path: str | pathlib.Path) -> int:
        """``load_directory(path)`` when the library table is empty (first start); else 0."""
        if db.list_library_policies(self._db, include_rules=False):
            LOG.debug("policy library already loaded; not reading %s", path)
            return 0
        return self._load(pathlib.Path(path), only_if_empty=True)

    def _load(self, path: pathlib.Path, *, only_if_empty: bool) -> int:
        if not path.is_dir():
            LOG.warning("policy library folder %s does not exist: no library policy loaded", path)
            return 0
        files = read_directory(path)
        for attempt in range(1, _LOAD_ATTEMPTS + 1):
            try:
                added, skipped = run_in_transaction(
                    self._db, lambda s: _insert_files(s, files, only_if_empty=only_if_empty)
                )
            except db_errors.Conflict:
                # another node added library policies meanwhile: look again at what is there
                if attempt == _LOAD_ATTEMPTS:
                    raise
                continue
            for file, reason in skipped:
                LOG.warning("library file %s skipped: %s", file, reason)
            if added:
                LOG.info("loaded %d library policies from %s", added, path)
            return added
        raise AssertionError("unreachable")  # pragma: no cover

    # -- reads --------------------------------------------------------------------------------
    def list(self, include_rules: bool = True, name: str | None = None) -> list[dict[str, Any]]:
        """Every library policy by name (only the one named ``name`` when given)."""
        found = db.list_library_policies(self._db, name=name, include_rules=include_rules)
        return [_answer(p, include_rules=include_rules) for p in found]

    def get(self, id_or_name: str, include_rules: bool = True) -> dict[str, Any]:
        """The library policy with that id (or, failing that, that name)."""
        return _answer(self._find(id_or_name), include_rules=include_rules)

    def _find(self, id_or_name: str) -> records.LibraryPolicy:
        try:
            return db.get_library_policy(self._db, id_or_name)
        except db_errors.NotFound:
            pass
        try:
            return db.get_library_policy_by_name(self._db, id_or_name)
        except db_errors.NotFound as e:
            raise _not_found(id_or_name) from e

    # -- writes -------------------------------------------------------------------------------
    def create(self, body: object) -> dict[str, Any]:
        """Add a library policy from a body ``{name, description?, kind?, abbreviation?,
        rules}``; the answer adds ``id``."""
        spec = validate(body)
        record = _conflicts_named(
            spec.name,
            lambda: db.create_library_policy(
                self._db,
                spec.name,
                _stored_rules(spec.rules),
                description=spec.description,
                kind=spec.kind,
                abbreviation=spec.abbreviation,
                owner=names.owner_of(spec.name),  # a project's: name@project
            ),
        )
        return _answer(record)

    def replace(self, id_or_name: str, body: object) -> dict[str, Any]:
        """Replace every field of a library policy but its id (PUT)."""
        current = self._find(id_or_name)
        spec = validate(body, allow_id=current.id)
        try:
            record = _conflicts_named(
                spec.name,
                lambda: db.replace_library_policy(
                    self._db,
                    current.id,
                    spec.name,
                    _stored_rules(spec.rules),
                    description=spec.description,
                    kind=spec.kind,
                    abbreviation=spec.abbreviation,
                ),
            )
        except db_errors.NotFound as e:  # deleted meanwhile
            raise _not_found(id_or_name) from e
        return _answer(record)

    def delete(self, id_or_name: str) -> dict[str, Any]:
        """Delete a library policy; returns it as it was."""
        current = self._find(id_or_name)
        try:
            return _answer(db.delete_library_policy(self._db, current.id))
        except db_errors.NotFound as e:
            raise _not_found(id_or_name) from e

    # -- activation ---------------------------------------------------------------------------
    def activate(
        self,
        id_or_name: str,
        *,
        owner: str = "user",
        actor: Actor | None = None,
        name: str | None = None,
    ) -> tuple[PolicyView, builtins.list[RuleView]]:
        """Create a live policy (same name, kind, abbreviation, description) with the library
        policy's rules, all or nothing. 409 when a policy of that name exists. ``actor`` asked
        for it: the policy's first version is ``library_activated`` by ``actor``. ``name``:
        the live policy's name instead of the library policy's (a project's: ``name@p``)."""
        lib = self._find(id_or_name)
        if name is not None:
            lib = dataclasses.replace(lib, name=name)
        rules = [_wire_rule(r) for r in lib.rules or []]
        with self._engine.lock:
            self._refuse_existing(lib.name)
            try:
                policy, views = self._engine.create_policy(
                    lib.name,
                    kind=lib.kind,
                    abbreviation=lib.abbreviation,
                    description=lib.description,
                    owner=owner,
                    rules=rules,
                    actor=actor,
                    activated_from=lib.name,
                )
            except db_errors.DuplicateName as e:
                raise _policy_exists(lib.name) from e
            except db_errors.DuplicateRule as e:
                raise errors.RuleExists(
                    f"Rule already exists in policy {lib.name}: the library policy repeats it"
                ) from e
            except dl.PolicyError as e:
                # The engine checks the rules of a new policy on a scratch runtime that does
                # not know the datasource schemas (column references): check and insert them
                # in the engine's own runtime, one by one.
                if not any(p.code == "schema_unknown" for p in e.problems):
                    raise
            else:
                if len(views) == len(rules):
                    return policy, views
                # Some rule was written but the runtime refused it (the engine checks each rule
                # alone, so e.g. recursion through two rules gets through): undo, then insert
                # rule by rule, which raises that rule's error.
                self._engine.delete_policy(policy.id, actor=actor)
            return self._activate_rule_by_rule(lib, rules, owner, actor)

    def _refuse_existing(self, name: str) -> None:
        try:
            self._engine.get_policy(name)
        except errors.PolicyNotFound:
            return
        raise _policy_exists(name)

    def _activate_rule_by_rule(
        self,
        lib: records.LibraryPolicy,
        rules: Sequence[Mapping[str, Any]],
        owner: str,
        actor: Actor | None = None,
    ) -> tuple[PolicyView, builtins.list[RuleView]]:
        try:
            policy, _ = self._engine.create_policy(
                lib.name,
                kind=lib.kind,
                abbreviation=lib.abbreviation,
                description=lib.description,
                owner=owner,
                actor=actor,
                activated_from=lib.name,
            )
        except db_errors.DuplicateName as e:
            raise _policy_exists(lib.name) from e
        views: builtins.list[RuleView] = []
        try:
            for r in rules:
                views.append(
                    self._engine.create_rule(
                        policy.id,
                        r["rule"],
                        name=r.get("name"),
                        comment=r.get("comment"),
                        actor=actor,
                    )
                )
        except BaseException:
            try:
                self._engine.delete_policy(policy.id, actor=actor)
            except Exception:
                LOG.exception("could not remove the partly activated policy %s", lib.name)
            raise
        return policy, views


def _not_found(id_or_name: str) -> errors.LibraryPolicyNotFound:
    return errors.LibraryPolicyNotFound(f"Library policy {id_or_name} does not exist")


def _policy_exists(name: str) -> errors.PolicyExists:
    return errors.PolicyExists(f"Policy with name {name} already exists")


def _conflicts_named(name: str, write: Callable[[], T]) -> T:
    try:
        return write()
    except db_errors.DuplicateName as e:
        raise errors.LibraryPolicyExists(f"Library policy with name {name} already exists") from e
    except db_errors.InvalidValue as e:  # validate() checks lengths first; kept as a safety net
        raise errors.InvalidLibraryPolicy(e.field, str(e).split(": ", 1)[-1]) from e


# -- files ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LibraryFile:
    path: pathlib.Path
    policies: tuple[LibraryPolicySpec, ...]


def read_directory(path: pathlib.Path) -> list[LibraryFile]:
    """The valid library files under ``path`` (bad ones are logged and left out)."""
    found = sorted(p for p in path.rglob("*") if p.suffix in FILE_SUFFIXES and p.is_file())
    files: list[LibraryFile] = []
    for file in found:
        try:
            files.append(LibraryFile(file, read_file(file)))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            LOG.warning("library file %s skipped: cannot be read: %s", file, e)
        except (errors.ServiceError, dl.DatalogError) as e:
            LOG.warning("library file %s skipped: %s", file, e)
    return files


def read_file(path: pathlib.Path) -> tuple[LibraryPolicySpec, ...]:
    """Every policy of a library file (one per YAML document; empty documents are ignored).

    Raises OSError, UnicodeDecodeError, yaml.YAMLError, or ``InvalidLibraryPolicy`` /
    ``PolicyError`` whose message names the document and the field.
    """
    docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    policies: list[LibraryPolicySpec] = []
    for number, doc in enumerate(docs, start=1):
        if doc is None:
            continue
        if not isinstance(doc, Mapping):
            raise errors.InvalidLibraryPolicy(
                f"document {number}", "must be a mapping (name, description, rules, ...)"
            )
        try:
            spec = validate(doc)
        except errors.InvalidLibraryPolicy as e:
            raise errors.InvalidLibraryPolicy(f"document {number}: {e.field}", _why(e)) from e
        except dl.PolicyError as e:
            problems = [
                dataclasses.replace(p, message=f"document {number}: {p.message}")
                for p in e.problems
            ]
            raise dl.PolicyError(problems) from e
        if any(p.name == spec.name for p in policies):
            raise errors.InvalidLibraryPolicy(
                f"document {number}: name", f"{spec.name} appears twice in the file"
            )
        policies.append(spec)
    return tuple(policies)


def _why(e: errors.InvalidLibraryPolicy) -> str:
    return e.message.removeprefix(f"{e.field}: ")


def _insert_files(
    session: Session, files: Sequence[LibraryFile], *, only_if_empty: bool
) -> tuple[int, list[tuple[pathlib.Path, str]]]:
    """Add the files' policies in the caller's transaction; a file whose names are taken is
    skipped. Returns (policies added, [(file skipped, why)])."""
    taken = {p.name for p in db.list_library_policies(session, include_rules=False)}
    if only_if_empty and taken:
        return 0, []
    added = 0
    skipped: list[tuple[pathlib.Path, str]] = []
    for file in files:
        clash = sorted({p.name for p in file.policies} & taken)
        if clash:
            skipped.append((file.path, f"library policy {clash[0]} already exists"))
            continue
        for spec in file.policies:
            db.create_library_policy(
                session,
                spec.name,
                _stored_rules(spec.rules),
                description=spec.description,
                kind=spec.kind,
                abbreviation=spec.abbreviation,
            )
            taken.add(spec.name)
            added += 1
    return added, skipped
