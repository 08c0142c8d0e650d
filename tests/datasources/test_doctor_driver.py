"""The doctor driver: the original's event shape pushed into table events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from congress.datasources.doctor import DoctorDriver
from congress.datasources.errors import InvalidRows, UnknownTable


def events(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"0123-{i}",
            "time": f"time{i}",
            "type": f"type{i}",
            "details": {
                "hostname": f"hostname{i}",
                "status": f"status{i}",
                "monitor": f"monitor{i}",
                "monitor_event_id": f"event_id{i}",
            },
        }
        for i in range(n)
    ]


def test_schema_is_the_originals() -> None:
    assert [c.name for c in DoctorDriver.schema()["events"]] == [
        "time",
        "type",
        "hostname",
        "status",
        "monitor",
        "monitor_event_id",
    ]
    assert list(DoctorDriver.schema()) == ["events"]


def test_events_table() -> None:
    driver = DoctorDriver("doctor")
    body = events(3)
    before = json.dumps(body)
    rows = driver.replace_table("events", body)
    assert json.dumps(body) == before  # the pushed body is not modified
    assert sorted(rows) == [
        (f"time{i}", f"type{i}", f"hostname{i}", f"status{i}", f"monitor{i}", f"event_id{i}")
        for i in range(3)
    ]
    assert driver.rows("events") == rows


def test_missing_values_and_details() -> None:
    driver = DoctorDriver("doctor")
    rows = driver.replace_table("events", [{"time": "t"}, {"details": {"status": "down"}}])
    assert rows == {
        ("t", "None", "None", "None", "None", "None"),
        ("None", "None", "None", "down", "None", "None"),
    }


def test_an_empty_list_clears_the_table() -> None:
    driver = DoctorDriver("doctor")
    driver.replace_table("events", events(2))
    driver.replace_table("events", [])
    assert driver.tables() == {"events": set()}
    assert driver.number_of_updates == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"time": "t"}, "the rows must be a JSON list, not an object"),
        (["t"], "event 0 must be a JSON object, not a string"),
        (
            [{"time": "t"}, {"details": ["x"]}],
            "event 1: details must be a JSON object, not an array",
        ),
    ],
)
def test_bad_bodies(body: Any, message: str) -> None:
    with pytest.raises(InvalidRows, match=message):
        DoctorDriver("doctor").replace_table("events", body)


def test_only_the_events_table() -> None:
    with pytest.raises(UnknownTable):
        DoctorDriver("doctor").replace_table("alarms", [])
