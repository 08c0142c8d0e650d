"""A driver whose cloud the tests control, for actions of project policies: it knows which
project owns each server (``Driver.target_project``) and records the servers it acted on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from congress.datasources.driver import Action, Driver, ExecutionMixin, PushDriver
from congress.datasources.execution import target_arg

ENDPOINTS = ("owned=project_enforcement_fakes:OwnedDriver",)


class Cloud:
    """The driver's client: servers' owners, and what was done to which server."""

    def __init__(self) -> None:
        self.owners: dict[str, str] = {}
        self.done: list[tuple[str, str]] = []
        self.asked: list[str] = []

    def owner(self, server: str) -> str | None:
        self.asked.append(server)
        return self.owners.get(server)

    def act(self, what: str, server: str) -> str:
        self.done.append((what, server))
        return f"{what} {server}"


class OwnedDriver(ExecutionMixin, PushDriver):
    """Pushed ``servers(id, status)``; actions ``servers.pause`` and ``servers.stop``."""

    DRIVER_NAME: ClassVar[str] = "owned"
    DESCRIPTION: ClassVar[str] = "A fake driver whose servers belong to projects."
    SCHEMA: ClassVar[Mapping[str, Sequence[str]]] = {"servers": ("id", "status")}
    ACTIONS: ClassVar[Mapping[str, Action]] = {
        "servers.pause": Action("Pause a server", (("server", "its id"),), "servers_pause"),
        "servers.stop": Action("Stop a server", (("server", "its id"),), "servers_stop"),
    }
    client: Cloud

    def servers_pause(self, server: Any) -> str:
        return self.client.act("pause", str(server))

    def servers_stop(self, server: Any) -> str:
        return self.client.act("stop", str(server))

    def target_project(
        self,
        action: str,
        positional: Sequence[Any] = (),
        named: Mapping[str, Any] | None = None,
    ) -> str | None:
        server = target_arg(positional, named, "server")
        return None if server is None else self.client.owner(server)


def client_factory(clouds: dict[str, Cloud]) -> Any:
    """A host client factory that makes (and keeps, by datasource name) a ``Cloud``."""

    def make(cls: type[Driver], name: str, config: Mapping[str, Any]) -> Cloud:
        clouds[name] = Cloud()
        return clouds[name]

    return make
