"""Services across the bus: serving a service's methods, and proxies that call them.

Imports: the standard library, congress.bus, congress.datalog (AST, parser, printer, errors),
congress.services (errors, views) and the error modules of congress.db and
congress.datasources.

``serve(bus, name, target, methods)`` offers the listed methods of ``target`` as the bus
service ``name``; ``Remote(bus, name)`` calls them from any node. Arguments and answers travel
as JSON through ``encode``/``decode``: JSON values as they are, tuples as lists, the service
views (``PolicyView``, ``RuleView``), ``SimulateResult``, ``ImpactResult`` and ``Problem``
as tagged objects, and literals as their text. An answer is ``{"result": ...}`` or
``{"error": ...}``, plus ``revision``, the policy revision the call wrote (when it wrote one).

Errors keep their class across the bus: an error of one of ``ERROR_MODULES`` is rebuilt as
itself (with its attributes, so the API answers exactly as it would in one process); any other
exception is logged where it happened and arrives as ``errors.InternalError``. A service that
no live node offers, or a call the bus cannot complete, raises the proxy's ``unavailable``
error (503 with ``Retry-After``).

The service names are the original's: ``__engine`` (policy engine), ``__library`` (the policy
library, beside an engine) and ``_ds_manager`` (the datasources node).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import logging
import threading
from collections.abc import Callable, Collection, Mapping
from typing import Any

from congress.bus import BusUnavailable, NoSuchService, Transport
from congress.datalog.ast import Literal
from congress.datalog.errors import Problem
from congress.datalog.parser import parse_literal
from congress.datalog.printer import to_text
from congress.datalog.simulate import ImpactResult, SimulateResult
from congress.services import errors
from congress.services.policy_engine import PolicyView, RuleView
from congress.services.policy_versions import Actor

LOG = logging.getLogger(__name__)

ENGINE = "__engine"
LIBRARY = "__library"
DATASOURCES = "_ds_manager"

ERROR_MODULES = frozenset(
    {
        "congress.services.errors",
        "congress.datalog.errors",
        "congress.db.errors",
        "congress.datasources.errors",
    }
)
_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (PolicyView, RuleView, SimulateResult, ImpactResult, Problem, Actor)
}

ENGINE_METHODS = frozenset(
    {
        "datasource_sharing",
        "list_datasource_sharing",
        "update_datasource_sharing",
        "list_quotas",
        "get_quotas",
        "set_quotas",
        "delete_quotas",
        "list_policies",
        "get_policy",
        "create_policy",
        "delete_policy",
        "list_rules",
        "get_rule",
        "create_rule",
        "delete_rule",
        "tables",
        "rows",
        "explain_rows",
        "explain",
        "explain_table",
        "simulate",
        "impact",
        "preview_rule",
        "policy_errors",
        "wait_for_revision",
        "current_revision",
        "update_policy",
        "breaker",
        "reset_breaker",
        "list_executions",
        "list_versions",
        "get_version",
        "rollback_policy",
    }
)
LIBRARY_METHODS = frozenset({"list", "get", "create", "replace", "delete", "activate"})
DATASOURCE_METHODS = frozenset(
    {
        "drivers",
        "driver_info",
        "list_datasources",
        "get_datasource",
        "create_datasource",
        "delete_datasource",
        "schema",
        "table_spec",
        "status",
        "actions",
        "tables",
        "rows",
        "replace_rows",
        "webhook",
        "request_refresh",
        "execute",
        "metrics_text",
        "freshness",
    }
)


# -- the codec --------------------------------------------------------------------------------
def encode(value: Any) -> Any:
    """``value`` as JSON (see the module's documentation); ``TypeError`` for anything else."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, Literal):
        return {"__literal__": to_text(value)}
    name = type(value).__name__
    if dataclasses.is_dataclass(value) and _TYPES.get(name) is type(value):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__type__": name, "fields": fields}
    raise TypeError(f"cannot send a {name} over the bus")


def decode(value: Any) -> Any:
    """The value ``encode`` was given (tuples come back as lists)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "__literal__" in value:
            return parse_literal(str(value["__literal__"]))
        if "__type__" in value:
            cls = _TYPES.get(str(value["__type__"]))
            if cls is None:
                raise ValueError(f"unknown type {value['__type__']!r} on the bus")
            return cls(**{k: decode(v) for k, v in dict(value["fields"]).items()})
        return {k: decode(v) for k, v in value.items()}
    return value


def encode_error(exc: BaseException) -> dict[str, Any]:
    cls = type(exc)
    attrs: dict[str, Any] = {}
    for key, val in vars(exc).items():
        try:
            attrs[key] = encode(val)
        except TypeError:
            continue
    return {
        "module": cls.__module__,
        "type": cls.__qualname__,
        "args": [a if isinstance(a, str | int | float | bool) else str(a) for a in exc.args],
        "attrs": attrs,
        "message": str(exc),
    }


def decode_error(body: Mapping[str, Any]) -> Exception:
    """The exception of ``encode_error``: its own class when that class is one of
    ``ERROR_MODULES``, else ``errors.InternalError``."""
    module, name = str(body.get("module", "")), str(body.get("type", ""))
    message = str(body.get("message", "")) or name
    if module in ERROR_MODULES:
        cls = getattr(importlib.import_module(module), name, None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            exc = cls.__new__(cls)
            Exception.__init__(exc, *list(body.get("args") or []))
            for key, val in dict(body.get("attrs") or {}).items():
                try:
                    setattr(exc, key, decode(val))
                except (AttributeError, TypeError, ValueError):
                    continue
            return exc
    return errors.InternalError(f"{name}: {message}")


# -- serving ----------------------------------------------------------------------------------
def serve(
    bus: Transport,
    name: str,
    target: Any,
    methods: Collection[str],
    *,
    written_revision: Callable[[], int | None] | None = None,
) -> None:
    """Offer ``methods`` of ``target`` on the bus as the service ``name``.

    ``written_revision()`` (called in the same thread right after the method) names the
    policy revision the call wrote; it travels with the answer."""

    def handle(method: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any]
        if method not in methods:
            exc = errors.BadRequest(f"Method {method} not supported for {name}")
            return {"error": encode_error(exc)}
        try:
            result = getattr(target, method)(**decode(kwargs))
            answer = {"result": encode(result)}
        except Exception as exc:
            if type(exc).__module__ not in ERROR_MODULES:
                LOG.exception("%s.%s failed", name, method)
            answer = {"error": encode_error(exc)}
        if written_revision is not None:
            revision = written_revision()
            if revision is not None:
                answer["revision"] = revision
        return answer

    bus.serve_rpc(name, handle)


# -- calling ----------------------------------------------------------------------------------
class Remote:
    """Calls a service's methods over the bus: ``remote.method(*args, **kwargs)`` (positional
    arguments are named after the same method of ``spec``, the class that serves them)."""

    def __init__(
        self,
        bus: Transport,
        name: str,
        *,
        unavailable: type[errors.Unavailable] = errors.Unavailable,
        what: str = "",
        timeout: float | None = None,
        spec: type[Any] | None = None,
        timeouts: Mapping[str, float] | None = None,
    ) -> None:
        self._spec = spec
        self._timeouts = dict(timeouts or {})
        self._bus = bus
        self._name = name
        self._unavailable = unavailable
        self._what = what or name
        self._timeout = timeout
        self._local = threading.local()

    def call(self, method: str, /, *, timeout: float | None = None, **kwargs: Any) -> Any:
        try:
            answer = self._bus.call(
                self._name,
                method,
                encode(kwargs),
                timeout=timeout or self._timeouts.get(method) or self._timeout,
            )
        except NoSuchService as exc:
            raise self._unavailable(f"The {self._what} is not available: {exc}") from exc
        except BusUnavailable as exc:
            raise self._unavailable(f"The {self._what} did not answer: {exc}") from exc
        if "revision" in answer:
            self._local.revision = int(answer["revision"])
        if "error" in answer:
            raise decode_error(answer["error"])
        return decode(answer.get("result"))

    def take_written_revision(self) -> int | None:
        """The revision the last write of this thread produced (then forgotten)."""
        revision: int | None = getattr(self._local, "revision", None)
        self._local.revision = None
        return revision

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)

        def bound(*args: Any, **kwargs: Any) -> Any:
            if args:  # name the positional arguments after the served class's method
                if self._spec is None:
                    raise TypeError(f"{method} of a remote service takes keyword arguments")
                signature = inspect.signature(getattr(self._spec, method))
                bound_args = signature.bind(None, *args, **kwargs)
                bound_args.apply_defaults()
                kwargs = dict(list(bound_args.arguments.items())[1:])
            return self.call(method, **kwargs)

        return bound


class RemoteEngine(Remote):
    """A policy engine on another node (for an API-only node)."""

    generation = None  # no answer cache: another node's changes are not seen here

    def __init__(self, bus: Transport, *, timeout: float | None = None) -> None:
        super().__init__(
            bus, ENGINE, unavailable=errors.EngineUnavailable, what="policy engine", timeout=timeout
        )

    def list_policies(self) -> list[PolicyView]:
        result: list[PolicyView] = self.call("list_policies")
        return result

    def get_policy(self, name_or_id: str) -> PolicyView:
        result: PolicyView = self.call("get_policy", name_or_id=name_or_id)
        return result

    def create_policy(self, name: str, **kwargs: Any) -> tuple[PolicyView, list[RuleView]]:
        policy, rules = self.call("create_policy", name=name, **kwargs)
        return policy, list(rules)

    def delete_policy(self, name_or_id: str, *, actor: Actor | None = None) -> PolicyView:
        result: PolicyView = self.call("delete_policy", name_or_id=name_or_id, actor=actor)
        return result

    def list_rules(self, policy: str) -> list[RuleView]:
        result: list[RuleView] = self.call("list_rules", policy=policy)
        return result

    def get_rule(self, policy: str, rule_id: str) -> RuleView:
        result: RuleView = self.call("get_rule", policy=policy, rule_id=rule_id)
        return result

    def create_rule(self, policy: str, text: str, **kwargs: Any) -> RuleView:
        result: RuleView = self.call("create_rule", policy=policy, text=text, **kwargs)
        return result

    def delete_rule(self, policy: str, rule_id: str, *, actor: Actor | None = None) -> RuleView:
        result: RuleView = self.call("delete_rule", policy=policy, rule_id=rule_id, actor=actor)
        return result

    def tables(self, policy: str) -> list[str]:
        result: list[str] = self.call("tables", policy=policy)
        return result

    def rows(self, policy: str, table: str) -> list[Any]:
        result: list[Any] = self.call("rows", policy=policy, table=table)
        return result

    def explain_rows(self, policy: str, table: str) -> str:
        return str(self.call("explain_rows", policy=policy, table=table))

    def simulate(
        self, policy: str, query: str, sequence: str, action_policy: str | None, **kw: Any
    ) -> SimulateResult:
        result: SimulateResult = self.call(
            "simulate",
            policy=policy,
            query=query,
            sequence=sequence,
            action_policy=action_policy,
            **kw,
        )
        return result

    def explain(self, policy: str, table: str, row: list[Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.call("explain", policy=policy, table=table, row=row)
        return result

    def explain_table(self, policy: str, table: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("explain_table", policy=policy, table=table)
        return result

    def impact(self, policy: str, **kw: Any) -> ImpactResult:
        result: ImpactResult = self.call("impact", policy=policy, **kw)
        return result

    def preview_rule(self, policy: str, text: str, **kw: Any) -> tuple[RuleView, ImpactResult]:
        view, result = self.call("preview_rule", policy=policy, text=text, **kw)
        return view, result

    def policy_errors(self) -> dict[str, str]:
        result: dict[str, str] = self.call("policy_errors")
        return result

    def update_policy(
        self, policy: str, changes: dict[str, Any], *, actor: Actor | None = None
    ) -> PolicyView:
        result: PolicyView = self.call("update_policy", policy=policy, changes=changes, actor=actor)
        return result

    def list_versions(self, policy: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("list_versions", policy=policy, limit=limit)
        return result

    def get_version(self, policy: str, version: int) -> dict[str, Any]:
        result: dict[str, Any] = self.call("get_version", policy=policy, version=version)
        return result

    def rollback_policy(
        self, policy: str, version: int, *, actor: Actor | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "rollback_policy", policy=policy, version=version, actor=actor
        )
        return result

    def breaker(self, policy: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("breaker", policy=policy)
        return result

    def reset_breaker(self, policy: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("reset_breaker", policy=policy)
        return result

    def list_executions(self, **filters: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("list_executions", **filters)
        return result

    def datasource_sharing(self, datasource: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("datasource_sharing", datasource=datasource)
        return result

    def list_datasource_sharing(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = self.call("list_datasource_sharing")
        return result

    def update_datasource_sharing(self, datasource: str, changes: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "update_datasource_sharing", datasource=datasource, changes=changes
        )
        return result

    def list_quotas(self) -> dict[str, dict[str, float]]:
        result: dict[str, dict[str, float]] = self.call("list_quotas")
        return result

    def get_quotas(self, project: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("get_quotas", project=project)
        return result

    def set_quotas(self, project: str, changes: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.call("set_quotas", project=project, changes=changes)
        return result

    def delete_quotas(self, project: str) -> None:
        self.call("delete_quotas", project=project)

    def wait_for_revision(self, revision: int, wait: float) -> bool:
        return bool(self.call("wait_for_revision", timeout=wait + 5, revision=revision, wait=wait))
