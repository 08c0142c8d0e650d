"""Translator semantics (reference 5.2): every spec kind, links, ids, missing data, values."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from congress.datasources import translators as tr
from congress.datasources.errors import TranslationError
from congress.datasources.translators import Field, HDict, ListSpec, Selector, Value, VDict


def md5_of(content: list[Any]) -> str:
    ordered = sorted(content, key=lambda x: str(type(x)) + repr(x))
    return hashlib.md5(json.dumps(ordered, sort_keys=True).encode()).hexdigest()


def test_hdict_row_per_object_in_field_order_with_renamed_columns() -> None:
    spec = HDict("servers", [Field("id"), Field("name", col="server_name"), Field("host")])
    out = tr.translate(spec, [{"host": "h1", "id": "a", "name": "web"}])
    assert out == {"servers": [("a", "web", "h1")]}


def test_missing_fields_and_nulls_become_none_strings() -> None:
    spec = HDict("t", [Field("a"), Field("b")])
    assert tr.translate(spec, [{"a": None}]) == {"t": [("None", "None")]}


def test_values_are_normalised() -> None:
    spec = HDict("t", [Field(n) for n in ("b", "f", "i", "x", "s", "l", "d", "u", "when")])
    obj = {
        "b": True,
        "f": False,
        "i": 2,
        "x": 2.5,
        "s": "2",
        "l": [1, None],
        "d": {"z": 1, "a": True},
        "u": "ünï ☁",
        "when": datetime(2020, 1, 2, tzinfo=UTC),
    }
    (row,) = tr.translate(spec, [obj])["t"]
    assert row == (
        "True",
        "False",
        2,
        2.5,
        "2",
        "[1, null]",
        '{"a": true, "z": 1}',
        "ünï ☁",
        "2020-01-02 00:00:00+00:00",
    )
    assert isinstance(row[2], int) and isinstance(row[4], str)


def test_unserialisable_structures_fall_back_to_text() -> None:
    assert tr.normalize([datetime(2020, 1, 2)]) == '["2020-01-02 00:00:00"]'
    assert tr.normalize({(1, 2): "x"}) == "{(1, 2): 'x'}"


def test_dot_selector_reads_attributes() -> None:
    spec = HDict("t", [Field("id"), Field("name")], selector=Selector.DOT)
    out = tr.translate(spec, [SimpleNamespace(id=1, name="n"), SimpleNamespace(id=2)])
    assert out["t"] == [(1, "n"), (2, "None")]


def test_selector_accepts_the_original_names() -> None:
    spec = HDict("t", [Field("id")], selector="DOT_SELECTOR")  # type: ignore[arg-type]
    assert spec.selector is Selector.DOT


def test_dict_selector_on_a_non_object_names_the_table() -> None:
    spec = HDict("servers", [Field("id")])
    with pytest.raises(TranslationError, match="table 'servers': expected an object with field"):
        tr.translate(spec, [["not", "a", "dict"]])


def test_root_collection_must_be_a_list_and_none_elements_are_skipped() -> None:
    spec = HDict("t", [Field("id")])
    assert tr.translate(spec, [None, {"id": 1}]) == {"t": [(1,)]}
    for bad in ({"id": 1}, "text", 3):
        with pytest.raises(TranslationError, match="expected a list"):
            tr.translate(spec, bad)


def test_value_extract_fn() -> None:
    spec = HDict("t", [Field("flavor", Value(extract_fn=lambda f: f["id"]))])
    assert tr.translate(spec, [{"flavor": {"id": "m1"}}])["t"] == [("m1",)]


def test_a_failing_user_function_is_a_translation_error() -> None:
    spec = HDict("t", [Field("flavor", Value(extract_fn=lambda f: f["id"]))])
    with pytest.raises(TranslationError, match="table 't': extract_fn failed: KeyError"):
        tr.translate(spec, [{"flavor": {}}])


def test_root_objects_extract_fn_gets_the_whole_collection() -> None:
    spec = HDict("t", [Field("id")], objects_extract_fn=lambda body: body["items"])
    assert tr.translate(spec, {"items": [{"id": 1}, {"id": 2}]})["t"] == [(1,), (2,)]


def test_parent_key_list_subtable() -> None:
    tags = ListSpec("tags", "tag", parent_key="id", parent_col_name="server_id")
    spec = HDict("servers", [Field("id"), Field("tags", tags), Field("name")])
    out = tr.translate(spec, [{"id": "s1", "name": "web", "tags": ["a", "b"]}])
    assert out == {"servers": [("s1", "web")], "tags": [("s1", "a"), ("s1", "b")]}


def test_parent_key_column_default_name() -> None:
    tags = ListSpec("tags", "tag", parent_key="id")
    spec = HDict("servers", [Field("id"), Field("tags", tags)])
    assert [c.name for c in tr.schema(spec)["tags"]] == ["parent_key", "tag"]


def test_a_missing_sub_object_gives_no_child_rows() -> None:
    tags = ListSpec("tags", "tag", parent_key="id")
    spec = HDict("servers", [Field("id"), Field("tags", tags)])
    assert tr.translate(spec, [{"id": "s1"}]) == {"servers": [("s1",)], "tags": []}


def test_parent_key_from_a_renamed_column() -> None:
    tags = ListSpec("tags", "tag", parent_key="server_id")
    spec = HDict("servers", [Field("id", col="server_id"), Field("tags", tags)])
    assert tr.translate(spec, [{"id": "s1", "tags": ["x"]}])["tags"] == [("s1", "x")]


def test_id_col_subtable_hashes_its_content() -> None:
    tags = ListSpec("tags", "tag", id_col="tags_id")
    spec = HDict("servers", [Field("id"), Field("tags", tags)])
    out = tr.translate(spec, [{"id": "s1", "tags": ["b", "a"]}, {"id": "s2", "tags": ["a", "b"]}])
    ident = md5_of(["b", "a"])
    assert out["servers"] == [("s1", ident), ("s2", ident)]  # order does not matter
    assert out["tags"] == [(ident, "b"), (ident, "a"), (ident, "a"), (ident, "b")]
    assert tr.content_hash(["a", "b"]) == ident


def test_id_col_for_a_missing_sub_object_is_the_hash_of_nothing() -> None:
    tags = ListSpec("tags", "tag", id_col="tags_id")
    spec = HDict("servers", [Field("id"), Field("tags", tags)])
    out = tr.translate(spec, [{"id": "s1"}])
    assert out == {"servers": [("s1", md5_of([]))], "tags": []}


def test_id_col_on_an_hdict_hashes_the_row_values() -> None:
    spec = HDict("t", [Field("a"), Field("b")], id_col="id")
    (row,) = tr.translate(spec, [{"a": 1, "b": "x"}])["t"]
    assert row == (md5_of([1, "x"]), 1, "x")


def test_id_col_function() -> None:
    flavor = HDict("flavors", [Field("name")], id_col=lambda obj: obj["uuid"])
    spec = HDict("servers", [Field("id"), Field("flavor", flavor)])
    out = tr.translate(spec, [{"id": "s1", "flavor": {"uuid": "f-1", "name": "tiny"}}])
    assert out == {"servers": [("s1", "f-1")], "flavors": [("f-1", "tiny")]}
    assert [c.name for c in tr.schema(spec)["flavors"]] == ["id_col", "name"]


def test_id_function_must_return_a_string_or_number() -> None:
    spec = HDict("t", [Field("a")], id_col=lambda obj: True)
    with pytest.raises(TranslationError, match="must return a string or a number, not bool"):
        tr.translate(spec, [{"a": 1}])


def test_vdict_of_values() -> None:
    meta = VDict("metadata", "key", "value", parent_key="id")
    spec = HDict("servers", [Field("id"), Field("metadata", meta)])
    out = tr.translate(spec, [{"id": "s1", "metadata": {"k1": "v1", "k2": True}}])
    assert out["metadata"] == [("s1", "k1", "v1"), ("s1", "k2", "True")]
    assert out["servers"] == [("s1",)]


def test_vdict_with_id_col_and_as_a_root() -> None:
    spec = VDict("pairs", "k", "v", id_col="pid")
    (rows,) = [tr.translate(spec, [{"a": 1, "b": 2}])["pairs"]]
    ident = md5_of([("a", 1), ("b", 2)])
    assert rows == [(ident, "a", 1), (ident, "b", 2)]
    assert tr.translate(VDict("pairs", "k", "v"), [{"a": 1}])["pairs"] == [("a", 1)]


def test_vdict_must_be_given_an_object() -> None:
    with pytest.raises(TranslationError, match="table 'pairs': expected an object, got an array"):
        tr.translate(VDict("pairs", "k", "v"), [[1, 2]])


def test_vdict_of_objects_linked_by_the_key() -> None:
    port = HDict("ports", [Field("mac")], parent_key="name", parent_col_name="net")
    spec = VDict("networks", "name", "ports", translator=port)
    out = tr.translate(spec, [{"n1": {"mac": "aa"}, "n2": None}])
    assert out == {"networks": [("n1",), ("n2",)], "ports": [("n1", "aa")]}
    assert [c.name for c in tr.schema(spec)["networks"]] == ["name"]


def test_vdict_of_objects_linked_by_id() -> None:
    port = HDict("ports", [Field("mac")], id_col="port_id")
    spec = VDict("networks", "name", "port", translator=port)
    out = tr.translate(spec, [{"n1": {"mac": "aa"}}])
    ident = md5_of(["aa"])
    assert out == {"networks": [("n1", ident)], "ports": [(ident, "aa")]}


def test_list_of_values_as_a_root_and_with_an_id() -> None:
    assert tr.translate(ListSpec("l", "v"), [[1, 2]])["l"] == [(1,), (2,)]
    rows = tr.translate(ListSpec("l", "v", id_col="lid"), [[1, True]])["l"]
    ident = md5_of([1, "True"])
    assert rows == [(ident, 1), (ident, "True")]


def test_list_of_objects_linked_by_id() -> None:
    rule = HDict("rules", [Field("port")], id_col="rule_id")
    rules = ListSpec("group_rules", "rule", translator=rule, parent_key="id")
    spec = HDict("groups", [Field("id"), Field("rules", rules)])
    out = tr.translate(spec, [{"id": "g1", "rules": [{"port": 22}, {"port": 80}, None]}])
    h22, h80, none = md5_of([22]), md5_of([80]), md5_of([])
    assert out["groups"] == [("g1",)]
    assert out["group_rules"] == [("g1", h22), ("g1", h80), ("g1", none)]
    assert out["rules"] == [(h22, 22), (h80, 80)]


def test_in_list_hdict_gives_one_row_per_element() -> None:
    things = HDict("things", [Field("type"), Field("location")], parent_key="id", in_list=True)
    spec = HDict("example", [Field("id"), Field("things", things)])
    out = tr.translate(spec, [{"id": "1111", "things": [{"type": 1, "location": 2}, {"type": 3}]}])
    assert out == {"example": [("1111",)], "things": [("1111", 1, 2), ("1111", 3, "None")]}


def test_nested_objects_extract_fn_gets_the_field_value() -> None:
    addrs = ListSpec("addresses", "ip", parent_key="id")
    field = Field("addresses", dataclasses.replace(addrs, objects_extract_fn=lambda d: d["v4"]))
    spec = HDict("servers", [Field("id"), field])
    out = tr.translate(spec, [{"id": "s1", "addresses": {"v4": ["10.0.0.1"]}}])
    assert out["addresses"] == [("s1", "10.0.0.1")]


def test_three_levels_of_nesting() -> None:
    ips = ListSpec("fixed_ips", "ip", parent_key="port_id")
    ports = HDict(
        "ports", [Field("id", col="port_id"), Field("ips", ips)], parent_key="id", in_list=True
    )
    spec = HDict("networks", [Field("id"), Field("ports", ports)])
    out = tr.translate(spec, [{"id": "n1", "ports": [{"id": "p1", "ips": ["1.1.1.1", "2.2.2.2"]}]}])
    assert out == {
        "networks": [("n1",)],
        "ports": [("n1", "p1")],
        "fixed_ips": [("p1", "1.1.1.1"), ("p1", "2.2.2.2")],
    }
    assert tr.tables(spec) == ["networks", "ports", "fixed_ips"]


def test_translate_does_not_touch_its_input() -> None:
    spec = HDict("t", [Field("a"), Field("l", ListSpec("l", "v", parent_key="a"))])
    data = [{"a": 1, "l": [1, 2]}]
    snapshot = json.dumps(data)
    tr.translate(spec, data)
    assert json.dumps(data) == snapshot


def test_specs_are_frozen() -> None:
    spec = HDict("t", [Field("a")])
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.table = "u"  # type: ignore[misc]
    assert isinstance(spec.fields, tuple)
