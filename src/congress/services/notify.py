"""Notification sinks: the changes of watched tables sent to webhooks and oslo.messaging topics
(docs/notifications.md, ADR 0008).

Imports: the standard library, requests, oslo.config, congress.common.config, congress.db and
congress.services (errors, datasource_config, history, watch). oslo.messaging (and
congress.bus.messaging, which sets Congress's defaults on its options) is imported only when a
messaging sink or the config-level notifications send something: a lone process never loads it.

**The outbox is the history.** Every change of a watched table is an entry of
``table_history`` (``congress.services.history``), recorded once per deployment with an
increasing id. A sink names ``policy:table`` patterns (their tables are watched too:
``History.add_tables``) and has a cursor, the id of the last entry it delivered or
dead-lettered. The delivering node reads the entries after the cursor, in id order, and sends
them batched per (policy, table): one request per batch, the next batch of a table only after
the previous one succeeded or was dead-lettered, so each table's changes arrive in order. A
failed batch is tried again after 1, 2, 4... seconds (at most 60) until ``max_retries``
attempts failed; then it becomes a dead letter, and the cursor moves past it in the same
transaction. The cursor is saved after every batch delivered: after a failover the next node
resumes from it, so a change may come twice (at-least-once): receivers dedupe by its ``key``.

**One delivering node.** The nodes compete for the lease ``notifications``
(``db.acquire_lease``: a compare-and-set, no table lock), renewed every ``renew_interval``
seconds for ``lease_ttl`` seconds; only the holder delivers, and it stops delivering when it
could not renew in time. Every node reloads the sinks every ``reload_interval`` seconds and
has its history watch their tables.

**Config-level notifications.** With ``[oslo_messaging_notifications] driver`` set, the
delivering node also emits every change of the ``[watch] tables`` as an oslo.messaging
notification (``congress.table.changed``, the configured drivers and topics), as a built-in
sink named ``_config`` with a cursor of its own.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit

import requests
from oslo_config import cfg
from sqlalchemy.engine import Engine as DbEngine

from congress.common import config
from congress.common.jsontext import portable
from congress.db import api as db
from congress.db import errors as db_errors
from congress.db.history import HistoryEntry
from congress.db.notifications import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TABLES,
    MESSAGING,
    SINK_TYPES,
    WEBHOOK,
    NotificationSink,
)
from congress.services import errors
from congress.services.datasource_config import HIDDEN, SecretBox
from congress.services.history import History, iso
from congress.services.watch import TableSelector

LOG = logging.getLogger(__name__)

LEASE = "notifications"
"""The lease that names the delivering node."""
CONFIG_SINK = "_config"
"""The built-in sink of ``[oslo_messaging_notifications]`` (its cursor and dead letters)."""
EVENT_TYPE = "congress.table.changed"
EVENT_HEADER = "table.changed"
NOTIFICATIONS_GROUP = "oslo_messaging_notifications"
MAX_NAME = 255
MAX_URL = 2048
MAX_SECRET = 4096
MAX_TABLES = 100
MAX_PATTERN = 511
MAX_RETRIES = 100
MAX_ERROR = 2000
MAX_DEAD_LETTERS = 1000
SEND_RETRY = 2
"""Reconnections oslo.messaging attempts for one notification (ours retry after that)."""
FIELDS = ("name", "type", "url", "topic", "secret", "tables", "enabled", "max_retries")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_TOPIC = re.compile(r"[A-Za-z0-9_.-]+")
_PATTERN_PART = re.compile(r"[^\s:\x00-\x1f\x7f]+")

UTC = dt.UTC


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


class DeliveryFailed(Exception):
    """A batch was not delivered (a connection error, a timeout, an answer other than 2xx)."""


# -- what is sent --------------------------------------------------------------------------------
def change_body(change: HistoryEntry) -> dict[str, Any]:
    """One change as every sink sends it."""
    return {
        "id": change.id,
        "key": change.key,
        "op": change.op,
        "row": change.row,
        "time": iso(change.created_at),
        "revision": change.revision,
    }


def payload_of(
    sink: str, policy: str, table: str, changes: Iterable[HistoryEntry]
) -> dict[str, Any]:
    """The body of one batch: changes of one table, in order."""
    return {
        "sink": sink,
        "policy": policy,
        "table": table,
        "changes": [change_body(c) for c in changes],
    }


def encode(payload: Mapping[str, Any]) -> bytes:
    """The JSON body of a webhook request (UTF-8, compact, always valid JSON)."""
    try:
        text = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:
        text = json.dumps(
            portable(payload), ensure_ascii=False, allow_nan=False, separators=(",", ":")
        )
    return text.encode("utf-8", "backslashreplace")


def signature(secret: str, body: bytes) -> str:
    """The ``X-Congress-Signature`` of ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class Target(Protocol):
    """Where one sink's batches go."""

    def send(self, payload: dict[str, Any]) -> None:
        """Deliver one batch; ``DeliveryFailed`` if it was not."""

    def close(self) -> None: ...


