"""A small client of the Congress API for commands (``congress-policy export`` and ``apply``),
with the ``openstack`` client's options for where the API is and how to authenticate.

Options and their environment variables, as python-openstackclient takes them:

- ``--os-endpoint`` (``OS_ENDPOINT``; ``--os-url``/``OS_URL`` is the older name): the API's
  URL, e.g. ``http://127.0.0.1:1789``. Given, it is used as is (no catalog look-up).
- ``--os-token`` (``OS_TOKEN``): a Keystone token, sent as ``X-Auth-Token``. With an endpoint,
  nothing asks Keystone anything.
- ``--os-auth-url``, ``--os-username``, ``--os-password``, ``--os-project-name``,
  ``--os-project-id``, ``--os-user-domain-name``, ``--os-project-domain-name``
  (``OS_AUTH_URL``, ...): a password authentication through keystoneauth1, whose token is sent
  and whose catalog gives the endpoint of the service of type ``policy`` (``--os-interface``,
  default ``public``; ``--os-region-name``) unless ``--os-endpoint`` is given. A token with an
  auth URL and no endpoint also reads the catalog.
- ``--os-auth-type`` (``OS_AUTH_TYPE``): ``none`` for a server with ``auth_strategy =
  noauth`` (an endpoint alone does too), ``password``, ``token``, ``v3password``, ``v3token``;
  by default inferred from what is given.
- ``--os-cacert`` (``OS_CACERT``), ``--insecure`` (``OS_INSECURE``): TLS.

Answers are JSON; a failure is ``ApiError`` with the API's message (``error.message``) and its
``error_data``. Every write's ``X-Congress-Revision`` goes back as ``X-Congress-Min-Revision``
on later requests, so that reads see the writes on any node behind a load balancer.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REVISION_HEADER = "X-Congress-Revision"
MIN_REVISION_HEADER = "X-Congress-Min-Revision"
SERVICE_TYPE = "policy"
TIMEOUT = 60.0

# (option, environment variable, help)
_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("--os-endpoint", "OS_ENDPOINT", "the Congress API's URL (no catalog look-up)"),
    ("--os-url", "OS_URL", "the older name of --os-endpoint"),
    ("--os-token", "OS_TOKEN", "a Keystone token"),
    ("--os-auth-type", "OS_AUTH_TYPE", "none, password, token, v3password or v3token"),
    ("--os-auth-url", "OS_AUTH_URL", "Keystone's URL"),
    ("--os-username", "OS_USERNAME", "the user's name"),
    ("--os-user-id", "OS_USER_ID", "the user's id"),
    ("--os-password", "OS_PASSWORD", "the user's password"),
    ("--os-project-name", "OS_PROJECT_NAME", "the project to scope the token to"),
    ("--os-project-id", "OS_PROJECT_ID", "the project's id"),
    ("--os-user-domain-name", "OS_USER_DOMAIN_NAME", "the user's domain"),
    ("--os-user-domain-id", "OS_USER_DOMAIN_ID", "the user's domain id"),
    ("--os-project-domain-name", "OS_PROJECT_DOMAIN_NAME", "the project's domain"),
    ("--os-project-domain-id", "OS_PROJECT_DOMAIN_ID", "the project's domain id"),
    ("--os-region-name", "OS_REGION_NAME", "the region of the endpoint in the catalog"),
    ("--os-interface", "OS_INTERFACE", "the endpoint's interface: public, internal or admin"),
    ("--os-cacert", "OS_CACERT", "CA bundle to verify the API's TLS certificate"),
)
AUTH_TYPES = ("none", "noauth", "password", "token", "v3password", "v3token", "admin_token")


class ConfigError(Exception):
    """The options do not say where the API is or how to authenticate."""


class ApiError(Exception):
    """The API answered an error (or could not be reached: ``status`` 0)."""

    def __init__(self, status: int, message: str, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.data: Mapping[str, Any] = data or {}


def add_options(parser: argparse.ArgumentParser) -> None:
    """The ``--os-*`` options (defaults from the environment when the command runs)."""
    group = parser.add_argument_group("API and authentication (as the openstack client)")
    for option, env, text in _OPTIONS:
        group.add_argument(
            option, metavar=option[5:].upper().replace("-", "_"), help=f"{text} ({env})"
        )
    group.add_argument(
        "--insecure", action="store_true", default=None, help="do not verify TLS (OS_INSECURE)"
    )
    group.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds per request")


@dataclass(frozen=True)
class Settings:
    """The ``--os-*`` options, each from its flag or else its environment variable."""

    values: Mapping[str, str]
    insecure: bool = False
    timeout: float = TIMEOUT

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value else None


def settings(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for option, var, _ in _OPTIONS:
        key = option[2:].replace("-", "_")
        given = getattr(args, key, None)
        value = given if given is not None else env.get(var)
        if value:
            values[key] = value
    insecure = args.insecure
    if insecure is None:
        insecure = env.get("OS_INSECURE", "").lower() in ("1", "true", "yes", "on")
    return Settings(values, bool(insecure), getattr(args, "timeout", TIMEOUT) or TIMEOUT)


def _ssl_context(s: Settings) -> ssl.SSLContext | None:
    if s.insecure:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    cacert = s.get("os_cacert")
    return ssl.create_default_context(cafile=cacert) if cacert else None


def connect(s: Settings) -> Client:
    """A client for the options: endpoint and token as given, or from Keystone."""
    endpoint = s.get("os_endpoint") or s.get("os_url")
    token = s.get("os_token")
    auth_type = (s.get("os_auth_type") or "").lower()
    if auth_type and auth_type not in AUTH_TYPES:
        raise ConfigError(f"--os-auth-type {auth_type}: expected one of {', '.join(AUTH_TYPES)}")
    if auth_type in ("none", "noauth"):
        if not endpoint:
            raise ConfigError("--os-auth-type none needs --os-endpoint (OS_ENDPOINT)")
        return Client(endpoint, None, context=_ssl_context(s), timeout=s.timeout)
    password = s.get("os_password")
    if not auth_type:
        if token:
            auth_type = "token"
        elif password or s.get("os_username") or s.get("os_user_id"):
            auth_type = "password"
        elif endpoint:
            return Client(endpoint, None, context=_ssl_context(s), timeout=s.timeout)
        else:
            raise ConfigError(
                "where is the Congress API? Give --os-endpoint (OS_ENDPOINT), with --os-token "
                "when it needs one, or --os-auth-url, --os-username, --os-password and "
                "--os-project-name to authenticate with Keystone"
            )
    if auth_type in ("token", "v3token", "admin_token"):
        if not token:
            raise ConfigError(f"--os-auth-type {auth_type} needs --os-token (OS_TOKEN)")
        if endpoint:  # no Keystone call at all
            return Client(endpoint, token, context=_ssl_context(s), timeout=s.timeout)
    return _from_keystone(s, auth_type, endpoint)


def _from_keystone(s: Settings, auth_type: str, endpoint: str | None) -> Client:
    auth_url = s.get("os_auth_url")
    if not auth_url:
        raise ConfigError(f"--os-auth-type {auth_type} needs --os-auth-url (OS_AUTH_URL)")
    from keystoneauth1 import exceptions as ks_exceptions
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import generic

    scope: dict[str, Any] = {
        "project_name": s.get("os_project_name"),
        "project_id": s.get("os_project_id"),
        "project_domain_name": s.get("os_project_domain_name"),
        "project_domain_id": s.get("os_project_domain_id"),
    }
    plugin: Any
    if auth_type in ("token", "v3token", "admin_token"):
        plugin = generic.Token(auth_url=auth_url, token=s.get("os_token") or "", **scope)
    else:
        if not s.get("os_password"):
            raise ConfigError("password authentication needs --os-password (OS_PASSWORD)")
        if not (s.get("os_username") or s.get("os_user_id")):
            raise ConfigError("password authentication needs --os-username (OS_USERNAME)")
        plugin = generic.Password(
            auth_url=auth_url,
            username=s.get("os_username"),
            user_id=s.get("os_user_id"),
            password=s.get("os_password"),
            user_domain_name=s.get("os_user_domain_name"),
            user_domain_id=s.get("os_user_domain_id"),
            **scope,
        )
    verify: bool | str = False if s.insecure else (s.get("os_cacert") or True)
    session = ks_session.Session(auth=plugin, verify=verify, timeout=s.timeout)
    try:
        token = session.get_token()
        if not endpoint:
            endpoint = session.get_endpoint(
                service_type=SERVICE_TYPE,
                interface=s.get("os_interface") or "public",
                region_name=s.get("os_region_name"),
            )
    except ks_exceptions.ClientException as e:
        raise ConfigError(f"Keystone ({auth_url}): {e}") from None
    if not endpoint:
        where = f" in region {s.get('os_region_name')}" if s.get("os_region_name") else ""
        raise ConfigError(
            f"the catalog has no {s.get('os_interface') or 'public'} endpoint of a service of "
            f"type {SERVICE_TYPE!r}{where}: give --os-endpoint"
        )
    return Client(endpoint, token, context=_ssl_context(s), timeout=s.timeout)


class Client:
    """JSON requests to ``<endpoint>/v1/...``."""

    def __init__(
        self,
        endpoint: str,
        token: str | None,
        *,
        context: ssl.SSLContext | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        base = endpoint.rstrip("/")
        if base.endswith("/v1"):
            base = base[: -len("/v1")]
        self.endpoint = base
        self.token = token
        self.context = context
        self.timeout = timeout
        self.revision: int | None = None

    def url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        quoted = "/".join(urllib.parse.quote(part, safe="") for part in path.split("/"))
        url = f"{self.endpoint}/v1/{quoted.lstrip('/')}"
        return f"{url}?{urllib.parse.urlencode(query)}" if query else url

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, str] | None = None,
    ) -> Any:
        """The answer's JSON (None when empty); ``ApiError`` otherwise. ``path`` is relative
        to ``/v1``, its segments quoted here."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url(path, query), data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("X-Auth-Token", self.token)
        if self.revision is not None:
            req.add_header(MIN_REVISION_HEADER, str(self.revision))
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.context) as resp:
                self._saw(resp.headers.get(REVISION_HEADER))
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raise _api_error(e) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ApiError(0, f"cannot reach {self.endpoint}: {reason}") from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(0, f"{method} {path}: the answer is not JSON") from None

    def _saw(self, header: str | None) -> None:
        if header and header.isdigit():
            self.revision = max(self.revision or 0, int(header))

    # -- the calls export and apply make ------------------------------------------------
    def policies(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "policies")["results"])

    def policy(self, name: str) -> dict[str, Any]:
        return dict(self.request("GET", f"policies/{name}"))

    def rules(self, policy: str) -> list[dict[str, Any]]:
        return list(self.request("GET", f"policies/{policy}/rules")["results"])

    def tables(self, policy: str) -> list[str]:
        return [t["id"] for t in self.request("GET", f"policies/{policy}/tables")["results"]]

    def rows(self, policy: str, table: str) -> list[list[Any]]:
        answer = self.request("GET", f"policies/{policy}/tables/{table}/rows")
        return [list(r["data"]) for r in answer["results"]]


def _api_error(e: urllib.error.HTTPError) -> ApiError:
    raw = e.read()
    try:
        body = json.loads(raw)
    except ValueError:
        text = raw.decode(errors="replace").strip()
        return ApiError(e.code, f"HTTP {e.code}: {text or e.reason}")
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        data = error.get("error_data")
        return ApiError(
            e.code,
            str(error.get("message") or f"HTTP {e.code}"),
            data if isinstance(data, dict) else None,
        )
    message = body.get("message") if isinstance(body, dict) else None
    return ApiError(e.code, str(message or f"HTTP {e.code}: {e.reason}"))
