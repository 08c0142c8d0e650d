"""Messages on the bus: versioned, immutable dataclasses and their wire form.

Imports: the standard library only.

Every message carries ``version`` (``VERSION``, ``major.minor``): a receiver accepts any minor
version of its major version, ignoring the fields it does not know (a minor version only adds
optional fields), and refuses another major one (``UnsupportedVersion``). Rows are
tuples of JSON values (strings, numbers); a message holds them as a ``frozenset`` and the wire
form as sorted lists, so that ``from_wire(to_wire(m)) == m``.

- ``TableSnapshot``: the full contents of a publisher's table at sequence number ``seqnum``.
- ``TableDelta``: the change from ``seqnum - 1`` to ``seqnum`` (``inserts``, ``deletes``).
  Both carry the publisher's ``epoch``, a number that grows with each incarnation of the
  publisher (a restart begins its sequence numbers again in a new epoch), and, since 1.1,
  ``sent_at``: the publisher's wall-clock time (Unix seconds) when it sent the message, for
  the bus lag metric (None when absent; it takes no part in equality).
- ``ExecuteRequest``: a policy engine (on ``node_id``, for ``policy``) asks the datasource
  ``service`` to run ``action(*positional, **named)``; ``key`` is the action's identity, the
  same from every engine (empty for a request made directly through the API).
- ``Announcement``: a publisher (a datasource) and its schema ``{table: (column, ...)}`` is
  present on ``node_id`` (or, with ``present`` false, has gone).

A node can speak an earlier minor version than its own (``to_wire(message, version)``): the
fields added after it (``ADDED_IN``) are left out, as a node of that release would send the
message. During a rolling upgrade the upgraded nodes speak the version of the oldest node on
the bus (docs/upgrades.md).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

VERSION = "1.1"
ADDED_IN: Mapping[str, str] = {"sent_at": "1.1", "lazy": "1.1"}
"""The fields of a message added by a minor version after 1.0, and that version."""

Row = tuple[Any, ...]


class UnsupportedVersion(ValueError):
    """A message of a major version this code does not speak."""


def parse_version(text: str) -> tuple[int, int]:
    """``"major.minor"`` as a pair of integers; ``ValueError`` for anything else."""
    major, dot, minor = str(text).strip().partition(".")
    if not dot or not major.isdigit() or not minor.isdigit():
        raise ValueError(f"not a bus message version (major.minor): {text!r}")
    return int(major), int(minor)


def speakable(text: str) -> bool:
    """Whether this code can send messages of version ``text``: its major version, at most
    its minor version."""
    try:
        major, minor = parse_version(text)
    except ValueError:
        return False
    own = parse_version(VERSION)
    return major == own[0] and minor <= own[1]


def _rows(rows: Iterable[Iterable[Any]]) -> frozenset[Row]:
    return frozenset(tuple(row) for row in rows)


def _time(value: Any) -> float | None:
    """A send time as a float; None for anything that is not a finite number."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


@dataclass(frozen=True, slots=True)
class TableSnapshot:
    publisher: str
    table: str
    seqnum: int
    rows: frozenset[Row]
    epoch: int = 0
    version: str = VERSION
    sent_at: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", _rows(self.rows))
        object.__setattr__(self, "sent_at", _time(self.sent_at))


@dataclass(frozen=True, slots=True)
class TableDelta:
    publisher: str
    table: str
    seqnum: int
    inserts: frozenset[Row]
    deletes: frozenset[Row]
    epoch: int = 0
    version: str = VERSION
    sent_at: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inserts", _rows(self.inserts))
        object.__setattr__(self, "deletes", _rows(self.deletes))
        object.__setattr__(self, "sent_at", _time(self.sent_at))


@dataclass(frozen=True, slots=True)
class ExecuteRequest:
    service: str
    action: str
    positional: tuple[Any, ...] = ()
    named: Mapping[str, Any] = field(default_factory=dict)
    policy: str | None = None
    node_id: str = ""
    key: str = ""
    version: str = VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "positional", tuple(self.positional))
        object.__setattr__(self, "named", dict(self.named))


