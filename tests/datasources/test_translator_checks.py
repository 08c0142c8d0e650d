"""Translator specs are checked when they are built, and their schema is what 5.2 says."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from congress.datasources import translators as tr
from congress.datasources.driver import Driver
from congress.datasources.errors import TranslatorError
from congress.datasources.translators import Column, Field, HDict, ListSpec, Value, VDict


def test_parent_key_and_id_col_are_exclusive() -> None:
    with pytest.raises(TranslatorError, match="table 'l': specify at most one of parent_key"):
        ListSpec("l", "v", parent_key="id", id_col="lid")


def test_table_names_are_unique_within_a_spec() -> None:
    sub = ListSpec("servers", "tag", parent_key="id")
    with pytest.raises(TranslatorError, match="table 'servers' is defined twice"):
        HDict("servers", [Field("id"), Field("tags", sub)])


def test_table_names_are_unique_within_a_driver() -> None:
    a = HDict("t", [Field("id")])
    b = HDict("u", [Field("id"), Field("l", ListSpec("t", "v", parent_key="id"))])
    with pytest.raises(TranslatorError, match="table 't' is defined twice"):
        tr.check_roots([a, b])
    with pytest.raises(TranslatorError, match="table 't' is defined twice"):

        class Twice(Driver):
            TRANSLATORS: ClassVar[Any] = (a, b)


def test_a_root_has_no_parent_key() -> None:
    child = ListSpec("l", "v", parent_key="id")
    with pytest.raises(TranslatorError, match="a root translator has no parent_key"):
        tr.check_roots([child])
    with pytest.raises(TranslatorError, match="a root translator has no parent_key"):
        tr.translate(child, [[1]])


def test_columns_are_unique_within_a_table() -> None:
    with pytest.raises(TranslatorError, match="column 'a' is defined twice"):
        HDict("t", [Field("a"), Field("b", col="a")])
    with pytest.raises(TranslatorError, match="column 'parent_key' is defined twice"):
        ListSpec("l", "parent_key", parent_key="id")
    with pytest.raises(TranslatorError, match="column 'k' is defined twice"):
        VDict("d", "k", "k")


def test_a_sub_table_must_be_linked() -> None:
    with pytest.raises(
        TranslatorError, match="sub-table 'l' must be linked by parent_key or id_col"
    ):
        HDict("t", [Field("id"), Field("l", ListSpec("l", "v"))])


def test_parent_key_must_name_a_value_column_of_the_parent() -> None:
    sub = ListSpec("l", "v", parent_key="uuid")
    with pytest.raises(TranslatorError, match=r"parent_key 'uuid'.*accepted: id, name"):
        HDict("t", [Field("id"), Field("name"), Field("l", sub)])


def test_a_vdict_child_takes_its_key_from_the_key_column() -> None:
    child = HDict("c", [Field("x")], parent_key="value")
    with pytest.raises(TranslatorError, match=r"parent_key 'value'.*accepted: key"):
        VDict("d", "key", "value", translator=child)


def test_list_elements_must_be_linked_by_id() -> None:
    child = HDict("c", [Field("x")], parent_key="v")
    with pytest.raises(TranslatorError, match="accepted: none \\(use id_col\\)"):
        ListSpec("l", "v", translator=child)


def test_an_in_list_sub_table_is_linked_by_parent_key() -> None:
    child = HDict("c", [Field("x")], id_col="cid", in_list=True)
    with pytest.raises(TranslatorError, match="has in_list and must be linked by parent_key"):
        HDict("t", [Field("id"), Field("c", child)])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: HDict("", [Field("a")]), "a table name must be a non-empty string"),
        (lambda: HDict("t", [{"fieldname": "a"}]), "fields must be Field objects"),  # type: ignore[list-item]
        (lambda: Field(""), "the field name must be a non-empty string"),
        (lambda: Field("a", col=""), "col must be a non-empty string"),
        (lambda: Field("a", {"translation-type": "VALUE"}), "translator must be a Value"),  # type: ignore[arg-type]
        (lambda: ListSpec("l", "v", translator="VALUE"), "translator must be a Value"),  # type: ignore[arg-type]
        (lambda: Value(data_type="Text"), "unknown data_type 'Text'"),
        (lambda: Value(extract_fn=3), "extract_fn must be callable"),  # type: ignore[arg-type]
        (lambda: HDict("t", [Field("a")], id_col=3), "id_col must be callable"),  # type: ignore[arg-type]
        (lambda: VDict("d", "", "v"), "key_col must be a non-empty string"),
        (lambda: HDict("t", [Field("a")], parent_col_name=""), "parent_col_name must be"),
        (lambda: HDict("t", [Field("a")], objects_extract_fn=1), "objects_extract_fn must be"),  # type: ignore[arg-type]
    ],
)
def test_malformed_specs_are_rejected(build: Any, message: str) -> None:
    with pytest.raises(TranslatorError, match=message):
        build()


def test_a_bad_selector_is_rejected() -> None:
    with pytest.raises(TranslatorError, match="selector must be a Selector, not 'SIDEWAYS'"):
        HDict("t", [Field("a")], selector="SIDEWAYS")  # type: ignore[arg-type]


def test_hdict_schema() -> None:
    tags = ListSpec("tags", "tag", parent_key="id", parent_key_desc="server", val_col_desc="a tag")
    flavor = HDict("flavors", [Field("name")], id_col="flavor_id")
    spec = HDict(
        "servers",
        [
            Field("id", desc="server id"),
            Field("tags", tags),
            Field("flavor", flavor, desc="flavor link"),
            Field("ram", Value(data_type="Int", nullable=False), col="memory"),
        ],
    )
    assert tr.schema(spec) == {
        "servers": [
            Column("id", "server id"),
            Column("flavor", "flavor link"),
            Column("memory", None, "Int", False),
        ],
        "tags": [Column("parent_key", "server"), Column("tag", "a tag")],
        "flavors": [Column("flavor_id"), Column("name")],
    }
    assert list(tr.schema(spec)) == ["servers", "tags", "flavors"]


def test_vdict_and_list_schemas() -> None:
    assert [c.name for c in tr.schema(VDict("d", "k", "v"))["d"]] == ["k", "v"]
    assert [c.name for c in tr.schema(VDict("d", "k", "v", id_col="i"))["d"]] == ["i", "k", "v"]
    assert [c.name for c in tr.schema(ListSpec("l", "v", id_col="i"))["l"]] == ["i", "v"]
    assert tr.schema(ListSpec("l", "v", Value(data_type="Str"), val_col_desc="d"))["l"] == [
        Column("v", "d", "Str", True)
    ]


def test_the_api_renders_name_and_description() -> None:
    assert Column("memory", "MB", "Int", False).api_dict() == {
        "name": "memory",
        "description": "MB",
    }
