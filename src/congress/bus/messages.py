"""Messages on the bus: versioned, immutable dataclasses and their wire form.

Imports: the standard library only.

Every message carries ``version`` (``VERSION``, ``major.minor``): a receiver accepts any minor
version of its major version and refuses another major one (``UnsupportedVersion``). Rows are
tuples of JSON values (strings, numbers); a message holds them as a ``frozenset`` and the wire
form as sorted lists, so that ``from_wire(to_wire(m)) == m``.

- ``TableSnapshot``: the full contents of a publisher's table at sequence number ``seqnum``.
- ``TableDelta``: the change from ``seqnum - 1`` to ``seqnum`` (``inserts``, ``deletes``).
  Both carry the publisher's ``epoch``, a number that grows with each incarnation of the
  publisher (a restart begins its sequence numbers again in a new epoch).
- ``ExecuteRequest``: a policy engine (on ``node_id``, for ``policy``) asks the datasource
  ``service`` to run ``action(*positional, **named)``; ``key`` is the action's identity, the
  same from every engine (empty for a request made directly through the API).
- ``Announcement``: a publisher (a datasource) and its schema ``{table: (column, ...)}`` is
  present on ``node_id`` (or, with ``present`` false, has gone).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

VERSION = "1.0"

Row = tuple[Any, ...]


class UnsupportedVersion(ValueError):
    """A message of a major version this code does not speak."""


def _rows(rows: Iterable[Iterable[Any]]) -> frozenset[Row]:
    return frozenset(tuple(row) for row in rows)


@dataclass(frozen=True, slots=True)
class TableSnapshot:
    publisher: str
    table: str
    seqnum: int
    rows: frozenset[Row]
    epoch: int = 0
    version: str = VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", _rows(self.rows))


@dataclass(frozen=True, slots=True)
class TableDelta:
    publisher: str
    table: str
    seqnum: int
    inserts: frozenset[Row]
    deletes: frozenset[Row]
    epoch: int = 0
    version: str = VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "inserts", _rows(self.inserts))
        object.__setattr__(self, "deletes", _rows(self.deletes))


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


def _sorted_rows(rows: frozenset[Row]) -> list[list[Any]]:
    return [list(r) for r in sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))]


def to_wire(message: Message) -> dict[str, Any]:
    """The message as a JSON-ready dict: ``{"kind", "version", ...fields}``."""
    body: dict[str, Any] = {"kind": _NAMES[type(message)], "version": message.version}
    if isinstance(message, TableSnapshot):
        body.update(
            publisher=message.publisher,
            table=message.table,
            seqnum=message.seqnum,
            rows=_sorted_rows(message.rows),
            epoch=message.epoch,
        )
    elif isinstance(message, TableDelta):
        body.update(
            publisher=message.publisher,
            table=message.table,
            seqnum=message.seqnum,
            inserts=_sorted_rows(message.inserts),
            deletes=_sorted_rows(message.deletes),
            epoch=message.epoch,
        )
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
    ``ValueError`` for an unknown kind or missing fields."""
    version = str(body.get("version", ""))
    if version.split(".")[0] != VERSION.split(".")[0]:
        raise UnsupportedVersion(f"bus message version {version!r} is not {VERSION}")
    kind = _KINDS.get(str(body.get("kind")))
    if kind is None:
        raise ValueError(f"unknown bus message kind {body.get('kind')!r}")
    fields = {k: v for k, v in body.items() if k != "kind"}
    try:
        return kind(**fields)
    except TypeError as exc:
        raise ValueError(f"malformed {body.get('kind')} message: {exc}") from None
