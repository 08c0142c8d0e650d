"""The generic ``json`` driver: tables polled from any JSON HTTP API, selected with JMESPath.

Imports: standard library, congress.datasources, jmespath, requests and (for ``auth`` keystone,
lazily, through ``congress.datasources.openstack``) keystoneauth1.

The option ``tables`` declares every table (a JSON object, or its text; object key order is
column order)::

    {"servers": {"path": "/servers/detail",
                 "rows": "servers",
                 "columns": {"id": "id", "flavor": "flavor.id",
                             "ip": "addresses.*[].addr | [0]"},
                 "params": {"all_tenants": "1"}}}

Each poll GETs ``endpoint`` + ``path`` (with the query ``params``), selects the list of rows
from the JSON body with the JMESPath ``rows`` (default ``@``: the body is the list) and makes one
row of each element, one column per JMESPath of ``columns`` evaluated within the element
(``null`` elements are skipped; a missing field gives ``"None"``; a list or object value becomes
its canonical JSON text, as every driver's values). The expressions are compiled once, when the
options are checked; the names of the functions they call and their number of arguments are
checked then too.

Authentication (``auth``): ``none`` (default); ``bearer``, sending ``Authorization: Bearer
<token>``; or ``keystone``, a keystoneauth1 password session from the usual OpenStack options
that sends ``X-Auth-Token`` and, with ``service_type`` (and ``interface``, ``region``), takes the
base URL from the service catalog instead of ``endpoint``. ``headers`` adds request headers;
``verify`` (default true) turns TLS certificate verification off when false.

Any failure of a poll (cannot connect, a timeout, refused authentication, HTTP status >= 400, a
body that is not JSON, ``rows`` not selecting a list) is an error naming the table and the URL
(never the token, nor the query); the table keeps its last good rows and the status shows the
error. The driver is read-only: it has no actions (it does not use ``ExecutionMixin``) and reads
one page per table (no paging).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import urlsplit

import jmespath
import requests
from jmespath import exceptions as jmespath_errors
from jmespath.functions import Functions
from jmespath.parser import ParsedResult

from congress.datasources import options as opts
from congress.datasources import translators as tr
from congress.datasources.driver import PollingDriver, Schema
from congress.datasources.errors import (
    InvalidConfig,
    MissingRequiredOptions,
    ServiceError,
    TranslationError,
)
from congress.datasources.openstack import DEFAULT_TIMEOUT, build_session, describe_error
from congress.datasources.options import Option

AUTH_MODES = ("none", "bearer", "keystone")
INTERFACES = ("public", "internal", "admin")
KEYSTONE_REQUIRED = ("auth_url", "username", "password", "project_name")
KEYSTONE_OPTIONAL = (
    "user_domain_name",
    "project_domain_name",
    "region",
    "service_type",
    "interface",
)
TABLE_KEYS = ("path", "rows", "columns", "params")
DEFAULT_ROWS = "@"
MAX_ERROR_TEXT = 200

NAME = re.compile(r"\.*[a-zA-Z_](?:[a-zA-Z0-9_.]*[a-zA-Z0-9_])?")
"""A table or column name: an identifier of the policy language (``congress.datalog.lexer``'s
``ID_PATTERN``), so that rules can name it; ``not`` and ``NOT`` read as negation, not names."""
NOT_NAMES = frozenset({"not", "NOT"})
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # an RFC 9110 token

TABLES_HELP = (
    '{"<table>": {"path": "/v1/things", "rows": "<JMESPath of the list>", '
    '"columns": {"<column>": "<JMESPath within one row>", ...}, "params": {...}}, ...}'
)


# --- options ----------------------------------------------------------------------------------


class ColumnError(TranslationError):
    """A column's JMESPath failed on a row (the translators show it with ``repr``: plain text)."""

    def __repr__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ColumnConfig:
    """One column: its name and the compiled JMESPath that reads it from a row."""

    name: str
    expression: ParsedResult


