"""``MessagingBus``: the bus across processes, on oslo.messaging (RabbitMQ).

Imports: the standard library, oslo.config, oslo.messaging and congress.bus.

One process is one *node*: a ``node_id`` (the operator's name for it, ``--node-id``) and an
``instance`` (a random id of this incarnation). A node listens on one RPC server, topic
``congress-control-<bus_id>`` in the exchange ``congress``, whose server name is its instance:
directed messages reach exactly this incarnation, and two processes never share a queue even
when they claim the same node id. Every deployment on a broker has its own ``bus_id``, so its
topics are its own: two deployments on one RabbitMQ never see each other.

What travels (every payload is JSON; table messages in their ``to_wire`` form):

- fan-out casts to every node: ``heartbeat`` (every ``heartbeat_interval`` seconds: the node's
  RPC services, publishers, executors, announcements, subscriptions, the peers it knows with
  their ages, and the ``info`` that the services add, e.g. a policy engine's revision),
  ``hello`` (a node that starts asks everyone to heartbeat at once), ``table`` (a snapshot or
  delta), ``announce`` and ``event`` (``broadcast``/``listen``). A node drops its own echoes;
  local handlers are called directly, in the sender's thread, as on ``InProcessBus``.
- directed calls to one node: ``ping`` (see below), ``snapshot`` (a subscriber asks the
  publisher's node), ``rpc`` (``call``: a named service's method with JSON arguments; the
  service's handler answers JSON and never raises), and casts ``execute`` and ``subscribed``
  (the publisher hears of a subscription: lazy tables).

Peers are the nodes heard within ``expiry`` seconds (at most 5 by default); one that stops
heartbeating expires (the original kept dead peers for ever), and so does an older instance of
a node id when a newer one heartbeats. ``watch_peers`` hears ``joined``, ``beat`` and ``expired``.

Node ids are unique: ``start`` listens for one round of heartbeats before anything else; a
node id held by a live process (its heartbeat heard, or reported by a peer as heard within the
expiry time) makes ``start`` fail with ``NodeIdInUse``, unless the holder has only been
reported (not heard) and expires meanwhile: a standby that takes over the id of a killed
process starts as soon as that one has expired.

The directory of publishers (``announce``/``watch_services``) is the union of the
announcements heard; each heartbeat repeats its node's announcements, so a node that joins
late, or missed a cast, learns them within a heartbeat. A publisher whose node expires stays
in the directory (the data its subscribers hold stays until it is withdrawn or replaced):
only an announcement with ``present`` false withdraws it.

A call to a node that joined (or lost the broker, as its heartbeats tell, or as this node did)
since it last answered pings it first, with a 1 s timeout: after a broker restart every queue
is declared again, and a call sent before its callee's queue is back would be lost and wait for
its whole timeout.

Failures: a call to a service no live node offers, or whose nodes have been silent for more
than two and a half heartbeats, raises ``NoSuchService`` at once; a call that times
out or cannot be delivered (the broker is down) raises ``BusUnavailable`` after ``retry``
attempts, never blocks for ever. Casts are tried twice and then dropped with a warning: the
pub/sub protocol heals lost table messages, heartbeats repeat, and policy changes are also
repaired from the database.
"""

from __future__ import annotations

import concurrent.futures
import importlib.metadata
import logging
import random
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from oslo_config import cfg

with warnings.catch_warnings():
    # oslo.messaging imports eventlet (through futurist and oslo.utils), which warns that it
    # is deprecated; Congress never uses eventlet (the threading executor)
    warnings.simplefilter("ignore")
    import oslo_messaging as om  # type: ignore[import-untyped]

from congress.bus.messages import (
    VERSION,
    Announcement,
    ExecuteRequest,
    Message,
    TableDelta,
    TableMessage,
    TableSnapshot,
    UnsupportedVersion,
    from_wire,
    parse_version,
    speakable,
    to_wire,
)
from congress.bus.transport import (
    AnnouncementHandler,
    BusUnavailable,
    EventHandler,
    ExecuteHandler,
    LocalHandlers,
    NoSuchService,
    PeerHandler,
    RpcHandler,
    SnapshotProvider,
    SubscribeHook,
    TableHandler,
    tell,
)

LOG = logging.getLogger(__name__)


