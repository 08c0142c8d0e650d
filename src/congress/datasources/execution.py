"""Executing actions on a driver's service: the registry and the dotted client calls.

Imports: standard library, congress.datasources.errors and congress.datasources.options.

A driver that can act mixes in ``ExecutionMixin`` and lists its actions: the class-level
``ACTIONS`` (``{name: Action(description, args, handler)}``), plus any added at run time with
``add_action`` (first definition wins) or found by ``client_actions`` walking a client as the
original's ``add_executable_client_methods`` did. ``execute(name, positional, named)`` runs only
a listed action (the original ran any reachable client attribute; the API's actions route lists
exactly what can run): the driver method ``handler`` when the action names one, otherwise the
client's dotted attribute path (``servers.pause`` calls ``client.servers.pause(*positional,
**named)``). Path components starting with ``_`` never resolve.

Arguments that do not fit an action are a 400 ``InvalidActionArguments``, found before
anything is sent: those that do not bind to the handler's signature, and those a handler
refuses with ``InvalidActionArguments`` (``metadata_arg``, ``keys_arg``, ``bool_arg`` and
``int_arg`` parse the usual kinds: a policy passes strings, the API passes JSON).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import reduce
from typing import Any, ClassVar, NamedTuple

from congress.datasources import options as opts
from congress.datasources.errors import ActionFailed, InvalidActionArguments, UnknownAction


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
        resolve, ``InvalidActionArguments`` if the arguments do not fit its signature or its
        handler refuses them (before sending anything), ``ActionFailed`` (with the cause
        chained) if the call raised anything else."""
        named = dict(named or {})
        args_text = repr({"positional": list(positional), "named": named})
        prefix = f"driver {self.name} tries to execute {action} on arguments {args_text} but"
        spec = self.action_registry().get(action)
        method = None if spec is None else self._resolve(action, spec)
        if method is None:
            raise UnknownAction(f"{prefix} the method isn't accepted as an executable method.")
        try:
            inspect.signature(method).bind(*positional, **named)
        except TypeError as exc:
            raise InvalidActionArguments(f"{prefix} the arguments do not fit: {exc}") from None
        except ValueError:  # a callable without a signature: let the call decide
            pass
        try:
            return method(*positional, **named)
        except InvalidActionArguments as exc:
            raise InvalidActionArguments(f"{prefix} the arguments do not fit: {exc}") from exc
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


# -- arguments of actions (a policy passes strings; the API passes JSON) ---------------------


def metadata_arg(value: Any, what: str = "metadata") -> dict[str, str]:
    """A metadata argument: an object or its JSON text; keys and values become strings."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise InvalidActionArguments(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, Mapping):
        raise InvalidActionArguments(f"{what} must be an object of key/value pairs, not {value!r}")
    return {str(k): str(v) for k, v in value.items()}


def keys_arg(value: Any) -> list[str]:
    """A list-of-keys argument: a list, its JSON text, or a single key."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.lstrip().startswith("[") else [value]
        except ValueError as exc:
            raise InvalidActionArguments(f"keys is not JSON: {exc}") from None
    if not isinstance(value, list | tuple):
        raise InvalidActionArguments(f"keys must be a list of keys, not {value!r}")
    return [str(k) for k in value]


def bool_arg(value: Any, what: str) -> bool:
    """A boolean argument: a bool or one of the usual texts (``"True"``, ``"false"``...)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in opts.TRUE_STRINGS | opts.FALSE_STRINGS:
        return text in opts.TRUE_STRINGS
    raise InvalidActionArguments(f"argument {what} must be True or False, not {value!r}")


def target_arg(
    positional: Sequence[Any], named: Mapping[str, Any] | None, name: str, index: int = 0
) -> str | None:
    """The id of an action's target for ``Driver.target_project``: the argument ``name``, or
    the ``index``-th positional one; None when absent or empty."""
    value = (named or {}).get(name)
    if value is None and len(positional) > index:
        value = positional[index]
    if value is None or isinstance(value, Mapping | list | tuple | bool):
        return None
    text = str(value).strip()
    return text or None


def owner_at(body: Any, *path: str) -> str | None:
    """The project id at ``path`` of a JSON document, for ``Driver.target_project``
    (``owner_at(body, "server", "tenant_id")``); None when absent, empty or not text."""
    for key in path:
        body = body.get(key) if isinstance(body, Mapping) else None
    return body if isinstance(body, str) and body else None


def int_arg(value: Any, what: str) -> int:
    """An integer argument: an int or its decimal text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise InvalidActionArguments(f"argument {what} must be an integer, not {value!r}") from None
