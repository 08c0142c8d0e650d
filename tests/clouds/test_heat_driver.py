"""The heat driver against a fake Heat over real HTTP (openstacksdk + keystoneauth1)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import fake_heat as fh
import pytest
from fakecloud import FakeCloud

from congress.datasources.errors import ActionFailed, LazyTableNotActive, PollFailed
from congress.datasources.heat import HeatV1Driver

STACKS = f"{fh.PREFIX}/stacks"
WEB = f"{STACKS}/web/{fh.WEB_ID}"
DB = f"{STACKS}/db/{fh.DB_ID}"
DEPLOYMENTS = f"{fh.PREFIX}/software_deployments"
E_WEB = fh.EVENT_IDS["web"]
E_DB = fh.EVENT_IDS["db"]


@pytest.fixture(scope="module")
def heat(cloud: FakeCloud) -> fh.FakeHeat:
    return fh.FakeHeat(cloud)


@pytest.fixture(autouse=True)
def fresh(cloud: FakeCloud, heat: fh.FakeHeat) -> Iterator[None]:
    cloud.heal()
    heat.reset()
    cloud.clear_requests()
    yield
    cloud.heal()


def make(cloud: FakeCloud, timeout: float = 5.0, **config: Any) -> HeatV1Driver:
    cfg = cloud.credentials(**config)
    return HeatV1Driver("heat", cfg, client=HeatV1Driver.build_client(cfg, timeout=timeout))


def expected(cloud: FakeCloud) -> dict[str, set[tuple[Any, ...]]]:
    web, db = cloud.url + WEB, cloud.url + DB
    created, changed = "2025-02-01T18:04:47Z", "2025-02-01T18:04:50Z"
    event_time = "2025-02-01T18:04:46Z"
    return {
        "stacks": {
            (
                fh.WEB_ID,
                "web",
                "A web server with a port",
                "2025-02-01T18:04:45Z",
                "None",
                "CREATE_COMPLETE",
                "Stack CREATE completed successfully",
                "None",
                "None",
            ),
            (
                fh.DB_ID,
                "db",
                "No description",
                "2025-02-01T18:04:45Z",
                "None",
                "CREATE_IN_PROGRESS",
                "Stack CREATE started",
                "None",
                "None",
            ),
        },
        "stacks_links": {(fh.WEB_ID, web, "self"), (fh.DB_ID, db, "self")},
        "deployments": {
            (
                "COMPLETE",
                fh.SERVER_ID,
                fh.CONFIG_ID,
                "CREATE",
                "Outputs received",
                fh.DEPLOYMENT_ID,
            ),
            (
                "IN_PROGRESS",
                fh.SERVER_ID,
                fh.CONFIG_ID,
                "CREATE",
                "Deploy data available",
                fh.PENDING_DEPLOYMENT_ID,
            ),
        },
        "deployment_output_values": {
            (
                fh.DEPLOYMENT_ID,
                "Writing to /tmp/barmy\nWritten to /tmp/barmy\n",
                "+ echo Writing to /tmp/barmy\n",
                0,
                f"The file /tmp/barmy contains fu for server {fh.SERVER_ID}",
            )
        },
        "resources": {
            (
                fh.SERVER_ID,
                "server",
                fh.WEB_ID,
                "server",
                "OS::Nova::Server",
                created,
                changed,
                "CREATE_COMPLETE",
                "state changed",
            ),
            (
                fh.PORT_ID,
                "port",
                fh.WEB_ID,
                "port",
                "OS::Neutron::Port",
                created,
                changed,
                "CREATE_COMPLETE",
                "state changed",
            ),
            (
                fh.VOLUME_ID,
                "volume",
                fh.DB_ID,
                "volume",
                "OS::Cinder::Volume",
                created,
                changed,
                "CREATE_IN_PROGRESS",
                "state changed",
            ),
            (
                "",
                "attachment",
                fh.DB_ID,
                "attachment",
                "OS::Cinder::VolumeAttachment",
                created,
                changed,
                "INIT_COMPLETE",
                "state changed",
            ),
        },
        "resources_links": {
            (fh.SERVER_ID, f"{web}/resources/server", "self"),
            (fh.SERVER_ID, web, "stack"),
            (fh.PORT_ID, f"{web}/resources/port", "self"),
            (fh.PORT_ID, web, "stack"),
            (fh.VOLUME_ID, f"{db}/resources/volume", "self"),
            (fh.VOLUME_ID, db, "stack"),
            ("", f"{db}/resources/attachment", "self"),
            ("", db, "stack"),
        },
        "events": {
            (
                E_WEB[0],
                fh.WEB_ID,
                "web",
                fh.WEB_ID,
                "web",
                event_time,
                "CREATE_IN_PROGRESS",
                "Stack CREATE started",
            ),
            (
                E_WEB[1],
                fh.SERVER_ID,
                "server",
                fh.WEB_ID,
                "server",
                event_time,
                "CREATE_COMPLETE",
                "state changed",
            ),
            (
                E_WEB[2],
                fh.WEB_ID,
                "web",
                fh.WEB_ID,
                "web",
                event_time,
                "CREATE_COMPLETE",
                "state changed",
            ),
            (
                E_DB[0],
                fh.DB_ID,
                "db",
                fh.DB_ID,
                "db",
                event_time,
                "CREATE_IN_PROGRESS",
                "Stack CREATE started",
            ),
        },
        "events_links": {
            (E_WEB[0], f"{web}/resources/web/events/{E_WEB[0]}", "self"),
            (E_WEB[0], f"{web}/resources/web", "resource"),
            (E_WEB[0], web, "stack"),
            (E_WEB[1], f"{web}/resources/server/events/{E_WEB[1]}", "self"),
            (E_WEB[1], f"{web}/resources/server", "resource"),
            (E_WEB[1], web, "stack"),
            (E_WEB[2], f"{web}/resources/web/events/{E_WEB[2]}", "self"),
            (E_WEB[2], f"{web}/resources/web", "resource"),
            (E_WEB[2], web, "stack"),
            (E_DB[0], f"{db}/resources/db/events/{E_DB[0]}", "self"),
            (E_DB[0], f"{db}/resources/db", "resource"),
            (E_DB[0], db, "stack"),
        },
    }


# -- declaration --------------------------------------------------------------------------------
def test_schema_is_the_originals() -> None:
    schema = {t: [c.name for c in cols] for t, cols in HeatV1Driver.schema().items()}
    links = ["parent_key", "href", "rel"]
    assert schema == {
        "stacks": [
            "id",
            "stack_name",
            "description",
            "creation_time",
            "updated_time",
            "stack_status",
            "stack_status_reason",
            "stack_owner",
            "parent",
        ],
        "stacks_links": links,
        "deployments": ["status", "server_id", "config_id", "action", "status_reason", "id"],
        "deployment_output_values": [
            "parent_key",
            "deploy_stdout",
            "deploy_stderr",
            "deploy_status_code",
            "result",
        ],
        "resources": [
            "physical_resource_id",
            "logical_resource_id",
            "stack_id",
            "resource_name",
            "resource_type",
            "creation_time",
            "updated_time",
            "resource_status",
            "resource_status_reason",
        ],
        "resources_links": links,
        "events": [
            "id",
            "physical_resource_id",
            "logical_resource_id",
            "stack_id",
            "resource_name",
            "event_time",
            "resource_status",
            "resource_status_reason",
        ],
        "events_links": links,
    }
    assert HeatV1Driver.root_tables({}) == ["stacks", "deployments", "resources", "events"]


def test_info() -> None:
    info = HeatV1Driver.info()
    assert info["id"] == "heat"
    assert info["secret"] == ["password"]
    assert "lazy_tables" in info["config"]


# -- polling ------------------------------------------------------------------------------------
def test_poll_reads_stacks_their_resources_and_events_and_deployments(cloud: FakeCloud) -> None:
    driver = make(cloud)
    assert driver.poll() == expected(cloud)
    assert driver.last_error is None
    # the list once (shared by three tables), then resources and events per stack
    assert [r.path for r in cloud.requests_to(STACKS, "GET")] == [
        STACKS,
        f"{WEB}/resources",
        f"{DB}/resources",
        f"{WEB}/events",
        f"{DB}/events",
    ]
    assert len(cloud.requests_to(DEPLOYMENTS, "GET")) == 1


def test_an_unchanged_poll_keeps_the_tables_and_a_change_touches_only_its_rows(
    cloud: FakeCloud, heat: fh.FakeHeat
) -> None:
    driver = make(cloud)
    first = driver.poll()
    assert driver.poll() == first
    volume = heat.resources[fh.DB_ID][0]
    volume["resource_status"] = "CREATE_COMPLETE"
    third = driver.poll()
    old = {r for r in first["resources"] if r[0] == fh.VOLUME_ID}
    new = {r for r in third["resources"] if r[0] == fh.VOLUME_ID}
    assert first["resources"] - third["resources"] == old
    assert third["resources"] - first["resources"] == new
    assert {r[7] for r in new} == {"CREATE_COMPLETE"}
    assert {t: r for t, r in third.items() if t != "resources"} == {
        t: r for t, r in first.items() if t != "resources"
    }


def test_a_new_stack_brings_its_resources_and_events(cloud: FakeCloud, heat: fh.FakeHeat) -> None:
    driver = make(cloud)
    first = driver.poll()
    heat.stacks.append(heat.stack("empty", "0e0e0e0e-0000-4000-8000-000000000000", "", "X"))
    second = driver.poll()
    assert len(second["stacks"] - first["stacks"]) == 1
    assert second["resources"] == first["resources"]
    assert cloud.requests_to(f"{STACKS}/empty/0e0e0e0e-0000-4000-8000-000000000000/events")


def test_lazy_tables_are_not_fetched_until_activated(cloud: FakeCloud) -> None:
    driver = make(cloud, lazy_tables=["events", "deployments"])
    tables = driver.poll()
    assert set(tables) == {"stacks", "stacks_links", "resources", "resources_links"}
    assert cloud.requests_to(DEPLOYMENTS) == []
    assert cloud.requests_to(f"{WEB}/events") == []
    assert len(cloud.requests_to(STACKS, "GET")) == 3  # one stack list for both roots
    with pytest.raises(LazyTableNotActive):
        driver.rows("events_links")
    assert driver.activate("events_links") is True
    tables = driver.poll()
    assert tables["events_links"] == expected(cloud)["events_links"]
    assert "deployments" not in tables
    assert cloud.requests_to(DEPLOYMENTS) == []


# -- failures -----------------------------------------------------------------------------------
def assert_recovers(cloud: FakeCloud, driver: HeatV1Driver) -> None:
    cloud.heal()
    assert driver.poll() == expected(cloud)
    assert driver.last_error is None


def test_a_failing_stack_list_keeps_the_last_rows_and_is_asked_once(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    cloud.clear_requests()
    cloud.fail(500, prefix=STACKS)
    assert driver.poll() == expected(cloud)
    error = str(driver.last_error)
    assert isinstance(driver.last_error, PollFailed)
    # the three tables read from the stack list fail for one reason: one clause
    assert error.startswith("polling stacks, resources, events failed: HTTP 500 from GET ")
    assert "polling deployments" not in error and "deployments" not in error
    assert "GET /stacks: " not in error
    assert len(cloud.requests_to(STACKS)) == 1
    assert_recovers(cloud, driver)


def test_a_failing_events_list_keeps_only_the_events(cloud: FakeCloud, heat: fh.FakeHeat) -> None:
    driver = make(cloud)
    driver.poll()
    heat.stacks[0]["stack_status"] = "UPDATE_COMPLETE"
    cloud.fail(502, prefix=f"{DB}/events")
    tables = driver.poll()
    assert str(driver.last_error).startswith("polling events failed")
    assert tables["events"] == expected(cloud)["events"]
    assert ("UPDATE_COMPLETE", fh.WEB_ID) in {(r[5], r[0]) for r in tables["stacks"]}


def test_a_stack_deleted_since_the_list_is_skipped(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    cloud.fail(404, prefix=f"{DB}/")  # db's resources and events are gone
    tables = driver.poll()
    assert driver.last_error is None
    assert {r[2] for r in tables["resources"]} == {fh.WEB_ID}
    assert {r[3] for r in tables["events"]} == {fh.WEB_ID}
    assert {r[0] for r in tables["resources_links"]} == {fh.SERVER_ID, fh.PORT_ID}


def test_malformed_json_keeps_the_last_rows(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    cloud.fail(body=b'{"software_deployments": [{', prefix=DEPLOYMENTS)
    assert driver.poll() == expected(cloud)
    assert "polling deployments failed" in str(driver.last_error)
    assert "not JSON" in str(driver.last_error)
    assert_recovers(cloud, driver)


def test_refused_authentication_keeps_the_last_rows(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    cloud.fail(401, prefix=fh.PREFIX)
    cloud.refuse_auth = True
    assert driver.poll() == expected(cloud)
    assert "authentication refused by Keystone" in str(driver.last_error)
    assert_recovers(cloud, driver)


def test_a_timeout_keeps_the_last_rows(cloud: FakeCloud) -> None:
    driver = make(cloud, timeout=0.3)
    driver.poll()
    cloud.fail(delay=1.0, prefix=DEPLOYMENTS)
    started = time.monotonic()
    assert driver.poll() == expected(cloud)
    assert time.monotonic() - started < 1.0
    assert "polling deployments failed" in str(driver.last_error)
    assert "timed out" in str(driver.last_error)
    assert_recovers(cloud, driver)


# -- actions ------------------------------------------------------------------------------------
def test_the_actions_route_lists_the_actions() -> None:
    config = {"auth_url": "http://k/v3", "username": "u", "password": "p", "project_name": "p"}
    listed = {
        a["name"]: [x["name"] for x in a["args"]]
        for a in HeatV1Driver("heat", config).actions()["results"]
    }
    assert listed == {
        "stacks.delete": ["stack_id"],
        "actions.suspend": ["stack_id"],
        "actions.resume": ["stack_id"],
        "actions.check": ["stack_id"],
        "actions.cancel_update": ["stack_id"],
    }


@pytest.mark.parametrize("stack", [fh.WEB_ID, "web", f"web/{fh.WEB_ID}"])
def test_stacks_delete_finds_the_stack_by_id_or_name(cloud: FakeCloud, stack: str) -> None:
    driver = make(cloud)
    driver.execute("stacks.delete", [stack])
    (sent,) = cloud.requests_to(STACKS, "DELETE")
    assert sent.path == WEB
    assert sent.body is None


@pytest.mark.parametrize("verb", ["suspend", "resume", "check", "cancel_update"])
def test_a_stack_action_posts_its_verb(cloud: FakeCloud, heat: fh.FakeHeat, verb: str) -> None:
    driver = make(cloud)
    driver.execute(f"actions.{verb}", ["db"])
    (sent,) = cloud.requests_to(STACKS, "POST")
    assert sent.path == f"{DB}/actions"
    assert sent.body == {verb: None}
    assert heat.stacks[1]["stack_status"] == f"{verb.upper()}_IN_PROGRESS"


def test_an_action_on_a_missing_stack_fails(cloud: FakeCloud) -> None:
    driver = make(cloud)
    with pytest.raises(ActionFailed) as caught:
        driver.execute("actions.suspend", ["nope"])
    assert "HTTP 404" in str(caught.value.__cause__)
    assert cloud.requests_to(STACKS, "POST") == []