@dataclass(frozen=True)
class TableConfig:
    """One table of the ``tables`` option, its JMESPath expressions compiled."""

    name: str
    path: str
    rows: ParsedResult
    columns: tuple[ColumnConfig, ...]
    params: Mapping[str, Any] = field(default_factory=dict)

    def project(self, items: Any) -> list[dict[str, Any]]:
        """Each (non-null) element of ``items`` as ``{column: value}``."""
        if not isinstance(items, list):
            raise TranslationError(f"table {self.name}: expected a list, got {tr.json_kind(items)}")
        result: list[dict[str, Any]] = []
        for item in items:
            if item is None:
                continue
            row: dict[str, Any] = {}
            for column in self.columns:
                try:
                    row[column.name] = column.expression.search(item)
                except jmespath_errors.JMESPathError as exc:
                    raise ColumnError(
                        f"column {column.name}: JMESPath {column.expression.expression!r} "
                        f"failed: {exc}"
                    ) from exc
            result.append(row)
        return result

    def translator(self) -> tr.HDict:
        """The translator spec of the table: one row per projected element."""
        return tr.HDict(
            table=self.name,
            fields=[
                tr.Field(c.name, desc=f"JMESPath {c.expression.expression}") for c in self.columns
            ],
            objects_extract_fn=self.project,
        )


@dataclass(frozen=True)
class Connection:
    """How to reach the API: the checked connection options."""

    auth: str
    endpoint: str | None
    headers: Mapping[str, str]
    verify: bool
    token: str | None = None
    service_type: str | None = None
    interface: str = "public"
    region: str | None = None


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _invalid(option: str, text: str) -> InvalidConfig:
    return InvalidConfig(f"Invalid value for option {option}: {text}")


