"""The ``doctor`` driver: events of the OPNFV Doctor inspector, pushed with PUT rows.

Imports: standard library and congress.datasources.

``PUT /v1/data-sources/<id>/tables/events/rows`` takes a JSON list of events
``{time, type, details: {hostname, status, monitor, monitor_event_id}}``; the keys of
``details`` move up beside ``time`` and ``type`` (they win a clash), other keys are ignored, a
missing key gives ``"None"``. Each push replaces the whole table, so ``[]`` clears it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from congress.datalog.ast import Row
from congress.datasources import translators as tr
from congress.datasources.driver import PushDriver, expect_list
from congress.datasources.errors import InvalidRows
from congress.datasources.translators import json_kind


def flatten_events(events: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each event with the keys of its ``details`` moved to the top level (a new dict)."""
    flat = []
    for event in events:
        merged = {k: v for k, v in event.items() if k != "details"}
        merged.update(event.get("details") or {})
        flat.append(merged)
    return flat


EVENTS = tr.HDict(
    table="events",
    objects_extract_fn=flatten_events,
    fields=[
        tr.Field("time"),
        tr.Field("type"),
        tr.Field("hostname"),
        tr.Field("status"),
        tr.Field("monitor"),
        tr.Field("monitor_event_id"),
    ],
)


class DoctorDriver(PushDriver):
    """Datasource driver for the OPNFV Doctor inspector's events."""

    DRIVER_NAME: ClassVar[str] = "doctor"
    DESCRIPTION: ClassVar[str] = "Datasource driver that accepts OPNFV Doctor inspector events."
    TRANSLATORS: ClassVar[tuple[tr.TableSpec, ...]] = (EVENTS,)

    def parse_rows(self, table: str, columns: list[str], body: Any) -> set[Row]:
        events = expect_list(body, table)
        for index, event in enumerate(events):
            if not isinstance(event, Mapping):
                raise InvalidRows(
                    f"table {table}: event {index} must be a JSON object, not {json_kind(event)}"
                )
            details = event.get("details")
            if details is not None and not isinstance(details, Mapping):
                raise InvalidRows(
                    f"table {table}: event {index}: details must be a JSON object, "
                    f"not {json_kind(details)}"
                )
        return set(tr.translate(EVENTS, events)[table])
