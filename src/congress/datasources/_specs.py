"""The translator spec classes and their definition-time checks (see ``translators``).

Imports: standard library and congress.datasources.errors.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from congress.datasources.errors import TranslatorError

ExtractFn = Callable[[Any], Any]
IdFn = Callable[[Any], str | int | float]

# Column type names of the original's type system (congress/data_types.py).
TYPE_NAMES = frozenset({"Scalar", "Str", "Bool", "Int", "Float", "IPAddress", "IPNetwork", "UUID"})
PARENT_KEY_COL_NAME = "parent_key"
ID_COL_NAME = "id_col"


class Selector(enum.Enum):
    """How an ``HDict`` reads a field: ``obj[name]`` or ``getattr(obj, name)``."""

    DICT = "DICT_SELECTOR"
    DOT = "DOT_SELECTOR"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table's schema, as the original's ``{name, desc, type?, nullable?}``."""

    name: str
    description: str | None = None
    type: str | None = None
    nullable: bool | None = None

    def api_dict(self) -> dict[str, Any]:
        """The API's rendering: ``{name, description}``."""
        return {"name": self.name, "description": self.description}


@dataclass(frozen=True, slots=True)
class Value:
    """A single value; ``data_type`` and ``nullable`` only document the column."""

    extract_fn: ExtractFn | None = None
    data_type: str | None = None
    nullable: bool = True

    def __post_init__(self) -> None:
        _check_callable(self.extract_fn, "extract_fn", "a Value")
        if self.data_type is not None and self.data_type not in TYPE_NAMES:
            known = ", ".join(sorted(TYPE_NAMES))
            raise TranslatorError(f"Value: unknown data_type {self.data_type!r}; known: {known}")

    def column(self, name: str, description: str | None = None) -> Column:
        if self.data_type is None:
            return Column(name, description)
        return Column(name, description, self.data_type, self.nullable)


@dataclass(frozen=True, slots=True)
class Field:
    """One field of an ``HDict``: read ``name``, write column ``col`` (default ``name``)."""

    name: str
    translator: Spec = field(default_factory=Value)
    col: str | None = None
    desc: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TranslatorError(
                f"Field: the field name must be a non-empty string: {self.name!r}"
            )
        if self.col is not None and (not isinstance(self.col, str) or not self.col):
            raise TranslatorError(f"Field {self.name!r}: col must be a non-empty string")
        if not isinstance(self.translator, Value | HDict | VDict | ListSpec):
            raise TranslatorError(
                f"Field {self.name!r}: translator must be a Value, HDict, VDict or ListSpec, "
                f"not {type(self.translator).__name__}"
            )

    @property
    def column(self) -> str:
        return self.col if self.col is not None else self.name


@dataclass(frozen=True, slots=True)
class HDict:
    """An object becomes one row (or, with ``in_list``, a list of objects becomes rows)."""

    table: str
    fields: Sequence[Field]
    selector: Selector = Selector.DICT
    parent_key: str | None = None
    parent_col_name: str = PARENT_KEY_COL_NAME
    parent_key_desc: str | None = None
    id_col: str | IdFn | None = None
    in_list: bool = False
    objects_extract_fn: ExtractFn | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.fields))
        try:
            object.__setattr__(self, "selector", Selector(self.selector))
        except ValueError:
            raise TranslatorError(
                f"table {self.table!r}: selector must be a Selector, not {self.selector!r}"
            ) from None
        _check_table(self)
        for f in self.fields:
            if not isinstance(f, Field):
                raise TranslatorError(f"table {self.table!r}: fields must be Field objects: {f!r}")
        value_cols = [f.column for f in self.fields if isinstance(f.translator, Value)]
        linkable = set(value_cols)
        if self.parent_key is not None:
            linkable.add(self.parent_col_name)
        for f in self.fields:
            if not isinstance(f.translator, Value):
                _check_link(self, f.translator, linkable, f"field {f.name!r}")
        _check_columns(self, [c.name for c in _columns_of(self)])
        _check_unique_tables(self)


@dataclass(frozen=True, slots=True)
class VDict:
    """A dict becomes one row per item: ``([link,] key, value)``."""

    table: str
    key_col: str
    val_col: str
    translator: Spec = field(default_factory=Value)
    parent_key: str | None = None
    parent_col_name: str = PARENT_KEY_COL_NAME
    parent_key_desc: str | None = None
    id_col: str | IdFn | None = None
    objects_extract_fn: ExtractFn | None = None

    def __post_init__(self) -> None:
        _check_table(self)
        _check_name(self, self.key_col, "key_col")
        _check_name(self, self.val_col, "val_col")
        _check_translator(self)
        if not isinstance(self.translator, Value):
            _check_link(self, self.translator, {self.key_col}, "its values")
        _check_columns(self, [c.name for c in _columns_of(self)])
        _check_unique_tables(self)


@dataclass(frozen=True, slots=True)
class ListSpec:
    """A list becomes one row per element: ``([link,] value)``."""

    table: str
    val_col: str
    translator: Spec = field(default_factory=Value)
    parent_key: str | None = None
    parent_col_name: str = PARENT_KEY_COL_NAME
    parent_key_desc: str | None = None
    val_col_desc: str | None = None
    id_col: str | IdFn | None = None
    objects_extract_fn: ExtractFn | None = None

    def __post_init__(self) -> None:
        _check_table(self)
        _check_name(self, self.val_col, "val_col")
        _check_translator(self)
        if not isinstance(self.translator, Value):
            # The elements have no parent row to take a key from: they must carry an id.
            _check_link(self, self.translator, set(), "its elements")
        _check_columns(self, [c.name for c in _columns_of(self)])
        _check_unique_tables(self)


