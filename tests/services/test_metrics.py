"""Metrics (congress.services.metrics): every family appears with its labels and moves when
what it measures happens: rows pushed, batches applied, polls that work and fail, actions
executed and failed, bus messages with a send time; a datasources node reached over RPC, or
not at all."""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine
from test_datasource_host_fakes import ENDPOINTS, FakeClient, client_factory

from congress.bus import Announcement, InProcessBus, Publisher, TableDelta
from congress.datalog.runtime import BatchResult
from congress.datasources import errors as ds_errors
from congress.datasources.loader import DriverLoader
from congress.db import migration
from congress.db.engine import make_engine
from congress.services import errors, rpc
from congress.services.datasources import DatasourceHost
from congress.services.metrics import DatasourceMetrics, Metrics
from congress.services.policy_engine import PolicyEngineService
from congress.services.sink import PolicyEngineSink

CLOCK = datetime.datetime(2026, 11, 25, 12, 0, 0, tzinfo=datetime.UTC)
CREDENTIALS = {
    "auth_url": "http://keystone:5000/v3",
    "username": "admin",
    "password": "s3cret-pa55",
    "project_name": "admin",
    "poll_time": "0",
}


def samples(text: str | bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by (name, labels)."""
    if isinstance(text, bytes):
        text = text.decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str | bytes, name: str, **labels: str) -> float | None:
    """The sample ``name{labels}`` (None: absent)."""
    return samples(text).get((name, frozenset(labels.items())))


def families(text: str | bytes) -> dict[str, list[set[str]]]:
    """Each family's name with the label names of its samples (``_total``, ``_count``... kept)."""
    if isinstance(text, bytes):
        text = text.decode()
    out: dict[str, list[set[str]]] = {}
    for family in text_string_to_metric_families(text):
        out[family.name] = [set(s.labels) for s in family.samples]
    return out


@pytest.fixture
def database(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'congress.sqlite'}"
    migration.upgrade(url)
    return make_engine(url)


@pytest.fixture
def ticks() -> Callable[[], float]:
    """A timer that moves one second each time it is read."""
    counter = itertools.count()
    return lambda: float(next(counter))


@pytest.fixture
def engine(database: Engine, ticks: Callable[[], float]) -> PolicyEngineService:
    svc = PolicyEngineService(database, clock=lambda: CLOCK, timer=ticks, node_id="n1")
    svc.start()
    return svc


@pytest.fixture
def host(
    database: Engine, tmp_path: Path
) -> Iterator[tuple[DatasourceHost, dict[str, FakeClient]]]:
    clients: dict[str, FakeClient] = {}
    h = DatasourceHost(
        database,
        bus=InProcessBus(),
        loader=DriverLoader(None, custom_endpoints=ENDPOINTS),
        key_path=tmp_path / "keys",
        clock=lambda: CLOCK,
        node_id="n1",
        poll=False,
        client_factory=client_factory(clients),
    )
    h.start()
    yield h, clients
    h.stop()


# -- the policy engine ------------------------------------------------------------------------


def test_table_rows_per_policy_and_table_follow_the_data(engine: PolicyEngineService) -> None:
    metrics = Metrics(engine=engine)
    engine.ensure_datasource("nova", {"servers": ["id", "status"]})
    engine.create_policy("p", rules=[{"rule": 'down(x) :- nova:servers(x, "DOWN")'}])
    text = metrics.exposition()
    assert value(text, "congress_table_rows", policy="nova", table="servers") == 0
    assert value(text, "congress_table_rows", policy="p", table="down") == 0
    assert families(text)["congress_table_rows"][0] == {"policy", "table"}

    engine.receive("nova", "servers", [("a", "DOWN"), ("b", "UP"), ("c", "DOWN")], [])
    text = metrics.exposition()
    assert value(text, "congress_table_rows", policy="nova", table="servers") == 3
    assert value(text, "congress_table_rows", policy="p", table="down") == 2

    engine.receive("nova", "servers", [], [("a", "DOWN")])
    text = metrics.exposition()
    assert value(text, "congress_table_rows", policy="nova", table="servers") == 2
    assert value(text, "congress_table_rows", policy="p", table="down") == 1


def test_maintenance_time_is_observed_per_changed_policy_and_batches_counted(
    engine: PolicyEngineService,
) -> None:
    metrics = Metrics(engine=engine)
    engine.ensure_datasource("nova", {"servers": ["id", "status"]})
    engine.create_policy("p", rules=[{"rule": 'down(x) :- nova:servers(x, "DOWN")'}])
    engine.create_policy("q", rules=[{"rule": "r(1)"}])
    before = metrics.exposition()
    batches = value(before, "congress_engine_batches_total")
    assert batches is not None and batches >= 2  # the rules inserted
    assert value(before, "congress_policy_maintenance_seconds_count", policy="q") == 1
    assert value(before, "congress_policy_maintenance_seconds_count", policy="p") is None

    engine.receive("nova", "servers", [("a", "DOWN")], [])
    after = metrics.exposition()
    assert value(after, "congress_engine_batches_total") == batches + 1
    assert value(after, "congress_policy_maintenance_seconds_count", policy="nova") == 1
    assert value(after, "congress_policy_maintenance_seconds_count", policy="p") == 1
    # the timer moves a second per reading: the batch took at least one
    assert (value(after, "congress_policy_maintenance_seconds_sum", policy="p") or 0) >= 1.0
    assert value(after, "congress_policy_maintenance_seconds_count", policy="q") == 1  # untouched

    engine.receive("nova", "servers", [("b", "UP")], [])  # p derives nothing new
    last = metrics.exposition()
    assert value(last, "congress_engine_batches_total") == batches + 2
    assert value(last, "congress_policy_maintenance_seconds_count", policy="nova") == 2
    assert value(last, "congress_policy_maintenance_seconds_count", policy="p") == 1


def test_maintenance_buckets_are_cumulative_and_inclusive(engine: PolicyEngineService) -> None:
    metrics = Metrics(engine=engine)
    policy = "classification"  # a policy that exists: the scrape drops deleted ones
    changed = BatchResult(changes={(policy, "t"): ({(1,)}, set()), (policy, "u"): ({(1,)}, set())})
    metrics.observe_batch(changed, 0.005)  # on a bound: counted in it
    metrics.observe_batch(changed, 0.02)
    metrics.observe_batch(changed, 1000.0)  # over every bound: +Inf only
    text = metrics.exposition()
    bucket = "congress_policy_maintenance_seconds_bucket"
    assert value(text, bucket, policy=policy, le="0.0025") == 0
    assert value(text, bucket, policy=policy, le="0.005") == 1
    assert value(text, bucket, policy=policy, le="0.025") == 2
    assert value(text, bucket, policy=policy, le="60.0") == 2
    assert value(text, bucket, policy=policy, le="+Inf") == 3
    assert value(text, "congress_policy_maintenance_seconds_count", policy=policy) == 3
    assert value(text, "congress_policy_maintenance_seconds_sum", policy=policy) == 1000.025


def test_a_deleted_policy_leaves_the_maintenance_series(engine: PolicyEngineService) -> None:
    metrics = Metrics(engine=engine)
    engine.create_policy("gone", rules=[{"rule": "r(1)"}])
    assert value(metrics.exposition(), "congress_policy_maintenance_seconds_count", policy="gone")
    engine.delete_policy("gone")
    text = metrics.exposition()
    assert value(text, "congress_policy_maintenance_seconds_count", policy="gone") is None
    assert value(text, "congress_table_rows", policy="gone", table="r") is None


def test_without_a_local_engine_there_are_no_engine_families() -> None:
    text = Metrics().exposition()
    names = set(families(text))
    assert "congress_api_request_seconds" in names and "congress_scrape_errors" in names
    assert not names & {
        "congress_table_rows",
        "congress_policy_maintenance_seconds",
        "congress_engine_batches",
        "congress_bus_lag_seconds",
    }


# -- bus lag ----------------------------------------------------------------------------------


def test_bus_messages_with_a_send_time_observe_the_lag(engine: PolicyEngineService) -> None:
    bus = InProcessBus()
    now = [1000.0]
    sink = PolicyEngineSink(engine, bus, wall_clock=lambda: now[0])
    metrics = Metrics(engine=engine, sink=sink)
    publisher = Publisher(bus, "nova", wall_clock=lambda: 997.5, epoch=1)
    publisher.publish("servers", [("a", "UP")])
    bus.announce(Announcement("nova", {"servers": ("id", "status")}))
    sink.start()  # subscribes; the snapshot it asks for was sent "at 997.5"
    text = metrics.exposition()
    assert value(text, "congress_bus_lag_seconds_count", publisher="nova") == 1
    assert value(text, "congress_bus_lag_seconds_sum", publisher="nova") == 2.5

    now[0] = 1001.0
    publisher.publish("servers", [("a", "UP"), ("b", "UP")])  # a delta, sent "at 997.5"
    text = metrics.exposition()
    assert value(text, "congress_bus_lag_seconds_count", publisher="nova") == 2
    assert value(text, "congress_bus_lag_seconds_sum", publisher="nova") == 2.5 + 3.5
    assert value(text, "congress_table_rows", policy="nova", table="servers") == 2

    # a message without a send time (an older publisher) is applied, and not observed
    bus.publish(TableDelta("nova", "servers", 2, frozenset({("c", "UP")}), frozenset(), 1))
    text = metrics.exposition()
    assert value(text, "congress_table_rows", policy="nova", table="servers") == 3
    assert value(text, "congress_bus_lag_seconds_count", publisher="nova") == 2

    bus.announce(Announcement("nova", present=False))  # withdrawn: its policy and series go
    text = metrics.exposition()
    assert value(text, "congress_bus_lag_seconds_count", publisher="nova") is None
    sink.stop()


def test_a_publisher_stamps_every_message_with_its_send_time() -> None:
    bus = InProcessBus()
    sent: list[Any] = []
    bus.subscribe("ds", "t", sent.append)
    publisher = Publisher(bus, "ds", wall_clock=lambda: 42.0)
    publisher.publish("t", [(1,)])
    publisher.publish("t", [(2,)])
    publisher.heartbeat()
    snapshot = publisher.snapshot("t")
    assert [m.sent_at for m in sent] == [42.0, 42.0, 42.0]
    assert snapshot is not None and snapshot.sent_at == 42.0


# -- datasources ------------------------------------------------------------------------------


def test_polls_observe_duration_last_success_and_errors(
    host: tuple[DatasourceHost, dict[str, FakeClient]],
) -> None:
    h, clients = host
    h.create_datasource("fk", "fake", CREDENTIALS)
    clients["fk"].servers.data = [{"id": "s1", "name": "one", "status": "ACTIVE"}]
    h.request_refresh("fk")
    text = h.metrics_text()
    assert value(text, "congress_datasource_poll_seconds_count", datasource="fk") == 1
    success = value(text, "congress_datasource_last_success_timestamp_seconds", datasource="fk")
    assert success is not None and success > 1.7e9
    assert value(text, "congress_datasource_poll_errors_total", datasource="fk") is None

    def broken() -> list[dict[str, Any]]:
        raise ConnectionError("nova is down")

    clients["fk"].servers.list = broken  # type: ignore[method-assign]
    h.request_refresh("fk")
    text = h.metrics_text()
    assert value(text, "congress_datasource_poll_seconds_count", datasource="fk") == 2
    assert value(text, "congress_datasource_poll_errors_total", datasource="fk") == 1
    assert (
        value(text, "congress_datasource_last_success_timestamp_seconds", datasource="fk")
        == success
    )


def test_the_last_success_is_the_wall_clock_of_the_poll() -> None:
    metrics = DatasourceMetrics(wall_clock=lambda: 1234.5)
    metrics.observe_poll("ds", 0.25, ok=True)
    metrics.observe_poll("ds", 3.0, ok=False)
    text = metrics.text()
    assert value(text, "congress_datasource_last_success_timestamp_seconds", datasource="ds") == (
        1234.5
    )
    assert value(text, "congress_datasource_poll_seconds_sum", datasource="ds") == 3.25
    assert value(text, "congress_datasource_poll_errors_total", datasource="ds") == 1


def test_actions_executed_and_failed_are_counted(
    host: tuple[DatasourceHost, dict[str, FakeClient]],
) -> None:
    h, _ = host
    h.create_datasource("fk", "fake", CREDENTIALS)
    h.execute("fk", "servers.pause", ["s1"])
    h.execute("fk", "servers.pause", ["s2"])
    with pytest.raises(ds_errors.ActionFailed):
        h.execute("fk", "servers.explode", ["s1"])
    with pytest.raises(ds_errors.UnknownAction):
        h.execute("fk", "no.such.action", [])
    text = h.metrics_text()
    labels = {"datasource": "fk"}
    assert (
        value(text, "congress_actions_total", action="servers.pause", result="executed", **labels)
        == 2
    )
    assert (
        value(text, "congress_actions_total", action="servers.explode", result="failed", **labels)
        == 1
    )
    assert value(text, "congress_actions_total", action="other", result="failed", **labels) == 1
    assert (
        value(text, "congress_actions_total", action="no.such.action", result="failed", **labels)
        is None
    )


def test_a_deleted_datasource_leaves_its_series(
    host: tuple[DatasourceHost, dict[str, FakeClient]],
) -> None:
    h, _ = host
    h.create_datasource("fk", "fake", CREDENTIALS)
    h.request_refresh("fk")
    h.execute("fk", "servers.pause", ["s1"])
    assert 'datasource="fk"' in h.metrics_text()
    h.delete_datasource("fk")
    assert 'datasource="fk"' not in h.metrics_text()


def test_the_datasources_node_figures_come_over_rpc(
    host: tuple[DatasourceHost, dict[str, FakeClient]],
) -> None:
    h, _ = host
    h.create_datasource("fk", "fake", CREDENTIALS)
    h.request_refresh("fk")
    bus = InProcessBus()
    rpc.serve(bus, rpc.DATASOURCES, h, rpc.DATASOURCE_METHODS)
    remote = rpc.Remote(bus, rpc.DATASOURCES, unavailable=errors.DatasourcesUnavailable)
    metrics = Metrics(host=remote)
    text = metrics.exposition()
    assert value(text, "congress_datasource_poll_seconds_count", datasource="fk") == 1
    assert value(text, "congress_scrape_errors_total", source="datasources") == 0
    assert "congress_api_request_seconds" in families(text)


def test_a_datasources_node_that_is_down_is_left_out_and_counted() -> None:
    remote = rpc.Remote(InProcessBus(), rpc.DATASOURCES, unavailable=errors.DatasourcesUnavailable)
    metrics = Metrics(host=remote)
    text = metrics.exposition()
    assert value(text, "congress_scrape_errors_total", source="datasources") == 1
    assert "congress_datasource_poll_seconds" not in families(text)
    assert value(metrics.exposition(), "congress_scrape_errors_total", source="datasources") == 2
