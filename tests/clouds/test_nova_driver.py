"""The nova driver against a fake Nova over real HTTP, through openstacksdk and keystoneauth."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import fake_nova
import pytest
from fake_nova import COMPUTE_PREFIX, NovaFake
from fakecloud import FakeCloud

from congress.datasources import translators as tr
from congress.datasources.errors import (
    ActionFailed,
    InvalidActionArguments,
    InvalidConfig,
    InvalidLazyTables,
    LazyTableNotActive,
    UnknownAction,
)
from congress.datasources.nova import SERVERS, NovaDriver

CREDENTIALS = {
    "auth_url": "http://127.0.0.1:9/identity/v3",
    "username": "admin",
    "password": "secret",
    "project_name": "admin",
}
S = [fake_nova.server_id(i) for i in range(5)]
P = fake_nova.PROJECTS
U = fake_nova.USERS
IMG = fake_nova.IMAGES


def hid(i: int) -> str:
    return fake_nova.host_id(P[i % 3], f"compute-{i % 4}")


SERVER_ROWS = {
    (S[0], "vm-0", hid(0), "ACTIVE", P[0], U[0], IMG[0], "1", "nova",
     "compute-0.example.com", "2024-03-01T00:00:00Z"),
    (S[1], "vm-1", hid(1), "ACTIVE", P[1], U[1], "", "2", "az-2",
     "compute-1.example.com", "2024-03-02T00:01:01Z"),
    (S[2], "vm-2", hid(2), "SHUTOFF", P[2], U[0], IMG[0], "3", "nova",
     "compute-2.example.com", "2024-03-03T00:02:02Z"),
    (S[3], "vm-3", hid(3), "PAUSED", P[0], U[1], IMG[1], "1", "az-2",
     "compute-3.example.com", "2024-03-04T00:03:03Z"),
    (S[4], "vm-4", hid(4), "ACTIVE", P[1], U[0], "", "2", "nova",
     "compute-0.example.com", "2024-03-05T00:04:04Z"),
}  # fmt: skip
ADDRESS_ROWS = {
    (S[0], "private", "10.0.0.10", 4, "fa:16:3e:00:00:0a", "fixed"),
    (S[0], "private", "fd5e:7e00:0:1::a", 6, "fa:16:3e:00:00:0a", "fixed"),
    (S[1], "private", "10.0.0.11", 4, "fa:16:3e:00:00:0b", "fixed"),
    (S[2], "private", "10.0.0.12", 4, "fa:16:3e:00:00:0c", "fixed"),
    (S[2], "private", "fd5e:7e00:0:1::c", 6, "fa:16:3e:00:00:0c", "fixed"),
    (S[2], "private", "172.24.0.12", 4, "fa:16:3e:00:00:0c", "floating"),
    (S[3], "private", "10.0.0.13", 4, "fa:16:3e:00:00:0d", "fixed"),
    (S[4], "private", "10.0.0.14", 4, "fa:16:3e:00:00:0e", "fixed"),
    (S[4], "private", "fd5e:7e00:0:1::e", 6, "fa:16:3e:00:00:0e", "fixed"),
    (S[4], "shared", "192.168.0.14", 4, "fa:16:3e:01:00:0e", "fixed"),
}
TAG_ROWS = {
    (S[0], "production"),
    (S[0], "web"),
    (S[2], "staging"),
    (S[4], "production"),
    (S[4], "web"),
}
FLAVOR_ROWS = {
    ("1", "m1.tiny", 1, 512, 1, 0, 1.0),
    ("2", "m1.small", 1, 2048, 20, 0, 1.0),
    ("3", "m1.medium", 2, 4096, 40, 10, 1.0),
}
HYPERVISOR_ROWS = {
    ("compute-0.example.com", 1, "up", "enabled"),
    ("compute-1.example.com", 2, "down", "disabled"),
}
SERVICE_ROWS = {
    (1, "nova-scheduler", "controller", "internal", "enabled", "up",
     "2024-03-01T10:00:00.000000", "None"),
    (6, "nova-compute", "compute-0", "nova", "enabled", "up",
     "2024-03-01T10:00:02.000000", "None"),
    (7, "nova-compute", "compute-1", "nova", "disabled", "down",
     "2024-02-28T08:12:40.000000", "maintenance"),
}  # fmt: skip
ZONE_ROWS = {
    ("internal", '{"available": true}'),
    ("nova", '{"available": true}'),
    ("az-2", '{"available": false}'),
}
EXPECTED = {
    "servers": SERVER_ROWS,
    "servers.addresses": ADDRESS_ROWS,
    "tags": TAG_ROWS,
    "flavors": FLAVOR_ROWS,
    "hypervisors": HYPERVISOR_ROWS,
    "services": SERVICE_ROWS,
    "availability_zones": ZONE_ROWS,
}


@pytest.fixture(scope="module")
def module_fake(cloud: FakeCloud) -> NovaFake:
    return NovaFake(cloud, count=5, page_size=2)


@pytest.fixture
def fake(cloud: FakeCloud, module_fake: NovaFake) -> NovaFake:
    cloud.heal()
    module_fake.reset()
    cloud.clear_requests()
    return module_fake


def make_driver(cloud: FakeCloud, timeout: float = 5.0, **options: Any) -> NovaDriver:
    config = cloud.credentials(**options)
    return NovaDriver("nova", config, client=NovaDriver.build_client(config, timeout=timeout))


@pytest.fixture
def driver(cloud: FakeCloud, fake: NovaFake) -> NovaDriver:
    return make_driver(cloud)


# -- declaration ---------------------------------------------------------------------------------


def test_schema_has_the_original_tables_and_columns() -> None:
    columns = {t: [c.name for c in cols] for t, cols in NovaDriver.schema().items()}
    assert columns == {
        "servers": ["id", "name", "host_id", "status", "tenant_id", "user_id", "image_id",
                    "flavor_id", "zone", "host_name", "created_at"],
        "servers.addresses": ["server_id", "network_name", "address", "version",
                              "mac_address", "address_type"],
        "tags": ["server_id", "tag"],
        "flavors": ["id", "name", "vcpus", "ram", "disk", "ephemeral", "rxtx_factor"],
        "hypervisors": ["hypervisor_hostname", "id", "state", "status"],
        "services": ["service_id", "binary", "host", "zone", "status", "state", "updated_at",
                     "disabled_reason"],
        "availability_zones": ["zone", "state"],
    }  # fmt: skip


def test_info_lists_the_original_options() -> None:
    info = NovaDriver.info()
    required = {k for k, v in info["config"].items() if v == "required"}
    optional = {k for k, v in info["config"].items() if v == "(optional)"}
    assert required == {"auth_url", "username", "password", "project_name"}
    assert optional == {
        "endpoint", "region", "user_domain_name", "project_domain_name", "tenant_name",
        "poll_time", "api_version", "lazy_tables",
    }  # fmt: skip
    assert info["secret"] == ["password"]


def test_entry_point_nova_is_the_driver() -> None:
    (entry,) = metadata.entry_points(group="congress.datasource.drivers", name="nova")
    assert entry.load() is NovaDriver


@pytest.mark.parametrize("value", ["3", "2.x", "v2.1", "2.26.1", "latest", "2."])
def test_bad_api_version_is_invalid_config_naming_the_option(value: str) -> None:
    with pytest.raises(InvalidConfig, match="api_version"):
        NovaDriver.validate_config({**CREDENTIALS, "api_version": value})


def test_api_version_defaults_to_2_26_and_is_passed_to_openstacksdk() -> None:
    assert NovaDriver.connection_options({}) == {"compute_api_version": "2.26"}
    assert NovaDriver.connection_options({"api_version": "2.53"}) == {"compute_api_version": "2.53"}


def test_lazy_tables_must_be_root_tables() -> None:
    with pytest.raises(InvalidLazyTables, match=r"servers\.addresses"):
        NovaDriver.validate_config({**CREDENTIALS, "lazy_tables": "servers.addresses"})


# -- polling -------------------------------------------------------------------------------------


def test_poll_fills_every_table_with_exact_rows(driver: NovaDriver) -> None:
    tables = driver.poll()
    assert driver.last_error is None
    assert tables == EXPECTED


def test_servers_are_read_for_all_tenants_page_by_page(
    cloud: FakeCloud, driver: NovaDriver
) -> None:
    driver.poll()
    pages = cloud.requests_to(COMPUTE_PREFIX + "/servers/detail", "GET")
    assert [r.query.get("all_tenants") for r in pages] == [["1"]] * 3
    assert [r.query.get("marker") for r in pages] == [None, [S[1]], [S[3]]]
    # the microversion of api_version (default 2.26, which lists tags) is asked for
    assert {r.headers.get("openstack-api-version") for r in pages} == {"compute 2.26"}
    for path in ("/flavors/detail", "/os-hypervisors/detail", "/os-services",
                 "/os-availability-zone/detail"):  # fmt: skip
        assert len(cloud.requests_to(COMPUTE_PREFIX + path, "GET")) == 1


def test_api_version_option_is_the_microversion_requested(cloud: FakeCloud, fake: NovaFake) -> None:
    driver = make_driver(cloud, api_version="2.53")
    driver.poll()
    (first, *_) = cloud.requests_to(COMPUTE_PREFIX + "/servers/detail", "GET")
    assert first.headers.get("openstack-api-version") == "compute 2.53"
    assert first.headers.get("x-openstack-nova-api-version") == "2.53"


def test_endpoint_option_overrides_the_catalog(fake: NovaFake) -> None:
    other = FakeCloud()
    with other:
        other.add_service("compute", "nova", "/nowhere/v2.1")  # a wrong catalog URL
        driver = make_driver(other, endpoint=fake.endpoint)
        assert driver.poll() == EXPECTED
        assert other.requests_to("/nowhere") == []


def test_second_poll_with_nothing_changed_gives_identical_tables(driver: NovaDriver) -> None:
    first = driver.poll()
    second = driver.poll()
    assert second == first == EXPECTED
    assert driver.number_of_updates == 2


def test_a_changed_server_changes_only_its_rows(fake: NovaFake, driver: NovaDriver) -> None:
    before = driver.poll()
    server = fake.servers[2]
    server["status"] = "ACTIVE"
    server["tags"] = ["staging", "blue"]
    server["addresses"]["private"] = server["addresses"]["private"][:1]
    after = driver.poll()
    assert after["servers"] - before["servers"] == {
        (S[2], "vm-2", hid(2), "ACTIVE", P[2], U[0], IMG[0], "3", "nova",
         "compute-2.example.com", "2024-03-03T00:02:02Z"),
    }  # fmt: skip
    assert before["servers"] - after["servers"] == {r for r in SERVER_ROWS if r[0] == S[2]}
    assert after["tags"] == TAG_ROWS | {(S[2], "blue")}
    assert after["servers.addresses"] == ADDRESS_ROWS - {
        (S[2], "private", "fd5e:7e00:0:1::c", 6, "fa:16:3e:00:00:0c", "fixed"),
        (S[2], "private", "172.24.0.12", 4, "fa:16:3e:00:00:0c", "floating"),
    }
    for table in ("flavors", "hypervisors", "services", "availability_zones"):
        assert after[table] == before[table]


def test_a_deleted_server_loses_its_rows_in_every_server_table(
    fake: NovaFake, driver: NovaDriver
) -> None:
    driver.poll()
    del fake.servers[4]
    after = driver.poll()
    for table in ("servers", "servers.addresses", "tags"):
        assert after[table] == {r for r in EXPECTED[table] if r[0] != S[4]}


def test_lazy_tables_are_fetched_only_once_activated(cloud: FakeCloud, fake: NovaFake) -> None:
    driver = make_driver(cloud, lazy_tables="flavors,availability_zones")
    tables = driver.poll()
    assert "flavors" not in tables and "availability_zones" not in tables
    assert tables["servers"] == SERVER_ROWS
    assert cloud.requests_to(COMPUTE_PREFIX + "/flavors") == []
    assert cloud.requests_to(COMPUTE_PREFIX + "/os-availability-zone") == []
    with pytest.raises(LazyTableNotActive):
        driver.rows("flavors")

    assert driver.activate("flavors") is True
    tables = driver.poll()
    assert tables["flavors"] == FLAVOR_ROWS
    assert len(cloud.requests_to(COMPUTE_PREFIX + "/flavors/detail", "GET")) == 1
    assert "availability_zones" not in tables
    assert cloud.requests_to(COMPUTE_PREFIX + "/os-availability-zone") == []


# -- failures ------------------------------------------------------------------------------------


def _break_servers_500(cloud: FakeCloud) -> str:
    cloud.fail(500, prefix=COMPUTE_PREFIX + "/servers/detail")
    return "HTTP 500"


def _break_servers_json(cloud: FakeCloud) -> str:
    cloud.fail(body=b'{"servers": [', prefix=COMPUTE_PREFIX + "/servers/detail")
    return "not JSON"


def _break_auth(cloud: FakeCloud) -> str:
    # the token is revoked: nova refuses it and Keystone refuses a new one
    cloud.refuse_auth = True
    cloud.fail(401, prefix=COMPUTE_PREFIX)
    return "authentication refused by Keystone"


def _break_timeout(cloud: FakeCloud) -> str:
    cloud.fail(delay=1.0, prefix=COMPUTE_PREFIX + "/servers/detail")
    return "timed out"


@pytest.mark.parametrize(
    "breaker", [_break_servers_500, _break_servers_json, _break_auth, _break_timeout]
)
def test_failing_service_keeps_last_rows_and_the_next_good_poll_clears_the_error(
    cloud: FakeCloud, fake: NovaFake, breaker: Any
) -> None:
    driver = make_driver(cloud, timeout=0.3)
    good = driver.poll()
    assert good == EXPECTED and driver.last_error is None

    fake.servers[0]["name"] = "renamed"  # not seen while the service fails
    expected_text = breaker(cloud)
    tokens, asked = cloud.tokens_issued, len(cloud.requests_to("/identity/v3/auth/tokens"))
    failed = driver.poll()
    assert failed == EXPECTED
    assert driver.last_error is not None
    assert expected_text in str(driver.last_error)
    assert driver.status()["consecutive_failures"] == "1"
    if breaker is _break_auth:  # the client did ask Keystone again, and was refused
        assert len(cloud.requests_to("/identity/v3/auth/tokens")) > asked
        assert cloud.tokens_issued == tokens

    cloud.heal()
    healed = driver.poll()
    assert driver.last_error is None
    if breaker is _break_auth:
        assert cloud.tokens_issued == tokens + 1
    assert driver.status()["last_error"] == "None"
    assert (S[0], "vm-0") not in {r[:2] for r in healed["servers"]}
    assert (S[0], "renamed") in {r[:2] for r in healed["servers"]}


# -- actions -------------------------------------------------------------------------------------

SERVER_ACTION_CASES = [
    ("servers.pause", [S[0]], {}, {"pause": None}),
    ("servers.unpause", [S[0]], {}, {"unpause": None}),
    ("servers.stop", [S[0]], {}, {"os-stop": None}),
    ("servers.start", [S[0]], {}, {"os-start": None}),
    ("servers.reboot", [S[0]], {}, {"reboot": {"type": "SOFT"}}),
    ("servers.reboot", [S[0], "HARD"], {}, {"reboot": {"type": "HARD"}}),
    ("servers.reboot", [S[0]], {"reboot_type": "hard"}, {"reboot": {"type": "HARD"}}),
    ("servers.suspend", [S[0]], {}, {"suspend": None}),
    ("servers.resume", [S[0]], {}, {"resume": None}),
    ("servers.lock", [S[0]], {}, {"lock": None}),
    ("servers.unlock", [S[0]], {}, {"unlock": None}),
    ("servers.shelve", [S[0]], {}, {"shelve": None}),
    ("servers.migrate", [S[0]], {}, {"migrate": None}),
    ("servers.add_security_group", [S[0], "web"], {}, {"addSecurityGroup": {"name": "web"}}),
    (
        "servers.remove_security_group",
        [S[0], "default"],
        {},
        {"removeSecurityGroup": {"name": "default"}},
    ),
    (
        "servers.live_migrate",
        [S[0]],
        {},
        {"os-migrateLive": {"host": None, "block_migration": "auto"}},
    ),
    (
        "servers.live_migrate",
        [S[0], "compute-3"],
        {"block_migration": "False"},
        {"os-migrateLive": {"host": "compute-3", "block_migration": False}},
    ),
]


@pytest.mark.parametrize(("action", "positional", "named", "body"), SERVER_ACTION_CASES)
def test_server_action_posts_the_compute_api_action(
    cloud: FakeCloud,
    driver: NovaDriver,
    action: str,
    positional: list[Any],
    named: dict[str, Any],
    body: dict[str, Any],
) -> None:
    driver.execute(action, positional, named)
    sent = cloud.requests_to(COMPUTE_PREFIX + "/servers", "POST")
    assert [(r.path, r.body) for r in sent] == [(f"{COMPUTE_PREFIX}/servers/{S[0]}/action", body)]


def test_servers_delete_sends_delete(cloud: FakeCloud, fake: NovaFake, driver: NovaDriver) -> None:
    driver.execute("servers.delete", [S[1]])
    sent = cloud.requests_to(COMPUTE_PREFIX + "/servers", "DELETE")
    assert [r.path for r in sent] == [f"{COMPUTE_PREFIX}/servers/{S[1]}"]
    assert S[1] not in {s["id"] for s in fake.servers}


def test_servers_set_meta_posts_the_metadata_object(cloud: FakeCloud, driver: NovaDriver) -> None:
    driver.execute("servers.set_meta", [S[0]], {"metadata": {"owner": "ops", "tier": 2}})
    driver.execute("servers.set_meta", [S[1], '{"backup": "daily"}'])
    sent = cloud.requests_to(COMPUTE_PREFIX + "/servers", "POST")
    assert [(r.path, r.body) for r in sent] == [
        (f"{COMPUTE_PREFIX}/servers/{S[0]}/metadata", {"metadata": {"owner": "ops", "tier": "2"}}),
        (f"{COMPUTE_PREFIX}/servers/{S[1]}/metadata", {"metadata": {"backup": "daily"}}),
    ]


def test_servers_delete_meta_deletes_each_key(cloud: FakeCloud, driver: NovaDriver) -> None:
    driver.execute("servers.delete_meta", [S[0], ["owner", "role"]])
    sent = cloud.requests_to(COMPUTE_PREFIX + "/servers", "DELETE")
    assert sorted(r.path for r in sent) == [
        f"{COMPUTE_PREFIX}/servers/{S[0]}/metadata/owner",
        f"{COMPUTE_PREFIX}/servers/{S[0]}/metadata/role",
    ]
    assert all(r.body is None for r in sent)


def test_servers_add_tag_puts_the_tag(cloud: FakeCloud, fake: NovaFake, driver: NovaDriver) -> None:
    driver.execute("servers.add_tag", [S[1], "blue"])
    sent = cloud.requests_to(COMPUTE_PREFIX + "/servers", "PUT")
    assert [r.path for r in sent] == [f"{COMPUTE_PREFIX}/servers/{S[1]}/tags/blue"]
    assert (S[1], "blue") in driver.poll()["tags"]


def test_explicit_servers_set_meta_takes_key_value_pairs(
    cloud: FakeCloud, driver: NovaDriver
) -> None:
    driver.execute("servers_set_meta", [S[2], "owner", "ops", "tier", 3])
    sent = cloud.requests_to(COMPUTE_PREFIX + "/servers", "POST")
    assert [(r.path, r.body) for r in sent] == [
        (f"{COMPUTE_PREFIX}/servers/{S[2]}/metadata", {"metadata": {"owner": "ops", "tier": "3"}})
    ]


def test_explicit_servers_set_meta_with_an_unpaired_key_fails_before_any_request(
    cloud: FakeCloud, driver: NovaDriver
) -> None:
    with pytest.raises(InvalidActionArguments, match="servers_set_meta") as failure:
        driver.execute("servers_set_meta", [S[2], "owner", "ops", "tier"])
    assert "the arguments do not fit" in str(failure.value)
    assert "pairs" in str(failure.value.__cause__)
    assert cloud.requests_to(COMPUTE_PREFIX, "POST") == []


@pytest.mark.parametrize(("action", "path"), [("services.disable", "disable"),
                                              ("services.enable", "enable")])  # fmt: skip
def test_services_actions_put_host_and_binary(
    cloud: FakeCloud, driver: NovaDriver, action: str, path: str
) -> None:
    driver.execute(action, ["compute-1", "nova-compute"])
    sent = cloud.requests_to(COMPUTE_PREFIX + "/os-services", "PUT")
    assert [(r.path, r.body) for r in sent] == [
        (f"{COMPUTE_PREFIX}/os-services/{path}", {"host": "compute-1", "binary": "nova-compute"})
    ]


def test_services_disable_from_2_53_finds_the_service_and_updates_it_by_id(
    cloud: FakeCloud, fake: NovaFake
) -> None:
    driver = make_driver(cloud, api_version="2.53")
    driver.execute("services.disable", ["compute-0", "nova-compute"])
    (lookup,) = cloud.requests_to(COMPUTE_PREFIX + "/os-services", "GET")
    assert lookup.query == {"host": ["compute-0"], "binary": ["nova-compute"]}
    sent = cloud.requests_to(COMPUTE_PREFIX + "/os-services", "PUT")
    assert [(r.path, r.body) for r in sent] == [
        (f"{COMPUTE_PREFIX}/os-services/{fake_nova.service_uuid(6)}", {"status": "disabled"})
    ]


def test_services_enable_from_2_53_takes_a_service_id(cloud: FakeCloud, fake: NovaFake) -> None:
    driver = make_driver(cloud, api_version="2.53")
    driver.execute("services.enable", [fake_nova.service_uuid(7)])
    sent = cloud.requests_to(COMPUTE_PREFIX + "/os-services", "PUT")
    assert [(r.path, r.body) for r in sent] == [
        (f"{COMPUTE_PREFIX}/os-services/{fake_nova.service_uuid(7)}", {"status": "enabled"})
    ]


def test_services_action_without_binary_before_2_53_fails_without_request(
    cloud: FakeCloud, driver: NovaDriver
) -> None:
    with pytest.raises(InvalidActionArguments, match=r"needs api_version 2\.53") as e:
        driver.execute("services.disable", ["compute-0"])
    assert e.value.http_status == 400
    assert cloud.requests_to(COMPUTE_PREFIX + "/os-services", "PUT") == []


def test_an_action_shows_in_the_next_poll(driver: NovaDriver) -> None:
    driver.poll()
    driver.execute("servers.pause", [S[0]])
    assert {r[3] for r in driver.poll()["servers"] if r[0] == S[0]} == {"PAUSED"}


def test_an_action_the_cloud_refuses_is_action_failed(driver: NovaDriver) -> None:
    with pytest.raises(ActionFailed, match=r"servers\.pause"):
        driver.execute("servers.pause", ["no-such-server"])


def test_actions_route_lists_exactly_the_actions_with_their_args(driver: NovaDriver) -> None:
    results = driver.actions()["results"]
    assert {a["name"] for a in results} == {
        "servers.pause", "servers.unpause", "servers.stop", "servers.start", "servers.reboot",
        "servers.delete", "servers.suspend", "servers.resume", "servers.lock", "servers.unlock",
        "servers.set_meta", "servers.delete_meta", "servers.add_security_group",
        "servers.remove_security_group", "servers.migrate", "servers.live_migrate",
        "servers.add_tag", "servers.shelve", "services.disable", "services.enable",
        "servers_set_meta",
    }  # fmt: skip
    by_name = {a["name"]: [arg["name"] for arg in a["args"]] for a in results}
    assert by_name["servers.reboot"] == ["server", "reboot_type"]
    assert by_name["servers.live_migrate"] == ["server", "host", "block_migration"]
    assert by_name["services.disable"] == ["host", "binary"]
    assert by_name["servers_set_meta"][0] == "server"


def test_an_unlisted_client_method_is_unknown_action(cloud: FakeCloud, driver: NovaDriver) -> None:
    with pytest.raises(UnknownAction):
        driver.execute("servers.evacuate", [S[0]])
    assert cloud.requests_to(COMPUTE_PREFIX, "POST") == []


def test_server_json_is_deterministic_distinct_and_translates() -> None:
    assert fake_nova.server_json(7) == fake_nova.server_json(7)
    servers = [fake_nova.server_json(i) for i in range(1000)]
    assert len({s["id"] for s in servers}) == 1000
    rows = tr.translate(SERVERS, servers)
    assert len(set(rows["servers"])) == 1000
    assert len(set(rows["servers.addresses"])) == sum(
        len(a) for s in servers for a in s["addresses"].values()
    )
