"""``GET .../tables/<t>/rows?as_of=T`` and ``GET .../tables/<t>/history``: the history of
watched tables through the API, and the 400s, 404s and 503 of bad requests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from api_client import Client
from oslo_config import cfg

from congress.api import pipeline
from congress.api.services import Services
from congress.common import config
from congress.db.engine import make_engine
from congress.services.history import History
from congress.services.policy_engine import PolicyEngineService
from congress.services.watch import TableSelector

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
P = "/v1/policies/p/tables"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def history(
    conf: cfg.ConfigOpts, engine_service: PolicyEngineService, clock: Clock
) -> Iterator[History]:
    database = make_engine(config.database_url(conf))
    h = History(
        database,
        engine_service,
        TableSelector(["*:error", "*:warning"]),
        "n1",
        clock,
        retention_days=30,
        reconcile_delay=0.0,
    )
    h.start()
    yield h
    h.stop()
    database.dispose()


@pytest.fixture
def api(conf: cfg.ConfigOpts, engine_service: PolicyEngineService, history: History) -> Client:
    return Client(pipeline.build(Services(engine_service, history=history), conf))


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def stamp(when: dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


@pytest.fixture
def changed(api: Client, history: History, clock: Clock) -> dict[str, str]:
    """Policy ``p``: error(1) from T0 + 1 s, then error(2) instead from T0 + 2 s."""
    assert api.post("/v1/policies", {"name": "p"})[0] == 201
    assert api.post("/v1/policies/p/rules", {"rule": "error(x) :- q(x)"})[0] == 201
    clock.now = at(1)
    status, q1 = api.post("/v1/policies/p/rules", {"rule": "q(1)"})
    assert status == 201
    clock.now = at(2)
    assert api.delete(f"/v1/policies/p/rules/{q1['id']}")[0] == 200
    assert api.post("/v1/policies/p/rules", {"rule": "q(2)"})[0] == 201
    assert history.flush()
    return {"q1": q1["id"]}


def error(body: Any) -> tuple[str, str]:
    return body["error"]["message"], body["error"]["error_data"]["code"]


def test_rows_as_of_a_time(api: Client, changed: dict[str, str]) -> None:
    def rows(when: str) -> Any:
        status, body = api.get(f"{P}/error/rows?as_of={when}")
        assert status == 200, body
        return body

    assert rows(stamp(T0)) == {"results": []}
    assert rows(stamp(at(1))) == {"results": [{"data": [1]}]}
    assert rows(stamp(at(1.5))) == {"results": [{"data": [1]}]}
    assert rows(stamp(at(2))) == {"results": [{"data": [2]}]}
    # one instant, written three ways: UTC with Z, an offset (%2B is +), no offset (UTC)
    assert rows("2026-03-01T13:00:01.500000%2B01:00") == {"results": [{"data": [1]}]}
    assert rows("2026-03-01T12:00:01.5") == {"results": [{"data": [1]}]}
    # the rows route without as_of answers the rows now
    assert api.get(f"{P}/error/rows")[1] == {"results": [{"data": [2]}]}
    # the policy by id
    pid = api.get("/v1/policies/p")[1]["id"]
    assert api.get(f"/v1/policies/{pid}/tables/error/rows?as_of={stamp(at(1))}")[1] == rows(
        stamp(at(1))
    )


def test_the_changes_of_a_table(api: Client, changed: dict[str, str]) -> None:
    status, body = api.get(f"{P}/error/history")
    assert status == 200, body
    revisions = [c["revision"] for c in body["results"]]
    assert body["results"] == [
        {"time": "2026-03-01T12:00:01.000000+00:00", "revision": revisions[0], "op": "insert",
         "row": [1]},
        {"time": "2026-03-01T12:00:02.000000+00:00", "revision": revisions[1], "op": "delete",
         "row": [1]},
        {"time": "2026-03-01T12:00:02.000000+00:00", "revision": revisions[2], "op": "insert",
         "row": [2]},
    ]  # fmt: skip
    assert revisions[0] < revisions[1] < revisions[2]
    since = api.get(f"{P}/error/history?since={stamp(at(2))}")[1]["results"]
    assert [(c["op"], c["row"]) for c in since] == [("delete", [1]), ("insert", [2])]
    until = api.get(f"{P}/error/history?since={stamp(T0)}&until={stamp(at(2))}")[1]["results"]
    assert [(c["op"], c["row"]) for c in until] == [("insert", [1])]
    limited = api.get(f"{P}/error/history?limit=2")[1]["results"]
    assert limited == body["results"][:2]
    assert api.get(f"{P}/warning/history")[1] == {"results": []}  # watched, never changed


def test_counts_over_time(
    api: Client, changed: dict[str, str], clock: Clock, history: History
) -> None:
    clock.now = at(3)
    assert api.post("/v1/policies/p/rules", {"rule": "q(3)"})[0] == 201
    assert history.flush()
    status, body = api.get(
        f"{P}/error/history/counts?since={stamp(T0)}&until={stamp(at(4))}&step=1"
    )
    assert status == 200, body
    assert body == {
        "results": [
            {"time": (T0 + dt.timedelta(seconds=i)).isoformat(), "count": n}
            for i, n in enumerate([0, 1, 1, 2, 2])
        ],
        "step": 1.0,
    }
    # a step that does not divide the span: the last point is at until
    points = api.get(f"{P}/error/history/counts?since={stamp(T0)}&until={stamp(at(2.5))}&step=2")
    assert [(p["time"], p["count"]) for p in points[1]["results"]] == [
        (T0.isoformat(), 0), (at(2).isoformat(), 1), (at(2.5).isoformat(), 1)
    ]  # fmt: skip
    # by default: the last day until now, in 24 steps
    clock.now = at(10)
    body = api.get(f"{P}/error/history/counts")[1]
    assert body["step"] == 3600.0 and len(body["results"]) == 25
    assert body["results"][-1] == {"time": at(10).isoformat(), "count": 2}
    assert body["results"][0]["count"] == 0
    assert api.get(f"{P}/warning/history/counts")[1]["results"][-1]["count"] == 0


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("rows?as_of=yesterday", "Parameter 'as_of' must be a time in ISO 8601"),
        ("rows?as_of=", "Parameter 'as_of' must be a time in ISO 8601"),
        ("rows?as_of=2026-02-30T00:00:00Z", "Parameter 'as_of'"),
        ("rows?as_of=0001-01-01T00:00:00%2B05:00", "Parameter 'as_of'"),
        ("rows?as_of=2026-03-01T12:00:00Z&trace=true", "'trace' cannot be combined with 'as_of'"),
        ("history?since=soon", "Parameter 'since' must be a time in ISO 8601"),
        ("history?until=12:00", "Parameter 'until' must be a time in ISO 8601"),
        ("history?limit=0", "Parameter 'limit' must be an integer from 1 to 10000"),
        ("history?limit=10001", "Parameter 'limit' must be an integer from 1 to 10000"),
        ("history?limit=ten", "Parameter 'limit' must be an integer from 1 to 10000"),
        ("history/counts?step=0", "Parameter 'step' must be a number of seconds above 0"),
        ("history/counts?step=nan", "Parameter 'step' must be a number of seconds above 0"),
        ("history/counts?step=1", "into at most 1000 points"),
        ("history/counts?since=soon", "Parameter 'since' must be a time in ISO 8601"),
        (
            "history/counts?since=2026-03-01T12:00:00Z&until=2026-03-01T11:00:00Z",
            "'until' must come after 'since'",
        ),
    ],
)
def test_bad_parameters_are_400s_naming_them(api: Client, query: str, words: str) -> None:
    assert api.post("/v1/policies", {"name": "p"})[0] == 201
    status, body = api.get(f"{P}/error/{query}")
    assert status == 400, body
    message, code = error(body)
    assert words in message and code == "bad_request"


def test_as_of_before_the_history_kept(api: Client, changed: dict[str, str]) -> None:
    status, body = api.get(f"{P}/error/rows?as_of={stamp(T0 - dt.timedelta(days=31))}")
    assert status == 400
    message, code = error(body)
    assert code == "history_expired"
    assert "[watch] history_retention_days" in message and "30 days" in message
    # the changes start at the start of the history kept, however early since is
    status, body = api.get(f"{P}/error/history?since=2000-01-01T00:00:00Z")
    assert status == 200 and len(body["results"]) == 3


def test_tables_that_are_not_watched_have_no_history(api: Client) -> None:
    assert api.post("/v1/policies", {"name": "p"})[0] == 201
    assert api.post("/v1/policies/p/rules", {"rule": "q(1)"})[0] == 201
    for path in (
        f"{P}/q/history",
        f"{P}/q/history/counts",
        f"{P}/q/rows?as_of=2026-03-01T12:00:00Z",
    ):
        status, body = api.get(path)
        assert status == 404, (path, body)
        message, code = error(body)
        assert code == "table_not_watched"
        assert "Table q of policy p is not watched" in message and "[watch] tables" in message
    status, body = api.get("/v1/policies/nosuch/tables/error/history")
    assert status == 404 and body["error"]["error_code"] == 1020
    status, body = api.get("/v1/policies/nosuch/tables/error/rows?as_of=2026-03-01T12:00:00Z")
    assert status == 404 and body["error"]["error_code"] == 1020


def test_a_node_without_history_says_so(client: Client) -> None:
    """``client`` serves a node whose services have no history."""
    assert client.post("/v1/policies", {"name": "p"})[0] == 201
    for path in (f"{P}/error/history", f"{P}/error/rows?as_of=2026-03-01T12:00:00Z"):
        status, body = client.get(path)
        assert status == 503, (path, body)
        message, code = error(body)
        assert code == "history_unavailable"
        assert "history of watched tables is not available on this node" in message
    # the rows now still answer
    assert client.get(f"{P}/error/rows")[0] == 404  # p does not mention error
