"""Translator specs compiled into Python functions: the fast path of ``translate``.

Imports: standard library and congress.datasources.

``compiled(spec)`` turns a root spec into one generated function (source built once per spec,
compiled with ``compile``/``exec``) that does per object only what a hand-written loop would:
``obj.get`` for each field, an inline type test before normalising, a bound ``append`` per
table. Specs linked only by ``parent_key`` (every OpenStack driver's) compile; a spec tree that
uses ``id_col`` or the ``DOT`` selector gets None, and ``translate`` interprets it.

The generated code does not check shapes: any exception it raises (a list where an object was
expected, a failing extract function) makes ``translate`` run the interpreter on the same input,
which raises the precise ``TranslationError`` (or, should it succeed, gives the rows). The
interpreter stays the definition; the property tests check that both agree.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from congress.datasources import _specs as s

Compiled = Callable[[Any], dict[str, list[tuple[Any, ...]]]]

_CACHE: dict[int, tuple[s.TableSpec, Compiled | None]] = {}


def compiled(spec: s.TableSpec) -> Compiled | None:
    """The compiled translation function of a root spec, or None if it cannot be compiled."""
    hit = _CACHE.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    fn = _compile(spec) if _compilable(spec) else None
    _CACHE[id(spec)] = (spec, fn)
    return fn


def _compilable(spec: s.TableSpec) -> bool:
    for sub in s.walk(spec):
        if sub.id_col is not None:
            return False
        if isinstance(sub, s.HDict) and sub.selector is not s.Selector.DICT:
            return False
    return True


class _Writer:
    def __init__(self, normalize: Callable[[Any], Any], elements: Callable[..., Any]) -> None:
        self.lines: list[str] = []
        self.env: dict[str, Any] = {"_N": normalize, "_E": elements}
        self.counter = itertools.count()

    def var(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def const(self, value: Any, prefix: str = "_k") -> str:
        name = self.var(prefix)
        self.env[name] = value
        return name

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def loop(self, depth: int, items: str, table: str) -> str:
        """``for e in items:`` (``items`` checked to be a list as the interpreter checks it);
        returns the element's variable."""
        element = self.var("e")
        self.line(
            depth, f"if {items}.__class__ is not list: {items} = _E({items}, {self.const(table)})"
        )
        self.line(depth, f"for {element} in {items}:")
        return element

    def value(self, depth: int, target: str, expr: str, fn: Any) -> None:
        """``target = normalised(fn(expr))``."""
        if fn is not None:
            expr = f"{self.const(fn, '_f')}({expr})"
        self.line(depth, f"{target} = {expr}")
        self.line(
            depth,
            f"if not ((_t := {target}.__class__) is str or _t is int or _t is float): "
            f"{target} = _N({target})",
        )


def _compile(spec: s.TableSpec) -> Compiled:
    from congress.datasources._rows import _elements, normalize

    w = _Writer(normalize, _elements)
    appends = {t: f"_a{i}" for i, t in enumerate(s.tables(spec))}
    w.line(0, "def translate(objects):")
    for name in appends.values():
        w.line(1, f"{name}_rows = []")
        w.line(1, f"{name} = {name}_rows.append")
    items = "objects"
    if spec.objects_extract_fn is not None:
        w.line(1, f"items = {w.const(spec.objects_extract_fn, '_x')}(objects)")
        items = "items"
    obj = w.loop(1, items, spec.table)
    w.line(2, f"if {obj} is None: continue")
    _emit(w, spec, obj, {}, 2, appends)
    result = ", ".join(f"{w.const(t)}: {name}_rows" for t, name in appends.items())
    w.line(1, f"return {{{result}}}")
    namespace = dict(w.env)
    exec(compile("\n".join(w.lines), f"<translator {spec.table}>", "exec"), namespace)
    fn: Compiled = namespace["translate"]
    return fn


def _emit(
    w: _Writer,
    spec: s.TableSpec,
    obj: str,
    parent: dict[str, str],
    depth: int,
    appends: dict[str, str],
) -> None:
    """Code that adds the rows of ``spec`` for the object in variable ``obj`` (the parent row's
    value variables by column in ``parent``)."""
    prefix: list[str] = []
    if spec.parent_key is not None:
        prefix.append(parent[spec.parent_key])
    if isinstance(spec, s.HDict):
        if spec.in_list:  # the object is a list of objects, each a row
            element = w.loop(depth, obj, spec.table)
            _hdict(w, spec, element, prefix, depth + 1, appends)
        else:
            _hdict(w, spec, obj, prefix, depth, appends)
        return
    if isinstance(spec, s.VDict):
        key, item = w.var("k"), w.var("i")
        w.line(depth, f"for {key}, {item} in {obj}.items():")
        w.value(depth + 1, key, key, None)
        sub = spec.translator
        if isinstance(sub, s.Value):
            w.value(depth + 1, item, item, sub.extract_fn)
            w.line(depth + 1, f"{appends[spec.table]}(({_tuple([*prefix, key, item])}))")
        else:
            w.line(depth + 1, f"{appends[spec.table]}(({_tuple([*prefix, key])}))")
            _nested(w, sub, item, {spec.key_col: key}, depth + 1, appends)
        return
    element = w.loop(depth, obj, spec.table)
    sub = spec.translator
    assert isinstance(sub, s.Value)  # a list of sub-tables needs id_col: not compiled
    w.value(depth + 1, element, element, sub.extract_fn)
    w.line(depth + 1, f"{appends[spec.table]}(({_tuple([*prefix, element])}))")


def _hdict(
    w: _Writer,
    spec: s.HDict,
    obj: str,
    prefix: list[str],
    depth: int,
    appends: dict[str, str],
) -> None:
    get = w.var("g")
    w.line(depth, f"{get} = {obj}.get")
    columns: dict[str, str] = {}
    if spec.parent_key is not None:
        columns[spec.parent_col_name] = prefix[0]
    values: list[str] = list(prefix)
    for f in spec.fields:
        if isinstance(f.translator, s.Value):
            var = w.var("v")
            w.value(depth, var, f"{get}({w.const(f.name)})", f.translator.extract_fn)
            columns[f.column] = var
            values.append(var)
    w.line(depth, f"{appends[spec.table]}(({_tuple(values)}))")
    for f in spec.fields:
        if not isinstance(f.translator, s.Value):
            sub_obj = w.var("o")
            w.line(depth, f"{sub_obj} = {get}({w.const(f.name)})")
            _nested(w, f.translator, sub_obj, columns, depth, appends)


def _nested(
    w: _Writer,
    sub: s.TableSpec,
    obj: str,
    parent: dict[str, str],
    depth: int,
    appends: dict[str, str],
) -> None:
    w.line(depth, f"if {obj} is not None:")
    if sub.objects_extract_fn is not None:
        w.line(depth + 1, f"{obj} = {w.const(sub.objects_extract_fn, '_x')}({obj})")
    _emit(w, sub, obj, parent, depth + 1, appends)


def _tuple(names: list[str]) -> str:
    return ", ".join(names) + ("," if len(names) == 1 else "")
