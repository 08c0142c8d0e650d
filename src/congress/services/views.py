"""Datasources shared with projects, and each project's views of them (docs/tenancy.md).

Imports: the standard library, congress.datalog (names, AST), congress.datasources (the driver
loader, for the drivers' ``PROJECT_COLUMNS``) and congress.db (records of sharing).

The operator shares a global datasource ``D`` with projects (``shared_with``: project ids, or
``["*"]`` for every project) and may choose, per table, the column that names a row's project
(``project_columns``, over the driver's declaration). In a project policy ``X@P`` a rule's
``D:t(...)`` reads ``D@P:t`` (congress.datalog.names): the project's **view** of ``D``. The
policy engine keeps each view that some rule reads (and whose datasource is shared with the
project) as a runtime policy of kind ``datasource`` with ``D``'s schema, holding exactly the
rows of ``(D, t)`` whose project column equals ``P`` (every row of a table without one). Data
reach a view in the same batch as the datasource's table (``Views.expand``), so actions and
monitoring of project policies fire as for global ones. Everything here is computed from the
database (sharing) and the data, so every engine agrees.

``visible_to(shared_with, project)`` is the pure rule of who sees a datasource; ``Views`` is the
bookkeeping of one engine (under the engine's lock); ``effective_columns`` merges a driver's
declaration with the operator's overrides.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from congress.datalog import names
from congress.datalog.ast import Literal, Row, Rule
from congress.datasources.driver import Driver
from congress.datasources.errors import DatasourceError
from congress.datasources.loader import DriverLoader
from congress.db.datasources import ALL_PROJECTS_SHARED, DatasourceSharing

LOG = logging.getLogger(__name__)

EVERY_PROJECT = ALL_PROJECTS_SHARED
"""``shared_with`` ``["*"]``: every project may read the datasource."""


def visible_to(shared_with: Iterable[str] | None, project: str | None) -> bool:
    """Whether a datasource shared with ``shared_with`` may be read by ``project`` (None: the
    operator, who reads every datasource)."""
    if project is None:
        return True
    shared = set(shared_with or ())
    return EVERY_PROJECT in shared or project in shared


_loader: DriverLoader | None = None


def _driver_class(driver: str) -> type[Driver] | None:
    """The driver's class (None for a driver that does not load)."""
    global _loader
    if _loader is None:
        _loader = DriverLoader()
    try:
        return _loader.load(driver)
    except DatasourceError:
        return None


def declared_project_columns(driver: str) -> dict[str, str]:
    """The driver's ``PROJECT_COLUMNS`` (nothing for a driver that does not load)."""
    cls = _driver_class(driver)
    return {} if cls is None else dict(cls.PROJECT_COLUMNS)


def driver_schema(driver: str) -> dict[str, tuple[str, ...]]:
    """The tables and columns every datasource of ``driver`` has (nothing for a driver that
    does not load, or whose tables come from its config, like ``push``)."""
    cls = _driver_class(driver)
    if cls is None:
        return {}
    return {t: tuple(c.name for c in cols) for t, cols in cls.schema().items()}


def effective_columns(
    declared: Mapping[str, str], overrides: Mapping[str, str | None]
) -> dict[str, str]:
    """The driver's project columns with the operator's overrides (a None override: the table
    has none), sorted by table."""
    merged: dict[str, str | None] = {**declared, **overrides}
    return {t: c for t, c in sorted(merged.items()) if c is not None}


@dataclass(frozen=True, slots=True)
class Sharing:
    """What one engine knows of a datasource's sharing."""

    shared_with: frozenset[str] = frozenset()
    columns: Mapping[str, str] = field(default_factory=dict)  # effective: table -> column


def sharing_of(record: DatasourceSharing) -> Sharing:
    """A datasource's ``Sharing`` from its database record (the ``push`` driver declares no
    project columns: a push datasource has the operator's only)."""
    declared = declared_project_columns(record.driver)
    return Sharing(
        frozenset(record.shared_with), effective_columns(declared, record.project_columns)
    )


