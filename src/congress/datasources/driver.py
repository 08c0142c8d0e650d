"""The driver SDK: ``Driver``, ``PollingDriver``, ``PushDriver`` (and ``ExecutionMixin``).

Imports: standard library, congress.datalog (value types) and congress.datasources.

A driver is a plain object: it holds its tables (``{table: set of rows}``), its status counters
and its options, reads its service through an injected ``client`` and tells time through an
injected ``clock`` (a function returning an aware UTC datetime). It knows nothing of the bus,
the database, threads or HTTP: a host service builds it, calls ``poll()`` every ``poll_time``
seconds (or when ``refresh_requested``), hands it pushed rows and webhook notifications,
publishes ``tables()`` and persists what ``persist_data`` asks for. Drivers are not thread-safe;
the host serialises calls to one driver.

Class attributes declare a driver: ``DRIVER_NAME`` (the entry-point name), ``DESCRIPTION``,
``CONFIG`` (``{option: Option(required, secret, description)}``) and either ``TRANSLATORS``
(root translator specs, checked when the class is defined) or a static ``SCHEMA``
(``{table: [column names]}``), and ``PROJECT_COLUMNS`` (``{table: column}``: the column naming the
project a row belongs to, for the per-project views of a shared datasource, docs/tenancy.md;
the operator may override it per datasource, and is the only one to declare it for a push
datasource, whose tables come from its config).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Any, ClassVar

from congress.datalog.ast import Row
from congress.datasources import options as opts
from congress.datasources import translators as tr
from congress.datasources._rows import json_kind
from congress.datasources.errors import (
    InvalidDriverOptions,
    InvalidLazyTables,
    InvalidRows,
    LazyTableNotActive,
    MissingRequiredOptions,
    NotSupported,
    PollFailed,
    TranslatorError,
    UnknownAction,
    UnknownTable,
)
from congress.datasources.execution import Action, ExecutionMixin
from congress.datasources.options import Option

__all__ = ["Action", "Clock", "Driver", "ExecutionMixin", "PollingDriver", "PushDriver"]

LOG = logging.getLogger(__name__)
NO_ROWS: frozenset[Row] = frozenset()

Clock = Callable[[], datetime]
Schema = dict[str, list[tr.Column]]


def utc_now() -> datetime:
    return datetime.now(UTC)


def schema_tables(schema: Mapping[str, Sequence[tr.Column]]) -> list[dict[str, Any]]:
    """The API's rendering of a schema: ``[{table_id, columns: [{name, description}]}]``."""
    return [
        {"table_id": table, "columns": [c.api_dict() for c in columns]}
        for table, columns in schema.items()
    ]