def json_object(value: Any, option: str) -> dict[str, Any]:
    """An option holding a JSON object (a dict, or its text; a key twice is an error)."""
    if isinstance(value, str):
        try:
            value = json.loads(value, object_pairs_hook=_unique_keys)
        except _DuplicateKey as exc:
            raise _invalid(option, str(exc)) from None
        except ValueError as exc:
            raise _invalid(option, f"not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise _invalid(option, f"expected a JSON object, not {tr.json_kind(value)}")
    return value


def _name(value: Any) -> bool:
    return isinstance(value, str) and value not in NOT_NAMES and NAME.fullmatch(value) is not None


def _one_line(exc: Exception) -> str:
    """jmespath's message without the expression and caret lines it appends."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return first.removesuffix(", for expression:").rstrip(":").strip()


def _function_errors(node: Any) -> list[str]:
    """jmespath's errors for calls of unknown functions, or with the wrong number of arguments,
    anywhere in a parsed expression (jmespath itself finds them only when it evaluates)."""
    found: list[str] = []
    if not isinstance(node, Mapping):
        return found
    if node.get("type") == "function_expression":
        name = str(node.get("value"))
        args = len(node.get("children") or ())
        spec = Functions.FUNCTION_TABLE.get(name)
        if spec is None:
            found.append(str(jmespath_errors.UnknownFunctionError(f"Unknown function: {name}()")))
        else:
            signature = spec["signature"]
            if signature and signature[-1].get("variadic"):
                if args < len(signature):
                    error: Exception = jmespath_errors.VariadictArityError(
                        len(signature), args, name
                    )
                    found.append(str(error))
            elif args != len(signature):
                found.append(str(jmespath_errors.ArityError(len(signature), args, name)))
    for child in node.get("children") or ():
        found.extend(_function_errors(child))
    return found


def compile_expression(text: Any, where: str) -> ParsedResult:
    """A JMESPath compiled, or ``InvalidConfig`` (option ``tables``) with jmespath's message."""
    if not isinstance(text, str):
        raise _invalid(
            "tables", f"{where}: the JMESPath must be a string, not {tr.json_kind(text)}"
        )
    try:
        parsed = jmespath.compile(text)
    except jmespath_errors.JMESPathError as exc:
        raise _invalid(
            "tables", f"{where}: JMESPath {text!r} does not compile: {_one_line(exc)}"
        ) from None
    errors = _function_errors(parsed.parsed)
    if errors:
        raise _invalid("tables", f"{where}: JMESPath {text!r} does not compile: {errors[0]}")
    return parsed


def _params(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(
            "tables", f"{where}: params must be a JSON object, not {tr.json_kind(value)}"
        )
    for key, item in value.items():
        values = item if isinstance(item, list) else [item]
        for v in values:
            if isinstance(v, bool) or not isinstance(v, str | int | float):
                raise _invalid(
                    "tables",
                    f"{where}: parameter {key!r} must be a string, a number or a list of them, "
                    f"not {tr.json_kind(v)}",
                )
    return dict(value)


def parse_table(name: Any, spec: Any) -> TableConfig:
    """One table of the ``tables`` option, checked and compiled."""
    if not _name(name):
        raise _invalid(
            "tables",
            f"bad table name {name!r} (a name is an identifier: letters, digits, '_' and '.', "
            "starting with a letter or '_' after any dots, not ending with '.')",
        )
    where = f"table {name}"
    if not isinstance(spec, dict):
        raise _invalid("tables", f"{where}: expected a JSON object like {TABLES_HELP}")
    unknown = sorted(str(k) for k in spec if k not in TABLE_KEYS)
    if unknown:
        raise _invalid(
            "tables",
            f"{where}: unknown keys {', '.join(unknown)}; the keys are {', '.join(TABLE_KEYS)}",
        )
    path = spec.get("path")
    if path is None:
        raise _invalid("tables", f"{where}: path is missing")
    if not isinstance(path, str) or not path.startswith("/"):
        raise _invalid("tables", f"{where}: path must be a string starting with '/': {path!r}")
    rows = compile_expression(spec.get("rows", DEFAULT_ROWS), f"{where}, rows")
    columns = spec.get("columns")
    if columns is None:
        raise _invalid("tables", f"{where}: columns is missing")
    if not isinstance(columns, dict) or not columns:
        raise _invalid(
            "tables",
            f"{where}: columns must be a non-empty JSON object "
            '{"<column>": "<JMESPath within one row>", ...}',
        )
    compiled: list[ColumnConfig] = []
    for column, expression in columns.items():
        if not _name(column):
            raise _invalid(
                "tables",
                f"{where}: bad column name {column!r} (a name is an identifier: letters, digits, "
                "'_' and '.', starting with a letter or '_' after any dots, not ending with '.')",
            )
        compiled.append(
            ColumnConfig(column, compile_expression(expression, f"{where}, column {column}"))
        )
    params = _params(spec.get("params", {}), where)
    return TableConfig(name, path, rows, tuple(compiled), params)


def parse_tables(value: Any) -> dict[str, TableConfig]:
    """The ``tables`` option: ``{table: TableConfig}`` in the order written."""
    declared = json_object(value, "tables")
    if not declared:
        raise _invalid("tables", f"declare at least one table: {TABLES_HELP}")
    return {name: parse_table(name, spec) for name, spec in declared.items()}


def _url(value: Any, option: str) -> str:
    text = str(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _invalid(option, f"{text!r} is not an http or https URL")
    return text


def _headers(value: Any) -> dict[str, str]:
    headers = json_object(value, "headers")
    for key, item in headers.items():
        if not HEADER_NAME.fullmatch(key):
            raise _invalid("headers", f"bad header name {key!r}")
        if not isinstance(item, str) or "\r" in item or "\n" in item:
            raise _invalid("headers", f"header {key} must be a string on one line")
    return headers


def parse_connection(config: Mapping[str, Any]) -> Connection:
    """The connection options, checked: ``InvalidConfig`` naming the option otherwise."""
    auth = str(config.get("auth") or "none").strip().lower()
    if auth not in AUTH_MODES:
        raise _invalid(
            "auth", f"{config.get('auth')!r}; acceptable values are: {', '.join(AUTH_MODES)}"
        )
    given = {k for k, v in config.items() if v is not None and v != ""}
    keystone_options = sorted(given & {*KEYSTONE_REQUIRED, *KEYSTONE_OPTIONAL})
    if auth != "keystone" and keystone_options:
        raise InvalidConfig(
            f"Invalid driver options for auth {auth}: {', '.join(keystone_options)} "
            "(only used with auth keystone)"
        )
    if auth != "bearer" and "token" in given:
        raise InvalidConfig(
            f"Invalid driver options for auth {auth}: token (only used with auth bearer)"
        )
    token: str | None = None
    if auth == "bearer":
        if "token" not in given:
            raise MissingRequiredOptions("Missing required config options: token (auth bearer)")
        token = str(config["token"])
        if "\r" in token or "\n" in token:
            raise _invalid("token", "the token must be one line")
    service_type: str | None = None
    interface = "public"
    if auth == "keystone":
        missing = [k for k in KEYSTONE_REQUIRED if k not in given]
        if missing:
            raise MissingRequiredOptions(
                f"Missing required config options: {', '.join(missing)} (auth keystone)"
            )
        _url(config["auth_url"], "auth_url")
        service_type = str(config["service_type"]) if "service_type" in given else None
        if "interface" in given:
            interface = str(config["interface"])
            if interface not in INTERFACES:
                raise _invalid(
                    "interface", f"{interface!r}; acceptable values are: {', '.join(INTERFACES)}"
                )
            if service_type is None:
                raise _invalid("interface", "only used with service_type")
    endpoint: str | None = None
    if "endpoint" in given:
        endpoint = _url(config["endpoint"], "endpoint").rstrip("/")
        if service_type is not None:
            raise _invalid(
                "endpoint", "give endpoint or service_type (the catalog's endpoint), not both"
            )
    elif service_type is None:
        raise MissingRequiredOptions(
            "Missing required config options: endpoint (or, with auth keystone, service_type)"
        )
    headers = _headers(config["headers"]) if "headers" in given else {}
    reserved = {"bearer": "authorization", "keystone": "x-auth-token"}.get(auth)
    clash = [k for k in headers if k.lower() == reserved]
    if clash:
        raise _invalid("headers", f"header {clash[0]} is set by auth {auth}")
    return Connection(
        auth=auth,
        endpoint=endpoint,
        headers=headers,
        verify=opts.strict_bool(config.get("verify", True), "verify"),
        token=token,
        service_type=service_type,
        interface=interface,
        region=str(config["region"]) if "region" in given else None,
    )


# --- the client -------------------------------------------------------------------------------


class JsonApiClient:
    """What the driver reads the API with: a ``requests.Session`` (auth none or bearer, the
    headers set on it) or a keystoneauth1 session (auth keystone, the headers sent with each
    request), the request timeout and the base URL (or how to find it in the catalog).
    Building it does no I/O."""

    def __init__(
        self, connection: Connection, session: Any, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.connection = connection
        self.session = session
        self.timeout = timeout
        self.keystone = connection.auth == "keystone"

    @classmethod
    def build(cls, config: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT) -> JsonApiClient:
        conn = parse_connection(config)
        if conn.auth == "keystone":
            session: Any = build_session(config, timeout=timeout)
            session.verify = conn.verify
        else:
            session = requests.Session()
            session.verify = conn.verify
            session.headers["Accept"] = "application/json"
            session.headers.update(conn.headers)
            if conn.token is not None:
                session.headers["Authorization"] = f"Bearer {conn.token}"
        return cls(conn, session, timeout=timeout)

    def base_url(self) -> str:
        """``endpoint``, or the catalog's URL of ``service_type`` (authenticates)."""
        conn = self.connection
        if conn.endpoint is not None:
            return conn.endpoint
        try:
            url = self.session.get_endpoint(
                service_type=conn.service_type,
                interface=conn.interface,
                region_name=conn.region,
            )
        except Exception as exc:
            raise ServiceError(
                f"looking up service type {conn.service_type} in the catalog: {describe_error(exc)}"
            ) from exc
        if not url:
            where = f" in region {conn.region}" if conn.region else ""
            raise ServiceError(
                f"no {conn.interface} endpoint of service type {conn.service_type}{where} "
                "in the catalog"
            )
        return str(url).rstrip("/")

    def get_json(self, path: str, params: Mapping[str, Any], what: str) -> tuple[str, Any]:
        """``(url, decoded JSON body)`` of ``GET base + path``; ``ServiceError`` (whose message
        starts with ``what`` and names the URL, without the query) on any failure."""
        try:
            url = self.base_url() + path
        except ServiceError as exc:
            raise ServiceError(f"{what}: {exc}") from exc
        try:
            if self.keystone:
                response = self.session.request(
                    url,
                    "GET",
                    params=dict(params),
                    headers={"Accept": "application/json", **self.connection.headers},
                    raise_exc=False,
                )
            else:
                response = self.session.get(url, params=dict(params), timeout=self.timeout)
        except requests.Timeout as exc:
            raise ServiceError(f"{what}: GET {url}: timed out after {self.timeout} s") from exc
        except requests.ConnectionError as exc:
            raise ServiceError(f"{what}: GET {url}: cannot connect: {exc}") from exc
        except requests.RequestException as exc:
            raise ServiceError(f"{what}: GET {url}: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # keystoneauth1's exceptions (refused token, timeout...)
            raise ServiceError(f"{what}: GET {url}: {describe_error(exc)}") from exc
        if response.status_code >= 400:
            text = " ".join(response.text.split())[:MAX_ERROR_TEXT]
            reason = f" {response.reason}" if response.reason else ""
            detail = f": {text}" if text else ""
            raise ServiceError(f"{what}: GET {url}: HTTP {response.status_code}{reason}{detail}")
        try:
            return url, response.json()
        except ValueError as exc:
            raise ServiceError(f"{what}: GET {url}: the answer is not JSON ({exc})") from exc

    def close(self) -> None:
        """Close the HTTP connections (the driver can be polled again: they reopen)."""
        if self.keystone:
            inner = getattr(self.session, "session", None)
            if inner is not None:
                inner.close()
        else:
            self.session.close()


# --- the driver -------------------------------------------------------------------------------


class JsonApiDriver(PollingDriver):
    """Datasource driver that polls tables from any JSON HTTP API, selected with JMESPath."""

    DRIVER_NAME: ClassVar[str] = "json"
    DESCRIPTION: ClassVar[str] = (
        "Datasource driver that polls tables from a JSON HTTP API, selecting rows and columns "
        "with JMESPath."
    )
    CONFIG: ClassVar[Mapping[str, Option]] = {
        "tables": Option(True, description=f"JSON object declaring the tables: {TABLES_HELP}"),
        "endpoint": Option(
            description="base URL of the API (required unless auth is keystone with service_type)"
        ),
        "headers": Option(description="JSON object of extra request headers"),
        "auth": Option(description="none (default), bearer or keystone"),
        "token": Option(secret=True, description="the bearer token (auth bearer)"),
        "auth_url": Option(description="Keystone URL (auth keystone)"),
        "username": Option(description="user name (auth keystone)"),
        "password": Option(secret=True, description="password (auth keystone)"),
        "project_name": Option(description="project name (auth keystone)"),
        "user_domain_name": Option(description="the user's domain (default Default)"),
        "project_domain_name": Option(description="the project's domain (default Default)"),
        "region": Option(description="region of the catalog endpoint (auth keystone)"),
        "service_type": Option(
            description="catalog service type whose endpoint is the base URL (auth keystone)"
        ),
        "interface": Option(description="catalog interface: public (default), internal or admin"),
        "verify": Option(description="verify the server's TLS certificate (default true)"),
        "poll_time": opts.POLL_TIME,
        "lazy_tables": opts.LAZY_TABLES,
    }

    @classmethod
    def check_options(cls, config: Mapping[str, Any], datasource: str) -> None:
        parse_connection(config)
        parse_tables(config.get("tables"))
        super().check_options(config, datasource)

    @classmethod
    def root_tables(cls, config: Mapping[str, Any]) -> list[str]:
        return list(parse_tables(config.get("tables")))

    @classmethod
    def build_client(
        cls, config: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> JsonApiClient:
        return JsonApiClient.build(config, timeout=timeout)

    @cached_property
    def table_configs(self) -> dict[str, TableConfig]:
        """The parsed ``tables`` option (expressions compiled once per driver)."""
        return parse_tables(self.config.get("tables"))

    @cached_property
    def _specs(self) -> tuple[tr.HDict, ...]:
        specs = tuple(t.translator() for t in self.table_configs.values())
        tr.check_roots(specs)
        return specs

    def translators(self) -> Sequence[tr.TableSpec]:
        return self._specs

    def datasource_schema(self) -> Schema:
        result: Schema = {}
        for spec in self._specs:
            result.update(tr.schema(spec))
        return result

    def fetch(self, root: str) -> Any:
        """The list of raw rows of table ``root``: the JSON body at its path, through ``rows``."""
        table = self.table_configs[root]
        if not isinstance(self.client, JsonApiClient):
            raise ServiceError(f"table {root}: datasource {self.name} has no JSON API client")
        url, body = self.client.get_json(table.path, table.params, f"table {root}")
        try:
            selected = table.rows.search(body)
        except jmespath_errors.JMESPathError as exc:
            raise TranslationError(
                f"table {root}: GET {url}: rows {table.rows.expression!r} failed: {exc}"
            ) from exc
        if not isinstance(selected, list):
            raise TranslationError(
                f"table {root}: GET {url}: rows {table.rows.expression!r} selected "
                f"{tr.json_kind(selected)}, not a list"
            )
        return selected


__all__ = [
    "ColumnConfig",
    "Connection",
    "JsonApiClient",
    "JsonApiDriver",
    "TableConfig",
    "compile_expression",
    "parse_connection",
    "parse_tables",
]
