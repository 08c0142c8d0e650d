"""Fakes for the datasource host tests: a polling driver with actions and its client. The tests
register the driver through a custom loader entry (``fake=test_datasource_host_fakes:...``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from congress.datasources import translators as tr
from congress.datasources.driver import Driver, ExecutionMixin, PollingDriver
from congress.datasources.execution import Action
from congress.datasources.options import OPENSTACK_OPTIONS, Option

ENDPOINTS = ("fake=test_datasource_host_fakes:FakePollingDriver",)


class FakeServers:
    def __init__(self) -> None:
        self.data: list[dict[str, Any]] = []
        self.lists = 0
        self.paused: list[str] = []

    def list(self) -> list[dict[str, Any]]:
        self.lists += 1
        return list(self.data)

    def pause(self, server: str) -> None:
        self.paused.append(server)

    def explode(self, server: str) -> None:
        raise RuntimeError(f"cannot touch {server}")


class FakeClient:
    """What the host's client factory hands the fake driver; records the config it got."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)
        self.servers = FakeServers()


SERVERS = tr.HDict(
    table="servers",
    fields=[tr.Field("id"), tr.Field("name"), tr.Field("status")],
)
FLAVORS = tr.HDict(table="flavors", fields=[tr.Field("id"), tr.Field("ram")])


class FakePollingDriver(ExecutionMixin, PollingDriver):
    """A fake OpenStack-like polling driver."""

    DRIVER_NAME: ClassVar[str] = "fake"
    DESCRIPTION: ClassVar[str] = "A fake polling driver."
    CONFIG: ClassVar[Mapping[str, Option]] = {**OPENSTACK_OPTIONS, "lazy_tables": Option()}
    TRANSLATORS: ClassVar[tuple[tr.TableSpec, ...]] = (SERVERS, FLAVORS)
    FETCH: ClassVar[Mapping[str, str]] = {"servers": "servers.list"}
    ACTIONS: ClassVar[Mapping[str, Action]] = {
        "servers.pause": Action("Pause a server", (("server", "the server id"),)),
        "servers.explode": Action("Always fails", (("server", "the server id"),)),
        "refresh_after": Action("Does nothing, then asks for a poll", (), "refresh_after"),
    }

    def refresh_after(self) -> None:
        self.request_refresh()  # as a driver does to show an action's effect soon

    def fetch(self, root: str) -> Any:
        if root == "flavors":
            return [{"id": "small", "ram": 512}]
        return super().fetch(root)


def client_factory(clients: dict[str, FakeClient]) -> Any:
    """A host client factory that makes (and keeps, by datasource name) a ``FakeClient``."""

    def make(cls: type[Driver], name: str, config: Mapping[str, Any]) -> FakeClient:
        clients[name] = FakeClient(config)
        return clients[name]

    return make