class Driver:
    """Base of every driver: declaration, config checks, tables and status."""

    DRIVER_NAME: ClassVar[str] = ""
    DESCRIPTION: ClassVar[str] = ""
    CONFIG: ClassVar[Mapping[str, Option]] = {}
    TRANSLATORS: ClassVar[Sequence[tr.TableSpec]] = ()
    SCHEMA: ClassVar[Mapping[str, Sequence[str]]] = {}
    PROJECT_COLUMNS: ClassVar[Mapping[str, str]] = {}
    """``{table: column}``: the column of each table that names a row's project (tables not
    named have none: a project sees all their rows). Checked against ``schema()`` by the tests
    of every driver that declares one."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        tr.check_roots(cls.TRANSLATORS)
        if cls.TRANSLATORS and cls.SCHEMA:
            raise TranslatorError(f"{cls.__name__}: declare TRANSLATORS or SCHEMA, not both")

    def __init__(
        self,
        name: str,
        config: Mapping[str, Any] | None = None,
        *,
        client: Any = None,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.config: dict[str, Any] = dict(config or {})
        self.validate_config(self.config, datasource=name)
        self.client = client
        self.clock: Clock = clock or utc_now
        self.last_updated: datetime | None = None
        self.last_success: datetime | None = None
        self.last_error: Exception | None = None
        self.number_of_updates = 0
        self.initialized = False
        # each table's rows; a change puts a new set in place (``current_rows`` relies on it)
        self._state: dict[str, set[Row]] = {}
        self.configure()

    def configure(self) -> None:
        """Read the (already validated) options into attributes: subclasses extend this
        instead of the constructor (calling ``super().configure()`` first)."""

    # --- declaration -----------------------------------------------------------------------

    @classmethod
    def build_client(cls, config: Mapping[str, Any], *, timeout: float = 30.0) -> Any:
        """The client of the driver's service for ``config`` (the host calls it when it builds
        the driver; requests give up after ``timeout`` seconds). It must not do I/O: the first
        poll does. The base has none (None)."""
        return None

    @classmethod
    def info(cls, driver_id: str | None = None) -> dict[str, Any]:
        """The driver info of ``/v1/system/drivers/<id>``: ``{id, description, config: {option:
        "required" | "(optional)"}, secret: [option, ...]}``."""
        return {
            "id": driver_id or cls.DRIVER_NAME,
            "description": cls.DESCRIPTION,
            "config": {
                k: opts.REQUIRED if o.required else opts.OPTIONAL for k, o in cls.CONFIG.items()
            },
            "secret": [k for k, o in cls.CONFIG.items() if o.secret],
        }

    @classmethod
    def schema(cls) -> Schema:
        """The tables and columns every instance of the driver has."""
        if not cls.TRANSLATORS:
            return {t: [tr.Column(c) for c in cols] for t, cols in cls.SCHEMA.items()}
        result: Schema = {}
        for spec in cls.TRANSLATORS:
            result.update(tr.schema(spec))
        return result

    @classmethod
    def validate_config(cls, config: Mapping[str, Any], *, datasource: str | None = None) -> None:
        """Raise ``InvalidConfig`` for unknown options, missing required ones (``tenant_name``
        stands in for ``project_name``) and values the driver cannot use."""
        unknown = sorted(set(config) - set(cls.CONFIG))
        if unknown:
            raise InvalidDriverOptions(f"Invalid driver options: {', '.join(unknown)}")
        required = {k for k, o in cls.CONFIG.items() if o.required}
        missing = required - set(config)
        if "project_name" in missing and "tenant_name" in config:
            LOG.warning("tenant_name is deprecated, use project_name instead")
            missing.discard("project_name")
        if missing:
            raise MissingRequiredOptions(
                f"Missing required config options: {', '.join(sorted(missing))}"
            )
        cls.check_options(config, datasource or cls.DRIVER_NAME)

    @classmethod
    def check_options(cls, config: Mapping[str, Any], datasource: str) -> None:
        """Check option values; subclasses parse theirs here and raise ``InvalidConfig``."""

    # --- tables and status -----------------------------------------------------------------

    def translators(self) -> Sequence[tr.TableSpec]:
        """This instance's root translator specs: the class's ``TRANSLATORS`` (a driver whose
        tables come from its config, like ``json``, overrides this and ``datasource_schema``)."""
        return self.TRANSLATORS

    def datasource_schema(self) -> Schema:
        """This instance's tables and columns (a driver configured with its tables overrides)."""
        return type(self).schema()

    def columns(self, table: str) -> list[str]:
        columns = self.datasource_schema().get(table)
        if columns is None:
            raise UnknownTable(f"table {table!r} does not exist in datasource {self.name}")
        return [c.name for c in columns]

    def schema_body(self) -> dict[str, Any]:
        """The schema route's body: ``{tables: [{table_id, columns: [{name, description}]}]}``."""
        return {"tables": schema_tables(self.datasource_schema())}

    def table_spec(self, table: str) -> dict[str, Any]:
        """The table spec route's body: ``{table_id, columns}``; ``UnknownTable`` if none."""
        self.columns(table)
        return schema_tables({table: self.datasource_schema()[table]})[0]

    def tables(self, names: Iterable[str] | None = None) -> dict[str, set[Row]]:
        """A snapshot (copies) of every table the driver publishes; with ``names``, of those
        of them only (copying a 100k-row table to publish a 500-row one cost a push 9 ms)."""
        schema = self.datasource_schema()
        wanted = schema if names is None else [t for t in names if t in schema]
        return {t: set(self._state.get(t, ())) for t in wanted}

    def rows(self, table: str) -> set[Row]:
        """A copy of one table's rows."""
        return set(self.current_rows(table))

    def current_rows(self, table: str) -> AbstractSet[Row]:
        """One table's rows as they are, not a copy (never change it). A change of the table
        puts a new set in its place, never changes the set in place, so a caller may keep
        what it got and tell by identity whether the table changed since."""
        self.columns(table)
        return self._state.get(table, NO_ROWS)

    def status(self) -> dict[str, str]:
        """The status route's counters, stringified as the original (the host adds
        ``subscriptions`` and ``subscribers``)."""
        return {
            "last_updated": str(self.last_updated),
            "last_error": str(self.last_error),
            "number_of_updates": str(self.number_of_updates),
            "initialized": str(self.initialized),
        }

    def actions(self) -> dict[str, list[dict[str, Any]]]:
        """A driver without ``ExecutionMixin`` lists no actions."""
        return {"results": []}

    def execute(
        self,
        action: str,
        positional: Sequence[Any] = (),
        named: Mapping[str, Any] | None = None,
    ) -> Any:
        """A driver without ``ExecutionMixin`` executes nothing: ``UnknownAction``."""
        args = {"positional": list(positional), "named": dict(named or {})}
        raise UnknownAction(
            f'driver {self.name} has no "execute" method but was asked to execute {action} '
            f"on arguments {args!r}"
        )

    def target_project(
        self,
        action: str,
        positional: Sequence[Any] = (),
        named: Mapping[str, Any] | None = None,
    ) -> str | None:
        """The project that owns the resource ``action(*positional, **named)`` would act on
        (nova: the server's ``tenant_id``), asked by the host before it runs an action for a
        project's policy (docs/tenancy.md): the action runs only if this is that project.
        None: the driver cannot tell (the target does not exist, the service cannot be read,
        or the action has no one target), so a project's policy may not run it. The default
        cannot tell for any action. It must not raise for a missing target."""
        return None

    def _record_update(self) -> None:
        self.number_of_updates += 1
        self.last_updated = self.clock()


