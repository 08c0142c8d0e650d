"""The vitrage driver: webhook alarms, replacement by vitrage_id, expiry on an injected clock."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from ds_fakes import FakeClock

from congress.datasources.errors import InvalidConfig, InvalidWebhook
from congress.datasources.vitrage import VitrageDriver, parse_timestamp

ACTIVATE: dict[str, Any] = {
    "notification": "vitrage.alarm.activate",
    "payload": {
        "vitrage_id": "2def31e9-6d9f-4c16-b007-893caa806cd4",
        "resource": {
            "vitrage_id": "437f1f4c-ccce-40a4-ac62-1c2f1fd9f6ac",
            "name": "app-1-server-1-jz6qvznkmnif",
            "update_timestamp": "2018-01-22 10:00:34.327142+00:00",
            "vitrage_category": "RESOURCE",
            "vitrage_operational_state": "OK",
            "vitrage_type": "nova.instance",
            "project_id": "8f007e5ba0944e84baa6f2a4f2b5d03a",
            "id": "9b7d93b9-94ec-41e1-9cec-f28d4f8d702c",
        },
        "update_timestamp": "2018-01-22T10:00:34Z",
        "vitrage_category": "ALARM",
        "state": "Active",
        "vitrage_type": "vitrage",
        "vitrage_operational_severity": "WARNING",
        "name": "Instance memory performance degraded",
    },
}


def deactivate() -> dict[str, Any]:
    body = copy.deepcopy(ACTIVATE)
    body["notification"] = "vitrage.alarm.deactivate"
    body["payload"].update(
        state="Inactive", vitrage_operational_severity="OK", update_timestamp="2018-01-22T11:00:34Z"
    )
    return body


def row(state: str, severity: str, updated: str, received: str) -> tuple[str, ...]:
    return (
        "Instance memory performance degraded",
        state,
        "vitrage",
        severity,
        "2def31e9-6d9f-4c16-b007-893caa806cd4",
        updated,
        received,
        "app-1-server-1-jz6qvznkmnif",
        "9b7d93b9-94ec-41e1-9cec-f28d4f8d702c",
        "437f1f4c-ccce-40a4-ac62-1c2f1fd9f6ac",
        "8f007e5ba0944e84baa6f2a4f2b5d03a",
        "OK",
        "nova.instance",
    )


def make(**config: Any) -> tuple[VitrageDriver, FakeClock]:
    clock = FakeClock(datetime(2018, 1, 22, 10, 0, 40, tzinfo=UTC))
    return VitrageDriver("vitrage", config, clock=clock), clock


def test_schema_is_the_originals() -> None:
    assert [c.name for c in VitrageDriver.schema()["alarms"]] == [
        "name",
        "state",
        "type",
        "operational_severity",
        "vitrage_id",
        "update_timestamp",
        "receive_timestamp",
        "resource_name",
        "resource_id",
        "resource_vitrage_id",
        "resource_project_id",
        "resource_operational_state",
        "resource_type",
    ]


def test_activate() -> None:
    driver, _ = make()
    body = copy.deepcopy(ACTIVATE)
    assert driver.webhook(body) == ["alarms"]
    assert body == ACTIVATE  # not modified
    assert driver.rows("alarms") == {
        row("Active", "WARNING", "2018-01-22T10:00:34Z", "2018-01-22T10:00:40Z")
    }
    assert driver.number_of_updates == 1


def test_deactivate_replaces_the_alarm_of_the_same_id() -> None:
    driver, clock = make()
    driver.webhook(ACTIVATE)
    clock.advance(hours=1)
    driver.webhook(deactivate())
    assert driver.rows("alarms") == {
        row("Inactive", "OK", "2018-01-22T11:00:34Z", "2018-01-22T11:00:40Z")
    }


def test_alarms_of_other_ids_stay() -> None:
    driver, _ = make()
    driver.webhook(ACTIVATE)
    other = copy.deepcopy(ACTIVATE)
    other["payload"]["vitrage_id"] = "other"
    del other["payload"]["resource"]
    driver.webhook(other)
    assert len(driver.rows("alarms")) == 2
    (new,) = [r for r in driver.rows("alarms") if r[4] == "other"]
    assert new[7:] == ("None",) * 6


def test_expire_removes_old_alarms() -> None:
    driver, clock = make(hours_to_keep_alarm="1")
    driver.webhook(ACTIVATE)  # updated 10:00:34
    assert driver.expire(datetime(2018, 1, 22, 11, 0, 33, tzinfo=UTC)) == set()
    removed = driver.expire(datetime(2018, 1, 22, 11, 0, 34, tzinfo=UTC))
    assert len(removed) == 1 and driver.rows("alarms") == set()
    assert driver.number_of_updates == 2
    driver.webhook(ACTIVATE)
    clock.advance(hours=2)
    assert len(driver.expire()) == 1  # the injected clock by default


def test_an_unreadable_update_time_ages_from_receipt() -> None:
    driver, clock = make(hours_to_keep_alarm=0.5)
    body = copy.deepcopy(ACTIVATE)
    body["payload"]["update_timestamp"] = "yesterday"
    driver.webhook(body)
    clock.advance(minutes=29)
    assert driver.expire() == set()
    clock.advance(minutes=1)
    assert len(driver.expire()) == 1


def test_hours_to_keep_alarm() -> None:
    driver, _ = make()
    assert driver.hours_to_keep_alarm == 240
    assert driver.expire_interval == 240 * 360
    assert make(hours_to_keep_alarm=1 / 3600)[0].expire_interval == 1.0
    with pytest.raises(InvalidConfig, match="hours_to_keep_alarm"):
        VitrageDriver.validate_config({"hours_to_keep_alarm": "soon"})
    with pytest.raises(InvalidConfig, match="hours_to_keep_alarm"):
        VitrageDriver("v", {"hours_to_keep_alarm": -1})


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "must be an object with a 'payload'"),
        ({"notification": "x"}, "must be an object with a 'payload'"),
        ({"payload": {"name": "a"}}, "the payload has no vitrage_id"),
        ({"payload": {"vitrage_id": "a", "resource": "r"}}, "resource must be an object"),
    ],
)
def test_bad_notifications(payload: Any, message: str) -> None:
    driver, _ = make()
    with pytest.raises(InvalidWebhook, match=message):
        driver.webhook(payload)
    assert driver.rows("alarms") == set()


def test_parse_timestamp() -> None:
    assert parse_timestamp("2018-01-22T10:00:34Z") == datetime(2018, 1, 22, 10, 0, 34, tzinfo=UTC)
    assert parse_timestamp("2018-01-22 10:00:34.5") == datetime(
        2018, 1, 22, 10, 0, 34, 500000, tzinfo=UTC
    )
    assert parse_timestamp("None") is None and parse_timestamp(3) is None
