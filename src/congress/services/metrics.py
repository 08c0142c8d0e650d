"""Metrics in the Prometheus text format (``GET /metrics``, docs/metrics.md).

Imports: the standard library, prometheus_client and congress.services (policy_engine, rpc).

Every object here keeps its own ``CollectorRegistry``, never prometheus_client's global one:
one process may run several nodes (the tests do), and each answers for itself.

- ``DatasourceMetrics``: what a ``DatasourceHost`` measures (polls, their errors and last
  success, actions executed and failed). Each host owns one; ``DatasourceHost.metrics_text``
  answers it, locally or over RPC from a datasources node without an API.
- ``Metrics``: a node's metrics for its API: request latencies; with a local policy engine
  the rows of every table (read at scrape time), the time spent maintaining each policy and
  the number of batches; with a sink the bus lag per publisher. ``exposition()`` adds the
  datasource host's text (local or remote); a datasources node that does not answer is left
  out and counted in ``congress_scrape_errors_total``.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

from congress.datalog import names
from congress.datalog.runtime import BatchResult
from congress.services import rpc
from congress.services.policy_engine import PolicyEngineService

LOG = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The content type of ``/metrics``: ``text/plain; version=0.0.4; charset=utf-8``."""

API_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
MAINTENANCE_BUCKETS = (
    0.0001,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
POLL_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""HTTP methods that keep their name as a label value; any other is ``other``."""
OTHER = "other"
"""The label value of a path no route declares, a method or an action no one declares."""

REMOTE_TIMEOUT = 5.0
"""Seconds a scrape waits for the datasources node's figures."""


class DatasourceMetrics:
    """The datasource host's figures, in a registry of its own."""

    def __init__(self, *, wall_clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry()
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._actions: dict[str, set[tuple[str, str]]] = {}  # datasource -> (action, result)
        self.poll_seconds = Histogram(
            "congress_datasource_poll_seconds",
            "Time a datasource's poll took (fetch and translate every active table).",
            ["datasource"],
            buckets=POLL_BUCKETS,
            registry=self.registry,
        )
        self.last_success = Gauge(
            "congress_datasource_last_success_timestamp_seconds",
            "When a datasource's last poll that failed for no table ended (Unix time).",
            ["datasource"],
            registry=self.registry,
        )
        self.poll_errors = Counter(
            "congress_datasource_poll_errors",
            "Polls of a datasource that failed (the driver raised, or a table could not be "
            "fetched or translated).",
            ["datasource"],
            registry=self.registry,
        )
        self.actions = Counter(
            "congress_actions",
            "Actions a datasource ran: executed (the driver returned) or failed (it raised); "
            "an action the driver does not declare is counted as 'other'.",
            ["datasource", "action", "result"],
            registry=self.registry,
        )

    def observe_poll(self, datasource: str, seconds: float, *, ok: bool) -> None:
        """One poll of ``datasource`` took ``seconds``; ``ok``: no table failed."""
        self.poll_seconds.labels(datasource).observe(seconds)
        if ok:
            self.last_success.labels(datasource).set(self._wall_clock())
        else:
            self.poll_errors.labels(datasource).inc()

    def count_action(self, datasource: str, action: str, *, executed: bool) -> None:
        result = "executed" if executed else "failed"
        with self._lock:
            self._actions.setdefault(datasource, set()).add((action, result))
        self.actions.labels(datasource, action, result).inc()

    def forget(self, datasource: str) -> None:
        """Drop every series of a datasource that no longer runs here."""
        for metric in (self.poll_seconds, self.last_success, self.poll_errors):
            try:
                metric.remove(datasource)
            except KeyError:
                pass
        with self._lock:
            labels = self._actions.pop(datasource, set())
        for action, result in labels:
            try:
                self.actions.remove(datasource, action, result)
            except KeyError:
                pass

    def text(self) -> str:
        """The figures in the Prometheus text format (0.0.4)."""
        return generate_latest(self.registry).decode()


class _TableRows(Collector):
    """``congress_table_rows{policy,table}``, read from the runtime at scrape time."""

    NAME = "congress_table_rows"
    HELP = "Rows of a table of a policy (asserted and derived), now."

    def __init__(self, engine: PolicyEngineService, project_labels: bool = False) -> None:
        self._engine = engine
        self._project_labels = project_labels

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(self.NAME, self.HELP, labels=["policy", "table"])]

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self.NAME, self.HELP, labels=["policy", "table"])
        engine = self._engine
        with engine.lock.read():
            rt = engine.runtime
            for policy in rt.policy_names():
                if not self._project_labels and names.project_of(policy) is not None:
                    continue  # a project's: /metrics is open ([tenancy] project_metrics)
                for table in rt.tables(policy):
                    family.add_metric([policy, table], rt.count(policy, table))
        return [family]