class PollingDriver(Driver):
    """A driver that reads its service: ``poll()`` fetches each active root table through the
    client and translates it. Roots named in ``lazy_tables`` stay inactive (no rows, reading
    them is ``LazyTableNotActive``) until ``activate(table)``. Fetching uses ``FETCH``
    (``{root table: dotted client path}``, called without arguments) unless a driver overrides
    ``fetch``."""

    CONFIG: ClassVar[Mapping[str, Option]] = {"poll_time": opts.POLL_TIME}
    FETCH: ClassVar[Mapping[str, str]] = {}
    DEFAULT_POLL_TIME: ClassVar[int] = 10
    MAX_BACKOFF: ClassVar[float] = 300.0
    """The longest wait between two polls while the service keeps failing (seconds)."""

    def configure(self) -> None:
        super().configure()
        self.poll_time = opts.integer(
            self.config.get("poll_time", self.DEFAULT_POLL_TIME), "poll_time"
        )
        self.lazy_tables = frozenset(opts.name_list(self.config.get("lazy_tables"), "lazy_tables"))
        self._active = {s.table for s in self.translators() if s.table not in self.lazy_tables}
        self.refresh_requested = False
        self.consecutive_failures = 0
        self._raw: dict[str, Any] = {}  # root -> what the service answered last time
        self._this_poll: dict[str, Any] = {}  # once_per_poll's answers (or errors)

    @classmethod
    def check_options(cls, config: Mapping[str, Any], datasource: str) -> None:
        super().check_options(config, datasource)
        opts.integer(config.get("poll_time", cls.DEFAULT_POLL_TIME), "poll_time")
        roots = cls.root_tables(config)
        invalid = [
            t for t in opts.name_list(config.get("lazy_tables"), "lazy_tables") if t not in roots
        ]
        if invalid:
            raise InvalidLazyTables(
                f"Invalid lazy tables: {invalid}. Accepted tables for datasource "
                f"{datasource} are {roots}."
            )

    @classmethod
    def root_tables(cls, config: Mapping[str, Any]) -> list[str]:
        """The root tables of a datasource with ``config`` (those ``lazy_tables`` may name)."""
        return [s.table for s in cls.TRANSLATORS]

    def fetch(self, root: str) -> Any:
        """The raw objects of one root table from the service."""
        path = self.FETCH.get(root)
        if path is None:
            raise NotImplementedError(f"{type(self).__name__} does not say how to fetch {root}")
        target: Any = self.client
        for part in path.split("."):
            target = getattr(target, part)
        return target()

    def poll(self) -> dict[str, set[Row]]:
        """Fetch and translate every active root; a root that fails keeps its previous rows
        and its error becomes ``last_error`` (the poll then counts as failed, and the next one
        waits longer: ``next_poll_delay``). A root whose answer equals the previous one is not
        translated again. Returns the snapshot of ``tables()``."""
        self.refresh_requested = False
        errors: list[tuple[str, str]] = []
        try:
            for spec in self.translators():
                if spec.table in self._active:
                    error = self._poll_root(spec)
                    if error is not None:
                        errors.append(error)
        finally:
            self._this_poll.clear()
        self._record_update()
        if errors:
            self.consecutive_failures += 1
            self.last_error = PollFailed(summarize_failures(errors))
        else:
            self.consecutive_failures = 0
            self.last_error = None
            self.last_success = self.last_updated
            self.initialized = True
        return self.tables()

    def _poll_root(self, spec: tr.TableSpec) -> tuple[str, str] | None:
        try:
            raw = self.fetch(spec.table)
            if spec.table in self._raw and self._raw[spec.table] == raw:
                return None
            rows = tr.translate(spec, raw)
        except Exception as exc:
            LOG.warning(
                "datasource %s: polling %s failed: %s",
                self.name,
                spec.table,
                exc,
                exc_info=LOG.isEnabledFor(logging.DEBUG),
            )
            return spec.table, str(exc)
        self._raw[spec.table] = raw
        for table, table_rows in rows.items():
            self._state[table] = set(table_rows)
        return None

    def once_per_poll(self, key: str, read: Callable[[], Any]) -> Any:
        """``read()``'s answer, read once per poll however many roots ask for it (a list that
        several tables share); its exception, too, is raised again to each of them."""
        if key not in self._this_poll:
            try:
                self._this_poll[key] = (True, read())
            except Exception as exc:
                self._this_poll[key] = (False, exc)
        ok, found = self._this_poll[key]
        if not ok:
            raise found
        return found

    def next_poll_delay(self) -> float | None:
        """Seconds until the next poll: ``poll_time`` while polls succeed; after ``n`` failed
        polls in a row, ``poll_time * 2**(n-1)`` (at least 1 s) up to ``MAX_BACKOFF`` (or
        ``poll_time`` if that is longer). None: poll only on refresh (``poll_time`` 0, no
        failure)."""
        if self.consecutive_failures == 0:
            return float(self.poll_time) if self.poll_time > 0 else None
        base = float(self.poll_time) if self.poll_time > 0 else 1.0
        delay = base * 2.0 ** min(self.consecutive_failures - 1, 30)
        return min(delay, max(self.MAX_BACKOFF, float(self.poll_time)))

    def status(self) -> dict[str, str]:
        """The counters, with ``last_success`` (time of the last poll without error) and
        ``consecutive_failures``."""
        return {
            **super().status(),
            "last_success": str(self.last_success),
            "consecutive_failures": str(self.consecutive_failures),
        }

    def request_refresh(self) -> None:
        """Ask the host for a poll now (``refresh_requested`` stays set until ``poll()``)."""
        self.refresh_requested = True

    def activate(self, table: str) -> bool:
        """Someone subscribed to ``table``: activate its lazy root. True if it was inactive
        (the host should poll so that the table fills)."""
        root = self.root_of(table)
        if root in self._active:
            return False
        self._active.add(root)
        self._raw.pop(root, None)
        return True

    def tables(self, names: Iterable[str] | None = None) -> dict[str, set[Row]]:
        snapshot = super().tables(names)
        return {t: rows for t, rows in snapshot.items() if self.root_of(t) in self._active}

    def current_rows(self, table: str) -> AbstractSet[Row]:
        found = super().current_rows(table)
        if self.root_of(table) not in self._active:
            raise LazyTableNotActive(f"table {table} is a lazy table and is not subscribed.")
        return found

    def root_of(self, table: str) -> str:
        """The root table whose translator fills ``table``."""
        for spec in self.translators():
            if table in tr.tables(spec):
                return spec.table
        raise UnknownTable(f"table {table!r} does not exist in datasource {self.name}")


