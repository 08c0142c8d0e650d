"""The HTTP wire: reading JSON requests, writing JSON answers, turning errors into error bodies.

May import WebOb, congress.api.errors, congress.services.errors, congress.datalog.errors,
congress.db.errors and congress.datasources.errors.

Requests are JSON only: another content type, a charset other than UTF-8, a body that is not
JSON (or not an object where one is needed) is a 400 with the original's error body. Every
exception a handler raises becomes an error body here; an unexpected one is logged with its
traceback and answered with a 500 that reveals nothing of it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import webob
import webob.exc

from congress.api import errors as api_errors
from congress.datalog import errors as dl
from congress.datasources import errors as ds_errors
from congress.db import errors as db_errors
from congress.services import errors as svc_errors

LOG = logging.getLogger(__name__)

JSON = "application/json"


class BadRequest(Exception):
    """A malformed request (not JSON, missing field, wrong type)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def json_body(req: webob.Request, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object (``{}`` for an empty body when not ``required``)."""
    if not req.body:
        if required:
            raise BadRequest("The request needs a JSON body")
        return {}
    ctype = req.content_type
    if ctype and ctype != JSON:
        raise BadRequest(f"Unsupported content type {ctype}: send application/json")
    charset = (req.charset or "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise BadRequest(f"Unsupported charset {charset}: send UTF-8")
    try:
        body = json.loads(req.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadRequest(f"The body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object")
    return body


def json_value(req: webob.Request) -> Any:
    """The request's JSON value of any type (for PUT rows and webhooks)."""
    if req.content_type and req.content_type != JSON:
        raise BadRequest(f"Unsupported content type {req.content_type}: send application/json")
    try:
        return json.loads(req.body.decode("utf-8")) if req.body else None
    except (UnicodeDecodeError, ValueError) as e:
        raise BadRequest(f"The body is not valid JSON: {e}") from None


def text_field(
    body: dict[str, Any], name: str, *, required: bool = False, limit: int = 0
) -> str | None:
    """A string field (JSON ``null`` counts as absent: the client sends it for unset options)."""
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(f"Field '{name}' is required")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"Field '{name}' must be a string")
    if limit and len(value) > limit:
        raise BadRequest(f"Field '{name}' is longer than {limit} characters")
    return value


def flag(req: webob.Request, name: str) -> bool:
    """A query-string boolean (``True``/``true``/``1``; the client sends Python's ``True``)."""
    return str(req.params.get(name, "")).lower() in ("true", "1", "yes")


def answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> webob.Response:
    resp = webob.Response(
        body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        status=status,
        content_type=JSON,
        charset="UTF-8",
    )
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def raw_json(body: bytes, status: int = 200) -> webob.Response:
    """An answer whose JSON body is already encoded."""
    return webob.Response(body=body, status=status, content_type=JSON, charset="UTF-8")


def created(req: webob.Request, item_id: str, body: Any) -> webob.Response:
    """201 with the item and ``Location: <collection path>/<id>``, as the original."""
    return answer(body, 201, {"Location": f"{req.path_url.rstrip('/')}/{item_id}"})


def empty(status: int = 200) -> webob.Response:
    """An answer with no body (PUT rows, as the original)."""
    resp = webob.Response(status=status, content_type=JSON, charset="UTF-8")
    resp.body = b""
    return resp


def error_answer(err: api_errors.ApiError) -> webob.Response:
    return answer(err.body(), err.status)


def to_api_error(exc: Exception) -> api_errors.ApiError:
    """The error body for any exception a handler raised."""
    unknown = api_errors.CODES["unknown"].number
    if isinstance(exc, api_errors.ApiError):
        return exc
    if isinstance(exc, BadRequest):
        return api_errors.ApiError(400, exc.message, unknown, {"code": "bad_request"})
    if isinstance(exc, svc_errors.ServiceError):
        number = api_errors.CODES[exc.api_name].number
        return api_errors.ApiError(exc.status, exc.message, number, {"code": exc.code})
    if isinstance(exc, dl.DatalogError):
        return api_errors.from_datalog(exc)
    if isinstance(exc, ds_errors.DatasourceError):
        status = getattr(exc, "http_status", 400)
        return api_errors.ApiError(status, str(exc), unknown, {"code": exc.code})
    if isinstance(exc, db_errors.NotFound):
        return api_errors.ApiError(404, str(exc), unknown, {"code": exc.code})
    if isinstance(exc, db_errors.Conflict):
        return api_errors.ApiError(409, str(exc), unknown, {"code": exc.code})
    if isinstance(exc, db_errors.InvalidValue):
        return api_errors.ApiError(400, str(exc), unknown, {"code": exc.code})
    if isinstance(exc, db_errors.DatabaseError):
        LOG.error("database error: %s", exc)
        return api_errors.ApiError(503, "The database is unavailable", unknown, {"code": exc.code})
    LOG.exception("unexpected error answering a request")
    return api_errors.ApiError(500, "Internal server error", unknown, None)
