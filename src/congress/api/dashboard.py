"""``/dashboard``: the web dashboard's files and its Keystone sign-in (docs/dashboard.md,
docs/security.md "Signing in to the dashboard", ADR 0011).

May import WebOb, oslo.config, keystoneauth1, congress.api and congress.services (errors).

The files are the package data of ``congress/dashboard``, read once: the set of names that can
be served is fixed at start, so no part of a request's path ever reaches the file system. The
files need no token; the page's calls to ``/v1`` carry one and are authorized as usual.

Two open routes serve the page's sign-in: ``GET /dashboard/session`` says whether the server
needs one (``auth_strategy``), and ``POST /dashboard/token`` forwards a user name, password and
project to Keystone (``[keystone_authtoken] www_authenticate_uri``, else ``auth_url``) and
answers the project-scoped token Keystone issued. Nothing of it is kept: the page holds the
token in ``sessionStorage``; the password is never stored or logged.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import importlib.resources
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import webob
from oslo_config import cfg

from congress.api import wire
from congress.api.errors import CODES, ApiError
from congress.services import errors as svc_errors

if TYPE_CHECKING:
    from keystoneauth1.access import AccessInfoV3

LOG = logging.getLogger(__name__)

PREFIX = "/dashboard"
TOKEN_PATH = PREFIX + "/token"
"""``POST``: sign in with Keystone (open)."""
SESSION_PATH = PREFIX + "/session"
"""``GET``: ``{"auth_strategy": ...}``, whether the page must sign in first (open)."""
AUTHTOKEN_GROUP = "keystone_authtoken"
KEYSTONE_TIMEOUT = 10.0
"""Seconds to wait for Keystone's answer to a sign-in."""
NAME_LIMIT = 255  # Keystone's longest user, project and domain name
PASSWORD_LIMIT = 4096  # Keystone's [identity] max_password_length
REFUSED = "The user name, password or project is not right"
"""The one message of every sign-in Keystone refuses: it never says which part was wrong."""
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
"""The Content-Security-Policy of every file: this origin only, no inline code."""


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


@functools.cache
def assets() -> dict[str, Asset]:
    """The dashboard's files by name (``index.html``, ``app.js``, ...)."""
    root = importlib.resources.files("congress") / "dashboard"
    out: dict[str, Asset] = {}
    for item in root.iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1] if "." in item.name else ""
        if not item.is_file() or suffix not in CONTENT_TYPES:
            continue
        body = item.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        out[item.name] = Asset(body, CONTENT_TYPES[suffix], etag)
    return out


