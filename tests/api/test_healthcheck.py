"""``/healthcheck``: the plain answer as before, and the deep readiness check with
``?details=true`` (200, or 503 when the node cannot serve; HEAD 204/503 as oslo.middleware)."""

from __future__ import annotations

from pathlib import Path

from api_client import Client
from oslo_config import cfg

from congress.api import pipeline
from congress.api.services import Services
from congress.common import config
from congress.db.engine import make_engine
from congress.services.health import Readiness
from congress.services.policy_engine import PolicyEngineService


def _api(
    conf: cfg.ConfigOpts, engine: PolicyEngineService, database: object | None = None
) -> tuple[Client, Readiness]:
    services = Services(engine)
    url = config.database_url(conf)
    readiness = Readiness(database=database or make_engine(url), engine=engine, timeout=5.0)
    services.readiness = readiness
    return Client(pipeline.build(services, conf)), readiness


def test_plain_answer_is_unchanged(
    conf: cfg.ConfigOpts, engine_service: PolicyEngineService
) -> None:
    api, _ = _api(conf, engine_service)
    assert api.get("/healthcheck") == (200, {"status": "OK", "policy_errors": {}})


def test_details_without_a_readiness_check(client: Client) -> None:
    status, body = client.get("/healthcheck?details=true")
    assert status == 200 and body["status"] == "OK" and body["detailed"] is True


def test_details_of_a_node_that_serves(
    conf: cfg.ConfigOpts, engine_service: PolicyEngineService
) -> None:
    api, _ = _api(conf, engine_service)
    for path in ("/healthcheck?details=true", "/healthcheck?detailed=1"):
        status, body = api.get(path)
        assert status == 200, body
        assert body["status"] == "OK"
        assert {r["class"]: r["reason"] for r in body["reasons"]} == {
            "database": "OK",
            "bus": "OK",
            "policy_engine": "OK",
        }
    resp = api.raw("HEAD", "/healthcheck?details=true")
    assert resp.status_int == 204 and resp.body == b""


def test_details_of_a_node_whose_database_is_gone(
    conf: cfg.ConfigOpts, engine_service: PolicyEngineService, tmp_path: Path
) -> None:
    gone = make_engine(f"sqlite:///{tmp_path}/missing/none/x.sqlite")
    api, _ = _api(conf, engine_service, gone)
    status, body = api.get("/healthcheck?details=true")
    assert status == 503 and body["status"] == "UNAVAILABLE"
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["database"]["details"].startswith("unreachable")
    assert api.raw("HEAD", "/healthcheck?details=true").status_int == 503
    assert api.get("/healthcheck")[0] == 200  # liveness: the process answers


def test_details_of_a_stopping_node(
    conf: cfg.ConfigOpts, engine_service: PolicyEngineService
) -> None:
    api, readiness = _api(conf, engine_service)
    readiness.stopping = True
    status, body = api.get("/healthcheck?details=true")
    assert status == 503 and body["checks"]["stopping"]["ok"] is False