class PushDriver(Driver):
    """A driver whose data is pushed: ``replace_table`` (``PUT .../tables/<t>/rows``) replaces a
    whole table; ``webhook`` takes a notification (drivers that accept them override it). With
    ``persist_data`` the host stores each table after a change and calls ``restore`` on start."""

    CONFIG: ClassVar[Mapping[str, Option]] = {"persist_data": opts.PERSIST_DATA}

    def configure(self) -> None:
        super().configure()
        self.persist_data = opts.strict_bool(self.config.get("persist_data", False), "persist_data")
        self.initialized = True

    @classmethod
    def check_options(cls, config: Mapping[str, Any], datasource: str) -> None:
        super().check_options(config, datasource)
        opts.strict_bool(config.get("persist_data", False), "persist_data")

    def replace_table(self, table: str, rows_json: Any) -> set[Row]:
        """Replace ``table`` with the pushed JSON rows; ``InvalidRows`` if they do not fit,
        ``UnknownTable`` if there is no such table. Returns the table's new rows."""
        columns = self.columns(table)
        rows = self.parse_rows(table, columns, rows_json)
        self._state[table] = set(rows)
        self._record_update()
        return set(rows)

    def parse_rows(self, table: str, columns: list[str], body: Any) -> set[Row]:
        """Rows from a JSON list whose items are arrays of the table's width or objects keyed
        by column name (a missing key is null, hence ``"None"``)."""
        items = expect_list(body, table)
        rows: set[Row] = set()
        for index, item in enumerate(items):
            if isinstance(item, list | tuple):
                if len(item) != len(columns):
                    raise InvalidRows(
                        f"table {table}: row {index + 1} (index {index}) has {len(item)} values "
                        f"but the table has {len(columns)} columns ({', '.join(columns)})"
                    )
                values: Sequence[Any] = item
            elif isinstance(item, Mapping):
                unknown = sorted(str(k) for k in item if k not in columns)
                if unknown:
                    raise InvalidRows(
                        f"table {table}: row {index + 1} (index {index}) has unknown columns "
                        f"{', '.join(unknown)}; the columns are {', '.join(columns)}"
                    )
                values = [item.get(c) for c in columns]
            else:
                raise InvalidRows(
                    f"table {table}: row {index + 1} (index {index}) must be a JSON array or "
                    f"object, not {json_kind(item)}"
                )
            rows.add(tuple(tr.normalize(v) for v in values))
        return rows

    def webhook(self, payload: Any) -> list[str]:
        """Take a webhook notification; returns the tables it changed."""
        raise NotSupported(f"datasource {self.name} does not accept webhook notifications")

    def restore(self, tables: Mapping[str, Sequence[Sequence[Any]]]) -> None:
        """Restore persisted tables (as stored: lists of rows); unknown tables and rows of the
        wrong width are dropped with a warning."""
        schema = self.datasource_schema()
        for table, rows in tables.items():
            if table not in schema:
                LOG.warning("datasource %s: dropping persisted table %s", self.name, table)
                continue
            width = len(schema[table])
            fitting = [r for r in rows if len(r) == width]
            if len(fitting) < len(rows):
                LOG.warning("datasource %s: dropping persisted rows of %s", self.name, table)
            self._state[table] = {tuple(tr.normalize(v) for v in r) for r in fitting}


_REQUEST = re.compile(r"^[A-Z]+ \S+: ")


def summarize_failures(errors: Sequence[tuple[str, str]]) -> str:
    """``polling T failed: why`` per failed root table, in order; tables that failed for the
    same reason (the text after the request, ``GET /path: ``) share one clause, so a cloud
    that is down reads ``polling servers, flavors failed: cannot connect: ...``."""
    reasons: dict[str, list[str]] = {}
    for table, text in errors:
        key = _REQUEST.sub("", text) if len(errors) > 1 else text
        reasons.setdefault(key, []).append(table)
    return "; ".join(f"polling {', '.join(t)} failed: {why}" for why, t in reasons.items())


def expect_list(body: Any, table: str) -> list[Any]:
    """The pushed body as a list, or ``InvalidRows``."""
    if not isinstance(body, list | tuple):
        raise InvalidRows(f"table {table}: the rows must be a JSON list, not {json_kind(body)}")
    return list(body)
