"""Typed translator specs: how a service's JSON-like objects become rows of tables.

Imports: standard library, congress.datalog (value types) and congress.datasources.

The original's translator mini-language (reference 5.2) as frozen dataclasses, checked when they
are built, so a malformed spec fails when its module is imported, never while data flows:

- ``HDict``: an object becomes one row, one column per ``Field`` (looked up by key with
  ``Selector.DICT`` or by attribute with ``Selector.DOT``); a missing field gives None. With
  ``in_list`` the object is a list and each element becomes a row.
- ``VDict``: a dict becomes one row per item: ``(key_col, val_col)``.
- ``ListSpec``: a list becomes one row per element: ``(val_col,)``.
- ``Value``: a single value, optionally through ``extract_fn``; ``data_type`` and ``nullable``
  document the column in the schema.

A ``Field`` (or a ``VDict``/``ListSpec`` element) whose translator is not a ``Value`` fills a
second table, linked to its parent in exactly one of two ways:

- ``parent_key``: each child row starts with the value of the parent's column ``parent_key``
  (a value column of an ``HDict`` parent, or the ``key_col`` of a ``VDict`` parent); that first
  column is named ``parent_col_name`` (default ``parent_key``); the parent row has no column for
  the field.
- ``id_col``: each child row starts with an id, the md5 of the sorted JSON of the child's content
  or the result of a function of the child object; the parent row holds the id in the field's
  column. ``id_col`` is the id column's name, or the function (its column is named ``id_col``).

Checked at definition time (``TranslatorError``): table names unique within a spec tree and,
through ``check_roots``, within a driver; column names unique within a table; every nested
table linked; ``parent_key`` naming a column the parent has; not both ``parent_key`` and
``id_col``; a list's elements linked by ``id_col`` (they have no parent row).

``translate(spec, objects)`` gives ``{table: [row, ...]}`` for every table of the spec, values
normalised as ``congress.datalog.values`` says; data of the wrong shape is a ``TranslationError``.
``schema(spec)`` gives ``{table: [Column, ...]}``, parent table first, then its sub-tables.
"""

from __future__ import annotations

from congress.datasources._rows import content_hash, json_kind, normalize, translate
from congress.datasources._specs import (
    ID_COL_NAME,
    PARENT_KEY_COL_NAME,
    TYPE_NAMES,
    Column,
    Field,
    HDict,
    ListSpec,
    Selector,
    Spec,
    TableSpec,
    Value,
    VDict,
    check_roots,
    id_column_name,
    schema,
    tables,
    walk,
)

__all__ = [
    "ID_COL_NAME",
    "PARENT_KEY_COL_NAME",
    "TYPE_NAMES",
    "Column",
    "Field",
    "HDict",
    "ListSpec",
    "Selector",
    "Spec",
    "TableSpec",
    "VDict",
    "Value",
    "check_roots",
    "content_hash",
    "id_column_name",
    "json_kind",
    "normalize",
    "schema",
    "tables",
    "translate",
    "walk",
]
