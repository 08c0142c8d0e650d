"""Running a translator spec over data: ``translate(spec, objects) -> {table: [row, ...]}``.

Imports: standard library, congress.datalog (ast and values: value types) and
congress.datasources.

Every value goes through ``normalize_value`` (booleans ``"True"``/``"False"``, None ``"None"``,
lists and dicts as canonical JSON); a value JSON cannot encode (a datetime from a client) becomes
its JSON with ``str`` for the unknown parts, or ``str(value)``. Rows come out as tuples, in the
order the data gave them, possibly with duplicates (a table is a set; the caller makes it one).
Data of the wrong shape raises ``TranslationError`` naming the table; so does a user function
(``extract_fn``, ``objects_extract_fn``, an id function) that raises.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from congress.datalog.ast import Row, Value
from congress.datalog.values import normalize_value
from congress.datasources import _specs as s
from congress.datasources._compiled import compiled
from congress.datasources.errors import TranslationError, TranslatorError

Out = dict[str, list[Row]]
Link = Value | None  # what a sub-table gives its parent row: an id, or nothing (parent key)


def translate(spec: s.TableSpec, objects: Any) -> Out:
    """Rows of every table of ``spec`` (all present, maybe empty) for the collection ``objects``.

    ``objects`` is what the service returned: a list of objects (after ``objects_extract_fn``
    when the spec has one), each translated by the spec; None elements are skipped.
    """
    if spec.parent_key is not None:
        raise TranslatorError(f"table {spec.table!r}: a root translator has no parent_key")
    fast = compiled(spec)
    if fast is not None:
        try:
            return fast(objects)
        except Exception:  # the interpreter below raises the precise error
            pass
    return interpret(spec, objects)


def interpret(spec: s.TableSpec, objects: Any) -> Out:
    """``translate`` by walking the spec (the definition; the compiled path must agree)."""
    out: Out = {name: [] for name in s.tables(spec)}
    items = _call(spec.objects_extract_fn, objects, spec.table, "objects_extract_fn")
    for obj in _elements(items, spec.table):
        if obj is not None:
            _convert(spec, obj, None, out)
    return out


def normalize(value: Any) -> Value:
    """A driver value as a row value; never fails."""
    try:
        return normalize_value(value)
    except (TypeError, ValueError):
        pass
    if isinstance(value, Mapping | list | tuple):
        try:
            return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            pass
    return str(value)


def content_hash(content: Sequence[Any]) -> str:
    """The original's id of generated ids: md5 of the JSON of the sorted content."""
    ordered = sorted(content, key=lambda x: str(type(x)) + repr(x))
    text = json.dumps(ordered, sort_keys=True)
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _convert(spec: s.TableSpec, obj: Any, parent: Mapping[str, Value] | None, out: Out) -> Link:
    if isinstance(spec, s.HDict):
        if not spec.in_list:
            return _hdict(spec, obj, parent, out)
        link: Link = None
        for element in _elements(obj, spec.table):
            link = _hdict(spec, element, parent, out)
        return link
    if isinstance(spec, s.VDict):
        return _vdict(spec, obj, parent, out)
    return _list(spec, obj, parent, out)


def _nested(sub: s.TableSpec, value: Any, parent: Mapping[str, Value] | None, out: Out) -> Link:
    """Fill a sub-table from ``value``; the id for the parent row when linked by id."""
    if value is None:
        return content_hash([]) if sub.id_col is not None else None
    value = _call(sub.objects_extract_fn, value, sub.table, "objects_extract_fn")
    return _convert(sub, value, parent, out)


def _hdict(spec: s.HDict, obj: Any, parent: Mapping[str, Value] | None, out: Out) -> Link:
    row: dict[str, Value] = {}
    if spec.parent_key is not None:
        row[spec.parent_col_name] = _parent_value(spec, parent)
    for f in spec.fields:  # value columns first: sub-tables may take their key from them
        if isinstance(f.translator, s.Value):
            raw = _select(spec, obj, f.name)
            row[f.column] = _value(f.translator, raw, spec.table)
    for f in spec.fields:
        sub = f.translator
        if not isinstance(sub, s.Value):
            link = _nested(sub, _select(spec, obj, f.name), row, out)
            if sub.id_col is not None:
                row[f.column] = _as_value(link)
    values = [row[f.column] for f in spec.fields if _has_column(f.translator)]
    return _emit(spec, obj, parent, values, out)


