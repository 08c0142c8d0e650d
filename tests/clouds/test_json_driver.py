"""The generic ``json`` driver against fake JSON APIs over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import fake_jsonapi as fj
import pytest
from fakecloud import PASSWORD, FakeCloud

from congress.datasources import json_api
from congress.datasources.errors import (
    InvalidConfig,
    InvalidDriverOptions,
    InvalidLazyTables,
    LazyTableNotActive,
    MissingRequiredOptions,
    ServiceError,
    TranslationError,
    UnknownAction,
)
from congress.datasources.json_api import JsonApiClient, JsonApiDriver

SERVER_COLUMNS = {
    "id": "id",
    "name": "name",
    "status": "status",
    "flavor_id": "flavor.id",
    "ip": "addresses.*[].addr | [0]",
    "role": "metadata.role",
    "metadata": "metadata",
    "fixed_ips": "addresses.*[] | [?\"OS-EXT-IPS:type\" == 'fixed'].addr",
}
SERVERS_TABLE = {"path": "/servers/detail", "rows": "servers", "columns": SERVER_COLUMNS}
FLAVORS_TABLE = {
    "path": "/flavors/detail",
    "rows": "flavors",
    "columns": {
        "id": "id",
        "name": "name",
        "ram": "ram",
        "vcpus": "vcpus",
        "public": '"os-flavor-access:is_public"',
    },
}
HOSTS_TABLE = {
    "path": "/hosts",
    "columns": {
        "hostname": "hostname",
        "ip": "ip",
        "rack": "location.rack",
        "cpus": "hardware.cpus",
        "tags": "tags",
        "decommissioned": "decommissioned",
    },
}

SERVER_ROWS = {
    (
        fj.WEB_1,
        "web-1",
        "ACTIVE",
        "1",
        "10.0.0.5",
        "web",
        '{"role": "web"}',
        '["10.0.0.5"]',
    ),
    (fj.WEB_2, "web-2", "SHUTOFF", "1", "10.0.0.6", "None", "{}", '["10.0.0.6"]'),
    (
        fj.DB_1,
        "db-1",
        "ACTIVE",
        "3",
        "None",
        "db",
        '{"role": "db", "tier": "gold"}',
        "[]",
    ),
}
FLAVOR_ROWS = {("1", "m1.tiny", 512, 1, "True"), ("3", "m1.medium", 4096, 2, "False")}
HOST_ROWS = {
    ("rack1-node01", "10.10.1.11", "r1", 32, '["compute", "prod"]', "False"),
    ("rack2-node07", "10.10.2.17", "r2", 16, "[]", "False"),
}


@pytest.fixture(scope="module")
def cloud_and_api() -> Iterator[tuple[FakeCloud, fj.FakeJsonApi]]:
    with FakeCloud() as cloud:
        yield cloud, fj.FakeJsonApi(cloud)


@pytest.fixture
def cloud(cloud_and_api: tuple[FakeCloud, fj.FakeJsonApi]) -> Iterator[FakeCloud]:
    cloud, api = cloud_and_api
    api.reset()
    cloud.heal()
    cloud.clear_requests()
    yield cloud
    api.reset()
    cloud.heal()


@pytest.fixture
def api(cloud: FakeCloud, cloud_and_api: tuple[FakeCloud, fj.FakeJsonApi]) -> fj.FakeJsonApi:
    return cloud_and_api[1]


Make = Callable[..., JsonApiDriver]


@pytest.fixture
def make() -> Iterator[Make]:
    """Build drivers as the host does; close their clients afterwards."""
    clients: list[JsonApiClient] = []

    def build(config: dict[str, Any], *, timeout: float = 5.0) -> JsonApiDriver:
        client = JsonApiDriver.build_client(config, timeout=timeout)
        clients.append(client)
        return JsonApiDriver("inventory", config, client=client)

    yield build
    for client in clients:
        client.close()


def compute_config(cloud: FakeCloud, **tables: Any) -> dict[str, Any]:
    return {
        "endpoint": cloud.url + fj.COMPUTE,
        "tables": json.dumps(tables or {"servers": SERVERS_TABLE, "flavors": FLAVORS_TABLE}),
    }


def inventory_config(cloud: FakeCloud, **extra: Any) -> dict[str, Any]:
    return {
        "endpoint": cloud.url + fj.INVENTORY,
        "auth": "bearer",
        "token": fj.TOKEN,
        "tables": json.dumps({"hosts": HOSTS_TABLE}),
        **extra,
    }


def keystone_config(cloud: FakeCloud, **extra: Any) -> dict[str, Any]:
    return cloud.credentials(
        auth="keystone",
        tables=json.dumps({"servers": SERVERS_TABLE, "flavors": FLAVORS_TABLE}),
        **extra,
    )


# --- tables -----------------------------------------------------------------------------------


def test_several_tables_from_one_service_with_nested_jmespath(cloud: FakeCloud, make: Make) -> None:
    driver = make(compute_config(cloud))
    tables = driver.poll()
    assert driver.last_error is None
    assert tables == {"servers": SERVER_ROWS, "flavors": FLAVOR_ROWS}
    assert [r.path for r in cloud.requests_to(fj.COMPUTE, "GET")] == [
        fj.COMPUTE + "/servers/detail",
        fj.COMPUTE + "/flavors/detail",
    ]
    assert driver.initialized


def test_column_order_is_the_order_written(cloud: FakeCloud, make: Make) -> None:
    columns = {"vcpus": "vcpus", "name": "name", "id": "id", "ram": "ram"}
    table = {"path": "/flavors/detail", "rows": "flavors", "columns": columns}
    driver = make(compute_config(cloud, flavors=table))
    assert driver.columns("flavors") == ["vcpus", "name", "id", "ram"]
    assert driver.schema_body() == {
        "tables": [
            {
                "table_id": "flavors",
                "columns": [
                    {"name": c, "description": f"JMESPath {e}"} for c, e in columns.items()
                ],
            }
        ]
    }
    assert driver.poll() == {"flavors": {(1, "m1.tiny", "1", 512), (2, "m1.medium", "3", 4096)}}


def test_rows_default_to_the_body_and_bearer_token_is_sent(cloud: FakeCloud, make: Make) -> None:
    driver = make(inventory_config(cloud))
    assert driver.poll() == {"hosts": HOST_ROWS}
    assert driver.last_error is None
    (request,) = cloud.requests_to(fj.INVENTORY + "/hosts", "GET")
    assert request.headers["authorization"] == f"Bearer {fj.TOKEN}"
    assert request.headers["accept"] == "application/json"


def test_params_are_sent_as_the_query(cloud: FakeCloud, make: Make) -> None:
    table = {**SERVERS_TABLE, "params": {"status": "ACTIVE", "limit": 50}}
    driver = make(compute_config(cloud, servers=table))
    rows = driver.poll()["servers"]
    assert {r[0] for r in rows} == {fj.WEB_1, fj.DB_1}
    (request,) = cloud.requests_to(fj.COMPUTE + "/servers/detail", "GET")
    assert request.query == {"status": ["ACTIVE"], "limit": ["50"]}


def test_list_params_repeat_the_key(cloud: FakeCloud, make: Make) -> None:
    table = {**HOSTS_TABLE, "params": {"state": ["active", "maintenance"]}}
    driver = make(inventory_config(cloud, tables=json.dumps({"hosts": table})))
    assert driver.poll() == {"hosts": HOST_ROWS}
    (request,) = cloud.requests_to(fj.INVENTORY + "/hosts", "GET")
    assert request.query == {"state": ["active", "maintenance"]}


def test_headers_are_sent(cloud: FakeCloud, make: Make) -> None:
    headers = {"X-Request-Source": "congress", "Accept-Language": "en"}
    driver = make(inventory_config(cloud, headers=json.dumps(headers)))
    driver.poll()
    (request,) = cloud.requests_to(fj.INVENTORY + "/hosts", "GET")
    assert request.headers["x-request-source"] == "congress"
    assert request.headers["accept-language"] == "en"
    assert request.headers["authorization"] == f"Bearer {fj.TOKEN}"


def test_without_the_bearer_token_401_sets_last_error(cloud: FakeCloud, make: Make) -> None:
    config = inventory_config(cloud)
    del config["token"]
    config["auth"] = "none"
    driver = make(config)
    assert driver.poll() == {"hosts": set()}
    text = str(driver.last_error)
    assert "table hosts" in text
    assert f"GET {cloud.url}{fj.INVENTORY}/hosts: HTTP 401" in text
    assert "missing or invalid bearer token" in text
    assert "authorization" not in cloud.requests_to(fj.INVENTORY)[0].headers
    assert not driver.initialized


def test_errors_never_show_the_token(cloud: FakeCloud, make: Make) -> None:
    driver = make(inventory_config(cloud))
    cloud.fail(500, prefix=fj.INVENTORY)
    driver.poll()
    assert "HTTP 500" in str(driver.last_error)
    assert fj.TOKEN not in str(driver.last_error)
    assert fj.TOKEN not in repr(driver.status())


def test_values_are_normalised(cloud: FakeCloud, make: Make) -> None:
    table = {
        "path": "/status",
        "rows": "[@]",
        "columns": {
            "version": "version",
            "checks": "checks",
            "uptime": "uptime_seconds",
            "missing": "no.such.field",
            "ok": "checks.database == 'ok'",
            "names": "keys(checks)",
        },
    }
    driver = make(inventory_config(cloud, tables=json.dumps({"status": table})))
    assert driver.poll() == {
        "status": {
            (
                "1.4.2",
                '{"database": "ok", "queue": "ok"}',
                86400,
                "None",
                "True",
                '["database", "queue"]',
            )
        }
    }


def test_null_rows_are_skipped_and_scalars_are_rows(cloud: FakeCloud, make: Make) -> None:
    table = {"path": "/hosts", "rows": "[*].hostname", "columns": {"hostname": "@"}}
    driver = make(inventory_config(cloud, tables=json.dumps({"names": table})))
    assert driver.poll() == {"names": {("rack1-node01",), ("rack2-node07",)}}
    # a projection drops nulls itself; an explicit null element is skipped too
    table = {"path": "/status", "rows": "[version, no_such_field]", "columns": {"v": "@"}}
    driver = make(inventory_config(cloud, tables=json.dumps({"versions": table})))
    assert driver.poll() == {"versions": {("1.4.2",)}}


# --- keystone ---------------------------------------------------------------------------------


def test_keystone_token_is_sent(cloud: FakeCloud, api: fj.FakeJsonApi, make: Make) -> None:
    api.check_tokens = True
    driver = make(keystone_config(cloud, endpoint=cloud.url + fj.COMPUTE))
    assert cloud.requests == []  # building the client and the driver does no I/O
    assert driver.poll() == {"servers": SERVER_ROWS, "flavors": FLAVOR_ROWS}
    assert driver.last_error is None
    assert len(cloud.requests_to("/identity/v3/auth/tokens", "POST")) == 1
    sent = {r.headers.get("x-auth-token") for r in cloud.requests_to(fj.COMPUTE)}
    assert sent == {api.issued_tokens[-1]}
    driver.poll()  # the token is reused
    assert len(cloud.requests_to("/identity/v3/auth/tokens", "POST")) == 1


def test_keystone_endpoint_from_the_catalog(
    cloud: FakeCloud, api: fj.FakeJsonApi, make: Make
) -> None:
    api.check_tokens = True
    config = keystone_config(
        cloud, service_type="compute", interface="internal", region="RegionOne"
    )
    driver = make(config)
    assert driver.poll() == {"servers": SERVER_ROWS, "flavors": FLAVOR_ROWS}
    assert {r.path for r in cloud.requests_to(fj.COMPUTE)} == {
        fj.COMPUTE + "/servers/detail",
        fj.COMPUTE + "/flavors/detail",
    }


def test_keystone_service_type_not_in_the_catalog(cloud: FakeCloud, make: Make) -> None:
    driver = make(keystone_config(cloud, service_type="no-such-service"))
    driver.poll()
    assert "table servers" in str(driver.last_error)
    assert "service type no-such-service" in str(driver.last_error)


def test_keystone_refusing_auth_keeps_rows(
    cloud: FakeCloud, api: fj.FakeJsonApi, make: Make
) -> None:
    driver = make(keystone_config(cloud, service_type="compute"))
    driver.poll()
    cloud.refuse_auth = True
    api.check_tokens = True
    api.issued_tokens.clear()  # the old token is revoked: keystoneauth asks for a new one
    assert driver.poll() == {"servers": SERVER_ROWS, "flavors": FLAVOR_ROWS}
    assert "authentication refused by Keystone" in str(driver.last_error)
    assert PASSWORD not in str(driver.last_error)
    cloud.heal()
    driver.poll()
    assert driver.last_error is None
    assert driver.consecutive_failures == 0


# --- configuration ----------------------------------------------------------------------------


def base_config(**extra: Any) -> dict[str, Any]:
    return {
        "endpoint": "http://api.example.com/v1",
        "tables": json.dumps({"things": {"path": "/things", "columns": {"id": "id"}}}),
        **extra,
    }


def tables(**declared: Any) -> str:
    return json.dumps(declared)


BAD_CONFIGS: list[tuple[dict[str, Any], list[str]]] = [
    (base_config(tables="{not json"), ["option tables", "not JSON"]),
    (base_config(tables="[1, 2]"), ["option tables", "expected a JSON object"]),
    (base_config(tables="{}"), ["option tables", "at least one table"]),
    (
        base_config(tables='{"a": {"path": "/a", "columns": {"x": "x"}}, "a": {"path": "/b"}}'),
        ["option tables", "'a' appears twice"],
    ),
    (
        base_config(tables='{"a": {"path": "/a", "columns": {"x": "x", "x": "y"}}}'),
        ["option tables", "'x' appears twice"],
    ),
    (base_config(tables=tables(things=[1])), ["option tables", "table things", "JSON object"]),
    (base_config(tables=tables(things={"columns": {"id": "id"}})), ["table things", "path"]),
    (
        base_config(tables=tables(things={"path": "things", "columns": {"id": "id"}})),
        ["option tables", "table things", "path must be a string starting with '/'"],
    ),
    (
        base_config(tables=tables(things={"path": "/t", "columns": {"id": "id"}, "row": "x"})),
        ["option tables", "table things", "unknown keys row"],
    ),
    (base_config(tables=tables(things={"path": "/t"})), ["table things", "columns is missing"]),
    (
        base_config(tables=tables(things={"path": "/t", "columns": {}})),
        ["option tables", "table things", "columns must be a non-empty JSON object"],
    ),
    (
        base_config(tables=tables(things={"path": "/t", "columns": ["id"]})),
        ["option tables", "table things", "columns must be a non-empty JSON object"],
    ),
    (
        base_config(tables=tables(things={"path": "/t", "rows": "a.[", "columns": {"id": "id"}})),
        ["option tables", "table things, rows", "'a.['", "Incomplete expression"],
    ),
    (
        base_config(tables=tables(things={"path": "/t", "columns": {"id": "foo bar"}})),
        ["option tables", "table things, column id", "Unexpected token: bar"],
    ),
    (
        base_config(tables=tables(things={"path": "/t", "columns": {"id": ""}})),
        ["option tables", "table things, column id", "cannot be empty"],
    ),
    (
        base_config(tables=tables(things={"path": "/t", "columns": {"id": 3}})),
        ["option tables", "table things, column id", "must be a string"],
    ),
    (
        base_config(tables=tables(things={"path": "/t", "columns": {"n": "lenght(name)"}})),
        ["option tables", "table things, column n", "Unknown function: lenght()"],
    ),
    (
        base_config(tables=tables(things={"path": "/t", "columns": {"n": "length(a, b)"}})),
        ["table things, column n", "Expected 1 argument for function length(), received 2"],
    ),
    (
        base_config(tables=tables(things={"path": "/t", "columns": {"n": "merge()"}})),
        ["table things, column n", "merge()"],
    ),
    (
        base_config(tables=tables(**{"bad-name": {"path": "/t", "columns": {"id": "id"}}})),
        ["option tables", "bad table name 'bad-name'"],
    ),
    (
        base_config(tables=tables(**{"9lives": {"path": "/t", "columns": {"id": "id"}}})),
        ["option tables", "bad table name '9lives'"],
    ),
    (
        base_config(tables=tables(**{"not": {"path": "/t", "columns": {"id": "id"}}})),
        ["option tables", "bad table name 'not'"],
    ),
    (
        base_config(tables=tables(things={"path": "/t", "columns": {"a b": "id"}})),
        ["option tables", "table things", "bad column name 'a b'"],
    ),
    (
        base_config(tables=tables(things={"path": "/t", "columns": {"x.": "id"}})),
        ["option tables", "table things", "bad column name 'x.'"],
    ),
    (
        base_config(tables=tables(things={"path": "/t", "columns": {"id": "id"}, "params": [1]})),
        ["option tables", "table things", "params must be a JSON object"],
    ),
    (
        base_config(
            tables=tables(things={"path": "/t", "columns": {"id": "id"}, "params": {"a": {}}})
        ),
        ["option tables", "table things", "parameter 'a'"],
    ),
    (
        base_config(
            tables=tables(things={"path": "/t", "columns": {"id": "id"}, "params": {"a": True}})
        ),
        ["option tables", "table things", "parameter 'a'"],
    ),
    ({"tables": base_config()["tables"]}, ["endpoint"]),
    (base_config(endpoint="api.example.com/v1"), ["option endpoint", "not an http or https URL"]),
    (base_config(endpoint="ftp://api.example.com"), ["option endpoint"]),
    (base_config(headers="[]"), ["option headers", "expected a JSON object"]),
    (base_config(headers="{bad"), ["option headers", "not JSON"]),
    (base_config(headers='{"X-A": 1}'), ["option headers", "X-A"]),
    (base_config(headers='{"X A": "1"}'), ["option headers", "bad header name 'X A'"]),
    (base_config(headers='{"X-A": "1\\r\\nX-B: 2"}'), ["option headers", "X-A"]),
    (
        base_config(auth="bearer", token="t", headers='{"authorization": "Basic x"}'),
        ["option headers", "authorization", "auth bearer"],
    ),
    (base_config(auth="basic"), ["option auth", "'basic'", "none, bearer, keystone"]),
    (base_config(auth="bearer"), ["token", "auth bearer"]),
    (base_config(token="t"), ["token", "only used with auth bearer"]),
    (base_config(username="u"), ["username", "only used with auth keystone"]),
    (base_config(auth="keystone", username="u"), ["auth_url", "password", "project_name"]),
    (
        base_config(
            auth="keystone", auth_url="keystone", username="u", password="p", project_name="p"
        ),
        ["option auth_url", "not an http or https URL"],
    ),
    (
        base_config(
            auth="keystone",
            auth_url="http://k/v3",
            username="u",
            password="p",
            project_name="p",
            service_type="compute",
        ),
        ["option endpoint", "not both"],
    ),
    (
        base_config(
            auth="keystone",
            auth_url="http://k/v3",
            username="u",
            password="p",
            project_name="p",
            interface="public",
        ),
        ["option interface", "only used with service_type"],
    ),
    (
        {
            "tables": base_config()["tables"],
            "auth": "keystone",
            "auth_url": "http://k/v3",
            "username": "u",
            "password": "p",
            "project_name": "p",
            "service_type": "compute",
            "interface": "private",
        },
        ["option interface", "'private'"],
    ),
    (base_config(verify="maybe"), ["option verify", "'maybe'"]),
    (base_config(poll_time="soon"), ["option poll_time"]),
    (base_config(lazy_tables="others"), ["Invalid lazy tables", "others", "things"]),
    (base_config(colour="blue"), ["Invalid driver options", "colour"]),
]


@pytest.mark.parametrize(("config", "words"), BAD_CONFIGS)
def test_config_errors_name_the_option(config: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(InvalidConfig) as raised:
        JsonApiDriver.validate_config(config, datasource="inventory")
    for word in words:
        assert word in raised.value.message
    with pytest.raises(InvalidConfig):
        JsonApiDriver("inventory", config)


def test_config_error_classes() -> None:
    with pytest.raises(MissingRequiredOptions, match="tables"):
        JsonApiDriver.validate_config({"endpoint": "http://x"})
    with pytest.raises(MissingRequiredOptions, match="token"):
        JsonApiDriver.validate_config(base_config(auth="bearer"))
    with pytest.raises(InvalidDriverOptions):
        JsonApiDriver.validate_config(base_config(colour="blue"))
    with pytest.raises(InvalidLazyTables):
        JsonApiDriver.validate_config(base_config(lazy_tables="others"))


def test_table_and_column_names_follow_the_policy_language() -> None:
    from congress.datalog.lexer import ID_PATTERN

    assert json_api.NAME.pattern == ID_PATTERN
    names = ["servers", "_x", "a.b", "ports.fixed_ips", ".hidden", "T2"]
    config = base_config(tables=tables(**{n: {"path": "/t", "columns": {n: "@"}} for n in names}))
    JsonApiDriver.validate_config(config)
    assert list(JsonApiDriver("inventory", config).datasource_schema()) == names


def test_tables_option_as_an_object_and_the_schema() -> None:
    config = base_config(
        tables={"things": {"path": "/t", "rows": "items", "columns": {"b": "x.y", "a": "z"}}}
    )
    driver = JsonApiDriver("inventory", config)
    assert driver.columns("things") == ["b", "a"]
    assert JsonApiDriver.root_tables(config) == ["things"]
    assert JsonApiDriver.schema() == {}  # the tables come from each datasource's config


def test_info_lists_the_options_and_secrets() -> None:
    info = JsonApiDriver.info()
    assert info["id"] == "json"
    assert info["config"]["tables"] == "required"
    assert info["config"]["endpoint"] == "(optional)"
    assert sorted(info["secret"]) == ["password", "token"]


def test_the_driver_has_no_actions(cloud: FakeCloud, make: Make) -> None:
    driver = make(compute_config(cloud))
    assert driver.actions() == {"results": []}
    with pytest.raises(UnknownAction):
        driver.execute("servers.delete", [fj.WEB_1])
    assert cloud.requests == []


def test_client_settings(cloud: FakeCloud, make: Make) -> None:
    driver = make(inventory_config(cloud, verify="false"), timeout=2.5)
    client = driver.client
    assert isinstance(client, JsonApiClient)
    assert client.session.verify is False
    assert client.timeout == 2.5
    keystone = make(keystone_config(cloud, service_type="compute", verify="no"), timeout=3.0)
    assert keystone.client.session.verify is False
    assert keystone.client.session.timeout == 3.0
    assert cloud.requests == []


# --- lazy tables and polling -------------------------------------------------------------------


def test_lazy_tables(cloud: FakeCloud, make: Make) -> None:
    driver = make({**compute_config(cloud), "lazy_tables": "flavors"})
    assert driver.poll() == {"servers": SERVER_ROWS}
    assert cloud.requests_to(fj.COMPUTE + "/flavors") == []
    with pytest.raises(LazyTableNotActive):
        driver.rows("flavors")
    assert driver.activate("flavors") is True
    assert driver.poll() == {"servers": SERVER_ROWS, "flavors": FLAVOR_ROWS}
    assert len(cloud.requests_to(fj.COMPUTE + "/flavors/detail", "GET")) == 1


def test_unchanged_poll_and_one_change(cloud: FakeCloud, api: fj.FakeJsonApi, make: Make) -> None:
    driver = make(compute_config(cloud))
    first = driver.poll()
    assert driver.poll() == first
    assert driver.number_of_updates == 2
    api.server(fj.WEB_2)["status"] = "ACTIVE"
    api.server(fj.WEB_2)["updated"] = "2026-01-11T08:00:00Z"
    third = driver.poll()
    assert third["flavors"] == first["flavors"]
    assert third["servers"] - first["servers"] == {
        (fj.WEB_2, "web-2", "ACTIVE", "1", "10.0.0.6", "None", "{}", '["10.0.0.6"]')
    }
    assert first["servers"] - third["servers"] == {
        (fj.WEB_2, "web-2", "SHUTOFF", "1", "10.0.0.6", "None", "{}", '["10.0.0.6"]')
    }


# --- failures ---------------------------------------------------------------------------------


def assert_kept_then_recovered(
    driver: JsonApiDriver, cloud: FakeCloud, expected: dict[str, Any], words: list[str]
) -> None:
    assert driver.poll() == expected
    text = str(driver.last_error)
    for word in words:
        assert word in text
    assert driver.consecutive_failures == 1
    assert driver.status()["last_error"] == text
    cloud.heal()
    assert driver.poll() == expected
    assert driver.last_error is None
    assert driver.consecutive_failures == 0


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ({"status": 500}, ["table servers", "/servers/detail: HTTP 500", "injected fault"]),
        ({"body": b'{"servers": [ {"id": '}, ["table servers", "the answer is not JSON"]),
        ({"status": 503, "body": b"<html>Service Unavailable</html>"}, ["HTTP 503"]),
    ],
)
def test_service_failures_keep_the_last_good_rows(
    cloud: FakeCloud, make: Make, fault: dict[str, Any], words: list[str]
) -> None:
    driver = make(compute_config(cloud))
    good = driver.poll()
    assert good == {"servers": SERVER_ROWS, "flavors": FLAVOR_ROWS}
    cloud.fail(prefix=fj.COMPUTE + "/servers", **fault)
    assert_kept_then_recovered(driver, cloud, good, words)
    assert "flavors" not in str(driver.last_error)


def test_timeout_keeps_the_last_good_rows(cloud: FakeCloud, make: Make) -> None:
    driver = make(compute_config(cloud), timeout=0.2)
    good = driver.poll()
    cloud.fail(delay=0.6, prefix=fj.COMPUTE + "/flavors")
    words = ["table flavors", f"GET {cloud.url}{fj.COMPUTE}/flavors/detail", "timed out"]
    assert_kept_then_recovered(driver, cloud, good, words)


def test_keystone_timeout_and_500(cloud: FakeCloud, make: Make) -> None:
    driver = make(keystone_config(cloud, service_type="compute"), timeout=0.2)
    good = driver.poll()
    cloud.fail(delay=0.6, prefix=fj.COMPUTE + "/flavors")
    assert_kept_then_recovered(driver, cloud, good, ["table flavors", "timed out"])
    cloud.fail(500, prefix=fj.COMPUTE + "/servers")
    assert_kept_then_recovered(driver, cloud, good, ["table servers", "HTTP 500"])


def test_rows_not_a_list_keeps_the_last_good_rows(cloud: FakeCloud, make: Make) -> None:
    driver = make(compute_config(cloud))
    good = driver.poll()
    cloud.fail(body=b'{"servers": {"id": "x"}}', prefix=fj.COMPUTE + "/servers")
    words = ["table servers", "rows 'servers' selected an object, not a list"]
    assert_kept_then_recovered(driver, cloud, good, words)
    cloud.fail(body=b'{"server": []}', prefix=fj.COMPUTE + "/servers")
    assert_kept_then_recovered(driver, cloud, good, ["rows 'servers' selected null"])


def test_fetch_raises_datasource_errors(cloud: FakeCloud, make: Make) -> None:
    driver = make(compute_config(cloud))
    cloud.fail(500, prefix=fj.COMPUTE)
    with pytest.raises(ServiceError, match=r"table servers: GET .*/servers/detail: HTTP 500"):
        driver.fetch("servers")
    cloud.heal()
    cloud.fail(body=b'{"flavors": "none"}', prefix=fj.COMPUTE)
    with pytest.raises(TranslationError, match=r"table flavors: GET .*selected a string"):
        driver.fetch("flavors")
    cloud.heal()
    assert driver.fetch("flavors") == fj.FLAVORS  # the raw objects the rows expression selects


def test_column_expression_failing_at_run_time(cloud: FakeCloud, make: Make) -> None:
    table = {**FLAVORS_TABLE, "columns": {"id": "id", "size": "length(ram)"}}
    driver = make(compute_config(cloud, flavors=table))
    assert driver.poll() == {"flavors": set()}
    text = str(driver.last_error)
    assert "table 'flavors'" in text
    assert "column size: JMESPath 'length(ram)' failed: In function length()" in text
    assert "invalid type for value: 512" in text


def test_connection_refused(make: Make) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = base_config(endpoint=f"http://127.0.0.1:{port}/v1")
    driver = make(config, timeout=1.0)
    driver.poll()
    text = str(driver.last_error)
    assert f"table things: GET http://127.0.0.1:{port}/v1/things: cannot connect" in text
