"""Datasources and their persisted push data."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from congress.db import api, errors
from congress.db.records import Datasource

RunTogether = Callable[..., list[object]]

CONFIG = {
    "auth_url": "http://keystone:5000/v3",
    "username": "ädmin",
    "password": "sëcret ✓",
    "poll_time": 10,
    "nested": {"list": [1, 2.5, None, True], "emoji": "🚀"},
    "__encrypted_fields": ["password"],
}


def test_create_and_read_a_datasource(engine: Engine) -> None:
    ds = api.create_datasource(
        engine, "nova", "nova", config=CONFIG, description="Компьютеры", enabled=False
    )
    assert (ds.name, ds.driver, ds.config, ds.description, ds.enabled) == (
        "nova",
        "nova",
        CONFIG,
        "Компьютеры",
        False,
    )
    assert api.get_datasource(engine, ds.id) == ds
    assert api.get_datasource_by_name(engine, "nova") == ds
    assert api.find_datasource(engine, "nova") == ds
    assert api.find_datasource(engine, ds.id) == ds
    plain = api.create_datasource(engine, "a-push", "push", config={})
    assert (plain.description, plain.enabled, plain.config) == (None, True, {})
    assert api.list_datasources(engine) == [plain, ds]


def test_missing_datasources_are_not_found(engine: Engine) -> None:
    for lookup in (
        api.get_datasource,
        api.get_datasource_by_name,
        api.find_datasource,
        api.delete_datasource,
        api.update_datasource,
    ):
        with pytest.raises(errors.NotFound):
            lookup(engine, "nope")


def test_names_are_unique(engine: Engine, run_together: RunTogether) -> None:
    api.create_datasource(engine, "nova", "nova", config={})
    with pytest.raises(errors.DuplicateName):
        api.create_datasource(engine, "nova", "neutronv2", config={})
    results = run_together(*[lambda: api.create_datasource(engine, "raced", "d", config={})] * 2)
    assert sorted(type(r).__name__ for r in results) == ["Datasource", "DuplicateName"], results
    with pytest.raises(errors.InvalidValue):
        api.create_datasource(engine, "", "d", config={})
    with pytest.raises(errors.InvalidValue):
        api.create_datasource(engine, "x", "d", config={"bad": float("nan")})
    with pytest.raises(errors.DuplicateId):
        api.create_datasource(
            engine, "other", "d", config={}, datasource_id=api.find_datasource(engine, "nova").id
        )


def test_update_changes_only_what_is_given(engine: Engine) -> None:
    ds = api.create_datasource(engine, "nova", "nova", config={"a": 1}, description="d")
    off = api.update_datasource(engine, ds.id, enabled=False)
    assert (off.enabled, off.config, off.description) == (False, {"a": 1}, "d")
    changed = api.update_datasource(engine, ds.id, config={"b": "β"}, description="e")
    assert (changed.enabled, changed.config, changed.description) == (False, {"b": "β"}, "e")
    assert api.get_datasource(engine, ds.id) == changed


def test_delete_returns_the_datasource_and_drops_its_data(engine: Engine) -> None:
    ds = api.create_datasource(engine, "push", "push", config={})
    keep = api.create_datasource(engine, "other", "push", config={})
    api.put_table_data(engine, ds.id, "t", [(1, "a")])
    api.put_table_data(engine, keep.id, "t", [(2, "b")])
    assert api.delete_datasource(engine, ds.id) == ds
    assert api.list_datasources(engine) == [keep]
    assert api.get_all_table_data(engine, ds.id) == {}
    assert api.get_table_data(engine, keep.id, "t") == [(2, "b")]
    api.create_datasource(engine, "push", "push", config={})  # the name is free again


def test_table_data_round_trip_and_replace(engine: Engine) -> None:
    ds = api.create_datasource(engine, "push", "push", config={})
    rows = [(1, "ü", 2.5, None, True), ("🚀", "x" * 70000, -3, "None", "False")]
    api.put_table_data(engine, ds.id, "servers", rows)
    assert api.get_table_data(engine, ds.id, "servers") == rows
    api.put_table_data(engine, ds.id, "servers", [("only",)])
    assert api.get_table_data(engine, ds.id, "servers") == [("only",)]
    api.put_table_data(engine, ds.id, "empty", [])
    assert api.get_all_table_data(engine, ds.id) == {"servers": [("only",)], "empty": []}


def test_table_data_of_missing_things(engine: Engine) -> None:
    with pytest.raises(errors.NotFound):
        api.put_table_data(engine, "no-such-datasource", "t", [(1,)])
    ds = api.create_datasource(engine, "push", "push", config={})
    with pytest.raises(errors.NotFound):
        api.get_table_data(engine, ds.id, "t")
    assert api.get_all_table_data(engine, ds.id) == {}


def test_delete_table_data(engine: Engine) -> None:
    ds = api.create_datasource(engine, "push", "push", config={})
    for table in ("a", "b", "c"):
        api.put_table_data(engine, ds.id, table, [(table,)])
    assert api.delete_table_data(engine, ds.id, "a") == 1
    assert api.delete_table_data(engine, ds.id, "a") == 0
    assert set(api.get_all_table_data(engine, ds.id)) == {"b", "c"}
    assert api.delete_table_data(engine, ds.id) == 2
    assert api.get_all_table_data(engine, ds.id) == {}


def test_records_are_plain_values(engine: Engine) -> None:
    ds = api.create_datasource(engine, "nova", "nova", config=CONFIG)
    assert isinstance(ds, Datasource)
    assert type(ds.config) is dict
