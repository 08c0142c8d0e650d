"""The bus: versioned messages, the transport interface and the table pub/sub helpers.

Imports: the standard library; ``messaging`` also oslo.config and oslo.messaging (imported only
by who needs it: ``from congress.bus.messaging import MessagingBus``). Never congress.services,
congress.api or congress.cmd.

- ``messages``: ``TableSnapshot``, ``TableDelta``, ``ExecuteRequest``, ``Announcement``
  (frozen dataclasses, ``VERSION``) and their wire form (``to_wire``, ``from_wire``).
- ``transport``: the ``Transport`` protocol and ``InProcessBus``, which delivers synchronously
  within one process.
- ``messaging``: ``MessagingBus``, the ``Transport`` between processes on oslo.messaging
  (RabbitMQ): heartbeats, peers that expire, unique node ids, named services (RPC), events.
- ``pubsub``: ``Publisher`` (successive full contents of a table become a snapshot, then
  sequenced deltas) and ``Subscriber`` (the receiver algorithm of the reference, 1.2: the first
  message must be a snapshot, old and duplicate sequence numbers are ignored, early deltas wait
  in order, and a gap that does not fill is healed by asking for a snapshot).
"""

from __future__ import annotations

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
    to_wire,
)
from congress.bus.pubsub import Publisher, Subscriber
from congress.bus.transport import BusUnavailable, InProcessBus, NoSuchService, Transport

__all__ = [
    "VERSION",
    "Announcement",
    "BusUnavailable",
    "ExecuteRequest",
    "InProcessBus",
    "Message",
    "NoSuchService",
    "Publisher",
    "Subscriber",
    "TableDelta",
    "TableMessage",
    "TableSnapshot",
    "Transport",
    "UnsupportedVersion",
    "from_wire",
    "to_wire",
]