def _release() -> str:
    try:
        return importlib.metadata.version("congress")
    except importlib.metadata.PackageNotFoundError:
        return ""


RELEASE = _release()
"""This node's Congress release, told to the other nodes in its heartbeats."""

EXCHANGE = "congress"
API_VERSION = "1.0"
AUTO = "auto"
LEVEL_OPTION = "[upgrade_levels] bus"
FIRST_VERSION = "1.0"
"""The version of a node whose heartbeats do not say (the first release's)."""
DEFAULT_HEARTBEAT_INTERVAL = 1.0
DEFAULT_EXPIRY = 5.0
DEFAULT_CALL_TIMEOUT = 10.0
CALLERS = 64  # threads that wait for answers (a call is sent and awaited in one of them)
PING_TIMEOUT = 1.0
CAST_RETRY = 1
CALL_RETRY = 1

RABBIT_DEFAULTS: Mapping[str, Any] = {
    # reconnect every ~1.5 s whatever the length of the outage (the library's default backs
    # off up to 30 s, so a broker restart would cost far more than 10 s)
    "rabbit_retry_interval": 1,
    "rabbit_retry_backoff": 0,
    "rabbit_interval_max": 2,
    "kombu_reconnect_delay": 0.5,
    # a node's queues go with it: a killed process leaves nothing behind on the broker
    "amqp_auto_delete": True,
}


class NodeIdInUse(RuntimeError):
    """Another live process holds this node id on the bus."""


@dataclass
class Peer:
    """A node heard on the bus."""

    node_id: str
    instance: str
    last_seen: float
    rpc: frozenset[str] = frozenset()
    publishers: frozenset[str] = frozenset()
    executors: frozenset[str] = frozenset()
    subscriptions: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    known: dict[str, tuple[str, float]] = field(default_factory=dict)  # node_id -> (inst, age)
    outages: int = 0  # how many times it lost the broker (from its heartbeats)
    reachable: bool = False  # a ping to it has been answered since it joined or lost the broker
    version: str = FIRST_VERSION  # the bus message version it speaks at most
    release: str = ""  # its Congress release, when its heartbeats say


def set_defaults(conf: cfg.ConfigOpts) -> None:
    """Register oslo.messaging's options on ``conf`` and set Congress's defaults on them.

    (The library registers some of its options on the global ``cfg.CONF`` only and reads them
    from the ``conf`` it is given: use ``cfg.CONF``, as ``congress.common.config`` does.)"""
    from oslo_messaging import opts as om_opts

    om.set_transport_defaults(EXCHANGE)
    for group, opts in om_opts.list_opts():
        conf.register_opts(opts, group=group)
    for name, value in RABBIT_DEFAULTS.items():
        conf.set_default(name, value, group="oslo_messaging_rabbit")


def checked_level(level: str) -> str:
    """``auto`` or a version this node can send; ``ValueError`` naming the option else."""
    text = level.strip().lower()
    if text == AUTO or speakable(text):
        return text
    raise ValueError(
        f"{LEVEL_OPTION} must be auto or a bus message version of major version "
        f"{VERSION.split('.')[0]} up to {VERSION}, not {level!r}"
    )


def message_level(conf: cfg.ConfigOpts) -> str:
    """``[upgrade_levels] bus`` of ``conf`` (``auto`` when it is not registered)."""
    try:
        value = conf.upgrade_levels.bus
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError, AttributeError):
        return AUTO
    return checked_level(str(value or AUTO))