@dataclass(frozen=True, slots=True)
class Announcement:
    publisher: str
    schema: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    node_id: str = ""
    present: bool = True
    version: str = VERSION
    lazy: tuple[str, ...] = ()
    """Tables a subscriber should take only when it reads them (their polling waits for one)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "schema", {t: tuple(c) for t, c in self.schema.items()})
        object.__setattr__(self, "lazy", tuple(self.lazy))


TableMessage = TableSnapshot | TableDelta
Message = TableSnapshot | TableDelta | ExecuteRequest | Announcement

_KINDS: dict[str, type[Message]] = {
    "table_snapshot": TableSnapshot,
    "table_delta": TableDelta,
    "execute_request": ExecuteRequest,
    "announcement": Announcement,
}
_NAMES = {cls: name for name, cls in _KINDS.items()}
_FIELDS = {cls: frozenset(f.name for f in dataclasses.fields(cls)) for cls in _KINDS.values()}


def _sorted_rows(rows: frozenset[Row]) -> list[list[Any]]:
    return [list(r) for r in sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))]


def to_wire(message: Message, version: str | None = None) -> dict[str, Any]:
    """The message as a JSON-ready dict: ``{"kind", "version", ...fields}``; with ``version``
    (an earlier minor version of this major one, ``speakable``), as that version has it: the
    fields added since are left out."""
    body = _wire(message)
    if version is not None and version != body["version"]:
        if not speakable(version):
            raise UnsupportedVersion(f"cannot send bus message version {version!r} ({VERSION})")
        wanted = parse_version(version)
        for name, since in ADDED_IN.items():
            if name in body and parse_version(since) > wanted:
                del body[name]
        body["version"] = version
    return body


def _wire(message: Message) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": _NAMES[type(message)], "version": message.version}
    if isinstance(message, TableSnapshot):
        body.update(
            publisher=message.publisher,
            table=message.table,
            seqnum=message.seqnum,
            rows=_sorted_rows(message.rows),
            epoch=message.epoch,
        )
        if message.sent_at is not None:
            body["sent_at"] = message.sent_at
    elif isinstance(message, TableDelta):
        body.update(
            publisher=message.publisher,
            table=message.table,
            seqnum=message.seqnum,
            inserts=_sorted_rows(message.inserts),
            deletes=_sorted_rows(message.deletes),
            epoch=message.epoch,
        )
        if message.sent_at is not None:
            body["sent_at"] = message.sent_at
    elif isinstance(message, ExecuteRequest):
        body.update(
            service=message.service,
            action=message.action,
            positional=list(message.positional),
            named=dict(message.named),
            policy=message.policy,
            node_id=message.node_id,
            key=message.key,
        )
    else:
        body.update(
            publisher=message.publisher,
            schema={t: list(c) for t, c in message.schema.items()},
            node_id=message.node_id,
            present=message.present,
            lazy=list(message.lazy),
        )
    return body


def from_wire(body: Mapping[str, Any]) -> Message:
    """The message of a ``to_wire`` dict; ``UnsupportedVersion`` for another major version,
    ``ValueError`` for an unknown kind or missing fields. Fields this version does not know
    (a later minor version's) are ignored."""
    version = str(body.get("version", ""))
    if version.split(".")[0] != VERSION.split(".")[0]:
        raise UnsupportedVersion(f"bus message version {version!r} is not {VERSION}")
    kind = _KINDS.get(str(body.get("kind")))
    if kind is None:
        raise ValueError(f"unknown bus message kind {body.get('kind')!r}")
    known = _FIELDS[kind]
    fields = {k: v for k, v in body.items() if k in known}
    try:
        return kind(**fields)
    except TypeError as exc:
        raise ValueError(f"malformed {body.get('kind')} message: {exc}") from None
