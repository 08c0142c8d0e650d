"""Executing actions on a driver's service: the registry and the dotted client calls.

Imports: standard library and congress.datasources.errors.

A driver that can act mixes in ``ExecutionMixin`` and lists its actions: the class-level
``ACTIONS`` (``{name: Action(description, args, handler)}``), plus any added at run time with
``add_action`` (first definition wins) or found by ``client_actions`` walking a client as the
original's ``add_executable_client_methods`` did. ``execute(name, positional, named)`` runs only
a listed action (the original ran any reachable client attribute; the API's actions route lists
exactly what can run): the driver method ``handler`` when the action names one, otherwise the
client's dotted attribute path (``servers.pause`` calls ``client.servers.pause(*positional,
**named)``). Path components starting with ``_`` never resolve.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import reduce
from typing import Any, ClassVar, NamedTuple

from congress.datasources.errors import ActionFailed, UnknownAction


class Action(NamedTuple):
    """An executable action: its description, its ``(name, description)`` arguments, and the
    name of a driver method that implements it (None: the client's dotted path)."""

    description: str = ""
    args: tuple[tuple[str, str], ...] = ()
    handler: str | None = None


class ExecutionMixin:
    """Adds an actions registry and ``execute`` to a ``Driver`` (which provides ``name`` and
    ``client``). Put it first in the bases: ``class Nova(ExecutionMixin, PollingDriver)``."""

    ACTIONS: ClassVar[Mapping[str, Action]] = {}
    name: str
    client: Any

    def add_action(
        self,
        name: str,
        description: str = "",
        args: Iterable[tuple[str, str]] = (),
        handler: str | None = None,
    ) -> None:
        """List one more action on this driver instance; an existing name is kept."""
        registry = self._added_actions()
        if name not in self.ACTIONS and name not in registry:
            registry[name] = Action(description, tuple(args), handler)

    def add_client_actions(self, client: Any, api_prefix: str) -> None:
        """List every public method found by walking ``client`` (see ``client_actions``)."""
        for name, action in client_actions(client, api_prefix).items():
            self.add_action(name, action.description, action.args)

    def action_registry(self) -> dict[str, Action]:
        """Every action this driver can execute, by name."""
        return {**self._added_actions(), **self.ACTIONS}

    def actions(self) -> dict[str, list[dict[str, Any]]]:
        """The actions route's body: ``{results: [{name, args: [{name, description}],
        description}]}`` sorted by name."""
        results = []
        for name, action in sorted(self.action_registry().items()):
            args = [{"name": a, "description": d} for a, d in action.args]
            results.append({"name": name, "args": args, "description": action.description})
        return {"results": results}

    def execute(
        self,
        action: str,
        positional: Sequence[Any] = (),
        named: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run ``action`` with the arguments; ``UnknownAction`` if it is not listed or does not
        resolve, ``ActionFailed`` (with the cause chained) if the call raised."""
        named = dict(named or {})
        args_text = repr({"positional": list(positional), "named": named})
        prefix = f"driver {self.name} tries to execute {action} on arguments {args_text} but"
        spec = self.action_registry().get(action)
        method = None if spec is None else self._resolve(action, spec)
        if method is None:
            raise UnknownAction(f"{prefix} the method isn't accepted as an executable method.")
        try:
            return method(*positional, **named)
        except Exception as exc:
            raise ActionFailed(f"{prefix} the method raised an exception: {exc}") from exc

    def _resolve(self, action: str, spec: Action) -> Callable[..., Any] | None:
        if spec.handler is not None:
            target, path = self, spec.handler
        else:
            target, path = self.client, action
        parts = path.split(".")
        if target is None or any(not p or p.startswith("_") for p in parts):
            return None
        try:
            found = reduce(getattr, parts, target)
        except AttributeError:
            return None
        return found if callable(found) else None

    def _added_actions(self) -> dict[str, Action]:
        registry: dict[str, Action] | None = self.__dict__.get("_added")
        if registry is None:
            registry = self.__dict__["_added"] = {}
        return registry


def client_actions(client: Any, api_prefix: str) -> dict[str, Action]:
    """Public methods of ``client`` and of the objects reachable from it whose module matches
    ``api_prefix``, walked depth first, as the original found them: a method is named by its
    object's module with ``api_prefix`` removed, a dot and its own name; methods whose docstring
    says ``DEPRECATED:`` are left out; ``:param x: text`` lines describe the arguments."""
    found: dict[str, Action] = {}
    seen: list[Any] = [client]
    stack: list[Any] = [client]
    while stack:
        obj = stack.pop()
        module = getattr(obj, "__module__", "") or ""
        base = module.replace(api_prefix, "")
        for attr in (a for a in dir(obj) if not a.startswith("_")):
            try:
                value = getattr(obj, attr)
            except Exception:  # a property that fails is not an action
                continue
            if inspect.ismethod(value) or inspect.isfunction(value):
                name = f"{base}.{attr}" if base else attr
                doc = inspect.getdoc(value) or ""
                if name not in found and "DEPRECATED:" not in doc:
                    found[name] = _describe(value, doc)
            elif _walkable(value, api_prefix) and not any(value is s for s in seen):
                seen.append(value)
                stack.append(value)
    return found


def _walkable(value: Any, api_prefix: str) -> bool:
    module = getattr(value, "__module__", None)
    return (
        isinstance(module, str)
        and re.match(re.escape(api_prefix), module) is not None
        and not inspect.isclass(value)
        and not inspect.isbuiltin(value)
    )


def _describe(method: Callable[..., Any], doc: str) -> Action:
    text = re.sub(r"\s+", " ", doc).strip()
    pieces = re.split(r" ?:param ", text)
    described = {}
    for piece in pieces[1:]:
        name, _, desc = piece.partition(":")
        described[name.strip()] = desc.strip()
    try:
        params = [p for p in inspect.signature(method).parameters if p != "self"]
    except (TypeError, ValueError):
        params = []
    args = tuple((p, described.get(p, "None")) for p in params)
    return Action(pieces[0].strip() if doc else "", args)