TableSpec = HDict | VDict | ListSpec
Spec = Value | HDict | VDict | ListSpec


def id_column_name(id_col: str | IdFn) -> str:
    """The name of an id column: the given name, or ``id_col`` for an id function."""
    return id_col if isinstance(id_col, str) else ID_COL_NAME


def tables(spec: TableSpec) -> list[str]:
    """The tables a spec fills, the spec's own first, then its sub-tables depth first."""
    return [s.table for s in walk(spec)]


def walk(spec: TableSpec) -> Iterator[TableSpec]:
    """The spec and every nested table spec, in schema order."""
    yield spec
    for sub in _children(spec):
        yield from walk(sub)


def schema(spec: TableSpec) -> dict[str, list[Column]]:
    """The columns of every table ``spec`` fills, in schema order."""
    return {s.table: _columns_of(s) for s in walk(spec)}


def check_roots(specs: Iterable[TableSpec]) -> None:
    """A driver's root specs: no parent key, and every table name used once."""
    seen: set[str] = set()
    for spec in specs:
        if not isinstance(spec, HDict | VDict | ListSpec):
            raise TranslatorError(
                f"a root translator must be an HDict, VDict or ListSpec: {spec!r}"
            )
        if spec.parent_key is not None:
            raise TranslatorError(f"table {spec.table!r}: a root translator has no parent_key")
        for name in tables(spec):
            if name in seen:
                raise TranslatorError(f"table {name!r} is defined twice")
            seen.add(name)


# --- checks -------------------------------------------------------------------------------------


def _children(spec: TableSpec) -> list[TableSpec]:
    if isinstance(spec, HDict):
        subs: list[Spec] = [f.translator for f in spec.fields]
    else:
        subs = [spec.translator]
    return [s for s in subs if not isinstance(s, Value)]


def _columns_of(spec: TableSpec) -> list[Column]:
    cols: list[Column] = []
    if spec.id_col is not None:
        cols.append(Column(id_column_name(spec.id_col)))
    elif spec.parent_key is not None:
        cols.append(Column(spec.parent_col_name, spec.parent_key_desc))
    if isinstance(spec, HDict):
        for f in spec.fields:
            if isinstance(f.translator, Value):
                cols.append(f.translator.column(f.column, f.desc))
            elif f.translator.parent_key is None:
                cols.append(Column(f.column, f.desc))
        return cols
    if isinstance(spec, VDict):
        cols.append(Column(spec.key_col))
    sub = spec.translator
    desc = spec.val_col_desc if isinstance(spec, ListSpec) else None
    if isinstance(sub, Value):
        cols.append(sub.column(spec.val_col, desc))
    elif sub.parent_key is None:
        cols.append(Column(spec.val_col, desc))
    return cols


def _check_table(spec: TableSpec) -> None:
    if not isinstance(spec.table, str) or not spec.table:
        raise TranslatorError(f"a table name must be a non-empty string: {spec.table!r}")
    _check_name(spec, spec.parent_col_name, "parent_col_name")
    if spec.parent_key is not None and spec.id_col is not None:
        raise TranslatorError(f"table {spec.table!r}: specify at most one of parent_key and id_col")
    if spec.parent_key is not None:
        _check_name(spec, spec.parent_key, "parent_key")
    if isinstance(spec.id_col, str):
        _check_name(spec, spec.id_col, "id_col")
    elif spec.id_col is not None:
        _check_callable(spec.id_col, "id_col", f"table {spec.table!r}")
    _check_callable(spec.objects_extract_fn, "objects_extract_fn", f"table {spec.table!r}")


def _check_name(spec: TableSpec, value: object, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise TranslatorError(f"table {spec.table!r}: {what} must be a non-empty string")


def _check_callable(fn: object, what: str, where: str) -> None:
    if fn is not None and not callable(fn):
        raise TranslatorError(f"{where}: {what} must be callable")


def _check_translator(spec: VDict | ListSpec) -> None:
    if not isinstance(spec.translator, Value | HDict | VDict | ListSpec):
        raise TranslatorError(
            f"table {spec.table!r}: translator must be a Value, HDict, VDict or ListSpec"
        )


def _check_link(parent: TableSpec, child: TableSpec, linkable: set[str], what: str) -> None:
    where = f"table {parent.table!r}, {what}: sub-table {child.table!r}"
    if child.parent_key is None and child.id_col is None:
        raise TranslatorError(f"{where} must be linked by parent_key or id_col")
    if child.parent_key is not None and child.parent_key not in linkable:
        accepted = ", ".join(sorted(linkable)) or "none (use id_col)"
        raise TranslatorError(
            f"{where} has parent_key {child.parent_key!r}, which is not a value column of the "
            f"parent; accepted: {accepted}"
        )
    if isinstance(child, HDict) and child.in_list and child.id_col is not None:
        raise TranslatorError(f"{where} has in_list and must be linked by parent_key")


def _check_columns(spec: TableSpec, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise TranslatorError(f"table {spec.table!r}: column {name!r} is defined twice")
        seen.add(name)


def _check_unique_tables(spec: TableSpec) -> None:
    seen: set[str] = set()
    for sub in walk(spec):
        if sub.table in seen:
            raise TranslatorError(f"table {sub.table!r} is defined twice")
        seen.add(sub.table)