class _Maintenance(Collector):
    """``congress_policy_maintenance_seconds{policy}`` and ``congress_engine_batches_total``,
    kept in plain numbers: ``observe`` runs under the engine's lock after every batch, and
    costs one bisection, and one addition per changed policy (a prometheus_client histogram
    child costs several locks and a label lookup per observation)."""

    NAME = "congress_policy_maintenance_seconds"
    HELP = (
        "Time the policy engine spent applying a batch (data, a snapshot, a rule inserted or "
        "deleted, a policy deleted) that changed a table of the policy."
    )
    BATCHES = "congress_engine_batches"
    BATCHES_HELP = "Batches the policy engine applied (each call that maintains the tables)."

    def __init__(
        self, buckets: Iterable[float] = MAINTENANCE_BUCKETS, project_labels: bool = False
    ) -> None:
        self._project_labels = project_labels
        self._bounds = sorted(buckets)
        self._lock = threading.Lock()
        self._stats: dict[str, list[float]] = {}  # policy -> [count per bucket..., +Inf, sum]
        self.batches = 0

    def observe(self, result: BatchResult, seconds: float) -> None:
        bucket = bisect.bisect_left(self._bounds, seconds)  # the first bound >= seconds
        with self._lock:
            self.batches += 1
            if not result.changes:
                return
            stats = self._stats
            for policy in {policy for policy, _ in result.changes}:
                if not self._project_labels and names.SEPARATOR in policy:
                    continue  # a project's (see _TableRows)
                row = stats.get(policy)
                if row is None:
                    row = stats[policy] = [0.0] * (len(self._bounds) + 2)
                row[bucket] += 1
                row[-1] += seconds

    def keep_only(self, policies: Iterable[str]) -> None:
        """Forget the policies not in ``policies`` (deleted ones)."""
        present = set(policies)
        with self._lock:
            for policy in [p for p in self._stats if p not in present]:
                del self._stats[policy]

    def describe(self) -> Iterable[Metric]:
        return [
            HistogramMetricFamily(self.NAME, self.HELP, labels=["policy"]),
            CounterMetricFamily(self.BATCHES, self.BATCHES_HELP),
        ]

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            batches = self.batches
            rows = {policy: list(row) for policy, row in self._stats.items()}
        family = HistogramMetricFamily(self.NAME, self.HELP, labels=["policy"])
        bounds = [repr(float(b)) for b in self._bounds] + ["+Inf"]
        for policy, row in sorted(rows.items()):
            cumulative, total = [], 0.0
            for bound, n in zip(bounds, row[:-1], strict=True):
                total += n
                cumulative.append((bound, total))
            family.add_metric([policy], cumulative, sum_value=row[-1])
        return [family, CounterMetricFamily(self.BATCHES, self.BATCHES_HELP, value=batches)]


class _Watching(Collector):
    """The change feeds' clients and the history's writes, read at scrape time."""

    def __init__(self, feed: Any, history: Any) -> None:
        self._feed = feed
        self._history = history

    def describe(self) -> Iterable[Metric]:
        return list(self.collect())

    def collect(self) -> Iterable[Metric]:
        out: list[Metric] = []
        if self._feed is not None:
            out.append(
                GaugeMetricFamily(
                    "congress_watchers",
                    "Change-feed clients (GET .../watch) this node serves now.",
                    value=self._feed.watchers,
                )
            )
        history = self._history
        if history is not None:
            out.append(
                CounterMetricFamily(
                    "congress_history_recorded",
                    "Changes of watched tables this node wrote to the history (another "
                    "engine's duplicates of the same change included: the database keeps one).",
                    value=history.recorded,
                )
            )
            out.append(
                CounterMetricFamily(
                    "congress_history_write_seconds",
                    "Seconds this node spent writing changes to the history.",
                    value=history.write_seconds,
                )
            )
            out.append(
                CounterMetricFamily(
                    "congress_history_dropped",
                    "Changes not queued for the history because the database fell behind "
                    "(a reconciliation records the difference later).",
                    value=history.dropped,
                )
            )
        return out


