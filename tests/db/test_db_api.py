"""The public surface of congress.db: every repository function is exported by ``api``."""

from __future__ import annotations

import inspect
from types import ModuleType

from congress.db import (
    api,
    changes,
    datasources,
    enforcement,
    executions,
    history,
    library,
    notifications,
    policies,
    quotas,
    revisions,
    versions,
)

MODULES: tuple[ModuleType, ...] = (
    changes,
    datasources,
    enforcement,
    executions,
    history,
    library,
    notifications,
    policies,
    quotas,
    revisions,
    versions,
)


def _repository_functions(module: ModuleType) -> set[str]:
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(value):
            continue
        if value.__module__ != module.__name__:
            continue
        first = next(iter(inspect.signature(value).parameters), None)
        if first in ("db", "session") and name not in ("read", "bump"):
            names.add(name)
    return names


def test_api_exports_every_repository_function() -> None:
    defined = set().union(*(_repository_functions(m) for m in MODULES))
    assert defined == set(api.__all__)
    assert all(callable(getattr(api, name)) for name in api.__all__)
