"""Finding drivers: the entry point group ``congress.datasource.drivers``, filtered.

Imports: standard library and congress.datasources.

The installed drivers are the group's entry points (first one of a name wins). Then, as the
``[DEFAULT]`` options say (spec README, ``drivers``): an allow-list (None or empty: every
driver; otherwise entry-point names or class paths, ``module:Class`` or ``module.Class``)
keeps some; ``disabled`` (names or class paths) removes some, custom endpoints
(``name=module:Class``, the original's ``custom_driver_endpoints``) included; custom endpoints
are added last and replace an installed driver of the same name. Classes are imported lazily:
``load(name)`` imports one driver, ``available()`` imports them all and leaves out, with an
error in the log, any that cannot be imported.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib import metadata

from congress.datasources.driver import Driver
from congress.datasources.errors import DriverLoadError, DriverNotFound, InvalidConfig

LOG = logging.getLogger(__name__)

GROUP = "congress.datasource.drivers"


def class_path(value: str) -> str:
    """``module:Class`` for either ``module:Class`` or ``module.Class``."""
    value = value.strip()
    if ":" in value:
        return value
    module, _, name = value.rpartition(".")
    return f"{module}:{name}" if module else value


def parse_endpoint(text: str) -> metadata.EntryPoint:
    """A custom endpoint ``name=module:Class`` as an entry point of the group."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise InvalidConfig(f"Invalid custom driver endpoint {text!r}: expected name=module:Class")
    return metadata.EntryPoint(name.strip(), class_path(value), GROUP)


class DriverLoader:
    """The permitted drivers, by name."""

    def __init__(
        self,
        allowed: Iterable[str] | None = None,
        disabled: Iterable[str] = (),
        custom_endpoints: Iterable[str] = (),
        entry_points: Iterable[metadata.EntryPoint] | None = None,
    ) -> None:
        found = metadata.entry_points(group=GROUP) if entry_points is None else entry_points
        installed: dict[str, metadata.EntryPoint] = {}
        for ep in found:
            installed.setdefault(ep.name, ep)
        allow = _wanted(allowed or ())
        if allow:
            installed = {n: ep for n, ep in installed.items() if _matches(ep, allow)}
        installed.update((ep.name, ep) for ep in map(parse_endpoint, custom_endpoints))
        deny = _wanted(disabled)
        self._endpoints = {n: ep for n, ep in installed.items() if not _matches(ep, deny)}
        self._loaded: dict[str, type[Driver]] = {}

    def names(self) -> list[str]:
        """The permitted driver names, sorted (nothing is imported)."""
        return sorted(self._endpoints)

    def load(self, name: str) -> type[Driver]:
        """The driver class of ``name``: ``DriverNotFound`` if it is not installed or not
        permitted, ``DriverLoadError`` if it cannot be imported or is not a ``Driver``."""
        if name in self._loaded:
            return self._loaded[name]
        ep = self._endpoints.get(name)
        if ep is None:
            raise DriverNotFound(f"Driver not found {name}")
        try:
            obj = ep.load()
        except Exception as exc:
            raise DriverLoadError(f"Cannot load driver {name} from {ep.value}: {exc!r}") from exc
        if not (isinstance(obj, type) and issubclass(obj, Driver)):
            raise DriverLoadError(f"Driver {name} ({ep.value}) is not a datasource driver class")
        self._loaded[name] = obj
        return obj

    def available(self) -> dict[str, type[Driver]]:
        """Every permitted driver that loads, by name (sorted)."""
        result: dict[str, type[Driver]] = {}
        for name in self.names():
            try:
                result[name] = self.load(name)
            except DriverLoadError:
                LOG.exception("Failed to load driver %s", name)
        return result


def _wanted(items: Iterable[str]) -> set[str]:
    """Names and class paths, each as given and in ``module:Class`` form."""
    return {form for item in items for form in (item.strip(), class_path(item))}


def _matches(ep: metadata.EntryPoint, wanted: set[str]) -> bool:
    return ep.name in wanted or class_path(ep.value) in wanted