def _vdict(spec: s.VDict, obj: Any, parent: Mapping[str, Value] | None, out: Out) -> Link:
    if not isinstance(obj, Mapping):
        raise TranslationError(f"table {spec.table!r}: expected an object, got {json_kind(obj)}")
    sub = spec.translator
    rows: list[tuple[Value, ...]] = []
    for key, item in obj.items():
        k = normalize(key)
        if isinstance(sub, s.Value):
            rows.append((k, _value(sub, item, spec.table)))
            continue
        link = _nested(sub, item, {spec.key_col: k}, out)
        rows.append((k, _as_value(link)) if sub.id_col is not None else (k,))
    return _emit_many(spec, obj, parent, rows, out)


def _list(spec: s.ListSpec, obj: Any, parent: Mapping[str, Value] | None, out: Out) -> Link:
    sub = spec.translator
    rows: list[tuple[Value, ...]] = []
    for element in _elements(obj, spec.table):
        if isinstance(sub, s.Value):
            rows.append((_value(sub, element, spec.table),))
        else:
            rows.append((_as_value(_nested(sub, element, None, out)),))
    return _emit_many(spec, obj, parent, rows, out)


def _emit(
    spec: s.TableSpec,
    obj: Any,
    parent: Mapping[str, Value] | None,
    values: list[Value],
    out: Out,
) -> Link:
    """Add one row of ``spec``'s table, prefixed with its id or parent key."""
    if spec.id_col is not None:
        ident = _identity(spec, obj, values)
        out[spec.table].append((ident, *values))
        return ident
    if spec.parent_key is not None:
        out[spec.table].append((_parent_value(spec, parent), *values))
        return None
    out[spec.table].append(tuple(values))
    return None


def _emit_many(
    spec: s.VDict | s.ListSpec,
    obj: Any,
    parent: Mapping[str, Value] | None,
    rows: list[tuple[Value, ...]],
    out: Out,
) -> Link:
    """Rows of a VDict or ListSpec table: one id for the whole collection, or the parent key."""
    prefix: tuple[Value, ...] = ()
    ident: Link = None
    if spec.id_col is not None:
        # As the original: a list's id hashes its values, a dict's id its (key, value) pairs.
        content = [row[0] for row in rows] if isinstance(spec, s.ListSpec) else rows
        ident = _identity(spec, obj, content)
        prefix = (ident,)
    elif spec.parent_key is not None:
        prefix = (_parent_value(spec, parent),)
    out[spec.table].extend(prefix + row for row in rows)
    return ident


def _identity(spec: s.TableSpec, obj: Any, content: Sequence[Any]) -> Value:
    id_col = spec.id_col
    if isinstance(id_col, str) or id_col is None:
        return content_hash(content)
    ident = _call(id_col, obj, spec.table, "the id function")
    if isinstance(ident, bool) or not isinstance(ident, str | int | float):
        raise TranslationError(
            f"table {spec.table!r}: the id function must return a string or a number, "
            f"not {type(ident).__name__}"
        )
    return ident


def _parent_value(spec: s.TableSpec, parent: Mapping[str, Value] | None) -> Value:
    key = spec.parent_key
    if parent is None or key is None or key not in parent:
        raise TranslationError(f"table {spec.table!r}: no parent row with {key!r}")
    return parent[key]


def _select(spec: s.HDict, obj: Any, name: str) -> Any:
    if spec.selector is s.Selector.DOT:
        return getattr(obj, name, None)
    if not isinstance(obj, Mapping):
        raise TranslationError(
            f"table {spec.table!r}: expected an object with field {name!r}, got {json_kind(obj)}"
        )
    return obj.get(name)


def _value(spec: s.Value, raw: Any, table: str) -> Value:
    return normalize(_call(spec.extract_fn, raw, table, "extract_fn"))


def _call(fn: Callable[[Any], Any] | None, arg: Any, table: str, what: str) -> Any:
    if fn is None:
        return arg
    try:
        return fn(arg)
    except Exception as exc:
        raise TranslationError(f"table {table!r}: {what} failed: {exc!r}") from exc


def _elements(obj: Any, table: str) -> Iterable[Any]:
    if isinstance(obj, str | bytes | Mapping) or not isinstance(obj, Iterable):
        raise TranslationError(f"table {table!r}: expected a list, got {json_kind(obj)}")
    return obj


def _has_column(sub: s.Spec) -> bool:
    return isinstance(sub, s.Value) or sub.parent_key is None


def _as_value(link: Link) -> Value:
    # A sub-table linked by id always gives an id (a hash, or the id function's result).
    return "None" if link is None else link


def json_kind(value: Any) -> str:
    """The JSON name of a value's kind, for messages: ``an object``, ``an array``, ``null``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return f"a {type(value).__name__}"
