"""Datasource, driver and library routes of a whole single-process node (build_node)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_client import Client
from oslo_config import cfg

from congress.cmd.server import Node, build_node
from congress.common import config


@pytest.fixture
def node(conf: cfg.ConfigOpts) -> Iterator[Node]:
    n = build_node(conf)
    yield n
    n.stop()


@pytest.fixture
def api(node: Node) -> Client:
    return Client(node.app)


def test_drivers(api: Client) -> None:
    status, body = api.get("/v1/system/drivers")
    assert status == 200 and {d["id"] for d in body["results"]} >= {"doctor", "push", "vitrage"}
    status, body = api.get("/v1/system/drivers/doctor")
    assert status == 200
    assert [t["table_id"] for t in body["tables"]] == ["events"]
    assert set(body) >= {"id", "description", "config", "secret", "tables"}
    assert api.get("/v1/system/drivers/nosuch")[0] == 404


def test_push_datasource_routes(api: Client) -> None:
    tables = json.dumps({"servers": ["id", "status"]})
    body = {"name": "inv", "driver": "push", "config": {"tables": tables}, "description": None}
    status, ds = api.post("/v1/data-sources", body)
    assert status == 201 and ds["type"] is None and ds["enabled"] is True
    assert api.post("/v1/data-sources", body)[0] == 409
    status, err = api.post("/v1/data-sources", {"name": "x", "driver": "nosuch", "config": {}})
    assert status == 400
    status, err = api.post("/v1/data-sources", {"name": "y", "driver": "push", "config": {}})
    assert status == 400 and "tables" in err["error"]["message"]
    assert api.put("/v1/data-sources/inv/tables/servers/rows", [["vm1", "ERROR"]])[0] == 200
    status, err = api.put("/v1/data-sources/inv/tables/servers/rows", [["vm1"]])
    assert status == 400 and err["error"]["error_data"]["code"] == "invalid_rows"
    assert api.get("/v1/data-sources/inv/tables/servers/rows")[1] == {
        "results": [{"data": ["vm1", "ERROR"]}]
    }
    assert api.get("/v1/data-sources/inv/tables")[1] == {"results": [{"id": "servers"}]}
    spec = api.get("/v1/data-sources/inv/tables/servers/spec")[1]
    assert spec["table_id"] == "servers"
    assert [c["name"] for c in spec["columns"]] == ["id", "status"]
    schema = api.get("/v1/data-sources/inv/schema")[1]
    assert [t["table_id"] for t in schema["tables"]] == ["servers"]
    assert api.get(f"/v1/data-sources/{ds['id']}")[1]["name"] == "inv"
    assert set(api.get("/v1/data-sources/inv/status")[1]) >= {"last_updated", "initialized"}
    assert api.get("/v1/data-sources/inv/actions")[0] == 200
    assert api.post("/v1/data-sources/inv?action=request-refresh", {})[0] == 200
    rule = {"rule": 'bad(x) :- inv:servers(id=x, status="ERROR")'}
    assert api.post("/v1/policies/classification/rules", rule)[0] == 201
    assert api.get("/v1/policies/classification/tables/bad/rows")[1] == {
        "results": [{"data": ["vm1"]}]
    }
    assert api.delete("/v1/data-sources/inv")[0] == 200
    assert api.get("/v1/data-sources/inv")[0] == 404
    assert api.get("/v1/policies/classification/tables/bad/rows")[1] == {"results": []}


def test_datasource_rows_are_paged_and_filtered_by_the_server(api: Client) -> None:
    tables = json.dumps({"servers": ["id", "status"]})
    body = {"name": "inv", "driver": "push", "config": {"tables": tables}}
    assert api.post("/v1/data-sources", body)[0] == 201
    rows = [[f"vm{i:03d}", "ERROR" if i % 10 == 0 else "ACTIVE"] for i in range(250)]
    assert api.put("/v1/data-sources/inv/tables/servers/rows", rows)[0] == 200
    url = "/v1/data-sources/inv/tables/servers/rows"
    seen: list[list[object]] = []
    for offset in (0, 100, 200):
        status, page = api.get(f"{url}?limit=100&offset={offset}")
        assert status == 200
        assert (page["total"], page["offset"], page["limit"]) == (250, offset, 100)
        seen.extend(r["data"] for r in page["results"])
    assert seen == rows  # every row once, in the sorted order
    status, page = api.get(f"{url}?filter=error&limit=5")
    assert page["total"] == 25 and len(page["results"]) == 5
    assert all(r["data"][1] == "ERROR" for r in page["results"])
    status, err = api.get(f"{url}?limit=0")
    assert status == 400 and "'limit'" in err["error"]["message"]
    assert len(api.get(url)[1]["results"]) == 250  # without paging: every row, no total
    assert "total" not in api.get(url)[1]


def test_library_routes(api: Client) -> None:
    status, body = api.get("/v1/librarypolicies?include_rules=false")
    assert status == 200 and len(body["results"]) == 17  # the shipped library
    assert all("rules" not in p for p in body["results"])
    new = {"name": "Mine", "rules": [{"rule": "p(1)"}, {"rule": "q(x) :- p(x)"}]}
    status, lib = api.post("/v1/librarypolicies", new)
    assert status == 201 and lib["name"] == "Mine"
    status, lib = api.put(f"/v1/librarypolicies/{lib['id']}", {**new, "description": "d"})
    assert status == 200 and lib["description"] == "d"
    status, pol = api.post(f"/v1/policies?library_policy={lib['id']}")
    assert status == 201 and pol["name"] == "Mine" and len(pol["rules"]) == 2
    assert api.get("/v1/policies/Mine/tables/q/rows")[1] == {"results": [{"data": [1]}]}
    assert api.delete(f"/v1/librarypolicies/{lib['id']}")[0] == 200
    assert api.get(f"/v1/librarypolicies/{lib['id']}")[0] == 404


def test_a_lone_process_without_transport_url_needs_no_broker(node: Node) -> None:
    """oslo.messaging's own default transport_url (rabbit://) does not make a lone process
    join a broker: it runs on the in-process bus."""
    from congress.bus import InProcessBus

    assert isinstance(node.bus, InProcessBus)
    assert node.roles == {"api", "policy_engine", "datasources"}


def test_role_flags_without_transport_url_are_refused(conf: cfg.ConfigOpts) -> None:
    with pytest.raises(SystemExit) as refused:
        build_node(conf, frozenset({"api", "policy_engine"}))
    assert "needs a message bus shared by the nodes: set transport_url" in str(refused.value)


def test_a_bus_level_that_this_release_cannot_send_is_refused(tmp_path: Path) -> None:
    conf = cfg.ConfigOpts()
    conf_file = tmp_path / "congress.conf"
    conf_file.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\nauth_strategy = noauth\n"
        "transport_url = rabbit://guest:guest@127.0.0.1:5672/\n[upgrade_levels]\nbus = 2.0\n"
    )
    config.init(["--config-file", str(conf_file)], conf=conf, default_config_files=[])
    with pytest.raises(SystemExit) as refused:
        build_node(conf, frozenset({"api", "policy_engine"}))
    assert "[upgrade_levels] bus must be auto or a bus message version" in str(refused.value)
