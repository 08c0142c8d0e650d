"""The compiled translators agree with the interpreter (the definition) on random data.

For a set of specs (every installed driver's translators, and synthetic ones that use every
compilable construct), hypothesis draws data of roughly the right shape with random damage
(missing fields, nulls, wrong kinds). The compiled function and ``interpret`` must give the same
rows (as multisets per table), or both raise ``TranslationError``; ``translate``, which tries
the compiled function first, must agree with the interpreter in either case.
"""

from __future__ import annotations

import collections
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from congress.datasources import _compiled, _rows
from congress.datasources import translators as tr
from congress.datasources.errors import TranslationError
from congress.datasources.loader import DriverLoader
from congress.datasources.translators import Field, HDict, ListSpec, Value, VDict


def first_of(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("id")
    if isinstance(value, list):
        raise ValueError("a list is not an id")
    return value


SYNTHETIC: list[tr.TableSpec] = [
    HDict(
        "servers",
        [
            Field("id"),
            Field("name"),
            Field("image", col="image_id", translator=Value(extract_fn=first_of)),
            Field(
                "addresses",
                translator=VDict(
                    "addresses",
                    key_col="network",
                    val_col="address",
                    parent_key="id",
                    parent_col_name="server_id",
                    translator=HDict(
                        "address_items",
                        [Field("addr"), Field("version")],
                        in_list=True,
                        parent_key="network",
                    ),
                ),
            ),
            Field("tags", translator=ListSpec("tags", "tag", parent_key="id")),
            Field(
                "metadata",
                translator=VDict("metadata", "key", "value", parent_key="name"),
            ),
            Field(
                "links",
                translator=HDict(
                    "links",
                    [Field("href"), Field("rel")],
                    in_list=True,
                    parent_key="id",
                    objects_extract_fn=lambda links: [x for x in links if x is not None],
                ),
            ),
        ],
    ),
    HDict(
        "wrapped",
        [Field("a"), Field("b", translator=Value(extract_fn=lambda v: str(v).upper()))],
        objects_extract_fn=lambda doc: doc["items"],
    ),
    ListSpec("plain_list", "value", translator=Value(extract_fn=lambda v: v * 2)),
    VDict("plain_dict", "key", "value"),
    HDict("rows_of_lists", [Field("x")], in_list=True),
]


def driver_specs() -> list[tr.TableSpec]:
    specs = []
    for cls in DriverLoader().available().values():
        specs.extend(cls.TRANSLATORS)
    return specs


ALL_SPECS = SYNTHETIC + driver_specs()

# the data strategies of big specs have long reprs, which hypothesis warns about
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.sampled_from(["", "a", "b", "ACTIVE", "10.0.0.1", "ü"]),
)
anything = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abc"), inner),
    max_leaves=6,
)


def shaped(spec: tr.Spec, depth: int = 0) -> st.SearchStrategy[Any]:
    """Data that mostly fits ``spec``, sometimes not."""
    if isinstance(spec, Value) or depth > 4:
        return scalars | anything if depth < 4 else scalars
    if isinstance(spec, HDict):
        fields = {f.name: shaped(f.translator, depth + 1) for f in spec.fields}
        one = st.fixed_dictionaries({}, optional=fields)
        good = st.lists(one, max_size=3) if spec.in_list else one
    elif isinstance(spec, VDict):
        good = st.dictionaries(
            st.sampled_from(["k1", "k2", "k3"]), shaped(spec.translator, depth + 1), max_size=3
        )
    else:
        good = st.lists(shaped(spec.translator, depth + 1), max_size=3)
    return st.one_of(good, good, good, st.none(), anything)


def rows_of(out: dict[str, list[tuple[Any, ...]]]) -> dict[str, collections.Counter[Any]]:
    return {table: collections.Counter(rows) for table, rows in out.items()}


def outcome(fn: Any, spec: tr.TableSpec, objects: Any) -> Any:
    try:
        return rows_of(fn(spec, objects))
    except TranslationError:
        return "TranslationError"


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.table)
def test_the_compiled_translator_agrees_with_the_interpreter(spec: tr.TableSpec) -> None:
    fast = _compiled.compiled(spec)
    assert fast is not None, f"{spec.table} does not compile"

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def check(data: st.DataObject) -> None:
        items = shaped(spec)
        if spec.objects_extract_fn is not None:
            objects = data.draw(st.fixed_dictionaries({"items": st.lists(items, max_size=4)}))
        else:
            objects = data.draw(st.lists(items, max_size=4) | anything)
        expected = outcome(_rows.interpret, spec, objects)
        assert outcome(tr.translate, spec, objects) == expected
        try:
            direct = rows_of(fast(objects))
        except Exception:
            return  # the compiled path gave up: translate fell back to the interpreter
        assert direct == expected

    check()


def test_specs_with_generated_ids_are_interpreted() -> None:
    spec = HDict("t", [Field("id"), Field("xs", translator=ListSpec("xs", "x", id_col="xs_id"))])
    assert _compiled.compiled(spec) is None
    out = tr.translate(spec, [{"id": 1, "xs": ["a"]}])
    assert out["t"][0][0] == 1 and out["xs"] == [(out["t"][0][1], "a")]


def test_a_failing_extract_function_still_names_the_table() -> None:
    spec = SYNTHETIC[0]
    with pytest.raises(TranslationError, match=r"servers.*extract_fn failed"):
        tr.translate(spec, [{"id": "s", "image": ["not", "an", "id"]}])
