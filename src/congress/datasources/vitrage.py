"""The ``vitrage`` driver: Vitrage alarms, pushed by Vitrage's webhook notifier.

Imports: standard library and congress.datasources.

``POST /v1/data-sources/<id>/webhook`` takes ``{"notification": "vitrage.alarm.activate" |
"vitrage.alarm.deactivate", "payload": <alarm>}``. As the original, whatever the notification,
the alarm replaces any row with the same ``vitrage_id`` (a deactivated alarm stays, with its new
state, until it expires). The keys of the alarm's ``resource`` object become ``resource_<key>``;
``receive_timestamp`` is the injected clock's UTC time. ``expire(now)`` removes alarms whose
``update_timestamp`` is at least ``hours_to_keep_alarm`` hours old; the host calls it every
``expire_interval`` seconds (a tenth of that age, at least one second). An alarm whose
``update_timestamp`` cannot be read ages from its ``receive_timestamp``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from congress.datalog.ast import Row
from congress.datasources import options as opts
from congress.datasources import translators as tr
from congress.datasources.driver import PushDriver
from congress.datasources.errors import InvalidWebhook
from congress.datasources.options import Option

LOG = logging.getLogger(__name__)

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DEFAULT_HOURS_TO_KEEP_ALARM = 240
VITRAGE_ID = 4  # column positions in ALARMS
UPDATE_TIMESTAMP = 5
RECEIVE_TIMESTAMP = 6

ALARMS = tr.HDict(
    table="alarms",
    fields=[
        tr.Field("name"),
        tr.Field("state"),
        tr.Field("vitrage_type", col="type"),
        tr.Field("vitrage_operational_severity", col="operational_severity"),
        tr.Field("vitrage_id"),
        tr.Field("update_timestamp"),
        tr.Field("receive_timestamp"),
        tr.Field("resource_name"),
        tr.Field("resource_id"),
        tr.Field("resource_vitrage_id"),
        tr.Field("resource_project_id"),
        tr.Field("resource_vitrage_operational_state", col="resource_operational_state"),
        tr.Field("resource_vitrage_type", col="resource_type"),
    ],
)


def parse_timestamp(text: Any) -> datetime | None:
    """A UTC time from Vitrage's ``%Y-%m-%dT%H:%M:%SZ`` or another ISO form; None if neither."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class VitrageDriver(PushDriver):
    """Datasource driver that accepts Vitrage webhook alarm notifications."""

    DRIVER_NAME: ClassVar[str] = "vitrage"
    DESCRIPTION: ClassVar[str] = (
        "Datasource driver that accepts Vitrage webhook alarm notifications."
    )
    CONFIG: ClassVar[Mapping[str, Option]] = {
        "persist_data": opts.PERSIST_DATA,
        "hours_to_keep_alarm": Option(
            description=f"hours an alarm is kept after its last update "
            f"(default {DEFAULT_HOURS_TO_KEEP_ALARM})"
        ),
    }
    TRANSLATORS: ClassVar[tuple[tr.TableSpec, ...]] = (ALARMS,)

    def configure(self) -> None:
        super().configure()
        self.hours_to_keep_alarm = opts.number(
            self.config.get("hours_to_keep_alarm", DEFAULT_HOURS_TO_KEEP_ALARM),
            "hours_to_keep_alarm",
        )
        LOG.warning("The vitrage driver is experimental: its schema is unstable.")

    @classmethod
    def check_options(cls, config: Mapping[str, Any], datasource: str) -> None:
        super().check_options(config, datasource)
        value = config.get("hours_to_keep_alarm", DEFAULT_HOURS_TO_KEEP_ALARM)
        opts.number(value, "hours_to_keep_alarm")

    @property
    def expire_interval(self) -> float:
        """Seconds between calls of ``expire`` (the original's period)."""
        return max(self.hours_to_keep_alarm * 3600 / 10, 1.0)

    def webhook(self, payload: Any) -> list[str]:
        alarm = self._flatten(payload)
        row = tr.translate(ALARMS, [alarm])["alarms"][0]
        kept = {r for r in self._state.get("alarms", ()) if r[VITRAGE_ID] != row[VITRAGE_ID]}
        self._state["alarms"] = kept | {row}
        self._record_update()
        return ["alarms"]

    def expire(self, now: datetime | None = None) -> set[Row]:
        """Remove the alarms at least ``hours_to_keep_alarm`` hours old; returns them."""
        now = _utc(now or self.clock())
        limit = timedelta(hours=self.hours_to_keep_alarm)
        rows = self._state.get("alarms", set())
        old = {r for r in rows if (t := self._age_from(r)) is not None and now - t >= limit}
        if old:
            self._state["alarms"] = rows - old
            self._record_update()
        return old

    def _flatten(self, payload: Any) -> dict[str, Any]:
        body = payload.get("payload") if isinstance(payload, Mapping) else None
        if not isinstance(body, Mapping):
            raise InvalidWebhook("vitrage webhook: the body must be an object with a 'payload'")
        if body.get("vitrage_id") is None:
            raise InvalidWebhook("vitrage webhook: the payload has no vitrage_id")
        resource = body.get("resource") or {}
        if not isinstance(resource, Mapping):
            raise InvalidWebhook("vitrage webhook: the payload's resource must be an object")
        alarm = {k: v for k, v in body.items() if k != "resource"}
        alarm.update({f"resource_{k}": v for k, v in resource.items()})
        alarm["receive_timestamp"] = _utc(self.clock()).strftime(TIMESTAMP_FORMAT)
        return alarm

    @staticmethod
    def _age_from(row: Row) -> datetime | None:
        updated = parse_timestamp(row[UPDATE_TIMESTAMP])
        return updated if updated is not None else parse_timestamp(row[RECEIVE_TIMESTAMP])


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