def sharing_body(record: DatasourceSharing) -> dict[str, object]:
    """``{shared_with, project_columns}`` of a datasource's API body (effective columns)."""
    return {
        "shared_with": list(record.shared_with),
        "project_columns": effective_columns(
            declared_project_columns(record.driver), record.project_columns
        ),
    }


def view_name(datasource: str, project: str) -> str:
    """The name of ``project``'s view of ``datasource`` (``nova@P``)."""
    return names.scoped(datasource, project)


def filtered(rows: Iterable[Row], index: int | None, project: str) -> list[Row]:
    """The rows whose column ``index`` is ``project`` (every row for None)."""
    if index is None:
        return list(rows)
    return [r for r in rows if len(r) > index and r[index] == project]


def read_views(rules: Iterable[tuple[str, Rule]]) -> set[tuple[str, str]]:
    """``(datasource, project)`` of every ``D@P`` a rule of a policy of project ``P`` reads
    (``(policy, checked rule)`` pairs)."""
    out: set[tuple[str, str]] = set()
    for policy, rule in rules:
        project = names.project_of(policy)
        if project is None:
            continue
        for lit in rule.body_literals():
            ref = lit.policy
            if ref is None:
                continue
            base, other = names.split(ref)
            if other == project:
                out.add((base, project))
    return out


def resolved_reference(lit: Literal, project: str) -> str | None:
    """The policy a body literal of a rule of ``project`` reads, as the analysis resolves it
    (``ops`` → ``ops@P``); None for the rule's own policy or a builtin."""
    ref = lit.policy
    if ref is None or ref == "builtin":
        return None
    return ref if names.SEPARATOR in ref else names.scoped(ref, project)


class Views:
    """One engine's views: which exist (by name), what each was built with, and every
    datasource's sharing as last read from the database. Not thread-safe: the engine's lock."""

    def __init__(self) -> None:
        self.sharing: dict[str, Sharing] = {}  # datasource name -> its sharing
        self.built: dict[str, dict[str, int | None]] = {}  # view -> table -> column index
        self.schemas: dict[str, dict[str, tuple[str, ...]]] = {}  # view -> its schema

    def is_view(self, name: str) -> bool:
        """Whether ``name`` is a project's view of a datasource (not a policy of it)."""
        return name in self.built

    def base(self, name: str) -> str | None:
        """The datasource a view reads (None: not a view)."""
        return names.base_of(name) if name in self.built else None

    def of(self, datasource: str) -> list[str]:
        """The views of ``datasource``."""
        return sorted(v for v in self.built if names.base_of(v) == datasource)

    def visible(self, datasource: str, project: str) -> bool:
        found = self.sharing.get(datasource)
        return found is not None and visible_to(found.shared_with, project)

    def plan(self, datasource: str, schema: Mapping[str, Sequence[str]]) -> dict[str, int | None]:
        """For each table of ``schema``, the index of its project column (None: none)."""
        columns = self.sharing.get(datasource, Sharing()).columns
        out: dict[str, int | None] = {}
        for table, cols in schema.items():
            column = columns.get(table)
            out[table] = list(cols).index(column) if column is not None and column in cols else None
        return out

    def expand(
        self, datasource: str, table: str, inserts: Sequence[Row], deletes: Sequence[Row]
    ) -> dict[tuple[str, str], tuple[Sequence[Row], Sequence[Row]]]:
        """The batch for a change of ``(datasource, table)``: the change itself and each view's
        part of it."""
        batch: dict[tuple[str, str], tuple[Sequence[Row], Sequence[Row]]] = {
            (datasource, table): (inserts, deletes)
        }
        for view in self.of(datasource):
            plan = self.built[view]
            if table not in plan:
                continue
            project = names.project_of(view) or ""
            index = plan[table]
            ins, dels = filtered(inserts, index, project), filtered(deletes, index, project)
            if ins or dels:  # a view the change does not touch costs nothing
                batch[(view, table)] = (ins, dels)
        return batch


__all__ = [
    "EVERY_PROJECT",
    "Sharing",
    "Views",
    "declared_project_columns",
    "driver_schema",
    "effective_columns",
    "filtered",
    "read_views",
    "resolved_reference",
    "sharing_body",
    "sharing_of",
    "view_name",
    "visible_to",
]
