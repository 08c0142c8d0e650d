"""``PATCH /v1/data-sources/<ds>``: the operator shares a datasource with projects and names
its tables' project columns; ``GET`` shows both (docs/tenancy.md). A whole single-process
node (build_node)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import webob
from api_client import Client
from oslo_config import cfg

from congress.api.app import REVISION_HEADER
from congress.cmd.server import Node, build_node

TABLES = json.dumps({"servers": ["id", "status", "project"], "zones": ["name"]})


@pytest.fixture
def node(conf: cfg.ConfigOpts) -> Iterator[Node]:
    n = build_node(conf)
    yield n
    n.stop()


@pytest.fixture
def api(node: Node) -> Client:
    client = Client(node.app)
    body = {"name": "inv", "driver": "push", "config": {"tables": TABLES}}
    assert client.post("/v1/data-sources", body)[0] == 201
    return client


def patch(api: Client, body: object, ds: str = "inv") -> tuple[int, dict[str, object]]:
    status, answer = api.call("PATCH", f"/v1/data-sources/{ds}", body)
    return status, answer


def test_a_datasource_is_shared_with_no_one_at_first(api: Client) -> None:
    status, ds = api.get("/v1/data-sources/inv")
    assert status == 200
    assert (ds["shared_with"], ds["project_columns"]) == ([], {})
    listed = api.get("/v1/data-sources")[1]["results"]
    assert [(d["name"], d["shared_with"]) for d in listed] == [("inv", [])]


def test_patch_shares_and_sets_project_columns(api: Client) -> None:
    status, ds = patch(api, {"shared_with": ["p1", "p2"]})
    assert status == 200
    assert (ds["name"], ds["shared_with"], ds["project_columns"]) == ("inv", ["p1", "p2"], {})
    status, ds = patch(api, {"project_columns": {"servers": "project"}})
    assert status == 200
    assert (ds["shared_with"], ds["project_columns"]) == (["p1", "p2"], {"servers": "project"})
    shown = api.get("/v1/data-sources/inv")[1]
    assert (shown["shared_with"], shown["project_columns"]) == (
        ["p1", "p2"],
        {"servers": "project"},
    )
    assert shown["driver"] == "push" and "config" in shown
    status, ds = patch(api, {"shared_with": ["*"], "project_columns": {}})
    assert (status, ds["shared_with"], ds["project_columns"]) == (200, ["*"], {})
    # by id as by name; an empty body changes nothing
    status, ds = patch(api, {}, ds=str(shown["id"]))
    assert (status, ds["shared_with"]) == (200, ["*"])


def test_patch_writes_a_new_policy_revision(api: Client, node: Node) -> None:
    """Every policy engine re-reads the sharing when the revision moves (HA)."""
    assert node.engine is not None
    before = node.engine.revision
    req = webob.Request.blank("/v1/data-sources/inv", method="PATCH")
    req.body = json.dumps({"shared_with": ["p1"]}).encode()
    req.content_type = "application/json"
    resp = req.get_response(api.app)
    assert resp.status_int == 200
    assert int(resp.headers[REVISION_HEADER]) == before + 1 == node.engine.revision


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"shared_with": "p1"}, 400, "shared_with"),
        ({"shared_with": ["p1", 2]}, 400, "shared_with"),
        ({"shared_with": ["*", "p1"]}, 400, "stands alone"),
        ({"shared_with": ["no spaces"]}, 400, "is not a project id"),
        ({"project_columns": ["servers"]}, 400, "project_columns"),
        ({"project_columns": {"servers": 1}}, 400, "project_columns"),
        ({"project_columns": {"volumes": "id"}}, 400, "no table volumes"),
        ({"project_columns": {"servers": "owner"}}, 400, "table servers has no column owner"),
        ({"owner": "p1"}, 400, "Only 'shared_with' and 'project_columns'"),
    ],
)
def test_patch_refuses_bad_bodies(api: Client, body: object, status: int, words: str) -> None:
    got, err = patch(api, body)
    assert got == status
    assert words in str(err["error"]["message"])
    ds = api.get("/v1/data-sources/inv")[1]
    assert (ds["shared_with"], ds["project_columns"]) == ([], {})


def test_patch_of_an_unknown_datasource_is_404(api: Client) -> None:
    assert patch(api, {"shared_with": ["p1"]}, ds="nosuch")[0] == 404


def test_a_project_policy_reads_its_view_of_a_shared_datasource(api: Client, node: Node) -> None:
    patch(api, {"shared_with": ["p1"], "project_columns": {"servers": "project"}})
    rows = [["a", "ERROR", "p1"], ["b", "ERROR", "p2"]]
    assert api.put("/v1/data-sources/inv/tables/servers/rows", rows)[0] == 200
    engine = node.engine
    assert engine is not None
    engine.create_policy("ops@p1")
    engine.create_rule("ops@p1", 'bad(x) :- inv:servers(id=x, status="ERROR")')
    assert engine.rows("ops@p1", "bad") == [("a",)]
    patch(api, {"shared_with": []})
    assert engine.rows("ops@p1", "bad") == []
