"""The cinder driver against a fake Cinder over real HTTP, through openstacksdk and keystoneauth."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import fake_cinder
import pytest
from fake_cinder import VOLUME_PREFIX, CinderFake
from fake_nova import server_id
from fakecloud import FakeCloud

from congress.datasources.cinder import CinderDriver
from congress.datasources.errors import (
    ActionFailed,
    InvalidActionArguments,
    InvalidDriverOptions,
    LazyTableNotActive,
    UnknownAction,
)

V = [fake_cinder.volume_id(i) for i in range(4)]
SNAP = [fake_cinder.snapshot_id(i) for i in range(2)]
ATT = [fake_cinder.attachment_id(i) for i in range(4)]
USER = fake_cinder.USER
CG = fake_cinder.CONSISTENCY_GROUP

VOLUME_ROWS = {
    (V[0], 1, USER, "available", "None", "vol-0", "false", "2024-03-01T10:00:00.000000",
     "lvmdriver-1", "False", "nova", "disabled", "False", "None", "None", "None", "None"),
    (V[1], 10, USER, "in-use", "root disk of vm-1", "vol-1", "true",
     "2024-03-02T10:00:00.000000", "lvmdriver-1", "False", "nova", "disabled", "False", "None",
     "None", CG, "None"),
    (V[2], 20, USER, "in-use", "None", "vol-2", "false", "2024-03-03T10:00:00.000000", "luks",
     "True", "nova", "disabled", "True", "None", V[0], "None", "None"),
    (V[3], 1, USER, "error", "None", "", "false", "2024-03-04T10:00:00.000000", "lvmdriver-1",
     "False", "nova", "disabled", "False", SNAP[0], "None", "None", "error"),
}  # fmt: skip
ATTACHMENT_ROWS = {
    (V[1], server_id(1), ATT[1], "None", "/dev/vda"),
    (V[2], server_id(3), ATT[2], "None", "/dev/vdb"),
    (V[2], server_id(4), ATT[3], "None", "/dev/vdc"),
}
SNAPSHOT_ROWS = {
    (SNAP[0], 1, "available", V[0], "snap-0", "2024-03-10T12:00:00.000000"),
    (SNAP[1], 20, "creating", V[2], "snap-1", "2024-03-11T12:00:00.000000"),
}
SERVICE_ROWS = {
    ("enabled", "cinder-scheduler", "nova", "up", "2024-03-01T10:00:00.000000", "controller",
     "None"),
    ("enabled", "cinder-volume", "nova", "up", "2024-03-01T10:00:03.000000",
     "controller@lvmdriver-1", "None"),
    ("disabled", "cinder-backup", "az-2", "down", "2024-02-28T08:00:00.000000", "controller",
     "maintenance"),
}  # fmt: skip
EXPECTED = {
    "volumes": VOLUME_ROWS,
    "attachments": ATTACHMENT_ROWS,
    "snapshots": SNAPSHOT_ROWS,
    "services": SERVICE_ROWS,
}


@pytest.fixture(scope="module")
def module_fake(cloud: FakeCloud) -> CinderFake:
    return CinderFake(cloud, page_size=3)


@pytest.fixture
def fake(cloud: FakeCloud, module_fake: CinderFake) -> CinderFake:
    cloud.heal()
    module_fake.reset()
    cloud.clear_requests()
    return module_fake


def make_driver(cloud: FakeCloud, timeout: float = 5.0, **options: Any) -> CinderDriver:
    config = cloud.credentials(**options)
    return CinderDriver("cinder", config, client=CinderDriver.build_client(config, timeout=timeout))


@pytest.fixture
def driver(cloud: FakeCloud, fake: CinderFake) -> CinderDriver:
    return make_driver(cloud)


# -- declaration ---------------------------------------------------------------------------------


def test_schema_has_the_original_tables_and_columns() -> None:
    columns = {t: [c.name for c in cols] for t, cols in CinderDriver.schema().items()}
    assert columns == {
        "volumes": ["id", "size", "user_id", "status", "description", "name", "bootable",
                    "created_at", "volume_type", "encrypted", "availability_zone",
                    "replication_status", "multiattach", "snapshot_id", "source_volid",
                    "consistencygroup_id", "migration_status"],
        "attachments": ["volume_id", "server_id", "attachment_id", "host_name", "device"],
        "snapshots": ["id", "size", "status", "volume_id", "name", "created_at"],
        "services": ["status", "binary", "zone", "state", "updated_at", "host",
                     "disabled_reason"],
    }  # fmt: skip


def test_info_lists_the_original_options() -> None:
    info = CinderDriver.info()
    required = {k for k, v in info["config"].items() if v == "required"}
    optional = {k for k, v in info["config"].items() if v == "(optional)"}
    assert required == {"auth_url", "username", "password", "project_name"}
    assert optional == {
        "endpoint", "region", "user_domain_name", "project_domain_name", "tenant_name",
        "poll_time", "lazy_tables",
    }  # fmt: skip
    assert info["secret"] == ["password"]


def test_entry_point_cinder_is_the_driver() -> None:
    (entry,) = metadata.entry_points(group="congress.datasource.drivers", name="cinder")
    assert entry.load() is CinderDriver


def test_api_version_is_not_a_cinder_option(cloud: FakeCloud) -> None:
    with pytest.raises(InvalidDriverOptions, match="api_version"):
        CinderDriver.validate_config(cloud.credentials(api_version="3.0"))


# -- polling -------------------------------------------------------------------------------------


def test_poll_fills_every_table_with_exact_rows(driver: CinderDriver) -> None:
    tables = driver.poll()
    assert driver.last_error is None
    assert tables == EXPECTED


def test_volumes_and_snapshots_are_read_for_all_tenants_page_by_page(
    cloud: FakeCloud, driver: CinderDriver
) -> None:
    driver.poll()
    pages = cloud.requests_to(VOLUME_PREFIX + "/volumes/detail", "GET")
    assert [r.query.get("all_tenants") for r in pages] == [["1"], ["1"]]
    assert [r.query.get("marker") for r in pages] == [None, [V[2]]]
    (snapshots,) = cloud.requests_to(VOLUME_PREFIX + "/snapshots/detail", "GET")
    assert snapshots.query == {"all_tenants": ["1"]}
    assert len(cloud.requests_to(VOLUME_PREFIX + "/os-services", "GET")) == 1


@pytest.mark.parametrize("catalog_type", ["volumev3", "volume"])
def test_a_catalog_entry_of_an_alias_type_is_found(catalog_type: str) -> None:
    with FakeCloud() as other:
        CinderFake(other, service_type=catalog_type)
        driver = make_driver(other)
        assert driver.poll() == EXPECTED
        assert driver.last_error is None


def test_endpoint_option_overrides_the_catalog(fake: CinderFake) -> None:
    with FakeCloud() as other:
        other.add_service("block-storage", "cinderv3", "/nowhere/v3")  # a wrong catalog URL
        driver = make_driver(other, endpoint=fake.endpoint)
        assert driver.poll() == EXPECTED
        assert other.requests_to("/nowhere") == []


def test_second_poll_with_nothing_changed_gives_identical_tables(driver: CinderDriver) -> None:
    first = driver.poll()
    second = driver.poll()
    assert second == first == EXPECTED
    assert driver.number_of_updates == 2


def test_a_changed_volume_changes_only_its_rows(fake: CinderFake, driver: CinderDriver) -> None:
    before = driver.poll()
    volume = fake.volumes[2]
    volume["status"] = "available"
    volume["attachments"] = volume["attachments"][:1]
    after = driver.poll()
    assert after["volumes"] - before["volumes"] == {
        (V[2], 20, USER, "available", "None", "vol-2", "false", "2024-03-03T10:00:00.000000",
         "luks", "True", "nova", "disabled", "True", "None", V[0], "None", "None"),
    }  # fmt: skip
    assert before["volumes"] - after["volumes"] == {r for r in VOLUME_ROWS if r[0] == V[2]}
    assert after["attachments"] == ATTACHMENT_ROWS - {(V[2], server_id(4), ATT[3], "None",
                                                       "/dev/vdc")}  # fmt: skip
    assert after["snapshots"] == before["snapshots"]
    assert after["services"] == before["services"]


def test_lazy_tables_are_fetched_only_once_activated(cloud: FakeCloud, fake: CinderFake) -> None:
    driver = make_driver(cloud, lazy_tables=["snapshots"])
    tables = driver.poll()
    assert "snapshots" not in tables
    assert tables["volumes"] == VOLUME_ROWS
    assert cloud.requests_to(VOLUME_PREFIX + "/snapshots") == []
    with pytest.raises(LazyTableNotActive):
        driver.rows("snapshots")

    assert driver.activate("snapshots") is True
    assert driver.poll()["snapshots"] == SNAPSHOT_ROWS
    assert len(cloud.requests_to(VOLUME_PREFIX + "/snapshots/detail", "GET")) == 1


# -- failures ------------------------------------------------------------------------------------


def _break_500(cloud: FakeCloud) -> str:
    cloud.fail(500, prefix=VOLUME_PREFIX + "/volumes/detail")
    return "HTTP 500"


def _break_json(cloud: FakeCloud) -> str:
    cloud.fail(body=b"<html>502 Bad Gateway</html>", prefix=VOLUME_PREFIX + "/volumes/detail")
    return "not JSON"


def _break_shape(cloud: FakeCloud) -> str:
    cloud.fail(body=b'{"volumes": {"id": "x"}}', prefix=VOLUME_PREFIX + "/volumes/detail")
    return "no list 'volumes'"


def _break_auth(cloud: FakeCloud) -> str:
    cloud.refuse_auth = True
    cloud.fail(401, prefix=VOLUME_PREFIX)
    return "authentication refused by Keystone"


def _break_timeout(cloud: FakeCloud) -> str:
    cloud.fail(delay=1.0, prefix=VOLUME_PREFIX + "/volumes/detail")
    return "timed out"


@pytest.mark.parametrize(
    "breaker", [_break_500, _break_json, _break_shape, _break_auth, _break_timeout]
)
def test_failing_service_keeps_last_rows_and_the_next_good_poll_clears_the_error(
    cloud: FakeCloud, fake: CinderFake, breaker: Any
) -> None:
    driver = make_driver(cloud, timeout=0.3)
    assert driver.poll() == EXPECTED and driver.last_error is None

    fake.volumes[0]["status"] = "deleting"  # not seen while the service fails
    expected_text = breaker(cloud)
    tokens, asked = cloud.tokens_issued, len(cloud.requests_to("/identity/v3/auth/tokens"))
    assert driver.poll() == EXPECTED
    assert driver.last_error is not None
    assert expected_text in str(driver.last_error)
    assert driver.status()["consecutive_failures"] == "1"
    if breaker is _break_auth:  # the client did ask Keystone again, and was refused
        assert len(cloud.requests_to("/identity/v3/auth/tokens")) > asked
        assert cloud.tokens_issued == tokens

    cloud.heal()
    healed = driver.poll()
    assert driver.last_error is None
    assert {r[3] for r in healed["volumes"] if r[0] == V[0]} == {"deleting"}


# -- actions -------------------------------------------------------------------------------------

VOLUME_ACTION_CASES = [
    ("volumes.extend", [V[0], "5"], {}, {"os-extend": {"new_size": 5}}),
    ("volumes.extend", [V[0]], {"new_size": 8}, {"os-extend": {"new_size": 8}}),
    ("volumes.set_bootable", [V[0], "True"], {}, {"os-set_bootable": {"bootable": True}}),
    ("volumes.set_bootable", [V[1], False], {}, {"os-set_bootable": {"bootable": False}}),
    ("volumes.reset_state", [V[3], "available"], {}, {"os-reset_status": {"status": "available"}}),
    (
        "volumes.reset_state",
        [V[1], "available"],
        {"attach_status": "detached"},
        {"os-reset_status": {"status": "available", "attach_status": "detached"}},
    ),
    ("volumes.detach", [V[1], ATT[1]], {}, {"os-detach": {"attachment_id": ATT[1]}}),
]


@pytest.mark.parametrize(("action", "positional", "named", "body"), VOLUME_ACTION_CASES)
def test_volume_action_posts_the_block_storage_api_action(
    cloud: FakeCloud,
    driver: CinderDriver,
    action: str,
    positional: list[Any],
    named: dict[str, Any],
    body: dict[str, Any],
) -> None:
    driver.execute(action, positional, named)
    sent = cloud.requests_to(VOLUME_PREFIX + "/volumes", "POST")
    volume = positional[0]
    assert [(r.path, r.body) for r in sent] == [(f"{VOLUME_PREFIX}/volumes/{volume}/action", body)]


def test_volumes_delete_sends_delete(
    cloud: FakeCloud, fake: CinderFake, driver: CinderDriver
) -> None:
    driver.execute("volumes.delete", [V[0]])
    (sent,) = cloud.requests_to(VOLUME_PREFIX + "/volumes", "DELETE")
    assert sent.path == f"{VOLUME_PREFIX}/volumes/{V[0]}"
    assert sent.query.get("force", ["False"]) == ["False"]
    assert V[0] not in {v["id"] for v in fake.volumes}


def test_volumes_force_delete_forces(cloud: FakeCloud, driver: CinderDriver) -> None:
    # the cloud supports 3.23, so openstacksdk asks DELETE ?force=True (the API reference's
    # form since 3.23) instead of the os-force_delete action
    driver.execute("volumes.force_delete", [V[3]])
    (sent,) = cloud.requests_to(VOLUME_PREFIX + "/volumes", "DELETE")
    assert sent.path == f"{VOLUME_PREFIX}/volumes/{V[3]}"
    assert sent.query["force"] == ["True"]
    assert cloud.requests_to(VOLUME_PREFIX + "/volumes", "POST") == []


def test_volumes_set_metadata_posts_the_metadata_object(
    cloud: FakeCloud, driver: CinderDriver
) -> None:
    driver.execute("volumes.set_metadata", [V[0], {"backup": "daily", "copies": 2}])
    driver.execute("volumes.set_metadata", [V[1], '{"tier": "gold"}'])
    sent = cloud.requests_to(VOLUME_PREFIX + "/volumes", "POST")
    assert [(r.path, r.body) for r in sent] == [
        (f"{VOLUME_PREFIX}/volumes/{V[0]}/metadata",
         {"metadata": {"backup": "daily", "copies": "2"}}),
        (f"{VOLUME_PREFIX}/volumes/{V[1]}/metadata", {"metadata": {"tier": "gold"}}),
    ]  # fmt: skip


def test_volumes_delete_metadata_deletes_each_key(cloud: FakeCloud, driver: CinderDriver) -> None:
    driver.execute("volumes.delete_metadata", [V[0], '["purpose", "owner"]'])
    sent = cloud.requests_to(VOLUME_PREFIX + "/volumes", "DELETE")
    assert [r.path for r in sent] == [
        f"{VOLUME_PREFIX}/volumes/{V[0]}/metadata/purpose",
        f"{VOLUME_PREFIX}/volumes/{V[0]}/metadata/owner",
    ]


def test_volume_snapshots_delete_sends_delete(
    cloud: FakeCloud, fake: CinderFake, driver: CinderDriver
) -> None:
    driver.execute("volume_snapshots.delete", [SNAP[1]])
    sent = cloud.requests_to(VOLUME_PREFIX + "/snapshots", "DELETE")
    assert [r.path for r in sent] == [f"{VOLUME_PREFIX}/snapshots/{SNAP[1]}"]
    assert driver.poll()["snapshots"] == {r for r in SNAPSHOT_ROWS if r[0] != SNAP[1]}


@pytest.mark.parametrize(("action", "path"), [("services.disable", "disable"),
                                              ("services.enable", "enable")])  # fmt: skip
def test_services_actions_put_host_and_binary(
    cloud: FakeCloud, driver: CinderDriver, action: str, path: str
) -> None:
    driver.execute(action, ["controller@lvmdriver-1", "cinder-volume"])
    sent = cloud.requests_to(VOLUME_PREFIX + "/os-services", "PUT")
    assert [(r.path, r.body) for r in sent] == [
        (
            f"{VOLUME_PREFIX}/os-services/{path}",
            {"host": "controller@lvmdriver-1", "binary": "cinder-volume"},
        )
    ]


def test_an_action_shows_in_the_next_poll(driver: CinderDriver) -> None:
    driver.poll()
    driver.execute("volumes.extend", [V[0], 3])
    assert {r[1] for r in driver.poll()["volumes"] if r[0] == V[0]} == {3}


@pytest.mark.parametrize(
    ("action", "positional", "why"),
    [
        ("volumes.extend", [V[0], "big"], "new_size must be an integer"),
        ("volumes.set_bootable", [V[0], "maybe"], "flag must be True or False"),
        ("volumes.set_metadata", [V[0], "[1, 2]"], "metadata must be an object"),
    ],
)
def test_bad_arguments_fail_before_any_request(
    cloud: FakeCloud, driver: CinderDriver, action: str, positional: list[Any], why: str
) -> None:
    with pytest.raises(InvalidActionArguments, match="the arguments do not fit") as caught:
        driver.execute(action, positional)
    assert caught.value.http_status == 400
    assert why in str(caught.value)
    assert cloud.requests_to(VOLUME_PREFIX + "/volumes", "POST") == []


def test_an_action_the_cloud_refuses_is_action_failed(driver: CinderDriver) -> None:
    with pytest.raises(ActionFailed, match=r"volumes\.extend"):
        driver.execute("volumes.extend", ["no-such-volume", 2])


def test_actions_route_lists_exactly_the_actions_with_their_args(driver: CinderDriver) -> None:
    results = driver.actions()["results"]
    by_name = {a["name"]: [arg["name"] for arg in a["args"]] for a in results}
    assert by_name == {
        "volumes.delete": ["volume"],
        "volumes.force_delete": ["volume"],
        "volumes.extend": ["volume", "new_size"],
        "volumes.set_bootable": ["volume", "flag"],
        "volumes.set_metadata": ["volume", "metadata"],
        "volumes.delete_metadata": ["volume", "keys"],
        "volumes.reset_state": ["volume", "state", "attach_status", "migration_status"],
        "volumes.detach": ["volume", "attachment_id"],
        "volume_snapshots.delete": ["snapshot"],
        "services.enable": ["host", "binary"],
        "services.disable": ["host", "binary"],
    }


def test_an_unlisted_client_method_is_unknown_action(
    cloud: FakeCloud, driver: CinderDriver
) -> None:
    with pytest.raises(UnknownAction):
        driver.execute("volumes.upload_to_image", [V[0], "image"])
    assert cloud.requests_to(VOLUME_PREFIX, "POST") == []
