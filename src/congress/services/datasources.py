"""The datasource host: runs the datasources of the database, publishes their tables on the
bus, takes pushes and webhooks, and executes actions.

Imports: the standard library, SQLAlchemy's ``Engine`` type, congress.bus, congress.db,
congress.datalog (``ActionRequest``), congress.datasources and congress.services.

``DatasourceHost`` keeps the running datasources in step with the ``datasources`` table
(``sync``, at ``start`` and every ``sync_period`` seconds when asked; create and delete act at
once). Each runs in a ``Runner`` (``datasource_runner``): a polling thread per polling driver,
pushed rows and webhook notifications validated by the driver, persisted when ``persist_data``,
and every table published as a snapshot and then sequenced deltas. Each datasource is announced
on the bus with its schema, so that policy engines (``PolicyEngineSink``) subscribe to it, and
withdrawn when deleted (its policy then disappears from the engines).

Configs are stored with their secret options encrypted (``datasource_config.SecretBox``) and
every answer shows them as ``<hidden>``: secrets are never returned. Answers are JSON-ready
dicts and lists, as the REST API sends them. Errors are ``congress.services.errors`` (the name,
the driver, a missing or not running datasource) or pass through from
``congress.datasources.errors`` (options, rows, tables, actions; they carry ``http_status``)
and ``congress.db.errors``.

Execute requests from a policy engine (``execute_request``, the engine's executor, or
``handle_execute`` over the bus) are queued and run by one worker thread
(``datasource_execution``); their failures are logged and recorded in the execution log.
``execute`` (the API's route) runs at once and raises.

``metrics`` (``DatasourceMetrics``) counts polls, their errors and last success, and actions;
``metrics_text`` answers them in the Prometheus text format (served over RPC, so that the API
node's ``/metrics`` includes a datasources node's figures).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Engine as DbEngine

from congress.bus import Announcement, ExecuteRequest, Transport
from congress.datalog import names
from congress.datasources.driver import Clock, Driver, PollingDriver, utc_now
from congress.datasources.errors import DatasourceError, DriverNotFound
from congress.datasources.loader import DriverLoader
from congress.db import api as db
from congress.db import errors as db_errors
from congress.db.records import Datasource
from congress.services import errors
from congress.services.datasource_config import (
    SecretBox,
    check_name,
    datasource_view,
    driver_info,
    secret_options,
)
from congress.services.datasource_execution import (
    ACTION_DONE,
    ExecutionWorker,
    record_execution,
    target_refusal,
)
from congress.services.datasource_runner import Runner
from congress.services.metrics import DatasourceMetrics

LOG = logging.getLogger(__name__)

STALE_INFO = "stale"
"""The heartbeat information naming the datasources whose data is stale (``staleness``)."""

ClientFactory = Callable[[type[Driver], str, Mapping[str, Any]], Any]
"""Builds a driver's client from its class, the datasource name and its (decrypted) config."""


