"""``GET /metrics``: open, in the Prometheus text format; API requests observed under their
declared route; the engine's tables; a datasources node that is down left out, not a failure."""

from __future__ import annotations

from pathlib import Path

import pytest
import webob
from api_client import Client
from oslo_config import cfg
from prometheus_client.parser import text_string_to_metric_families

from congress.api import pipeline
from congress.api.services import Services
from congress.bus import InProcessBus
from congress.common import config
from congress.services import errors, rpc
from congress.services.metrics import Metrics
from congress.services.policy_engine import PolicyEngineService

RULES = "/v1/policies/<policy>/rules"


def value(text: str, name: str, **labels: str) -> float | None:
    """The sample ``name{labels}`` of an exposition (None: absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


def routes(text: str) -> set[str]:
    """The ``route`` label values of the API latency histogram."""
    return {
        s.labels["route"]
        for family in text_string_to_metric_families(text)
        if family.name == "congress_api_request_seconds"
        for s in family.samples
    }


def scrape(api: Client) -> str:
    status, text = api.get("/metrics")
    assert status == 200
    assert isinstance(text, str)
    return text


@pytest.fixture
def metrics(engine_service: PolicyEngineService) -> Metrics:
    return Metrics(engine=engine_service)


@pytest.fixture
def api(conf: cfg.ConfigOpts, engine_service: PolicyEngineService, metrics: Metrics) -> Client:
    return Client(pipeline.build(Services(engine_service, metrics=metrics), conf))


def test_metrics_answer_the_prometheus_text_format(api: Client) -> None:
    resp = webob.Request.blank("/metrics").get_response(api.app)
    assert resp.status_int == 200
    assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    names = {f.name for f in text_string_to_metric_families(resp.text)}
    assert {"congress_api_request_seconds", "congress_table_rows"} <= names
    head = webob.Request.blank("/metrics", method="HEAD").get_response(api.app)
    assert head.status_int == 200 and head.body == b""
    assert api.post("/metrics", {})[0] == 501
    assert api.get("/metrics/")[0] == 200


def test_a_request_is_observed_under_its_declared_route(api: Client) -> None:
    assert api.get("/v1/policies/classification/rules")[0] == 200
    assert api.get("/v1/policies/classification/rules")[0] == 200
    assert api.get("/v1/policies/nosuch/rules")[0] == 404
    text = scrape(api)
    count = "congress_api_request_seconds_count"
    assert value(text, count, method="GET", route=RULES, status="200") == 2
    assert value(text, count, method="GET", route=RULES, status="404") == 1
    buckets = [
        s
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "congress_api_request_seconds_bucket" and s.labels.get("route") == RULES
    ]
    assert buckets and {s.labels["status"] for s in buckets} == {"200", "404"}
    assert not [r for r in routes(text) if "classification" in r or "nosuch" in r]


def test_paths_no_route_declares_are_other(api: Client) -> None:
    assert api.get("/v1/no/such/thing")[0] == 404
    assert api.get("/nowhere/else")[0] == 300
    assert api.raw("GET", "/dashboard/app.js").status_int == 200
    assert api.call("BREW", "/v1/policies")[0] == 501
    api.get("/healthcheck")
    text = scrape(api)
    count = "congress_api_request_seconds_count"
    assert value(text, count, method="GET", route="other", status="404") == 1
    assert value(text, count, method="GET", route="other", status="300") == 1
    assert value(text, count, method="GET", route="/dashboard", status="200") == 1
    assert value(text, count, method="other", route="/v1/policies", status="501") == 1
    assert value(text, count, method="GET", route="/healthcheck", status="200") == 1
    assert routes(text) <= {"other", "/healthcheck", "/v1/policies", "/metrics", "/dashboard"}


def test_rows_pushed_move_the_table_rows(api: Client, engine_service: PolicyEngineService) -> None:
    engine_service.ensure_datasource("nova", {"servers": ["id", "status"]})
    status, _ = api.post(
        "/v1/policies", {"name": "ops", "rules": [{"rule": 'down(x) :- nova:servers(x, "DOWN")'}]}
    )
    assert status == 201
    text = scrape(api)
    assert value(text, "congress_table_rows", policy="nova", table="servers") == 0
    assert value(text, "congress_table_rows", policy="ops", table="down") == 0
    assert value(text, "congress_policy_maintenance_seconds_count", policy="ops") is None
    engine_service.receive("nova", "servers", [("a", "DOWN"), ("b", "UP")], [])
    text = scrape(api)
    assert value(text, "congress_table_rows", policy="nova", table="servers") == 2
    assert value(text, "congress_table_rows", policy="ops", table="down") == 1
    assert value(text, "congress_policy_maintenance_seconds_count", policy="ops") == 1


def test_without_metrics_in_the_services_only_the_api_is_measured(
    conf: cfg.ConfigOpts, engine_service: PolicyEngineService
) -> None:
    api = Client(pipeline.build(Services(engine_service), conf))
    assert api.get("/v1/policies")[0] == 200
    text = scrape(api)
    assert (
        value(
            text,
            "congress_api_request_seconds_count",
            method="GET",
            route="/v1/policies",
            status="200",
        )
        == 1
    )
    assert "congress_table_rows" not in text


def test_a_datasources_node_that_is_down_does_not_fail_the_scrape(
    conf: cfg.ConfigOpts, engine_service: PolicyEngineService
) -> None:
    remote = rpc.Remote(InProcessBus(), rpc.DATASOURCES, unavailable=errors.DatasourcesUnavailable)
    metrics = Metrics(engine=engine_service, host=remote)
    api = Client(pipeline.build(Services(engine_service, remote, metrics=metrics), conf))
    text = scrape(api)
    assert value(text, "congress_scrape_errors_total", source="datasources") == 1
    assert "congress_datasource_poll_seconds" not in text
    assert "congress_table_rows" in text  # this node's own figures are all there


def test_metrics_need_no_token_with_keystone(
    tmp_path: Path, engine_service: PolicyEngineService
) -> None:
    c = cfg.ConfigOpts()
    f = tmp_path / "keystone.conf"
    f.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\nauth_strategy = keystone\n"
        "[keystone_authtoken]\nwww_authenticate_uri = http://127.0.0.1:5000/v3\n"
    )
    config.init(["--config-file", str(f)], conf=c, default_config_files=[])
    api = Client(
        pipeline.build(Services(engine_service, metrics=Metrics(engine=engine_service)), c)
    )
    assert api.get("/v1/policies")[0] == 401
    assert "congress_table_rows" in scrape(api)