def is_dashboard(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def _not_supported() -> webob.Response:
    return wire.error_answer(ApiError(501, "Method not supported", CODES["unknown"].number, None))


def serve(req: webob.Request, path: str, sign_in: SignIn) -> webob.Response:
    """Answer a request for ``path`` (under ``/dashboard``)."""
    route = path.rstrip("/")
    if route == TOKEN_PATH:
        return sign_in.token(req) if req.method == "POST" else _not_supported()
    if route == SESSION_PATH:
        return sign_in.session(req) if req.method in ("GET", "HEAD") else _not_supported()
    if req.method not in ("GET", "HEAD"):
        return _not_supported()
    if path == PREFIX:
        resp = webob.Response(status=301)
        resp.headers["Location"] = PREFIX + "/"
        return resp
    name = path[len(PREFIX) + 1 :] or "index.html"
    asset = assets().get(name)
    if asset is None:
        return wire.error_answer(
            ApiError(404, "The resource could not be found.", CODES["unknown"].number, None)
        )
    resp = webob.Response(status=200)
    resp.headers["Content-Type"] = asset.content_type
    resp.headers["ETag"] = asset.etag
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Content-Security-Policy"] = POLICY
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    if asset.etag in (req.headers.get("If-None-Match") or ""):
        resp.status = 304
        return resp
    resp.body = asset.body
    if req.method == "HEAD":
        resp.body = b""
        resp.headers["Content-Length"] = str(len(asset.body))
    return resp


# -- signing in ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Credentials:
    """What the page sends to ``POST /dashboard/token`` (the password never in a repr)."""

    username: str
    password: str = field(repr=False)
    project: str
    user_domain: str = "Default"
    project_domain: str = "Default"

    @classmethod
    def from_request(cls, req: webob.Request) -> Credentials:
        """The request's credentials, or ``BadRequest`` naming what is wrong. Only
        ``application/json`` is taken: a cross-site form cannot send it without the browser
        asking this server first (CORS), so no other site can sign a visitor in."""
        if req.content_type != wire.JSON:
            sent = req.content_type or "none"
            raise wire.BadRequest(
                f"Signing in needs Content-Type: application/json (not {sent}) and a JSON body"
            )
        body = wire.json_body(req)
        return cls(
            username=_name_field(body, "username"),
            password=_required(body, "password", PASSWORD_LIMIT),
            project=_name_field(body, "project"),
            user_domain=_name_field(body, "user_domain", "Default"),
            project_domain=_name_field(body, "project_domain", "Default"),
        )


def _required(body: dict[str, Any], name: str, limit: int) -> str:
    value = wire.text_field(body, name, required=True, limit=limit) or ""
    if not value:
        raise wire.BadRequest(f"Field '{name}' must not be empty")
    return value


def _name_field(body: dict[str, Any], name: str, default: str | None = None) -> str:
    if default is not None and body.get(name) is None:
        return default
    return _required(body, name, NAME_LIMIT)


def identity_url(uri: str) -> str:
    """Keystone's identity v3 URL from a configured one, with or without its ``/v3``."""
    url = uri.strip().rstrip("/")
    return url if url.endswith("/v3") else url + "/v3"


def _iso(moment: datetime.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class SignIn:
    """The dashboard's sign-in: ``GET /dashboard/session`` and ``POST /dashboard/token``.

    ``[keystone_authtoken]`` is read at each sign-in, not here: keystonemiddleware registers
    its options when the pipeline builds it, after the application."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf
        self.strategy: str = conf.auth_strategy

    def session(self, req: webob.Request) -> webob.Response:
        """``{"auth_strategy": "keystone" | "noauth"}``."""
        resp = wire.answer({"auth_strategy": self.strategy}, 200)
        resp.headers["Cache-Control"] = "no-cache"
        if req.method == "HEAD":
            resp.body = b""
        return resp

    def token(self, req: webob.Request) -> webob.Response:
        """A project-scoped token from Keystone for the user, password and project sent (200),
        or the error body: 400 (not JSON, a field missing, noauth), 401 (Keystone refused),
        503 with ``Retry-After`` (Keystone not configured, not reachable or failing)."""
        try:
            resp = wire.answer(self._sign_in(req), 200)
        except (ApiError, wire.BadRequest) as e:
            resp = wire.error_answer(wire.to_api_error(e))
            if resp.status_int == 503:
                resp.headers["Retry-After"] = str(svc_errors.Unavailable.retry_after)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def _option(self, name: str, group: str = AUTHTOKEN_GROUP) -> Any:
        """An option of ``group``, ``None`` if nobody registered it (keystonemiddleware and
        keystoneauth register theirs only when the token middleware is built)."""
        try:
            return self.conf[group][name]
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
            return None

    def identity_url(self) -> str:
        """Where users get tokens: ``www_authenticate_uri`` (the URL keystonemiddleware sends
        to clients), else the ``auth_url`` of the service user; ``""`` if neither is set."""
        uri = self._option("www_authenticate_uri")
        if not uri:
            section = self._option("auth_section") or AUTHTOKEN_GROUP
            uri = self._option("auth_url", section)
        return identity_url(str(uri)) if uri else ""

    def _verify(self) -> bool | str:
        """TLS verification as keystonemiddleware's own: ``cafile``, or not if ``insecure``."""
        cafile = self._option("cafile")
        if cafile:
            return str(cafile)
        return not self._option("insecure")

    def _sign_in(self, req: webob.Request) -> dict[str, Any]:
        if self.strategy != "keystone":
            raise wire.BadRequest(
                f"This server runs with auth_strategy = {self.strategy}: the dashboard needs "
                "no sign-in"
            )
        creds = Credentials.from_request(req)
        url = self.identity_url()
        if not url:
            LOG.warning(
                "Dashboard sign-in of user %s failed: [%s] www_authenticate_uri is not set",
                _printable(creds.username),
                AUTHTOKEN_GROUP,
            )
            raise _unavailable(
                "Signing in is unavailable: Keystone's URL is not configured "
                f"([{AUTHTOKEN_GROUP}] www_authenticate_uri)"
            )
        ref = self._ask_keystone(url, creds, req.remote_addr or "-")
        LOG.info(
            "Dashboard sign-in: user %s (%s) in project %s (%s) from %s",
            ref.username,
            creds.user_domain,
            ref.project_name,
            creds.project_domain,
            req.remote_addr or "-",
        )
        return {
            "token": ref.auth_token,
            "expires_at": _iso(ref.expires),
            "user": {"id": ref.user_id, "name": ref.username},
            "project": {"id": ref.project_id, "name": ref.project_name},
            "roles": sorted(ref.role_names or []),
        }

    def _ask_keystone(self, url: str, creds: Credentials, client: str) -> AccessInfoV3:
        """Keystone's ``AccessInfoV3`` for ``creds``; ``ApiError`` 401 if Keystone refuses
        them, 503 if it cannot answer."""
        from keystoneauth1 import exceptions as ks
        from keystoneauth1 import session
        from keystoneauth1.identity import v3

        auth = v3.Password(
            auth_url=url,
            username=creds.username,
            password=creds.password,
            user_domain_name=creds.user_domain,
            project_name=creds.project,
            project_domain_name=creds.project_domain,
            include_catalog=False,
        )
        sess = session.Session(auth=auth, timeout=KEYSTONE_TIMEOUT, verify=self._verify())
        who = _printable(
            f"user {creds.username} ({creds.user_domain}) in project {creds.project} "
            f"({creds.project_domain}) from {client}"
        )
        status: int | None = None  # Keystone's, if it answered
        why = "cannot be reached"
        try:
            return auth.get_auth_ref(sess)
        except ks.HttpError as e:
            status = e.http_status
            detail = f"answered {status}"
            why = detail
        except ks.ConnectionError as e:  # refused, timed out, TLS
            detail = _short(e)
        except ks.ClientException as e:  # an answer that is not a token
            detail = _short(e)
            why = "did not answer a token"
        finally:
            sess.close()
        if status is not None and 400 <= status < 500 and status not in (408, 429):
            LOG.warning("Dashboard sign-in refused: %s: Keystone answered %s", who, status)
            raise ApiError(401, REFUSED, CODES["unknown"].number, {"code": "unauthorized"})
        LOG.warning("Dashboard sign-in failed: %s: Keystone at %s: %s", who, url, detail)
        raise _unavailable(f"Signing in is unavailable: Keystone at {url} {why}; try again later")


def _unavailable(message: str) -> ApiError:
    return ApiError(503, message, CODES["unknown"].number, {"code": "unavailable"})


def _printable(text: str) -> str:
    """``text`` with its control characters escaped: names sent by a client go to the log."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _short(exc: BaseException) -> str:
    """A failed request's reason without urllib3's pages of repr: ``[Errno 111] Connection
    refused`` when the socket said why."""
    text = str(exc)
    errno = re.findall(r"\[Errno -?\d+\][^'\")]*", text)
    reason = errno[-1].strip() if errno else text[:300]
    return f"{type(exc).__name__}: {reason}"