class DatasourceHost:
    """Every enabled datasource of the database, run on this node."""

    def __init__(
        self,
        database: DbEngine,
        *,
        bus: Transport,
        loader: DriverLoader,
        key_path: str | os.PathLike[str],
        clock: Clock = utc_now,
        node_id: str = "",
        poll: bool = True,
        client_factory: ClientFactory | None = None,
        sync_period: float = 0.0,
        local_engine: bool = False,
        request_timeout: float = 30.0,
        max_name_length: int | None = None,
    ) -> None:
        self._db = database
        self._bus = bus
        self._loader = loader
        self._clock = clock
        self._node_id = node_id
        self._poll = poll
        self._clients = client_factory
        self._request_timeout = request_timeout
        self._max_name_length = max_name_length
        self._sync_period = sync_period
        self._secrets = SecretBox(key_path)
        self._lock = threading.RLock()
        self._runners: dict[str, Runner] = {}  # by datasource id
        self._failed: dict[str, str] = {}  # datasource id -> why it does not run
        self._worker = ExecutionWorker(
            self._run_request, local_leader=node_id if local_engine else None
        )
        self._started = False
        self._stopping = threading.Event()
        self._sync_thread: threading.Thread | None = None
        self.metrics = DatasourceMetrics()

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Run every enabled datasource of the database (restoring persisted pushed rows),
        publish and announce their tables, and start the threads."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self._stopping.clear()
            self._bus.add_heartbeat_info("tables", self.published)
            self._bus.add_heartbeat_info(STALE_INFO, self.staleness)
            self._bus.watch_peers(self._on_peer)
            self._worker.start()
            self.sync()
            if self._sync_period > 0:
                self._sync_thread = threading.Thread(
                    target=self._sync_loop, name="congress-datasource-sync", daemon=True
                )
                self._sync_thread.start()

    def stop(self) -> None:
        """Stop every thread; the datasources stay announced (their data stays in engines)."""
        with self._lock:
            self._started = False
            self._stopping.set()
            runners = list(self._runners.values())
            self._runners.clear()
        for runner in runners:
            self._bus.stop_serving_executions(runner.name)
            runner.stop()
        self._worker.stop()
        if self._sync_thread is not None:
            self._sync_thread.join()
            self._sync_thread = None

    def sync(self) -> None:
        """Make the running datasources match the database (the original's synchronizer)."""
        with self._lock:
            if not self._started:
                return
            records = {r.id: r for r in db.list_datasources(self._db)}
            for ds_id, runner in list(self._runners.items()):
                record = records.get(ds_id)
                if record is None or not record.enabled:
                    self._retire(runner)
            for ds_id in [i for i in self._failed if i not in records]:
                del self._failed[ds_id]
            for record in records.values():
                if record.enabled and record.id not in self._runners:
                    self._launch(record)

    def published(self) -> dict[str, dict[str, list[int]]]:
        """``{datasource: {table: [epoch, seqnum]}}`` of every running datasource (for the
        heartbeats: it never waits for the host's lock, which a slow create may hold)."""
        runners = list(self._runners.values())  # a copy under the GIL
        return {r.name: r.published() for r in runners}

    def staleness(self) -> dict[str, str]:
        """``{datasource: why}`` of every running polling datasource whose data cannot be
        trusted now: it has not completed its first poll since it started, or its last poll
        failed (the policy engines hold the actions that depend on it: docs/enforcement.md).
        Sent in the heartbeats; it never waits for a lock."""
        out = {}
        for runner in list(self._runners.values()):
            driver = runner.driver
            if not isinstance(driver, PollingDriver):
                continue
            if driver.last_error is not None:
                error = str(driver.last_error)
                if len(error) > 240:  # the reason goes into the execution log and heartbeats
                    error = error[:239] + "…"
                out[runner.name] = f"is failing: its last poll failed ({error})"
            elif not driver.initialized:
                out[runner.name] = "has not completed its first poll since it started"
        return out

    def freshness(self) -> list[dict[str, Any]]:
        """How fresh each datasource's data is, for the detailed health check: ``{name,
        driver, polling, initialized, last_updated_age, last_success_age, last_error,
        consecutive_failures}`` (ages in seconds, None before the first update), and the
        datasources that do not run with ``error``. It never waits for a lock."""
        now = self._clock()

        def age(when: Any) -> float | None:
            return None if when is None else round((now - when).total_seconds(), 3)

        out: list[dict[str, Any]] = []
        for runner in list(self._runners.values()):
            driver = runner.driver
            polling = isinstance(driver, PollingDriver)
            error = driver.last_error
            out.append(
                {
                    "name": runner.name,
                    "driver": runner.record.driver,
                    "polling": polling,
                    "initialized": bool(driver.initialized),
                    "last_updated_age": age(driver.last_updated),
                    "last_success_age": age(driver.last_success) if polling else None,
                    "last_error": None if error is None else str(error)[:240],
                    "consecutive_failures": int(getattr(driver, "consecutive_failures", 0)),
                }
            )
        for ds_id, why in list(self._failed.items()):
            out.append({"id": ds_id, "error": why})
        return sorted(out, key=lambda d: str(d.get("name", d.get("id"))))

    def _on_peer(self, event: str, peer: Any) -> None:
        if event == "expired":
            # its policy engine stops leading the datasources that followed it
            self._worker.forget_node(str(getattr(peer, "node_id", "")))

    def _sync_loop(self) -> None:
        while not self._stopping.wait(self._sync_period):
            try:
                self.sync()
            except Exception:
                LOG.exception("synchronizing the datasources with the database failed")

    def _launch(self, record: Datasource, driver: Driver | None = None) -> None:
        runner = None
        try:
            if driver is None:
                driver = self._make_driver(
                    self._loader.load(record.driver),
                    record.name,
                    self._secrets.decrypt_config(record.config),
                )
            runner = Runner(record, driver, self._bus, self._db, self.metrics)
            runner.restore()
        except Exception as exc:
            LOG.error("datasource %s (driver %s) cannot run: %s", record.name, record.driver, exc)
            self._failed[record.id] = str(exc) or type(exc).__name__
            if runner is not None:
                runner.stop()
            return
        self._failed.pop(record.id, None)
        self._runners[record.id] = runner
        runner.start(threads=self._poll)
        self._bus.serve_executions(record.name, self.handle_execute)
        self._bus.announce(runner.announcement(self._node_id))

    def _retire(self, runner: Runner) -> None:
        self._runners.pop(runner.record.id, None)
        self._bus.stop_serving_executions(runner.name)
        runner.stop()
        self.metrics.forget(runner.name)
        self._bus.announce(Announcement(runner.name, node_id=self._node_id, present=False))

    def _make_driver(self, cls: type[Driver], name: str, config: Mapping[str, Any]) -> Driver:
        """The driver, its config checked, with its client (``client_factory``'s, or the one
        the driver class builds with the request timeout)."""
        cls.validate_config(config, datasource=name)
        if self._clients is not None:
            client = self._clients(cls, name, config)
        else:
            client = cls.build_client(config, timeout=self._request_timeout)
        return cls(name, config, client=client, clock=self._clock)

    def metrics_text(self) -> str:
        """Polls, poll errors, last successes and actions of the datasources run here, in
        the Prometheus text format (docs/metrics.md)."""
        return self.metrics.text()

    # -- drivers -----------------------------------------------------------------------------
    def drivers(self) -> list[dict[str, Any]]:
        """``[{id, description}]`` of every permitted driver that loads."""
        return [
            {"id": name, "description": cls.DESCRIPTION}
            for name, cls in self._loader.available().items()
        ]

    def driver_info(self, name: str) -> dict[str, Any]:
        """``{id, description, config, secret, module, tables}``; ``DriverNotFound`` (404)."""
        return driver_info(name, self._loader.load(name))

    # -- datasources -------------------------------------------------------------------------
    def list_datasources(self) -> list[dict[str, Any]]:
        return [self._view(r) for r in db.list_datasources(self._db)]

    def get_datasource(self, name_or_id: str) -> dict[str, Any]:
        return self._view(self._record(name_or_id))

    def create_datasource(
        self,
        name: str,
        driver: str,
        config: Mapping[str, Any] | None,
        description: str | None = None,
        enabled: bool = True,
    ) -> dict[str, Any]:
        """Validate, store (secrets encrypted) and run a datasource; returns its view
        ``{id, name, driver, description, config, enabled, type: None, owner_id}``. A name
        ``name@project`` makes a project's datasource (docs/tenancy.md): it may not take the
        name of a global one."""
        check_name(name)
        if self._max_name_length is not None and len(name) > self._max_name_length:
            raise errors.LimitExceeded(
                "The datasource name", len(name), "max_name_length", self._max_name_length
            )
        config = {} if config is None else config
        if not isinstance(config, Mapping):
            raise errors.BadRequest("The datasource config must be a JSON object")
        if description is not None and not isinstance(description, str):
            raise errors.BadRequest("The datasource description must be a string")
        if not isinstance(enabled, bool):
            raise errors.BadRequest("The datasource field enabled must be a boolean")
        if not isinstance(driver, str) or not driver:
            raise errors.InvalidDriver("A datasource needs a driver")
        try:
            cls = self._loader.load(driver)
        except DriverNotFound as exc:
            raise errors.InvalidDriver(f"Invalid driver: {driver}") from exc
        cls.validate_config(config, datasource=name)
        instance = self._make_driver(cls, name, config)
        stored = self._secrets.encrypt_config(config, secret_options(cls))
        with self._lock:
            self._check_not_a_policy(name)
            self._check_namespaces(name)
            try:
                record = db.create_datasource(
                    self._db,
                    name,
                    driver,
                    config=stored,
                    description=description,
                    enabled=enabled,
                    owner=names.owner_of(name),
                )
            except db_errors.DuplicateName as exc:
                raise errors.DatasourceExists(
                    f"Datasource already in use with name {name}"
                ) from exc
            if enabled and self._started:
                self._launch(record, instance)
        return self._view(record, cls)

    def _check_not_a_policy(self, name: str) -> None:
        try:
            db.get_policy_by_name(self._db, name)
        except db_errors.NotFound:
            return
        raise errors.DatasourceExists(f"Name {name} is already in use by a policy")

    def delete_datasource(self, name_or_id: str) -> dict[str, Any]:
        """Stop and delete a datasource (its persisted rows too); engines drop its policy."""
        with self._lock:
            record = self._record(name_or_id)
            runner = self._runners.get(record.id)
            if runner is not None:
                self._retire(runner)
            else:
                self._bus.announce(Announcement(record.name, node_id=self._node_id, present=False))
            try:
                db.delete_datasource(self._db, record.id)
            except db_errors.NotFound as exc:
                raise errors.DatasourceNotFound(f"Datasource not found {name_or_id}") from exc
            self._failed.pop(record.id, None)
        return self._view(record)

    def _record(self, name_or_id: str) -> Datasource:
        try:
            return db.find_datasource(self._db, name_or_id)
        except db_errors.NotFound as exc:
            raise errors.DatasourceNotFound(f"Datasource not found {name_or_id}") from exc

    def _check_namespaces(self, name: str) -> None:
        """A project's datasource ``inv@p`` is what the project's rules call ``inv``: one may
        not be made while a global ``inv`` exists (which the operator may share with the
        project). A global one made later does not reach the project's rules under that
        name: the project's own shadows it."""
        base, project = names.split(name)
        if project is None:
            return
        try:
            db.get_datasource_by_name(self._db, base)
        except db_errors.NotFound:
            return
        raise errors.DatasourceExists(f"Datasource already in use with name {base}")

    def _view(self, record: Datasource, cls: type[Driver] | None = None) -> dict[str, Any]:
        if cls is None:
            try:
                cls = self._loader.load(record.driver)
            except DatasourceError:
                cls = None
        return datasource_view(record, cls)

    def _runner(self, ds: str) -> Runner:
        with self._lock:
            found = self._runners.get(ds) or next(
                (r for r in self._runners.values() if r.name == ds), None
            )
            if found is not None:
                return found
            record = self._record(ds)
            if record.id in self._runners:
                return self._runners[record.id]
            if not record.enabled:
                raise errors.DatasourceDisabled(f"Datasource {record.name} is disabled")
            why = self._failed.get(record.id, "it is not running on this node")
            raise errors.DatasourceNotRunning(f"Datasource {record.name} is not running: {why}")

    # -- one datasource ----------------------------------------------------------------------
    def schema(self, ds: str) -> dict[str, Any]:
        """``{tables: [{table_id, columns: [{name, description}]}]}``."""
        runner = self._runner(ds)
        with runner.lock:
            return runner.driver.schema_body()

    def table_spec(self, ds: str, table: str) -> dict[str, Any]:
        """``{table_id, columns}``; ``UnknownTable`` (404) if the schema has no such table."""
        runner = self._runner(ds)
        with runner.lock:
            return runner.driver.table_spec(table)

    def status(self, ds: str) -> dict[str, str]:
        """``{last_updated, last_error, number_of_updates, initialized, subscriptions,
        subscribers}``, every value a string."""
        runner = self._runner(ds)
        with runner.lock:
            status = runner.driver.status()
        status["subscriptions"] = str([])
        status["subscribers"] = str(self._bus.subscribers(runner.name))
        return status

    def actions(self, ds: str) -> dict[str, list[dict[str, Any]]]:
        """``{results: [{name, args: [{name, description}], description}]}``."""
        runner = self._runner(ds)
        with runner.lock:
            return runner.driver.actions()

    def tables(self, ds: str) -> list[str]:
        """The names of the datasource's tables, in schema order."""
        runner = self._runner(ds)
        with runner.lock:
            return list(runner.driver.datasource_schema())

    def rows(self, ds: str, table: str) -> list[tuple[Any, ...]]:
        """A table's rows; ``UnknownTable`` (404), ``LazyTableNotActive`` (400)."""
        return self._runner(ds).ordered_rows(table)

    def replace_rows(self, ds: str, table: str, body: Any) -> None:
        """PUT rows: replace a push driver's table (validated by the driver)."""
        self._runner(ds).replace_rows(table, body)

    def webhook(self, ds: str, payload: Any) -> list[str]:
        """A webhook notification for a push driver; returns the tables it changed."""
        return self._runner(ds).webhook(payload)

    def request_refresh(self, ds: str) -> None:
        """Poll a polling datasource now (in its thread; without threads, here)."""
        self._runner(ds).request_refresh()

    def execute(
        self,
        ds: str,
        action: str,
        positional: Sequence[Any] = (),
        named: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run an action now (the API's route); recorded in the execution log; raises
        ``UnknownAction`` (400) or ``ActionFailed`` (502)."""
        if not isinstance(action, str) or not action:
            raise errors.BadRequest("An action name is required")
        if not isinstance(positional, list | tuple):
            raise errors.BadRequest("positional arguments must be a JSON list")
        if named is not None and not isinstance(named, Mapping):
            raise errors.BadRequest("named arguments must be a JSON object")
        runner = self._runner(ds)
        request = ExecuteRequest(runner.name, action, tuple(positional), named or {})
        try:
            result = runner.execute(action, request.positional, request.named)
        except Exception as exc:
            self._log_execution(request, "failed", str(exc))
            raise
        self._log_execution(request, "executed", None, result)
        return result

    # -- execute requests --------------------------------------------------------------------
    def execute_request(self, request: ExecuteRequest) -> None:
        """A policy engine's executor on this very node (same as ``handle_execute``)."""
        self.handle_execute(request)

    def handle_execute(self, request: ExecuteRequest) -> None:
        """An execute request from the bus: queued if it comes from the leader, else dropped."""
        self._worker.submit(request)

    def wait_for_executions(self, timeout: float | None = None) -> bool:
        """Wait until every queued execute request has run (False on timeout)."""
        return self._worker.wait_idle(timeout)

    def _run_request(self, request: ExecuteRequest) -> None:
        with self._lock:
            runner = next((r for r in self._runners.values() if r.name == request.service), None)
        if request.key:
            self._run_keyed(request, runner)
            return
        try:
            if runner is None:
                raise errors.DatasourceNotFound(f"Datasource {request.service} is not running")
            if (refusal := self._target_refusal(request, runner)) is not None:
                self._log_execution(request, "refused", refusal)  # a project's, not its target
                return
            runner.execute(request.action, request.positional, request.named)
        except Exception as exc:
            LOG.error("executing %s:%s failed: %s", request.service, request.action, exc)
            self._log_execution(request, "failed", str(exc))
            return
        LOG.info("executed %s:%s for policy %s", request.service, request.action, request.policy)

    def _run_keyed(self, request: ExecuteRequest, runner: Runner | None) -> None:
        """Run an action at most once: its identity goes into the execution log as
        ``started`` before the driver is called; a request whose identity is there already is
        a duplicate. Either way the engines hear that it is done (``ACTION_DONE``)."""
        if runner is None:
            try:
                db.find_datasource(self._db, request.service)
            except db_errors.NotFound:
                pass  # no such datasource at all: recorded as failed below
            except db_errors.DBError:
                return
            else:  # not running here (yet): the engines send it again
                LOG.warning("action %s: datasource %s is not running", request.key, request.service)
                return
        try:
            db.record_execution(
                self._db,
                execution_id=request.key,
                datasource=request.service,
                action=request.action,
                args={"positional": list(request.positional), "named": dict(request.named)},
                policy=request.policy,
                node_id=request.node_id or self._node_id,
                status="started",
            )
        except db_errors.DuplicateId:
            # an engine recorded it first (deferred or held, then released as ``requested``):
            # the host that moves it on to ``started`` runs it
            try:
                claimed = db.transition_execution(self._db, request.key, ("requested",), "started")
            except db_errors.DBError as exc:
                LOG.error("cannot record action %s, not running it now: %s", request.key, exc)
                return
            if claimed is None:
                LOG.info(
                    "action %s (%s:%s) ran already", request.key, request.service, request.action
                )
                self._done(request, "duplicate")
                return
        except db_errors.DBError as exc:  # not recorded: not run (the engines send it again)
            LOG.error("cannot record action %s, not running it now: %s", request.key, exc)
            return
        if runner is not None and (refusal := self._target_refusal(request, runner)) is not None:
            try:  # a project's action whose target is not the project's (docs/tenancy.md)
                db.set_execution_status(self._db, request.key, "refused", refusal)
            except db_errors.DBError:
                LOG.exception("could not record the refusal of action %s", request.key)
            self._done(request, "refused")
            return
        status, detail, result = "executed", None, None
        try:
            if runner is None:
                raise errors.DatasourceNotFound(f"Datasource {request.service} does not exist")
            result = runner.execute(request.action, request.positional, request.named)
        except Exception as exc:
            LOG.error("executing %s:%s failed: %s", request.service, request.action, exc)
            status, detail = "failed", str(exc)
        else:
            LOG.info(
                "executed %s:%s for policy %s (action %s)",
                request.service,
                request.action,
                request.policy,
                request.key,
            )
        try:
            db.set_execution_status(self._db, request.key, status, detail, result=result)
        except db_errors.DBError:
            LOG.exception("could not record the outcome of action %s", request.key)
        self._done(request, status)

    def _target_refusal(self, request: ExecuteRequest, runner: Runner) -> str | None:
        with runner.lock:
            return target_refusal(request, runner.driver)

    def _done(self, request: ExecuteRequest, status: str) -> None:
        try:
            self._bus.broadcast(ACTION_DONE, {"key": request.key, "status": status})
        except Exception:
            LOG.exception("could not acknowledge action %s", request.key)

    def _log_execution(
        self, request: ExecuteRequest, status: str, detail: str | None, result: Any = None
    ) -> None:
        record_execution(self._db, request, status, detail, self._node_id, result)
