"""The HTTP wire: reading JSON requests, writing JSON answers, turning errors into error bodies.

May import WebOb, congress.api.errors, congress.services.errors, congress.datalog.errors,
congress.db.errors and congress.datasources.errors.

Requests are JSON only: another content type, a charset other than UTF-8, a body that is not
JSON (or not an object where one is needed) is a 400 with the original's error body, and so is a
URL that is not UTF-8 or has a NUL. JSON that could not be stored or answered back is refused
too: ``NaN``, ``Infinity``, a number beyond a float's range, a string with a NUL (PostgreSQL
cannot store it) or a lone surrogate (``"\\ud800"``: no UTF-8 text can hold it). Answers are
always valid UTF-8 JSON. Every exception a handler raises becomes an error body here; an
unexpected one is logged with its traceback and answered with a 500 that reveals nothing of it.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterator
from typing import Any

import webob
import webob.exc

from congress.api import errors as api_errors
from congress.common.jsontext import portable
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


_SUSPECT_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")
"""Where a NUL or a lone surrogate may come from (raw ones are not valid JSON or UTF-8)."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _strings(value: Any) -> Iterator[str]:
    """Every string in a parsed JSON value, keys included."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored or answered, if it cannot."""
    if "\x00" in text:
        return "a string has a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a string has a lone surrogate (\\ud800-\\udfff)"
    return None


def parse_json(raw: bytes) -> Any:
    """``raw`` (UTF-8) as JSON, or ``BadRequest``: also for ``NaN``, ``Infinity``, a number
    out of a float's range, nesting too deep for the parser, and strings with a NUL or a lone
    surrogate, which the database (PostgreSQL) or a UTF-8 answer cannot hold."""
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, parse_float=_finite, parse_constant=_not_json)
    except (UnicodeDecodeError, ValueError) as e:
        raise BadRequest(f"The body is not valid JSON: {e}") from None
    except RecursionError:
        raise BadRequest("The body is not valid JSON: it is nested too deeply") from None
    if _SUSPECT_ESCAPE.search(text):  # rare: look at every string
        for string in _strings(value):
            why = _unstorable(string)
            if why is not None:
                raise BadRequest(f"The body is not valid JSON: {why}")
    return value


def url_path(req: webob.Request) -> str:
    """The request's path, once its path and query are known to be UTF-8 without NUL (else
    400: nothing could be named so)."""
    try:
        path: str = req.path_info
        strings = [path, *req.GET.keys(), *req.GET.values()]
    except UnicodeDecodeError:
        raise BadRequest("The URL is not valid UTF-8 once percent-decoded") from None
    if any("\x00" in s for s in strings):
        raise BadRequest("The URL has a NUL character (%00)")
    return path


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
    body = parse_json(req.body)
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object")
    return body


def json_value(req: webob.Request) -> Any:
    """The request's JSON value of any type (for PUT rows and webhooks)."""
    if req.content_type and req.content_type != JSON:
        raise BadRequest(f"Unsupported content type {req.content_type}: send application/json")
    return parse_json(req.body) if req.body else None


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


def query(req: webob.Request, name: str) -> str | None:
    """A query-string parameter. Never ``req.params``: it also parses a form body, and a
    malformed one (``multipart/form-data`` without a boundary) raises."""
    value: str | None = req.GET.get(name)
    return value


def count_query(req: webob.Request, name: str, default: int, maximum: int, minimum: int = 1) -> int:
    """A query-string count from ``minimum`` to ``maximum`` (``default`` when absent);
    BadRequest naming the parameter and the value otherwise."""
    text = query(req, name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= maximum:
        raise BadRequest(
            f"Parameter '{name}' must be an integer from {minimum} to {maximum}, not {text[:32]!r}"
        )
    return value


def flag(req: webob.Request, name: str) -> bool:
    """A query-string boolean (``True``/``true``/``1``; the client sends Python's ``True``)."""
    return str(query(req, name) or "").lower() in ("true", "1", "yes")


def encode(body: Any) -> bytes:
    """``body`` as UTF-8 JSON, always valid: a non-finite float (a policy can compute one) is
    sent as the string ``"inf"``, ``"-inf"`` or ``"nan"``, and a lone surrogate (a driver may
    have read one from a service) as its JSON escape."""
    try:
        text = json.dumps(body, ensure_ascii=False, allow_nan=False)
    except ValueError:
        text = json.dumps(portable(body), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8", "backslashreplace")


def answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> webob.Response:
    resp = webob.Response(
        body=encode(body),
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