class Metrics:
    """A node's metrics: its API's, its policy engine's (``engine`` local), its bus lag
    (``sink``, a ``PolicyEngineSink``), and the datasource host's (``host``: a local
    ``DatasourceHost`` or an ``rpc.Remote`` to the datasources node)."""

    def __init__(
        self,
        *,
        engine: Any = None,
        host: Any = None,
        sink: Any = None,
        remote_timeout: float = REMOTE_TIMEOUT,
        project_labels: bool = False,
    ) -> None:
        self.registry = CollectorRegistry()
        self._project_labels = project_labels
        self._host = host
        self._remote_timeout = remote_timeout
        self.api_seconds = Histogram(
            "congress_api_request_seconds",
            "Time the API took to answer a request, by method, declared route (e.g. "
            "/v1/policies/<policy>/rules; 'other' for a path no route declares) and status.",
            ["method", "route", "status"],
            buckets=API_BUCKETS,
            registry=self.registry,
        )
        self.scrape_errors = Counter(
            "congress_scrape_errors",
            "Scrapes of /metrics that left out the figures of another node (it did not "
            "answer), by source.",
            ["source"],
            registry=self.registry,
        )
        if host is not None:
            self.scrape_errors.labels("datasources")  # 0 until a scrape misses it
        self._engine: PolicyEngineService | None = None
        self._maintenance: _Maintenance | None = None
        if isinstance(engine, PolicyEngineService):
            self._engine = engine
            self._maintenance = _Maintenance(project_labels=project_labels)
            self.registry.register(self._maintenance)
            self.registry.register(_TableRows(engine, project_labels))
            engine.add_batch_listener(self._maintenance.observe)
        self.bus_lag: Histogram | None = None
        self._publishers: set[str] = set()  # the publishers of the lag's series
        if sink is not None:
            self.bus_lag = Histogram(
                "congress_bus_lag_seconds",
                "Time from a publisher sending a table snapshot or delta (its wall clock) to "
                "this node's policy engine having applied it.",
                ["publisher"],
                buckets=LAG_BUCKETS,
                registry=self.registry,
            )
            sink.add_lag_listener(self.observe_bus_lag)

    def watch(self, feed: Any, history: Any) -> None:
        """Also show the change feed's clients (``feed``: a ``ChangeFeed``) and the history's
        writes (``history``: a ``History``); either may be None."""
        self.registry.register(_Watching(feed, history))

    # -- what is measured ----------------------------------------------------------------
    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One API request: ``route`` is the declared route (or ``other``)."""
        label = method if method in METHODS else OTHER
        self.api_seconds.labels(label, route, str(status)).observe(seconds)

    def observe_batch(self, result: BatchResult, seconds: float) -> None:
        """The engine applied a batch in ``seconds`` (called under the engine's lock)."""
        if self._maintenance is not None:
            self._maintenance.observe(result, seconds)

    def observe_bus_lag(self, publisher: str, seconds: float) -> None:
        if not self._project_labels and names.SEPARATOR in publisher:
            return  # a project's datasource (see _TableRows)
        if self.bus_lag is not None:
            self._publishers.add(publisher)
            self.bus_lag.labels(publisher).observe(seconds)

    # -- the answer ----------------------------------------------------------------------
    def exposition(self) -> bytes:
        """Every figure of this node, then the datasource host's, in the text format."""
        remote = self._host_text()
        self._forget_deleted_policies()
        return generate_latest(self.registry) + remote.encode()

    def _host_text(self) -> str:
        host = self._host
        if host is None:
            return ""
        try:
            if isinstance(host, rpc.Remote):
                text = host.call("metrics_text", timeout=self._remote_timeout)
            else:
                text = host.metrics_text()
        except Exception as exc:
            LOG.warning("metrics of the datasources node left out: %s", exc)
            self.scrape_errors.labels("datasources").inc()
            return ""
        return str(text)

    def _forget_deleted_policies(self) -> None:
        """Drop the series of policies that are gone, and the bus lag of datasources whose
        policy is gone (withdrawn): label values stay bounded."""
        engine, maintenance = self._engine, self._maintenance
        if engine is None or maintenance is None:
            return
        with engine.lock.read():
            present = set(engine.runtime.policy_names())
        maintenance.keep_only(present)
        if self.bus_lag is not None:
            for publisher in list(self._publishers - present):
                self._publishers.discard(publisher)
                try:
                    self.bus_lag.remove(publisher)
                except KeyError:
                    pass