class _Endpoint:
    """The RPC endpoint of a node: every method hands over to the bus."""

    target = om.Target(namespace=None, version=API_VERSION)

    def __init__(self, bus: MessagingBus) -> None:
        self._bus = bus

    def heartbeat(self, ctxt: dict[str, Any], beat: dict[str, Any]) -> None:
        self._bus._on_heartbeat(beat)

    def hello(self, ctxt: dict[str, Any], instance: str) -> None:
        if instance != self._bus.instance:
            self._bus._send_heartbeat()

    def table(self, ctxt: dict[str, Any], message: dict[str, Any], origin: str) -> None:
        if origin != self._bus.instance:
            msg = self._bus._decode(message, origin)
            if isinstance(msg, TableSnapshot | TableDelta):
                self._bus._local.deliver(msg)

    def announce(self, ctxt: dict[str, Any], announcement: dict[str, Any], origin: str) -> None:
        if origin != self._bus.instance:
            a = self._bus._decode(announcement, origin)
            if isinstance(a, Announcement):
                self._bus._directory_update(a, origin)

    def event(self, ctxt: dict[str, Any], kind: str, body: dict[str, Any], origin: str) -> None:
        if origin != self._bus.instance:
            self._bus._local.dispatch(kind, body)

    def snapshot(self, ctxt: dict[str, Any], publisher: str, table: str) -> Any:
        snap = self._bus._local_snapshot(publisher, table)
        return None if snap is None else self._bus._encode(snap)

    def subscribed(self, ctxt: dict[str, Any], publisher: str, table: str) -> None:
        self._bus._hear_subscription(publisher, table)

    def execute(self, ctxt: dict[str, Any], request: dict[str, Any]) -> None:
        req = self._bus._decode(request, "")
        if isinstance(req, ExecuteRequest):
            self._bus._execute_locally(req)

    def ping(self, ctxt: dict[str, Any]) -> bool:
        return True

    def rpc(self, ctxt: dict[str, Any], service: str, op: str, kwargs: dict[str, Any]) -> Any:
        return self._bus._rpc_locally(service, op, kwargs)


