"""The ``swift`` driver: OpenStack Object Storage (Swift, Object Storage API v1).

Imports: standard library and congress.datasources (openstacksdk through the base).

The endpoint is the account (``.../v1/AUTH_<project_id>``), read through the ``object_store``
proxy of openstacksdk with the driver's Keystone session (the original built swiftclient v1
credentials from ``tenant_name``; ``project_name`` or ``tenant_name`` both work here).
``containers`` is the account's JSON listing (``GET /?format=json``); ``objects`` is every
container's JSON listing, each object with the ``container_name`` of its container (a
container deleted in between, whose listing answers 404, is skipped). Listings
are read page after page (``marker``) until an empty page, as swiftclient does; the container
list is read once per poll and shared by both tables.

Actions keep the original's ``SwiftService`` method names with simple arguments:
``delete(container, objects)`` deletes the named objects, or, without objects, every object of
the container and then the container; ``post(container, objects, options)`` sets metadata on
the container (no objects) or on each named object, ``options`` being an object (or its JSON
text) with ``meta`` (``{name: value}`` or ``["name:value"]``), ``header`` (extra headers, same
forms) and, for a container, ``read_acl``, ``write_acl``, ``sync_to`` and ``sync_key``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from congress.datasources import translators as tr
from congress.datasources.errors import InvalidActionArguments, ServiceError
from congress.datasources.execution import Action
from congress.datasources.openstack import MAX_PAGES, OpenStackDriver

CONTAINERS = tr.HDict(
    table="containers",
    fields=[tr.Field("count"), tr.Field("bytes"), tr.Field("name")],
)
OBJECTS = tr.HDict(
    table="objects",
    fields=[
        tr.Field("bytes"),
        tr.Field("last_modified"),
        tr.Field("hash"),
        tr.Field("name"),
        tr.Field("content_type"),
        tr.Field("container_name"),
    ],
)

CONTAINER_OPTIONS: Mapping[str, str] = {
    "read_acl": "X-Container-Read",
    "write_acl": "X-Container-Write",
    "sync_to": "X-Container-Sync-To",
    "sync_key": "X-Container-Sync-Key",
}
POST_OPTIONS = frozenset({"meta", "header", *CONTAINER_OPTIONS})


class SwiftDriver(OpenStackDriver):
    """Datasource driver that interfaces with swift."""

    DRIVER_NAME: ClassVar[str] = "swift"
    DESCRIPTION: ClassVar[str] = "Datasource driver that interfaces with swift."
    SERVICE_TYPE: ClassVar[str] = "object-store"
    PROXY: ClassVar[str] = "object_store"
    TRANSLATORS: ClassVar[tuple[tr.TableSpec, ...]] = (CONTAINERS, OBJECTS)
    ACTIONS: ClassVar[Mapping[str, Action]] = {
        "delete": Action(
            "Delete objects of a container, or (no objects) every object of the container "
            "and then the container.",
            (
                ("container", "name of the container"),
                ("objects", "names of the objects to delete (a list, or one name); optional"),
            ),
            "delete_objects",
        ),
        "post": Action(
            "Set the metadata of a container (no objects) or of each of its named objects.",
            (
                ("container", "name of the container"),
                ("objects", "names of the objects (a list, or one name); optional"),
                (
                    "options",
                    "an object (or its JSON text): meta ({name: value} or ['name:value']), "
                    "header (extra headers, same forms), and for a container read_acl, "
                    "write_acl, sync_to, sync_key",
                ),
            ),
            "post_metadata",
        ),
    }

    def fetch(self, root: str) -> Any:
        if root == "containers":
            return self._container_list()
        if root == "objects":
            objects: list[Any] = []
            for container in self._container_list():
                name = container.get("name") if isinstance(container, Mapping) else None
                if not isinstance(name, str):
                    raise ServiceError(
                        f"the account listing has a container without a name: {container!r}"
                    )
                try:
                    items = self.listing(_container(name))
                except ServiceError as exc:
                    if _not_found(exc):  # deleted since the account listing was read
                        continue
                    raise
                for item in items:
                    if not isinstance(item, Mapping):
                        raise ServiceError(f"GET {_container(name)}: objects must be objects")
                    objects.append({**item, "container_name": name})
            return objects
        raise ServiceError(f"swift has no root table {root!r}")

    def _container_list(self) -> list[Any]:
        """The account listing, once per poll (a failure is remembered for the poll, too)."""
        containers: list[Any] = self.once_per_poll("containers", lambda: self.listing("/"))
        return containers

    def listing(self, path: str) -> list[Any]:
        """Every entry of the JSON listing at ``path`` (the account or a container), page
        after page until an empty one."""
        entries: list[Any] = []
        params: dict[str, Any] = {"format": "json"}
        for _ in range(MAX_PAGES):
            response = self.request("GET", path, params=params)
            if response.status_code == 204 or not response.content:
                return entries
            try:
                page = response.json()
            except ValueError as exc:
                raise ServiceError(f"GET {path}: the answer is not JSON ({exc})") from exc
            if not isinstance(page, list):
                raise ServiceError(f"GET {path}: the answer is not a JSON list")
            if not page:
                return entries
            entries.extend(page)
            last = page[-1]
            marker = last.get("name", last.get("subdir")) if isinstance(last, Mapping) else None
            if not isinstance(marker, str) or marker == params.get("marker"):
                return entries
            params = {"format": "json", "marker": marker}
        raise ServiceError(f"GET {path}: more than {MAX_PAGES} pages")

    # -- actions (Object Storage API v1) -----------------------------------------------------
    def delete_objects(self, container: str, objects: Any = None) -> None:
        names = _names(objects)
        if names:
            for name in names:
                self.request("DELETE", _object(container, name))
            return
        for entry in self.listing(_container(container)):
            if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
                self.request("DELETE", _object(container, entry["name"]))
        self.request("DELETE", _container(container))

    def post_metadata(self, container: str, objects: Any = None, options: Any = None) -> None:
        opts = _options(options)
        names = _names(objects)
        if names:
            headers = _headers(opts, "X-Object-Meta-")
            for name in names:
                self.request("POST", _object(container, name), headers=headers)
            return
        headers = _headers(opts, "X-Container-Meta-")
        for option, header in CONTAINER_OPTIONS.items():
            if opts.get(option) is not None:
                headers[header] = str(opts[option])
        self.request("POST", _container(container), headers=headers)


def _not_found(exc: ServiceError) -> bool:
    return getattr(exc.__cause__, "http_status", None) == 404


def _container(name: str) -> str:
    if not str(name):
        raise InvalidActionArguments("a container name is required")
    return f"/{quote(str(name), safe='')}"


def _object(container: str, name: str) -> str:
    return f"{_container(container)}/{quote(str(name), safe='/')}"


def _names(objects: Any) -> list[str]:
    """Object names: None or empty for none, one name, or a list of names."""
    if objects is None or objects == "":
        return []
    if isinstance(objects, str):
        return [objects]
    if isinstance(objects, Iterable) and not isinstance(objects, Mapping | bytes):
        return [str(o) for o in objects]
    raise InvalidActionArguments(f"objects must be a name or a list of names, not {objects!r}")


def _options(options: Any) -> Mapping[str, Any]:
    if options is None or options == "":
        return {}
    if isinstance(options, str):
        try:
            options = json.loads(options)
        except ValueError as exc:
            raise InvalidActionArguments(f"options must be a JSON object: {exc}") from None
    if not isinstance(options, Mapping):
        raise InvalidActionArguments(f"options must be an object, not {options!r}")
    unknown = sorted(set(options) - POST_OPTIONS)
    if unknown:
        raise InvalidActionArguments(f"unknown options {unknown}; known: {sorted(POST_OPTIONS)}")
    return options


def _headers(options: Mapping[str, Any], meta_prefix: str) -> dict[str, str]:
    headers = {f"{meta_prefix}{k}": v for k, v in _pairs(options.get("meta"), "meta")}
    headers.update(_pairs(options.get("header"), "header"))
    return headers


def _pairs(value: Any, option: str) -> list[tuple[str, str]]:
    """``{name: value}`` or swiftclient's ``["name:value", ...]`` as pairs."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [(str(k), str(v)) for k, v in value.items()]
    if isinstance(value, str):
        value = [value]
    pairs = []
    if isinstance(value, Sequence):
        for item in value:
            name, sep, text = str(item).partition(":")
            if not sep or not name.strip():
                raise InvalidActionArguments(f"option {option}: {item!r} is not 'name:value'")
            pairs.append((name.strip(), text.strip()))
        return pairs
    raise InvalidActionArguments(f"option {option} must be an object or a list of 'name:value'")
