"""The generic push driver: tables from config, PUT rows validation, persistence hooks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ds_fakes import FakeClock

from congress.datasources.errors import (
    InvalidConfig,
    InvalidRows,
    MissingRequiredOptions,
    NotSupported,
    UnknownTable,
)
from congress.datasources.push import PushDriver

TABLES = {"hosts": ["name", "state", "zone"], "links": ["a", "b"]}


def make(**config: Any) -> PushDriver:
    return PushDriver("ext", {"tables": json.dumps(TABLES), **config}, clock=FakeClock())


def test_tables_come_from_config() -> None:
    driver = make()
    assert driver.columns("hosts") == ["name", "state", "zone"]
    assert [t["table_id"] for t in driver.schema_body()["tables"]] == ["hosts", "links"]
    assert driver.tables() == {"hosts": set(), "links": set()}
    assert PushDriver("ext", {"tables": TABLES}).columns("links") == ["a", "b"]
    assert PushDriver.schema() == {}


def test_rows_as_arrays() -> None:
    driver = make()
    rows = driver.replace_table("hosts", [["h1", "up", 1], ["h2", None, True], ["h1", "up", 1]])
    assert rows == {("h1", "up", 1), ("h2", "None", "True")}
    assert driver.rows("hosts") == rows
    assert driver.number_of_updates == 1


def test_rows_as_objects_with_missing_keys_and_nulls() -> None:
    driver = make()
    rows = driver.replace_table("hosts", [{"name": "h1", "zone": None}, {"state": {"x": [1]}}])
    assert rows == {("h1", "None", "None"), ("None", '{"x": [1]}', "None")}


def test_a_push_replaces_the_whole_table_and_an_empty_list_clears_it() -> None:
    driver = make()
    driver.replace_table("hosts", [["h1", "up", "z"]])
    driver.replace_table("links", [["a", "b"]])
    driver.replace_table("hosts", [["h2", "up", "z"]])
    assert driver.tables() == {"hosts": {("h2", "up", "z")}, "links": {("a", "b")}}
    driver.replace_table("hosts", [])
    assert driver.rows("hosts") == set()


def test_a_wrong_width_names_the_row() -> None:
    with pytest.raises(InvalidRows) as e:
        make().replace_table("hosts", [["h1", "up", "z"], ["h2", "up"]])
    assert e.value.message == (
        "table hosts: row 2 (index 1) has 2 values but the table has 3 columns (name, state, zone)"
    )
    assert e.value.http_status == 400


def test_an_unknown_key_names_the_row_and_the_key() -> None:
    with pytest.raises(InvalidRows) as e:
        make().replace_table("hosts", [{"name": "h"}, {"name": "h", "zonee": 1, "cpu": 2}])
    assert e.value.message == (
        "table hosts: row 2 (index 1) has unknown columns cpu, zonee; "
        "the columns are name, state, zone"
    )


@pytest.mark.parametrize(
    ("body", "kind"),
    [({"name": "h"}, "an object"), ("rows", "a string"), (None, "null"), (3, "a number")],
)
def test_the_body_must_be_a_list(body: Any, kind: str) -> None:
    with pytest.raises(InvalidRows, match=f"table hosts: the rows must be a JSON list, not {kind}"):
        make().replace_table("hosts", body)


@pytest.mark.parametrize(("row", "kind"), [("h1", "a string"), (None, "null"), (True, "a boolean")])
def test_a_row_must_be_an_array_or_object(row: Any, kind: str) -> None:
    message = f"row 1 \\(index 0\\) must be a JSON array or object, not {kind}"
    with pytest.raises(InvalidRows, match=message):
        make().replace_table("hosts", [row])


def test_a_failed_push_changes_nothing() -> None:
    driver = make()
    driver.replace_table("hosts", [["h1", "up", "z"]])
    with pytest.raises(InvalidRows):
        driver.replace_table("hosts", [["h2", "up", "z"], ["bad"]])
    assert driver.rows("hosts") == {("h1", "up", "z")}
    assert driver.number_of_updates == 1


def test_an_unknown_table() -> None:
    with pytest.raises(UnknownTable, match="table 'nope' does not exist in datasource ext"):
        make().replace_table("nope", [])


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ("{not json", "not JSON"),
        ("[]", "expected a JSON object"),
        ({"bad name": ["a"]}, "bad table name 'bad name'"),
        ({"t": []}, "table t needs a non-empty list of columns"),
        ({"t": "a,b"}, "table t needs a non-empty list of columns"),
        ({"t": ["a", 1]}, "table t has a bad column name 1"),
        ({"t": ["a", "a"]}, "table t names a column twice"),
    ],
)
def test_bad_tables_option(tables: Any, message: str) -> None:
    with pytest.raises(InvalidConfig, match=message):
        PushDriver.validate_config({"tables": tables})


def test_tables_is_required() -> None:
    with pytest.raises(MissingRequiredOptions, match="Missing required config options: tables"):
        PushDriver("ext", {"persist_data": "true"})


def test_persist_data_and_restore() -> None:
    driver = make(persist_data="True")
    assert driver.persist_data is True
    driver.restore({"hosts": [["h1", "up", "z"], ["short"]], "gone": [["x"]]})
    assert driver.tables() == {"hosts": {("h1", "up", "z")}, "links": set()}


def test_no_webhook() -> None:
    with pytest.raises(NotSupported, match="datasource ext does not accept webhook"):
        make().webhook({"payload": {}})