class MessagingBus:
    """A ``Transport`` between processes over oslo.messaging."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        *,
        node_id: str,
        bus_id: str = "bus",
        url: str | None = None,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        expiry: float = DEFAULT_EXPIRY,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        level: str | None = None,
    ) -> None:
        """``level``: the bus message version to send, or ``auto`` (default: the option
        ``[upgrade_levels] bus`` of ``conf``)."""
        if not node_id:
            raise ValueError("a node on the bus needs a node id")
        set_defaults(conf)
        self.node_id = node_id
        self.bus_id = bus_id
        self.instance = uuid.uuid4().hex
        self.topic = f"congress-control-{bus_id}"
        self._interval = heartbeat_interval
        self._expiry = expiry
        self._silent = min(expiry, max(2.5 * heartbeat_interval, 1.0))
        self._timeout = call_timeout
        self._clock = clock
        self._transport = om.get_rpc_transport(conf, url=url)
        self._client = om.get_rpc_client(
            self._transport, om.Target(topic=self.topic, version=API_VERSION)
        )
        self._server: Any = None
        self._callers = concurrent.futures.ThreadPoolExecutor(
            max_workers=CALLERS, thread_name_prefix="congress-bus-call"
        )
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False
        self._outage = False
        self._outages = 0
        self._echoed: float | None = None  # when this node last heard its own heartbeat
        # local state
        self._local = LocalHandlers()  # this process's subscriptions and event listeners
        self._providers: dict[str, tuple[SnapshotProvider, SubscribeHook | None]] = {}
        self._heard_subs: set[tuple[str, str]] = set()
        self._executors: dict[str, ExecuteHandler] = {}
        self._rpc: dict[str, RpcHandler] = {}
        self._peer_watchers: list[PeerHandler] = []
        self._info: dict[str, Callable[[], Any]] = {}
        # the directory: publisher -> (announcement, instance that announced it)
        self._services: dict[str, tuple[Announcement, str]] = {}
        self._local_announcements: dict[str, Announcement] = {}
        self._watchers: list[AnnouncementHandler] = []
        self._peers: dict[str, Peer] = {}  # by instance
        self._level = message_level(conf) if level is None else checked_level(level)
        self._spoken = self._level if self._level != AUTO else VERSION
        self._foreign: set[str] = set()  # instances of another major version, logged
        self._foreign_senders: set[str] = set()  # senders of unreadable messages, logged

    # -- life cycle --------------------------------------------------------------------------
    def start(self, *, check_node_id: bool = True) -> None:
        """Join the bus: listen, make sure the node id is free, then heartbeat."""
        if self._started:
            return
        self._server = om.get_rpc_server(
            self._transport,
            om.Target(topic=self.topic, server=self.instance, exchange=EXCHANGE),
            [_Endpoint(self)],
        )
        self._server.start()
        try:
            if check_node_id:
                self._check_node_id()
        except BaseException:
            self._server.stop()
            self._server.wait()
            self._server = None
            raise
        self._started = True
        self._stop.clear()
        self._send_heartbeat()
        self._thread = threading.Thread(
            target=self._heartbeat_loop, name="congress-bus-heartbeat", daemon=True
        )
        self._thread.start()
        LOG.info("node %s (instance %s) joined bus %s", self.node_id, self.instance, self.bus_id)

    def stop(self) -> None:
        """Leave the bus (peers see this node expire)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._server is not None:
            try:
                self._server.stop()
                self._server.wait()
            except Exception:
                LOG.exception("stopping the bus listener failed")
            self._server = None
        self._started = False
        self._callers.shutdown(wait=False, cancel_futures=True)
        try:
            self._transport.cleanup()
        except Exception:
            LOG.exception("closing the bus connection failed")

    def connected(self) -> tuple[bool, str]:
        """Whether this node reaches the broker: its own heartbeat (a fan-out cast, so it
        comes back to its sender) went through the broker and back within the last few
        heartbeat intervals; and why not."""
        if not self._started:
            return False, "not joined to the bus"
        echoed = self._echoed
        if echoed is None:
            return False, "no heartbeat of this node came back through the broker yet"
        age = self._clock() - echoed
        if age > self._silent:
            return False, (
                f"this node's heartbeats have not come back through the broker for {age:.1f} s"
            )
        return True, f"heartbeats come back through the broker ({age:.1f} s ago)"

    def _check_node_id(self) -> None:
        """Refuse a node id another live process holds (see the module's documentation)."""
        self._cast("hello", instance=self.instance)
        deadline = self._clock() + max(1.5 * self._interval, 1.5)
        while True:
            self._stop.wait(max(0.0, min(0.1, deadline - self._clock())))
            with self._lock:
                heard = [
                    p
                    for p in self._peers.values()
                    if p.node_id == self.node_id and p.instance != self.instance
                ]
                reported = [
                    (age, inst)
                    for p in self._peers.values()
                    for nid, (inst, age) in p.known.items()
                    if nid == self.node_id and inst != self.instance and age < self._expiry
                ]
            if heard:
                age = self._clock() - heard[0].last_seen
                raise NodeIdInUse(
                    f"node id {self.node_id!r} is held by a live process on bus "
                    f"{self.bus_id!r} (its last heartbeat {age:.1f} s ago); stop that process "
                    f"or choose another --node-id"
                )
            if self._clock() < deadline:
                continue
            if not reported:
                return
            wait = self._expiry - min(age for age, _ in reported)
            LOG.info(
                "node id %s was alive %.1f s ago; waiting %.1f s for it to expire",
                self.node_id,
                self._expiry - wait,
                wait,
            )
            deadline = self._clock() + wait + 0.1
            with self._lock:
                for p in self._peers.values():
                    p.known.pop(self.node_id, None)

    # -- sending -----------------------------------------------------------------------------
    def _ctxt(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "instance": self.instance}

    def _cast(self, method: str, *, server: str | None = None, **kwargs: Any) -> bool:
        """Fan out (or, with ``server``, send to one instance); False if it was dropped."""
        if server is None:
            client = self._client.prepare(fanout=True, retry=CAST_RETRY)
        else:
            client = self._client.prepare(server=server, retry=CAST_RETRY)
        try:
            client.cast(self._ctxt(), method, **kwargs)
        except Exception as exc:  # the broker is away: the protocols heal what is lost
            LOG.warning("bus %s: could not send %s: %s", self.bus_id, method, exc)
            self._lost_broker()
            return False
        if self._outage:
            self._outage = False
        return True

    def _lost_broker(self) -> None:
        """The broker went away: once it is back, every node's queues are new, so a call must
        make sure its callee listens again (a ping) before it sends anything."""
        with self._lock:
            if not self._outage:
                self._outage = True
                self._outages += 1
            for peer in self._peers.values():
                peer.reachable = False

    def _reach(self, server: str) -> None:
        """Make sure ``server`` listens (a quick ping after it joined or lost the broker): a
        call to a queue not declared again yet would be lost and wait for its whole timeout."""
        with self._lock:
            peer = self._peers.get(server)
            if peer is None or peer.reachable:
                return
        client = self._client.prepare(server=server, timeout=PING_TIMEOUT, retry=0)
        try:
            client.call(self._ctxt(), "ping")
        except Exception as exc:
            raise BusUnavailable(f"node {peer.node_id} does not answer yet: {exc}") from exc
        with self._lock:
            peer.reachable = True

    def _call(self, server: str, endpoint: str, timeout: float | None, **kwargs: Any) -> Any:
        """Call one instance; give up early when that instance goes silent meanwhile (a node
        killed under a call would otherwise hold its callers for the whole timeout)."""
        limit = timeout or self._timeout
        if server != self.instance:
            self._reach(server)
        client = self._client.prepare(server=server, timeout=limit, retry=CALL_RETRY)
        future = self._callers.submit(client.call, self._ctxt(), endpoint, **kwargs)
        deadline = self._clock() + limit + 1.0
        while True:
            try:
                return future.result(timeout=0.2)
            except concurrent.futures.TimeoutError:
                if not self._live_instance(server, fresh=True):
                    raise BusUnavailable(
                        f"the node called for {endpoint} went silent before it answered"
                    ) from None
                if self._clock() > deadline:
                    raise BusUnavailable(f"no answer to {endpoint} in {limit:g} s") from None
            except (om.MessagingTimeout, om.MessageDeliveryFailure) as exc:
                raise BusUnavailable(f"the bus could not complete {endpoint}: {exc}") from exc
            except om.MessagingException as exc:
                raise BusUnavailable(f"the bus failed on {endpoint}: {exc}") from exc

    # -- heartbeats and peers ----------------------------------------------------------------
    def _beat(self) -> dict[str, Any]:
        now = self._clock()
        with self._lock:
            info: dict[str, Any] = {}
            for key, fn in self._info.items():
                try:
                    info[key] = fn()
                except Exception:
                    LOG.exception("heartbeat information %s failed", key)
            return {
                "node_id": self.node_id,
                "instance": self.instance,
                "rpc": sorted(self._rpc),
                "publishers": sorted(self._providers),
                "executors": sorted(self._executors),
                "announcements": [self._encode(a) for a in self._local_announcements.values()],
                "subscriptions": self._local.subscriptions(),
                "peers": {
                    p.node_id: [p.instance, round(now - p.last_seen, 3)]
                    for p in self._peers.values()
                },
                "info": info,
                "outages": self._outages,
                "version": VERSION,
                "release": RELEASE,
            }

    def _send_heartbeat(self) -> None:
        self._cast("heartbeat", beat=self._beat())

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._send_heartbeat()
                self._expire()
            except Exception:
                LOG.exception("bus heartbeat failed")

    def _expire(self) -> None:
        now = self._clock()
        with self._lock:
            gone = [p for p in self._peers.values() if now - p.last_seen > self._expiry]
            for p in gone:
                del self._peers[p.instance]
        for p in gone:
            LOG.warning("node %s (instance %s) stopped heartbeating", p.node_id, p.instance)
            self._tell_peers("expired", p)
        if gone:
            self._check_level()

    def _on_heartbeat(self, beat: dict[str, Any]) -> None:
        instance = str(beat.get("instance", ""))
        if instance == self.instance:  # its own, back through the broker (``connected``)
            self._echoed = self._clock()
            return
        if not instance:
            return
        node_id = str(beat.get("node_id", ""))
        version = str(beat.get("version") or FIRST_VERSION)
        if not self._compatible(version, node_id, instance, str(beat.get("release") or "")):
            return
        now = self._clock()
        known = {
            str(nid): (str(v[0]), float(v[1]))
            for nid, v in (beat.get("peers") or {}).items()
            if isinstance(v, list) and len(v) == 2
        }
        with self._lock:
            replaced = [
                p for p in self._peers.values() if p.node_id == node_id and p.instance != instance
            ]
            for p in replaced:
                del self._peers[p.instance]
            peer = self._peers.get(instance)
            joined = peer is None
            if peer is None:
                peer = self._peers[instance] = Peer(node_id, instance, now)
            peer.last_seen = now
            outages = int(beat.get("outages") or 0)
            if outages != peer.outages:
                peer.outages, peer.reachable = outages, False
            peer.rpc = frozenset(beat.get("rpc") or ())
            peer.publishers = frozenset(beat.get("publishers") or ())
            peer.executors = frozenset(beat.get("executors") or ())
            peer.subscriptions = dict(beat.get("subscriptions") or {})
            peer.info = dict(beat.get("info") or {})
            peer.known = known
            peer.version = version
            peer.release = str(beat.get("release") or "")
            lazy = [
                (pub, table)
                for pub, tables in peer.subscriptions.items()
                if pub in self._providers
                for table in tables
                if (pub, table) not in self._heard_subs
            ]
        for p in replaced:
            LOG.warning("node %s restarted: instance %s replaces %s", node_id, instance, p.instance)
            self._tell_peers("expired", p)
        if joined:
            LOG.info(
                "node %s (instance %s%s, bus messages %s) joined",
                node_id,
                instance,
                f", release {peer.release}" if peer.release else "",
                version,
            )
            self._tell_peers("joined", peer)
            self._check_level()
        for wire in beat.get("announcements") or ():
            a = self._decode(wire, instance)
            if isinstance(a, Announcement):
                self._directory_update(a, instance)
        for pub, table in lazy:
            self._hear_subscription(pub, table)
        self._tell_peers("beat", peer)

    # -- versions (rolling upgrades) ---------------------------------------------------------
    @property
    def speaking(self) -> str:
        """The bus message version this node sends: ``[upgrade_levels] bus`` when it names
        one; with ``auto``, the oldest version among this node and its peers (found again by
        ``_check_level`` when a peer joins or expires, not for every message)."""
        return self._spoken

    def _check_level(self) -> None:
        """Find the version to send again, and log when it changes (a node of another release
        came or went)."""
        with self._lock:
            now = self._level
            if now == AUTO:
                now = min([VERSION, *(p.version for p in self._peers.values())], key=parse_version)
            before, self._spoken = self._spoken, now
            older = sorted(
                f"{p.node_id} ({p.release or 'an earlier release'})"
                for p in self._peers.values()
                if p.version == now and now != VERSION
            )
        if now == before:
            return
        if now == VERSION:
            LOG.info("bus: every node speaks bus messages %s: this node sends %s again", now, now)
        else:
            LOG.warning(
                "bus: this node sends bus messages %s (it speaks %s) while %s on the bus "
                "speak %s only: finish the rolling upgrade (docs/upgrades.md)",
                now,
                VERSION,
                ", ".join(older) or "other nodes",
                now,
            )

    def _compatible(self, version: str, node_id: str, instance: str, release: str) -> bool:
        """Whether a peer speaking ``version`` can be on this bus (same major version); a peer
        of another major version is refused, once per instance in the log."""
        try:
            major = parse_version(version)[0]
        except ValueError:
            major = -1
        if major == parse_version(VERSION)[0]:
            return True
        with self._lock:
            first = instance not in self._foreign
            self._foreign.add(instance)
        if first:
            LOG.error(
                "bus: node %s (instance %s%s) speaks bus messages %s, which this node (%s) "
                "cannot read: it is ignored; upgrade through a release that speaks both",
                node_id,
                instance,
                f", release {release}" if release else "",
                version,
                VERSION,
            )
        return False

    def _encode(self, message: Message) -> dict[str, Any]:
        return to_wire(message, self.speaking)

    def _decode(self, body: Mapping[str, Any], origin: str) -> Message | None:
        """The message of a wire body; None (logged once per sender) for a body of a major
        version this node cannot read."""
        try:
            return from_wire(body)
        except UnsupportedVersion as exc:
            with self._lock:
                first = origin not in self._foreign_senders
                self._foreign_senders.add(origin)
            if first:
                LOG.error("bus: a message from instance %s is ignored: %s", origin or "?", exc)
            return None

    def _tell_peers(self, event: str, peer: Peer) -> None:
        with self._lock:
            watchers = list(self._peer_watchers)
        for watcher in watchers:
            try:
                watcher(event, peer)
            except Exception:
                LOG.exception("a peer watcher failed on %s of %s", event, peer.node_id)

    def peers(self) -> list[Peer]:
        """The live peers (not this node)."""
        with self._lock:
            return sorted(self._peers.values(), key=lambda p: (p.node_id, p.instance))

    def watch_peers(self, handler: PeerHandler) -> None:
        with self._lock:
            if handler not in self._peer_watchers:
                self._peer_watchers.append(handler)

    def add_heartbeat_info(self, key: str, provider: Callable[[], Any]) -> None:
        """Send ``provider()`` (JSON) as ``info[key]`` in every heartbeat of this node."""
        with self._lock:
            self._info[key] = provider

    def _live_instance(self, instance: str, *, fresh: bool = False) -> bool:
        """Whether ``instance`` is this node or a live peer (``fresh``: heard within 2.5
        heartbeats)."""
        with self._lock:
            if instance == self.instance:
                return True
            peer = self._peers.get(instance)
            if peer is None:
                return False
            return not fresh or self._clock() - peer.last_seen <= self._silent

    # -- tables ------------------------------------------------------------------------------
    def publish(self, message: TableMessage) -> None:
        self._local.deliver(message)
        self._cast("table", message=self._encode(message), origin=self.instance)

    def subscribe(
        self, publisher: str, table: str, handler: TableHandler, *, subscriber: str = ""
    ) -> None:
        if not self._local.subscribe(publisher, table, handler, subscriber):
            return
        with self._lock:
            local = publisher in self._providers
            host = self._host_of(publisher)
        if local:
            self._hear_subscription(publisher, table)
        elif host is not None:
            self._cast("subscribed", server=host, publisher=publisher, table=table)

    def unsubscribe(self, publisher: str, table: str, handler: TableHandler) -> None:
        self._local.unsubscribe(publisher, table, handler)

    def _host_of(self, publisher: str) -> str | None:
        """The live instance that serves ``publisher`` (None: none is known)."""
        with self._lock:
            if publisher in self._providers:
                return self.instance
            hosts = sorted(
                (p.last_seen, p.instance) for p in self._peers.values() if publisher in p.publishers
            )
            if hosts:
                return hosts[-1][1]
            entry = self._services.get(publisher)
            if entry is not None and entry[1] in self._peers:
                return entry[1]
            return None

    def request_snapshot(self, publisher: str, table: str) -> TableSnapshot | None:
        host = self._host_of(publisher)
        if host is None:
            return None
        if host == self.instance:
            return self._local_snapshot(publisher, table)
        try:
            body = self._call(host, "snapshot", None, publisher=publisher, table=table)
        except BusUnavailable as exc:
            LOG.warning("no snapshot of %s:%s: %s", publisher, table, exc)
            return None
        if body is None:
            return None
        snap = self._decode(body, host)
        return snap if isinstance(snap, TableSnapshot) else None

    def _local_snapshot(self, publisher: str, table: str) -> TableSnapshot | None:
        with self._lock:
            provider = self._providers.get(publisher, (None, None))[0]
        return None if provider is None else provider(table)

    def serve_tables(
        self,
        publisher: str,
        provider: SnapshotProvider,
        on_subscribe: SubscribeHook | None = None,
    ) -> None:
        with self._lock:
            self._providers[publisher] = (provider, on_subscribe)
            self._heard_subs = {k for k in self._heard_subs if k[0] != publisher}
            wanted = {(publisher, t) for t in self._local.subscriptions().get(publisher, {})}
            for peer in self._peers.values():
                wanted |= {(publisher, t) for t in peer.subscriptions.get(publisher, {})}
        for pub, table in sorted(wanted):
            self._hear_subscription(pub, table)

    def stop_serving_tables(self, publisher: str) -> None:
        with self._lock:
            self._providers.pop(publisher, None)
            self._heard_subs = {k for k in self._heard_subs if k[0] != publisher}

    def _hear_subscription(self, publisher: str, table: str) -> None:
        with self._lock:
            hook = self._providers.get(publisher, (None, None))[1]
            if hook is None or (publisher, table) in self._heard_subs:
                return
            self._heard_subs.add((publisher, table))
        try:
            hook(table)
        except Exception:
            LOG.exception("publisher %s failed to hear of a subscription", publisher)

    def subscribers(self, publisher: str) -> list[str]:
        local = self._local.subscriptions().get(publisher, {})
        names = {name for subs in local.values() for name in subs}
        with self._lock:
            for peer in self._peers.values():
                for subs in peer.subscriptions.get(publisher, {}).values():
                    names.update(subs)
            return sorted(names)

    # -- the directory -----------------------------------------------------------------------
    def announce(self, announcement: Announcement) -> None:
        with self._lock:
            if announcement.present:
                self._local_announcements[announcement.publisher] = announcement
            else:
                self._local_announcements.pop(announcement.publisher, None)
        self._directory_update(announcement, self.instance)
        self._cast("announce", announcement=self._encode(announcement), origin=self.instance)

    def _directory_update(self, announcement: Announcement, origin: str) -> None:
        with self._lock:
            current = self._services.get(announcement.publisher)
            if announcement.present:
                if current is not None and current[0] == announcement:
                    self._services[announcement.publisher] = (announcement, origin)
                    return
                self._services[announcement.publisher] = (announcement, origin)
            else:
                if current is None:
                    return
                del self._services[announcement.publisher]
            watchers = list(self._watchers)
        for watcher in watchers:
            tell(watcher, announcement)

    def watch_services(self, handler: AnnouncementHandler) -> None:
        with self._lock:
            if handler in self._watchers:
                return
            self._watchers.append(handler)
            present = [a for a, _ in self._services.values()]
        for announcement in present:
            tell(handler, announcement)

    def unwatch_services(self, handler: AnnouncementHandler) -> None:
        with self._lock:
            self._watchers = [w for w in self._watchers if w != handler]

    def services(self) -> list[Announcement]:
        with self._lock:
            return sorted((a for a, _ in self._services.values()), key=lambda a: a.publisher)

    # -- execute requests --------------------------------------------------------------------
    def send_execute(self, request: ExecuteRequest) -> None:
        with self._lock:
            local = request.service in self._executors
            hosts = sorted(
                (p.last_seen, p.instance)
                for p in self._peers.values()
                if request.service in p.executors
            )
        if local:
            self._execute_locally(request)
            return
        if not hosts:
            raise NoSuchService(f"no node executes actions of {request.service}")
        if not self._cast("execute", server=hosts[-1][1], request=self._encode(request)):
            raise BusUnavailable(f"could not send {request.service}:{request.action}")

    def _execute_locally(self, request: ExecuteRequest) -> None:
        with self._lock:
            handler = self._executors.get(request.service)
        if handler is None:
            LOG.warning("an execute request for %s reached a node without it", request.service)
            return
        handler(request)

    def serve_executions(self, service: str, handler: ExecuteHandler) -> None:
        with self._lock:
            self._executors[service] = handler

    def stop_serving_executions(self, service: str) -> None:
        with self._lock:
            self._executors.pop(service, None)

    # -- named services (RPC) ----------------------------------------------------------------
    def serve_rpc(self, service: str, handler: RpcHandler) -> None:
        with self._lock:
            self._rpc[service] = handler

    def stop_serving_rpc(self, service: str) -> None:
        with self._lock:
            self._rpc.pop(service, None)

    def offers(self, service: str) -> bool:
        """Whether some live node (this one included) offers ``service``."""
        with self._lock:
            return service in self._rpc or any(service in p.rpc for p in self._peers.values())

    def call(
        self,
        service: str,
        method: str,
        kwargs: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        """Call ``method`` of ``service``: on this node when it offers it, else on a live node
        that does (chosen at random); ``NoSuchService`` when none does."""
        args = dict(kwargs or {})
        now = self._clock()
        with self._lock:
            local = service in self._rpc
            offering = [p for p in self._peers.values() if service in p.rpc]
            # a node not heard for a few heartbeats is most likely dead: do not wait for it
            hosts = [p.instance for p in offering if now - p.last_seen <= self._silent]
        if local:
            return self._rpc_locally(service, method, args)
        if not hosts:
            if offering:
                raise NoSuchService(
                    f"{service} of bus {self.bus_id} has not been heard from for "
                    f"{now - max(p.last_seen for p in offering):.1f} s"
                )
            raise NoSuchService(f"no node of bus {self.bus_id} offers {service}")
        host = random.choice(hosts)
        return self._call(host, "rpc", timeout, service=service, op=method, kwargs=args)

    def _rpc_locally(self, service: str, method: str, kwargs: dict[str, Any]) -> Any:
        with self._lock:
            handler = self._rpc.get(service)
        if handler is None:
            raise NoSuchService(f"{service} is not offered on node {self.node_id}")
        return handler(method, kwargs)

    # -- events ------------------------------------------------------------------------------
    def broadcast(self, kind: str, body: Mapping[str, Any]) -> None:
        """Tell every node (this one first, directly) of an event."""
        self._local.dispatch(kind, dict(body))
        self._cast("event", kind=kind, body=dict(body), origin=self.instance)

    def listen(self, kind: str, handler: EventHandler) -> None:
        self._local.listen(kind, handler)
