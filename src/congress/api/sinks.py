"""``/v1/notification-sinks``: where the changes of watched tables are sent (list, create,
show, delete, dead letters; docs/notifications.md).

May import WebOb, congress.api and congress.services.

A sink's secret is never answered: ``"secret": "<hidden>"`` when it has one.
"""

from __future__ import annotations

from typing import Any

import webob

from congress.api import wire
from congress.api.services import Services
from congress.services import errors

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def _sinks(s: Services) -> Any:
    if s.sinks is None:
        raise errors.NotificationsUnavailable(
            "Notification sinks are not managed on this node: ask a node that runs the API "
            "with a policy engine"
        )
    return s.sinks


def list_sinks(req: webob.Request, s: Services) -> dict[str, Any]:
    return {"results": _sinks(s).list_sinks()}


def create_sink(req: webob.Request, s: Services) -> webob.Response:
    created = _sinks(s).create_sink(wire.json_body(req))
    return wire.created(req, created["id"], created)


def show_sink(req: webob.Request, s: Services, sink: str) -> dict[str, Any]:
    result: dict[str, Any] = _sinks(s).get_sink(sink)
    return result


def delete_sink(req: webob.Request, s: Services, sink: str) -> dict[str, Any]:
    _sinks(s).delete_sink(sink)
    return {}


def dead_letters(req: webob.Request, s: Services, sink: str) -> dict[str, Any]:
    """``GET .../dead-letters?limit=N``: the sink's latest dead letters, newest first."""
    limit = wire.count_query(req, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    return {"results": _sinks(s).dead_letters(sink, limit)}
