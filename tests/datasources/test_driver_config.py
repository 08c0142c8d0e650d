"""Driver info, config validation with the original's messages, option parsing, status."""

from __future__ import annotations

from typing import Any

import pytest
from ds_fakes import CREDENTIALS, FakeClock, FakeDriver, FakePollingDriver

from congress.datasources import options as opts
from congress.datasources.doctor import DoctorDriver
from congress.datasources.driver import Driver
from congress.datasources.errors import (
    InvalidConfig,
    InvalidDriverOptions,
    InvalidLazyTables,
    MissingRequiredOptions,
    UnknownAction,
)
from congress.datasources.push import PushDriver
from congress.datasources.vitrage import VitrageDriver


def test_info_of_the_push_drivers() -> None:
    assert DoctorDriver.info() == {
        "id": "doctor",
        "description": "Datasource driver that accepts OPNFV Doctor inspector events.",
        "config": {"persist_data": "(optional)"},
        "secret": [],
    }
    assert VitrageDriver.info() == {
        "id": "vitrage",
        "description": "Datasource driver that accepts Vitrage webhook alarm notifications.",
        "config": {"persist_data": "(optional)", "hours_to_keep_alarm": "(optional)"},
        "secret": [],
    }
    assert PushDriver.info()["config"] == {
        "tables": "required",
        "persist_data": "(optional)",
        "description": "(optional)",
    }


def test_info_of_an_openstack_driver() -> None:
    info = FakePollingDriver.info()
    assert info["config"] == {
        "auth_url": "required",
        "username": "required",
        "password": "required",
        "project_name": "required",
        "endpoint": "(optional)",
        "region": "(optional)",
        "user_domain_name": "(optional)",
        "project_domain_name": "(optional)",
        "tenant_name": "(optional)",
        "poll_time": "(optional)",
        "lazy_tables": "(optional)",
    }
    assert info["secret"] == ["password"]
    assert FakePollingDriver.info("nova_custom")["id"] == "nova_custom"


def test_unknown_options_are_invalid_driver_options() -> None:
    with pytest.raises(InvalidDriverOptions, match=r"^Invalid driver options: bogus, other$") as e:
        FakePollingDriver.validate_config({**CREDENTIALS, "other": 1, "bogus": 2})
    assert isinstance(e.value, InvalidConfig)
    assert (e.value.code, e.value.http_status) == ("invalid_driver_options", 400)


def test_missing_required_options() -> None:
    with pytest.raises(MissingRequiredOptions) as e:
        FakePollingDriver.validate_config({"username": "u", "project_name": "p"})
    assert e.value.message == "Missing required config options: auth_url, password"
    assert isinstance(e.value, InvalidConfig)


def test_tenant_name_stands_in_for_project_name() -> None:
    config = {k: v for k, v in CREDENTIALS.items() if k != "project_name"}
    with pytest.raises(MissingRequiredOptions, match="project_name"):
        FakePollingDriver.validate_config(config)
    FakePollingDriver.validate_config({**config, "tenant_name": "admin"})


def test_the_constructor_validates_too() -> None:
    with pytest.raises(InvalidDriverOptions):
        DoctorDriver("d", {"password": "x"})


@pytest.mark.parametrize("value", ["ten", "-1", "1.5", True, None])
def test_poll_time_must_be_a_non_negative_integer(value: Any) -> None:
    with pytest.raises(InvalidConfig, match="poll_time"):
        FakePollingDriver.validate_config({**CREDENTIALS, "poll_time": value})


def test_lazy_tables_must_be_root_tables() -> None:
    with pytest.raises(InvalidLazyTables) as e:
        FakePollingDriver("nova1", {**CREDENTIALS, "lazy_tables": ["server_tags", "flavors"]})
    assert e.value.message == (
        "Invalid lazy tables: ['server_tags']. Accepted tables for datasource nova1 "
        "are ['servers', 'flavors']."
    )
    with pytest.raises(InvalidLazyTables, match="datasource fake_polling"):
        FakePollingDriver.validate_config({**CREDENTIALS, "lazy_tables": "nope"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [("yes", True), ("On", True), ("1", True), (True, True), ("false", False), ("n", False)],
)
def test_persist_data_is_a_strict_boolean(value: Any, expected: bool) -> None:
    assert DoctorDriver("d", {"persist_data": value}).persist_data is expected


def test_persist_data_rejects_other_values() -> None:
    with pytest.raises(InvalidConfig, match="Invalid value for option persist_data: 'maybe'"):
        DoctorDriver.validate_config({"persist_data": "maybe"})
    assert DoctorDriver("d").persist_data is False


def test_option_parsers() -> None:
    assert opts.integer("12", "x") == 12 and opts.integer(3.0, "x") == 3
    assert opts.number("0.5", "x") == 0.5
    with pytest.raises(InvalidConfig, match="is less than 0"):
        opts.number(-1, "x")
    with pytest.raises(InvalidConfig, match="not a number"):
        opts.number("nan-ish", "x")
    assert opts.name_list("a, b,,c", "x") == ["a", "b", "c"]
    assert opts.name_list('["a", "b"]', "x") == ["a", "b"]
    assert opts.name_list(None, "x") == []
    with pytest.raises(InvalidConfig, match="expected a list of names"):
        opts.name_list([1], "x")
    with pytest.raises(InvalidConfig, match="is not JSON"):
        opts.name_list("[a", "x")
    assert opts.json_object('{"a": 1}', "x") == {"a": 1}
    with pytest.raises(InvalidConfig, match="expected a JSON object"):
        opts.json_object("[1]", "x")


def test_openstack_credentials() -> None:
    creds = opts.openstack_credentials({**CREDENTIALS, "project_name": None, "tenant_name": "t"})
    assert creds["project_name"] == "t"
    assert creds["user_domain_name"] == creds["project_domain_name"] == "Default"


def test_status_counters_start_empty() -> None:
    driver = FakeDriver("f")
    assert driver.status() == {
        "last_updated": "None",
        "last_error": "None",
        "number_of_updates": "0",
        "initialized": "False",
    }
    assert DoctorDriver("d").status()["initialized"] == "True"


def test_static_schema_and_its_bodies() -> None:
    driver = FakeDriver("f")
    assert driver.schema_body() == {
        "tables": [
            {
                "table_id": "fake_table",
                "columns": [
                    {"name": "id", "description": None},
                    {"name": "name", "description": None},
                ],
            }
        ]
    }
    assert driver.table_spec("fake_table")["table_id"] == "fake_table"
    assert driver.tables() == {"fake_table": set()}
    assert driver.actions() == {"results": []}
    with pytest.raises(UnknownAction, match='driver f has no "execute" method'):
        driver.execute("servers.pause", ["s1"])


def test_a_driver_cannot_have_both_translators_and_a_static_schema() -> None:
    from congress.datasources.errors import TranslatorError

    with pytest.raises(TranslatorError, match="TRANSLATORS or SCHEMA, not both"):

        class Both(Driver):
            TRANSLATORS = FakePollingDriver.TRANSLATORS
            SCHEMA = {"x": ("a",)}


def test_the_clock_is_injected() -> None:
    clock = FakeClock()
    driver = DoctorDriver("d", clock=clock)
    driver.replace_table("events", [])
    assert driver.last_updated == clock.now
