"""The base of the OpenStack drivers: Keystone sessions, service JSON, paging and errors.

Imports: standard library, congress.datasources, and (lazily, when a client is built or a
request fails) keystoneauth1 and openstacksdk.

``OpenStackDriver`` is a polling, executing driver whose client is an openstacksdk
``Connection`` built from the original's options (``build_client``): a keystoneauth1 password
session (``user_domain_name`` and ``project_domain_name`` default to ``Default``,
``tenant_name`` stands in for ``project_name``; an ``auth_url`` ending in ``/v3`` is used as it
is, any other is discovered), ``region`` as the region, and ``endpoint`` overriding the
catalog's URL of the driver's ``SERVICE_TYPE``. Building the client does no I/O; the first poll
authenticates.

Drivers read their service's JSON as its API reference documents it (the translators name the
API's fields) through the service proxy (``self.service``, e.g. ``connection.compute``):
``get_json(path, params)`` for one document and ``list_all(path, key, params)`` for a
collection, following ``<key>_links`` / ``links`` / ``next`` pages. Any failure (refused auth, a
timeout, an HTTP error, a body that is not JSON or not of the expected shape) is a
``ServiceError`` whose message says what was asked and what went wrong; ``PollingDriver.poll``
keeps the table's last good rows and shows the message in the status.

Actions are explicit: each driver's ``ACTIONS`` names, with the original's client-style names
(``servers.pause``), a driver method that calls the service through openstacksdk.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from congress.datasources import options as opts
from congress.datasources.driver import ExecutionMixin, PollingDriver
from congress.datasources.errors import InvalidConfig, ServiceError
from congress.datasources.options import Option

if TYPE_CHECKING:
    from openstack.connection import Connection

__all__ = [
    "OPENSTACK_DRIVER_OPTIONS",
    "OpenStackDriver",
    "ServiceError",
    "build_session",
    "describe_error",
]

LOG = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
SDK_SELF_WARNINGS = (
    "The 'service_type' parameter is unnecesary",
    "The _compute_attributes method is deprecated",
)
MAX_PAGES = 10_000  # a cloud that keeps sending "next" links is broken, not infinite

OPENSTACK_DRIVER_OPTIONS: Mapping[str, Option] = {
    **opts.OPENSTACK_OPTIONS,
    "lazy_tables": opts.LAZY_TABLES,
}


def build_session(config: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """A keystoneauth1 session with the password plugin of the common OpenStack options."""
    from keystoneauth1 import session
    from keystoneauth1.identity import generic, v3

    creds = opts.openstack_credentials(config)
    auth_url = str(creds["auth_url"] or "")
    if not urlsplit(auth_url).scheme or not urlsplit(auth_url).netloc:
        raise InvalidConfig(f"Invalid value for option auth_url: {auth_url!r} is not a URL")
    plugin = v3.Password if auth_url.rstrip("/").endswith("/v3") else generic.Password
    auth = plugin(**creds)
    return session.Session(auth=auth, timeout=timeout)


def describe_error(exc: BaseException) -> str:
    """A short, useful text for a failed request (no traceback, no secrets)."""
    from keystoneauth1 import exceptions as ks

    if isinstance(exc, ks.Unauthorized):
        return f"authentication refused by Keystone ({_http_text(exc)})"
    if isinstance(exc, ks.ConnectTimeout | ks.ConnectionError) and "timed out" in str(exc):
        return f"timed out: {exc}"
    if isinstance(exc, ks.RequestTimeout):
        return f"timed out: {exc}"
    if isinstance(exc, ks.ConnectFailure):
        return f"cannot connect: {short_connect_error(str(exc))}"
    if isinstance(exc, ks.HttpError):
        return _http_text(exc)
    if isinstance(exc, ks.EndpointNotFound | ks.EmptyCatalog):
        return f"no endpoint in the catalog: {exc}"
    if isinstance(exc, ks.ClientException):
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def short_connect_error(text: str) -> str:
    """``Unable to establish connection to URL: <urllib3's pages>`` as ``URL: [Errno 111]
    Connection refused`` (the socket error is what tells a typo from a firewall)."""
    url = re.search(r"https?://[^\s:/]+(?::\d+)?", text)
    errno = re.findall(r"\[Errno -?\d+\][^'\")]*", text)
    reason = errno[-1].strip() if errno else text[-200:]
    return f"{url.group(0)}: {reason}" if url else reason


def _http_text(exc: Any) -> str:
    status = getattr(exc, "http_status", None)
    method = getattr(exc, "method", None) or ""
    url = getattr(exc, "url", None) or ""
    details = getattr(exc, "details", None) or getattr(exc, "message", None) or ""
    where = f"{method} {url}".strip()
    text = f"HTTP {status}" if status is not None else "HTTP error"
    if where:
        text += f" from {where}"
    if details:
        text += f": {str(details)[:300]}"
    return text


class OpenStackDriver(ExecutionMixin, PollingDriver):
    """A polling, executing driver of one OpenStack service, read through openstacksdk."""

    CONFIG: ClassVar[Mapping[str, Option]] = OPENSTACK_DRIVER_OPTIONS
    SERVICE_TYPE: ClassVar[str] = ""
    """The catalog service type (``compute``, ``network``, ``image``, ...)."""
    PROXY: ClassVar[str] = ""
    """The ``Connection`` attribute of the service's proxy (``compute``, ``block_storage``...)."""

    @classmethod
    def connection_options(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """Extra ``Connection`` arguments (API versions); the base gives none."""
        return {}

    @classmethod
    def build_client(cls, config: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """An openstacksdk ``Connection`` for ``config`` (no I/O until the first request)."""
        from openstack.connection import Connection

        # openstacksdk 4.x warns about its own calls (an argument its Proxy passes on every
        # request, a method its Resource calls on every object): not ours to act on
        for message in SDK_SELF_WARNINGS:
            warnings.filterwarnings("ignore", message, PendingDeprecationWarning)
        kwargs = cls.connection_options(config)
        endpoint = config.get("endpoint")
        if endpoint:
            kwargs[f"{cls.SERVICE_TYPE.replace('-', '_')}_endpoint_override"] = str(endpoint)
        return Connection(
            session=build_session(config, timeout=timeout),
            region_name=config.get("region") or None,
            app_name="congress",
            **kwargs,
        )

    # -- reading the service -----------------------------------------------------------------
    @property
    def connection(self) -> Connection:
        if self.client is None:
            raise ServiceError(f"datasource {self.name} has no client")
        return self.client  # type: ignore[no-any-return]

    @property
    def service(self) -> Any:
        """The proxy of the driver's service (a keystoneauth adapter with the session)."""
        return getattr(self.connection, self.PROXY or self.SERVICE_TYPE.replace("-", "_"))

    def request(self, method: str, path: str, *, proxy: Any = None, **kwargs: Any) -> Any:
        """One request to the service (``proxy`` another service's); ``ServiceError`` on
        failure. Returns the keystoneauth response."""
        try:
            target = self.service if proxy is None else proxy
            response = target.request(path, method, raise_exc=True, **kwargs)
        except Exception as exc:
            raise ServiceError(f"{method} {path}: {describe_error(exc)}") from exc
        return response

    def get_json(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        """The JSON document at ``path``; ``ServiceError`` if it is not JSON."""
        response = self.request("GET", path, params=dict(params or {}), **kw)
        try:
            return response.json()
        except ValueError as exc:
            raise ServiceError(f"GET {path}: the answer is not JSON ({exc})") from exc

    def list_all(
        self,
        path: str,
        key: str,
        params: Mapping[str, Any] | None = None,
        **kw: Any,
    ) -> list[Any]:
        """Every item of the collection ``key`` at ``path``, following next-page links
        (``<key>_links``, ``links`` or ``next``) whatever the service."""
        items: list[Any] = []
        query: dict[str, Any] = dict(params or {})
        for _ in range(MAX_PAGES):
            body = self.get_json(path, query, **kw)
            if not isinstance(body, Mapping) or not isinstance(body.get(key), list):
                raise ServiceError(f"GET {path}: the answer has no list {key!r}")
            items.extend(body[key])
            following = _next_link(body, key)
            if following is None:
                return items
            next_query = parse_qs(urlsplit(following).query)
            marker = next_query.get("marker")
            if not marker or query.get("marker") == marker[0]:
                return items
            query = {**query, **{k: v[-1] for k, v in next_query.items()}}
        raise ServiceError(f"GET {path}: more than {MAX_PAGES} pages")


def _next_link(body: Mapping[str, Any], key: str) -> str | None:
    for links in (body.get(f"{key}_links"), body.get("links")):
        if isinstance(links, list):
            for link in links:
                if isinstance(link, Mapping) and link.get("rel") == "next" and link.get("href"):
                    return str(link["href"])
        if isinstance(links, Mapping) and links.get("next"):  # keystone's {"next": url}
            return str(links["next"])
    following = body.get("next")
    return str(following) if isinstance(following, str) and following else None
