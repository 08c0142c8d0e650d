"""Server-side paging of a policy table's rows (``limit``, ``offset``, ``filter``), as the
dashboard reads big tables (docs/dashboard.md)."""

from __future__ import annotations

from api_client import Client

from congress.services.policy_engine import PolicyEngineService

ROWS = "/v1/policies/p/tables/t/rows"


def setup(client: Client, engine_service: PolicyEngineService, n: int) -> None:
    engine_service.ensure_datasource("d", {"v": ["id", "status"]})
    status, _ = client.post(
        "/v1/policies", {"name": "p", "rules": [{"rule": "t(x, s) :- d:v(x, s)"}]}
    )
    assert status == 201
    rows = [(f"vm{i:04d}", "ERROR" if i % 10 == 0 else "ACTIVE") for i in range(n)]
    engine_service.receive("d", "v", rows, [])


def test_pages_cover_every_row_once_in_a_stable_order(
    client: Client, engine_service: PolicyEngineService
) -> None:
    setup(client, engine_service, 250)
    seen: list[list[object]] = []
    for offset in (0, 100, 200):
        status, page = client.get(f"{ROWS}?limit=100&offset={offset}")
        assert status == 200
        assert (page["total"], page["offset"], page["limit"]) == (250, offset, 100)
        seen.extend(r["data"] for r in page["results"])
    assert len(seen) == 250 and len({tuple(r) for r in seen}) == 250
    assert seen == sorted(seen, key=lambda r: repr(tuple(r)))
    status, past = client.get(f"{ROWS}?offset=300")
    assert status == 200 and past["results"] == [] and past["total"] == 250


def test_a_filter_keeps_the_rows_with_a_matching_value(
    client: Client, engine_service: PolicyEngineService
) -> None:
    setup(client, engine_service, 250)
    status, page = client.get(f"{ROWS}?filter=error&limit=10")
    assert status == 200
    assert page["total"] == 25
    assert all(r["data"][1] == "ERROR" for r in page["results"])
    assert len(page["results"]) == 10
    status, page = client.get(f"{ROWS}?filter=vm0042")
    assert [r["data"] for r in page["results"]] == [["vm0042", "ACTIVE"]]


def test_a_page_follows_the_changes(client: Client, engine_service: PolicyEngineService) -> None:
    setup(client, engine_service, 5)
    assert client.get(f"{ROWS}?limit=10")[1]["total"] == 5
    engine_service.receive("d", "v", [("vm9999", "ERROR")], [("vm0000", "ERROR")])
    page = client.get(f"{ROWS}?limit=10")[1]
    assert page["total"] == 5
    assert ["vm9999", "ERROR"] in [r["data"] for r in page["results"]]
    assert ["vm0000", "ERROR"] not in [r["data"] for r in page["results"]]


def test_bad_paging_parameters_are_400s_naming_them(
    client: Client, engine_service: PolicyEngineService
) -> None:
    setup(client, engine_service, 5)
    for query, name in (("limit=0", "limit"), ("limit=x", "limit"), ("offset=-1", "offset")):
        status, body = client.get(f"{ROWS}?{query}")
        assert status == 400 and f"'{name}'" in body["error"]["message"]
    status, body = client.get(f"{ROWS}?limit=5&explain=true")
    assert status == 400 and "paging" in body["error"]["message"]
