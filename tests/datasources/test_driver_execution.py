"""ExecutionMixin: the actions registry and dotted calls on an injected (fake) client."""

from __future__ import annotations

from typing import Any

import pytest
from ds_fakes import CREDENTIALS, FakeClient, FakePollingDriver

from congress.datasources.errors import ActionFailed, InvalidActionArguments, UnknownAction
from congress.datasources.execution import (
    Action,
    bool_arg,
    client_actions,
    int_arg,
    keys_arg,
    metadata_arg,
)


def make() -> tuple[FakePollingDriver, FakeClient]:
    client = FakeClient()
    return FakePollingDriver("nova", CREDENTIALS, client=client), client


def test_actions_body_is_sorted_with_args() -> None:
    driver, _ = make()
    results = driver.actions()["results"]
    assert [a["name"] for a in results] == sorted(a["name"] for a in results)
    assert {
        "name": "servers.pause",
        "args": [{"name": "server", "description": "the server id"}],
        "description": "Pause a server",
    } in results


def test_execute_calls_the_dotted_client_path() -> None:
    driver, client = make()
    result = driver.execute("servers.pause", ["s1"], {"reason": "maintenance"})
    assert result == "paused s1"
    assert client.servers.calls == [("pause", ("s1",), {"reason": "maintenance"})]


def test_an_unlisted_action_is_unknown_even_if_the_client_has_it() -> None:
    driver, client = make()
    with pytest.raises(UnknownAction) as e:
        driver.execute("servers.list")
    assert e.value.message == (
        "driver nova tries to execute servers.list on arguments "
        "{'positional': [], 'named': {}} but the method isn't accepted as an executable method."
    )
    assert client.servers.calls == []


@pytest.mark.parametrize("action", ["servers.missing", "servers._private", "version"])
def test_listed_actions_that_do_not_resolve_are_unknown(action: str) -> None:
    driver, client = make()
    with pytest.raises(UnknownAction, match="isn't accepted as an executable method"):
        driver.execute(action)
    assert client.servers.calls == []


def test_without_a_client_nothing_resolves() -> None:
    driver = FakePollingDriver("nova", CREDENTIALS)
    with pytest.raises(UnknownAction):
        driver.execute("servers.pause", ["s1"])


def test_a_failing_call_is_action_failed_with_the_cause() -> None:
    driver, _ = make()
    with pytest.raises(ActionFailed, match=r"but the method raised an exception: boom") as e:
        driver.execute("servers.explode")
    assert isinstance(e.value.__cause__, ValueError)
    assert e.value.http_status == 502


def test_arguments_that_do_not_fit_are_a_400_and_nothing_is_called() -> None:
    driver, client = make()
    for positional, named in (([], {"bogus": 1}), ([], {}), (["s1", "s2", "s3"], {})):
        with pytest.raises(InvalidActionArguments, match="the arguments do not fit") as e:
            driver.execute("servers.pause", positional, named)
        assert e.value.http_status == 400
    assert client.servers.calls == []


def test_a_handler_refuses_arguments_with_a_400() -> None:
    assert metadata_arg('{"a": 1}') == {"a": "1"}
    assert keys_arg("k") == ["k"] and keys_arg('["a", "b"]') == ["a", "b"]
    assert bool_arg("false", "flag") is False and int_arg(" 7 ", "n") == 7
    for bad in (
        lambda: metadata_arg("{not json"),
        lambda: metadata_arg("[1]"),
        lambda: keys_arg("[oops"),
        lambda: bool_arg("maybe", "flag"),
        lambda: int_arg("7.5", "n"),
    ):
        with pytest.raises(InvalidActionArguments):
            bad()


def test_a_handler_method_of_the_driver() -> None:
    driver, _ = make()
    assert driver.execute("set_meta", ["s1"], {"key": "k"}) == ("s1", "k")


def test_add_action_keeps_the_first_definition() -> None:
    driver, _ = make()
    driver.add_action("servers.pause", "replaced?")
    driver.add_action("servers.list", "List servers")
    driver.add_action("servers.list", "again")
    registry = driver.action_registry()
    assert registry["servers.pause"].description == "Pause a server"
    assert registry["servers.list"] == Action("List servers")
    assert driver.execute("servers.list") == []
    assert "servers.list" not in FakePollingDriver("other", CREDENTIALS).action_registry()


class Manager:
    def reboot(self, server: str, reboot_type: str = "SOFT") -> None:
        """Reboot a server.

        :param server: The server to reboot
        :param reboot_type: SOFT or HARD
        """

    def old(self) -> None:
        """DEPRECATED: use reboot."""

    def _hidden(self) -> None: ...


class Client:
    def __init__(self) -> None:
        self.servers = Manager()
        self.name = "not a method"

    def version(self) -> str:
        return "2"


Manager.__module__ = "fakeclient.v2.servers"
Client.__module__ = "fakeclient.v2.client"


def test_client_actions_walks_the_client() -> None:
    found = client_actions(Client(), "fakeclient.v2.")
    assert sorted(found) == ["client.version", "servers.reboot"]
    assert found["servers.reboot"] == Action(
        "Reboot a server.",
        (("server", "The server to reboot"), ("reboot_type", "SOFT or HARD")),
    )
    assert found["client.version"] == Action("", ())


def test_add_client_actions() -> None:
    driver, _ = make()
    driver.add_client_actions(Client(), "fakeclient.v2.")
    names: Any = {a["name"] for a in driver.actions()["results"]}
    assert {"servers.reboot", "client.version", "servers.pause"} <= names
