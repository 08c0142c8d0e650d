"""Fakes for the datasource SDK tests: clients, a clock and small drivers (never registered as
production entry points; the loader tests point entry points made in the tests at them)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from congress.datasources import translators as tr
from congress.datasources.driver import Driver, ExecutionMixin, PollingDriver
from congress.datasources.execution import Action
from congress.datasources.options import OPENSTACK_OPTIONS, Option


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2018, 1, 22, 10, 0, 34, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class FakeServers:
    """A client manager that records what it was asked to do."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.data: list[dict[str, Any]] = []
        self.fail_list = False

    def list(self) -> list[dict[str, Any]]:
        if self.fail_list:
            raise RuntimeError("service unavailable")
        return self.data

    def pause(self, server: str, *, reason: str = "") -> str:
        self.calls.append(("pause", (server,), {"reason": reason}))
        return f"paused {server}"

    def explode(self) -> None:
        raise ValueError("boom")

    def _private(self) -> None:
        self.calls.append(("_private", (), {}))


class FakeClient:
    def __init__(self) -> None:
        self.servers = FakeServers()
        self.flavors: list[dict[str, Any]] = []
        self.version = "2.1"  # not callable


SERVERS = tr.HDict(
    table="servers",
    fields=[
        tr.Field("id"),
        tr.Field("name"),
        tr.Field("tags", tr.ListSpec("server_tags", "tag", parent_key="id")),
    ],
)
FLAVORS = tr.HDict(table="flavors", fields=[tr.Field("id"), tr.Field("ram")])


class FakePollingDriver(ExecutionMixin, PollingDriver):
    """An OpenStack-like polling driver with actions."""

    DRIVER_NAME: ClassVar[str] = "fake_polling"
    DESCRIPTION: ClassVar[str] = "A fake polling driver."
    CONFIG: ClassVar[Mapping[str, Option]] = {**OPENSTACK_OPTIONS, "lazy_tables": Option()}
    TRANSLATORS: ClassVar[tuple[tr.TableSpec, ...]] = (SERVERS, FLAVORS)
    FETCH: ClassVar[Mapping[str, str]] = {"servers": "servers.list"}
    ACTIONS: ClassVar[Mapping[str, Action]] = {
        "servers.pause": Action("Pause a server", (("server", "the server id"),)),
        "servers.explode": Action("Fails"),
        "servers.missing": Action("Listed but not on the client"),
        "servers._private": Action("Never reachable"),
        "version": Action("Not callable"),
        "set_meta": Action("A wrapper method", (("server", ""), ("key", "")), handler="set_meta"),
    }

    def fetch(self, root: str) -> Any:
        if root == "flavors":
            return self.client.flavors
        return super().fetch(root)

    def set_meta(self, server: str, key: str) -> tuple[str, str]:
        return (server, key)


CREDENTIALS = {
    "auth_url": "http://keystone:5000/v3",
    "username": "admin",
    "password": "secret",
    "project_name": "admin",
}


class FakeDriver(Driver):
    DRIVER_NAME: ClassVar[str] = "fake"
    DESCRIPTION: ClassVar[str] = "A fake driver."
    SCHEMA: ClassVar[Mapping[str, tuple[str, ...]]] = {"fake_table": ("id", "name")}


class OtherDriver(Driver):
    DRIVER_NAME: ClassVar[str] = "other"
    SCHEMA: ClassVar[Mapping[str, tuple[str, ...]]] = {"other_table": ("id",)}


class NotADriver:
    pass