class WebhookTarget:
    """``POST`` of each batch to a URL, signed with HMAC-SHA256 when there is a secret."""

    def __init__(
        self,
        url: str,
        secret: str | None,
        timeout: float,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url
        self._secret = secret
        self._timeout = timeout
        self._session = session or requests.Session()

    def send(self, payload: dict[str, Any]) -> None:
        body = encode(payload)
        headers = {
            "Content-Type": "application/json",
            "X-Congress-Event": EVENT_HEADER,
            "X-Congress-Delivery": str(uuid.uuid4()),
        }
        if self._secret:
            headers["X-Congress-Signature"] = signature(self._secret, body)
        try:
            answer = self._session.post(
                self.url,
                data=body,
                headers=headers,
                timeout=(min(3.05, self._timeout), self._timeout),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        with answer:
            if not 200 <= answer.status_code < 300:
                text = answer.text[:200].strip()
                raise DeliveryFailed(
                    f"HTTP {answer.status_code} {answer.reason}" + (f": {text}" if text else "")
                )

    def close(self) -> None:
        self._session.close()


class FailingTarget:
    """A sink this node cannot send to (every batch fails with ``why``)."""

    def __init__(self, why: str) -> None:
        self.why = why

    def send(self, payload: dict[str, Any]) -> None:
        raise DeliveryFailed(self.why)

    def close(self) -> None:
        return None


# -- oslo.messaging ------------------------------------------------------------------------------
class NotificationOptions(NamedTuple):
    """``[oslo_messaging_notifications]`` as this node is configured."""

    drivers: list[str]
    transport_url: str | None
    topics: list[str]
    retry: int


def _probe_opts() -> list[cfg.Opt]:
    # the same names and defaults as oslo.messaging's (oslo_messaging.notify.notifier)
    return [
        cfg.MultiStrOpt("driver", default=[]),
        cfg.StrOpt("transport_url", secret=True),
        cfg.ListOpt("topics", default=["notifications"]),
        cfg.IntOpt("retry", default=-1),
    ]


def notification_options(conf: cfg.ConfigOpts) -> NotificationOptions:
    """``[oslo_messaging_notifications]``: from ``conf`` once oslo.messaging registered its
    options there, else read from the configuration files (and the environment) without
    loading oslo.messaging."""
    source: Any = conf
    if NOTIFICATIONS_GROUP not in conf:
        probe = cfg.ConfigOpts()
        probe.register_opts(_probe_opts(), group=NOTIFICATIONS_GROUP)
        args: list[str] = []
        for path in conf.config_file or []:
            args += ["--config-file", path]
        for path in conf.config_dir or []:
            args += ["--config-dir", path]
        probe(args=args, project=config.PROJECT, default_config_files=[], default_config_dirs=[])
        source = probe
    group = source[NOTIFICATIONS_GROUP]
    return NotificationOptions(
        drivers=[d for d in (group.driver or []) if d],
        transport_url=group.transport_url or None,
        topics=list(group.topics or []),
        retry=int(group.retry),
    )


def _oslo_messaging() -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eventlet's deprecation, as in congress.bus.messaging
        import oslo_messaging  # type: ignore[import-untyped]
    return oslo_messaging


def _notify(notifier: Any, event_type: str, payload: dict[str, Any]) -> None:
    """Send ``payload`` through each of ``notifier``'s drivers, failures raised.

    ``Notifier.info`` logs a driver's failure and returns as if the notification had gone:
    this builds the same message (``Notifier._notify``) and calls the drivers itself, so that
    a failure is retried and, in the end, dead-lettered."""
    drivers = getattr(getattr(notifier, "_driver_mgr", None), "extensions", None)
    if drivers is None:  # another oslo.messaging: no failure can be seen
        notifier.info({}, event_type, payload)
        return
    message = {
        "message_id": str(uuid.uuid4()),
        "publisher_id": notifier.publisher_id,
        "event_type": event_type,
        "priority": "INFO",
        "payload": portable(payload),
        "timestamp": str(utcnow().replace(tzinfo=None)),
    }
    for driver in drivers:
        driver.obj.notify({}, message, "INFO", notifier.retry)


class Messaging:
    """The oslo.messaging side of a node: one notification transport (made on first use), a
    notifier per messaging sink's topic, and the notifier of ``[oslo_messaging_notifications]``
    (its drivers and topics; ``topic`` None). ``has_transport``: a transport URL is configured
    (``[oslo_messaging_notifications] transport_url`` or ``[DEFAULT] transport_url``)."""

    def __init__(
        self, conf: cfg.ConfigOpts, node_id: str, *, has_transport: bool, retry: int = -1
    ) -> None:
        self._conf = conf
        self.publisher_id = f"policy.{node_id}"
        self.has_transport = has_transport
        self._retry = retry if retry >= 0 else SEND_RETRY
        self._lock = threading.Lock()
        self._transport: Any = None
        self._notifiers: dict[str | None, Any] = {}

    def notifier(self, topic: str | None) -> Any:
        with self._lock:
            found = self._notifiers.get(topic)
            if found is not None:
                return found
            om = _oslo_messaging()
            if self._transport is None:
                from congress.bus import messaging  # oslo.messaging's options, our defaults

                messaging.set_defaults(self._conf)
                self._transport = om.get_notification_transport(self._conf)
            if topic is None:
                found = om.Notifier(
                    self._transport, publisher_id=self.publisher_id, retry=self._retry
                )
            else:
                found = om.Notifier(
                    self._transport,
                    publisher_id=self.publisher_id,
                    driver="messagingv2",
                    topics=[topic],
                    retry=SEND_RETRY,
                )
            self._notifiers[topic] = found
            return found

    def send(self, topic: str | None, payload: dict[str, Any]) -> None:
        try:
            _notify(self.notifier(topic), EVENT_TYPE, payload)
        except Exception as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            transport, self._transport = self._transport, None
            self._notifiers.clear()
        if transport is not None:
            try:
                transport.cleanup()
            except Exception:
                LOG.exception("notifications: closing the notification transport failed")


class MessagingTarget:
    """A messaging sink (``topic``) or the config-level notifications (``topic`` None)."""

    def __init__(self, messaging: Messaging, topic: str | None) -> None:
        self._messaging = messaging
        self.topic = topic

    def send(self, payload: dict[str, Any]) -> None:
        self._messaging.send(self.topic, payload)

    def close(self) -> None:
        return None


# -- validation and views ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SinkSpec:
    """A valid request for a new sink."""

    name: str
    type: str
    url: str | None
    topic: str | None
    secret: str | None
    tables: list[str]
    enabled: bool
    max_retries: int


def _text(body: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.InvalidSink(name, "must be a string")
    if not value:
        raise errors.InvalidSink(name, "must not be empty")
    if len(value) > limit:
        raise errors.InvalidSink(name, f"is longer than {limit} characters")
    return value


def check_url(url: str) -> str:
    """``url`` if a webhook can be sent to it: http or https, with a host."""
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise errors.InvalidSink("url", "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise errors.InvalidSink("url", f"is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        scheme = parts.scheme or "none"
        raise errors.InvalidSink("url", f"must be an http:// or https:// URL (scheme {scheme})")
    if not parts.hostname:
        raise errors.InvalidSink("url", "has no host")
    if port == 0:
        raise errors.InvalidSink("url", "port 0 cannot be reached")
    return url


def check_pattern(pattern: Any, where: str) -> str:
    """A ``policy:table`` pattern (``*`` and ``?`` as in shell globs), stripped."""
    if not isinstance(pattern, str):
        raise errors.InvalidSink(where, "must be a string such as 'classification:error'")
    text = pattern.strip()
    if not text:
        raise errors.InvalidSink(where, "must not be empty")
    if len(text) > MAX_PATTERN:
        raise errors.InvalidSink(where, f"is longer than {MAX_PATTERN} characters")
    parts = text.split(":")
    if len(parts) > 2 or not all(_PATTERN_PART.fullmatch(p) for p in parts):
        raise errors.InvalidSink(
            where,
            f"{text!r} is not a policy:table pattern (e.g. 'classification:error' or "
            "'*:warning'; no spaces, at most one ':')",
        )
    return text


def validate(body: Mapping[str, Any], *, messaging_available: bool) -> SinkSpec:
    """A request body as a ``SinkSpec``; ``InvalidSink`` (400) naming the field if it is not
    one. JSON ``null`` counts as absent."""
    unknown = sorted(k for k in body if k not in FIELDS)
    if unknown:
        raise errors.InvalidSink(
            unknown[0], f"unknown field (a sink has {', '.join(FIELDS)}; the id is chosen here)"
        )
    name = _text(body, "name", MAX_NAME)
    if name is None:
        raise errors.InvalidSink("name", "is required")
    if not _NAME.fullmatch(name):
        raise errors.InvalidSink(
            "name",
            f"{name!r} must be letters, digits, '_', '-' and '.', starting with a letter or a "
            "digit",
        )
    kind = body.get("type")
    if kind is None:
        kind = WEBHOOK
    if kind not in SINK_TYPES:
        raise errors.InvalidSink("type", f"must be 'webhook' or 'messaging', not {kind!r}")
    url = _text(body, "url", MAX_URL)
    topic = _text(body, "topic", MAX_NAME)
    secret = _text(body, "secret", MAX_SECRET)
    if kind == WEBHOOK:
        if url is None:
            raise errors.InvalidSink("url", "is required for a webhook sink")
        check_url(url)
        if topic is not None:
            raise errors.InvalidSink("topic", "is for messaging sinks only (type 'messaging')")
    else:
        if topic is None:
            raise errors.InvalidSink("topic", "is required for a messaging sink")
        if not _TOPIC.fullmatch(topic):
            raise errors.InvalidSink(
                "topic", f"{topic!r} must be letters, digits, '_', '-' and '.'"
            )
        if url is not None:
            raise errors.InvalidSink("url", "is for webhook sinks only (type 'webhook')")
        if secret is not None:
            raise errors.InvalidSink("secret", "is for webhook sinks only (it signs the body)")
        if not messaging_available:
            raise errors.InvalidSink(
                "type",
                "a messaging sink needs oslo.messaging on this node: set "
                "[oslo_messaging_notifications] transport_url (or transport_url in [DEFAULT]), "
                "e.g. rabbit://user:password@host:5672/",
            )
    tables_value = body.get("tables")
    if tables_value is None:
        tables = list(DEFAULT_TABLES)
    else:
        if not isinstance(tables_value, list):
            raise errors.InvalidSink("tables", "must be a list of policy:table patterns")
        if not 1 <= len(tables_value) <= MAX_TABLES:
            raise errors.InvalidSink("tables", f"must have 1 to {MAX_TABLES} patterns")
        tables = [check_pattern(p, f"tables[{i}]") for i, p in enumerate(tables_value)]
        tables = list(dict.fromkeys(tables))
    enabled = body.get("enabled")
    if enabled is None:
        enabled = True
    if not isinstance(enabled, bool):
        raise errors.InvalidSink("enabled", "must be true or false")
    retries = body.get("max_retries")
    if retries is None:
        retries = DEFAULT_MAX_RETRIES
    if isinstance(retries, bool) or not isinstance(retries, int):
        raise errors.InvalidSink("max_retries", "must be an integer")
    if not 1 <= retries <= MAX_RETRIES:
        raise errors.InvalidSink("max_retries", f"must be from 1 to {MAX_RETRIES}")
    return SinkSpec(name, kind, url, topic, secret, tables, enabled, retries)


def sink_view(sink: NotificationSink) -> dict[str, Any]:
    """A sink as the API shows it: the secret never (``<hidden>`` when there is one)."""
    return {
        "id": sink.id,
        "name": sink.name,
        "type": sink.type,
        "url": sink.url,
        "topic": sink.topic,
        "secret": HIDDEN if sink.secret else None,
        "tables": list(sink.tables),
        "enabled": sink.enabled,
        "max_retries": sink.max_retries,
        "created_at": iso(sink.created_at),
    }


# -- delivery ------------------------------------------------------------------------------------
Key = tuple[str, str]


@dataclass
class _Route:
    """One sink as the delivering node runs it: what it has read and not yet delivered."""

    id: str  # the cursor's key: the sink's id (``_config`` for the built-in one)
    name: str
    selector: TableSelector
    target: Target
    max_retries: int
    signature: tuple[Any, ...]
    cursor: int  # as saved
    fetched: int = 0  # every entry up to this id was read (and queued if it matches)
    pending: dict[Key, collections.deque[HistoryEntry]] = field(default_factory=dict)
    attempts: dict[Key, int] = field(default_factory=dict)
    due: dict[Key, float] = field(default_factory=dict)
    sizes: dict[Key, int] = field(default_factory=dict)  # a failed batch is retried as it was
    queued: int = 0

    def cursor_after(self, key: Key | None = None, taken: int = 0) -> int:
        """The cursor once the first ``taken`` changes of ``key`` are done: every entry
        before the first change still pending is done."""
        firsts = []
        for k, queue in self.pending.items():
            skip = taken if k == key else 0
            if len(queue) > skip:
                firsts.append(queue[skip].id)
        return min(firsts) - 1 if firsts else self.fetched


class Notifications:
    """Manages the notification sinks (the API's) and, on the node holding the lease, delivers
    their changes (and the config-level notifications)."""

    def __init__(
        self,
        database: DbEngine,
        history: History | None,
        *,
        node_id: str | None,
        box: SecretBox,
        messaging: Messaging | None = None,
        config_tables: Sequence[str] | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        timer: Callable[[], float] = time.monotonic,
        settle: float = 1.0,
        backoff: tuple[float, float] = (1.0, 60.0),
        lease_ttl: float = 10.0,
        renew_interval: float = 2.0,
        reload_interval: float = 5.0,
        poll_interval: float = 0.5,
        timeout: float = 5.0,
        batch_size: int = 100,
        read_batch: int = 1000,
        max_queued: int = 10_000,
        http: Callable[[], requests.Session] = requests.Session,
    ) -> None:
        self._db = database
        self._history = history
        self.node_id = node_id or "congress"
        self.holder = f"{self.node_id[:200]}:{uuid.uuid4().hex[:12]}"
        self._box = box
        self._messaging = messaging
        self._config_tables = None if config_tables is None else tuple(config_tables)
        self._clock = clock
        self._timer = timer
        self._settle = settle
        self._backoff_first, self._backoff_max = backoff
        self._ttl = lease_ttl
        self._renew_interval = renew_interval
        self._reload_interval = reload_interval
        self._poll = poll_interval
        self._timeout = timeout
        self._batch_size = batch_size
        self._read_batch = read_batch
        self._max_queued = max_queued
        self._http = http

        self._cond = threading.Condition(threading.Lock())
        self._poked = False
        self._reload_wanted = True
        self._stopping = False
        self._thread: threading.Thread | None = None
        # the delivering thread's own state
        self._sinks: list[NotificationSink] = []
        self._routes: dict[str, _Route] = {}
        self._held = False
        self._valid_until = 0.0
        self._renew_at = 0.0
        self._reload_at = 0.0
        self._gaps: dict[int, float] = {}  # first missing id of a gap -> when first seen
        self.delivered = 0
        """Batches delivered by this node (for tests and logs)."""
        self.dead_lettered = 0

    def emit(self, event_type: str, payload: dict[str, Any]) -> bool:
        """Send one event (``congress.breaker.tripped``: docs/enforcement.md) as an
        oslo.messaging notification at WARN priority through the configured
        ``[oslo_messaging_notifications]`` drivers; False when none is configured. A failure
        is logged, not raised."""
        if self._messaging is None or self._config_tables is None:
            return False
        try:
            self._messaging.notifier(None).warn({}, event_type, portable(payload))
        except Exception:
            LOG.exception("notifications: could not send %s", event_type)
            return False
        return True

    # -- life cycle ------------------------------------------------------------------------
    @property
    def messaging_available(self) -> bool:
        return self._messaging is not None and self._messaging.has_transport

    @property
    def holding(self) -> bool:
        """Whether this node holds the lease (and so delivers)."""
        return self._held and self._timer() < self._valid_until

    def start(self) -> None:
        """Start the delivering thread (once)."""
        with self._cond:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name="congress-notifications", daemon=True
            )
        self._thread.start()

    def stop(self, timeout: float = 10.0, *, release: bool = True) -> None:
        """Stop delivering and give the lease up (``release``: another node takes over at
        once; otherwise when it expires)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        held, self._held = self._held, False
        if release and held:
            try:
                db.release_lease(self._db, LEASE, self.holder)
            except db_errors.DBError as exc:
                LOG.warning("notifications: could not give the lease up: %s", exc)
        if thread is not None and thread.is_alive():
            LOG.warning("notifications: stopping while a delivery is still under way")
            return
        self._drop_routes()
        if self._messaging is not None:
            self._messaging.close()

    def _poke(self, *, reload: bool = False) -> None:
        with self._cond:
            self._poked = True
            self._reload_wanted = self._reload_wanted or reload
            self._cond.notify_all()

    # -- the API's ---------------------------------------------------------------------------
    def list_sinks(self) -> list[dict[str, Any]]:
        return [sink_view(s) for s in db.list_sinks(self._db)]

    def _find(self, sink: str) -> NotificationSink:
        try:
            return db.find_sink(self._db, sink)
        except db_errors.NotFound:
            raise errors.SinkNotFound(f"Notification sink not found: {sink}") from None

    def get_sink(self, sink: str) -> dict[str, Any]:
        """The sink of that id (or name)."""
        return sink_view(self._find(sink))

    def create_sink(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a sink from a request body (``validate``); it sends the changes from now on."""
        spec = validate(body, messaging_available=self.messaging_available)
        secret = None
        if spec.secret is not None:
            secret = self._box.fernet().encrypt(spec.secret.encode("utf-8")).decode("ascii")
        try:
            made = db.create_sink(
                self._db,
                spec.name,
                spec.type,
                url=spec.url,
                topic=spec.topic,
                secret=secret,
                tables=spec.tables,
                enabled=spec.enabled,
                max_retries=spec.max_retries,
            )
        except db_errors.DuplicateName:
            raise errors.SinkExists(
                f"A notification sink named {spec.name} already exists"
            ) from None
        if self._history is not None and made.enabled:
            self._history.add_tables(made.tables)
        self._poke(reload=True)
        return sink_view(made)

    def delete_sink(self, sink: str) -> dict[str, Any]:
        """Delete a sink (with its cursor and dead letters); the sink as it was."""
        try:
            gone = db.delete_sink(self._db, sink)
        except db_errors.NotFound:
            raise errors.SinkNotFound(f"Notification sink not found: {sink}") from None
        self._poke(reload=True)
        return sink_view(gone)

    def dead_letters(self, sink: str, limit: int = 100) -> list[dict[str, Any]]:
        """A sink's latest dead letters, newest first (``_config``: the config-level
        notifications')."""
        sink_id = CONFIG_SINK if sink == CONFIG_SINK else self._find(sink).id
        return [
            {
                "id": letter.id,
                "policy": letter.policy,
                "table": letter.table,
                "payload": letter.payload,
                "error": letter.error,
                "attempts": letter.attempts,
                "created_at": iso(letter.created_at),
            }
            for letter in db.list_dead_letters(self._db, sink_id, limit=limit)
        ]

    # -- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
            try:
                delay = self._step()
            except Exception:  # never let the thread die
                LOG.exception("notifications: unexpected failure")
                delay = max(self._poll, 1.0)
            with self._cond:
                if self._stopping:
                    return
                if not self._poked and delay > 0:
                    self._cond.wait(delay)
                self._poked = False

    def _step(self) -> float:
        """One turn: reload, renew, deliver what is due; seconds until the next turn."""
        with self._cond:
            reload = self._reload_wanted
            self._reload_wanted = False
        if reload or self._timer() >= self._reload_at:
            self._reload()
        if self._timer() >= self._renew_at:
            self._renew()
        if not self.holding:
            if self._routes:
                self._drop_routes()
            return min(self._renew_at, self._reload_at) - self._timer()
        self._sync_routes()
        deliver_again = self._deliver()
        return min(deliver_again, self._renew_at, self._reload_at) - self._timer()

    def _reload(self) -> None:
        """Read the sinks; have the history watch their tables."""
        self._reload_at = self._timer() + self._reload_interval
        try:
            sinks = db.list_sinks(self._db)
        except db_errors.DBError as exc:
            LOG.warning("notifications: could not read the sinks (trying again): %s", exc)
            self._reload_at = self._timer() + min(self._reload_interval, 1.0)
            return
        self._sinks = sinks
        if self._history is not None:
            self._history.add_tables(p for s in sinks if s.enabled for p in s.tables)

    def _renew(self) -> None:
        """Take or renew the lease."""
        started = self._timer()
        self._renew_at = started + self._renew_interval
        try:
            held = db.acquire_lease(self._db, LEASE, self.holder, at=self._clock(), ttl=self._ttl)
        except db_errors.DBError as exc:
            LOG.warning("notifications: could not renew the lease: %s", exc)
            return  # still ours until it runs out
        if held:
            if not self.holding:
                LOG.info("notifications: this node (%s) delivers the notifications", self.holder)
                self._drop_routes()  # another node may have moved the cursors meanwhile
            self._held = True
            self._valid_until = started + max(self._ttl - self._renew_interval, self._ttl / 2)
        else:
            if self._held:
                LOG.info("notifications: another node delivers the notifications now")
            self._held = False
            self._drop_routes()

    def _renew_if_due(self) -> bool:
        """Renew the lease if it is time; whether this node still delivers."""
        if self._stopping:
            return False
        if self._timer() >= self._renew_at:
            self._renew()
        return self.holding

    # -- routes ----------------------------------------------------------------------------
    def _wanted(self) -> dict[str, tuple[str, tuple[str, ...], int, tuple[Any, ...]]]:
        """id -> (name, patterns, max_retries, signature) of every route to run."""
        wanted: dict[str, tuple[str, tuple[str, ...], int, tuple[Any, ...]]] = {
            s.id: (
                s.name,
                tuple(s.tables),
                s.max_retries,
                (s.type, s.url, s.topic, s.secret, tuple(s.tables), s.max_retries),
            )
            for s in self._sinks
            if s.enabled
        }
        if self._config_tables is not None:
            wanted[CONFIG_SINK] = (
                CONFIG_SINK,
                self._config_tables,
                DEFAULT_MAX_RETRIES,
                ("config", self._config_tables),
            )
        return wanted

    def _sync_routes(self) -> None:
        wanted = self._wanted()
        for sink_id, route in list(self._routes.items()):
            if sink_id not in wanted or wanted[sink_id][3] != route.signature:
                self._drop_route(sink_id)
        by_id = {s.id: s for s in self._sinks}
        for sink_id, (name, patterns, retries, sig) in wanted.items():
            if sink_id in self._routes:
                continue
            try:
                cursor = db.get_cursor(self._db, sink_id)
                if cursor is None:  # the built-in sink's first run: from now on
                    cursor = db.advance_cursor(self._db, sink_id, db.latest_history_id(self._db))
            except db_errors.DBError as exc:
                LOG.warning("notifications: could not read the cursor of %s: %s", name, exc)
                continue
            target = self._target(by_id.get(sink_id))
            self._routes[sink_id] = _Route(
                id=sink_id,
                name=name,
                selector=TableSelector(patterns),
                target=target,
                max_retries=retries,
                signature=sig,
                cursor=cursor,
                fetched=cursor,
            )

    def _target(self, sink: NotificationSink | None) -> Target:
        if sink is None:  # the config-level notifications
            if self._messaging is None:
                return FailingTarget(f"node {self.node_id} has no oslo.messaging notifier")
            return MessagingTarget(self._messaging, None)
        if sink.type == MESSAGING:
            if self._messaging is None or not self._messaging.has_transport:
                return FailingTarget(
                    f"node {self.node_id} has no oslo.messaging transport: set "
                    "[oslo_messaging_notifications] transport_url (or [DEFAULT] transport_url)"
                )
            return MessagingTarget(self._messaging, sink.topic)
        secret = None
        if sink.secret:
            try:
                secret = self._box.fernet().decrypt(sink.secret.encode("ascii")).decode("utf-8")
            except Exception as exc:  # InvalidToken: not the key that encrypted it
                LOG.error("notifications: cannot decrypt the secret of sink %s", sink.name)
                return FailingTarget(
                    f"node {self.node_id} cannot decrypt the sink's secret "
                    f"({type(exc).__name__}): is its encryption key the other nodes'?"
                )
        return WebhookTarget(sink.url or "", secret, self._timeout, self._http())

    def _drop_route(self, sink_id: str) -> None:
        route = self._routes.pop(sink_id, None)
        if route is not None:
            route.target.close()

    def _drop_routes(self) -> None:
        for sink_id in list(self._routes):
            self._drop_route(sink_id)

    # -- reading the history -----------------------------------------------------------------
    def _horizon(self, after: int, entries: Sequence[HistoryEntry]) -> int:
        """The highest id up to which ``entries`` (those after ``after``, by id) can be
        delivered without skipping an entry that is yet to come.

        Ids are given out when an entry is written, not when its transaction commits: with
        two writers (two policy engines, HA), entry 8 can become visible before entry 7, and a
        cursor moved to 8 would skip 7 for ever. So a missing id (a gap) holds the delivery
        back until it has stayed missing for ``settle`` seconds (by this node's timer): then it
        is taken for an id that will never appear (a rolled-back write, an entry another
        engine had written already, which burns an id on PostgreSQL and MariaDB, or an entry
        deleted by the retention). The entries' own times would not do: ``created_at`` is when
        the engine saw the change, possibly long before it was written (the database was
        away), and on another node's clock. A write that stays uncommitted for longer than
        ``settle`` seconds after a later one committed can still be missed."""
        now = self._timer()
        horizon, expected = after, after + 1
        for entry in entries:
            if entry.id > expected:
                seen = self._gaps.setdefault(expected, now)
                if now - seen < self._settle:
                    return horizon
            horizon, expected = entry.id, entry.id + 1
        return horizon

    def _fetch(self, route: _Route) -> bool:
        """Queue the route's entries after what it read; whether there is more to read now
        (a full read that was not held back)."""
        try:
            entries = db.history_after(self._db, route.fetched, limit=self._read_batch)
        except db_errors.DBError as exc:
            LOG.warning("notifications: could not read the history: %s", exc)
            return False
        horizon = self._horizon(route.fetched, entries)
        for entry in entries:
            if entry.id > horizon:
                break
            if route.selector(entry.policy, entry.table):
                key = (entry.policy, entry.table)
                route.pending.setdefault(key, collections.deque()).append(entry)
                route.queued += 1
        route.fetched = horizon
        return len(entries) == self._read_batch and bool(entries) and horizon == entries[-1].id

    def _forget_gaps(self) -> None:
        if not self._gaps:
            return
        floor = min((r.fetched for r in self._routes.values()), default=None)
        if floor is None:
            self._gaps.clear()
            return
        for start in [s for s in self._gaps if s <= floor]:
            del self._gaps[start]

    # -- delivering ------------------------------------------------------------------------
    def _deliver(self) -> float:
        """Read what is new, send every batch that is due; when (timer) to come back."""
        try:
            latest = db.latest_history_id(self._db)
        except db_errors.DBError as exc:
            LOG.warning("notifications: could not read the history: %s", exc)
            return self._timer() + max(self._poll, 1.0)
        more = False
        for route in self._routes.values():
            if route.fetched < latest and route.queued < self._max_queued:
                more = self._fetch(route) or more
        self._forget_gaps()
        again = self._timer() if more else self._timer() + self._poll
        for route in list(self._routes.values()):
            for key in list(route.pending):
                while route.pending.get(key):
                    due = route.due.get(key, 0.0)
                    if due > self._timer():
                        again = min(again, due)
                        break
                    if not self._renew_if_due() or self._routes.get(route.id) is not route:
                        return self._timer()  # the lease was lost (or taken again) meanwhile
                    self._send(route, key)
            self._save_cursor(route)
        return again

    def _take(self, route: _Route, key: Key, count: int) -> None:
        queue = route.pending[key]
        for _ in range(count):
            queue.popleft()
        route.queued -= count
        if not queue:
            del route.pending[key]
        route.attempts.pop(key, None)
        route.due.pop(key, None)
        route.sizes.pop(key, None)

    def _send(self, route: _Route, key: Key) -> None:
        queue = route.pending[key]
        size = route.sizes.get(key) or min(len(queue), self._batch_size)
        batch = [queue[i] for i in range(size)]
        payload = payload_of(route.name, key[0], key[1], batch)
        try:
            route.target.send(payload)
            error = None
        except DeliveryFailed as exc:
            error = str(exc)
        except Exception as exc:  # a bug in a target: retried, then dead-lettered
            LOG.exception("notifications: sending to sink %s failed", route.name)
            error = f"{type(exc).__name__}: {exc}"
        if error is None:
            self._take(route, key, len(batch))
            self.delivered += 1
            self._save_cursor(route)
            return
        attempts = route.attempts.get(key, 0) + 1
        route.attempts[key] = attempts
        route.sizes[key] = size
        if attempts < route.max_retries:
            delay = min(self._backoff_first * 2 ** (attempts - 1), self._backoff_max)
            route.due[key] = self._timer() + delay
            LOG.warning(
                "notifications: sink %s, %s:%s: attempt %d of %d failed (again in %.1f s): %s",
                route.name,
                key[0],
                key[1],
                attempts,
                route.max_retries,
                delay,
                error,
            )
            return
        cursor = route.cursor_after(key, len(batch))
        try:
            db.add_dead_letter(
                self._db,
                route.id,
                policy=key[0],
                table=key[1],
                payload=portable(payload),
                error=error[:MAX_ERROR],
                attempts=attempts,
                cursor=cursor,
            )
        except db_errors.DBError as exc:  # try the batch (and this) again later
            LOG.warning("notifications: could not record a dead letter: %s", exc)
            route.due[key] = self._timer() + self._backoff_max
            return
        LOG.error(
            "notifications: sink %s gave up on %d changes of %s:%s after %d attempts (see its "
            "dead letters): %s",
            route.name,
            len(batch),
            key[0],
            key[1],
            attempts,
            error,
        )
        self._take(route, key, len(batch))
        route.cursor = max(route.cursor, cursor)
        self.dead_lettered += 1

    def _save_cursor(self, route: _Route) -> None:
        cursor = route.cursor_after()
        if cursor <= route.cursor:
            return
        try:
            route.cursor = db.advance_cursor(self._db, route.id, cursor)
        except db_errors.DBError as exc:
            LOG.warning("notifications: could not save the cursor of %s: %s", route.name, exc)


def start_notifications(
    conf: cfg.ConfigOpts, database: DbEngine, history: History | None, node_id: str | None
) -> Notifications:
    """The notification sinks of this node as configured, started: messaging sinks when a
    transport URL is configured, config-level notifications when
    ``[oslo_messaging_notifications] driver`` is set (of the ``[watch] tables``)."""
    options = notification_options(conf)
    transport_url = config.configured_transport_url(conf) or options.transport_url
    drivers = [d for d in options.drivers if d != "noop"]
    node = node_id or conf.node_id
    messaging = None
    if transport_url or drivers:
        messaging = Messaging(conf, node, has_transport=bool(transport_url), retry=options.retry)
    service = Notifications(
        database,
        history,
        node_id=node,
        box=SecretBox(config.key_path(conf)),
        messaging=messaging,
        config_tables=list(conf.watch.tables) if drivers else None,
    )
    service.start()
    return service
