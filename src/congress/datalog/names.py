"""Names of project policies (docs/tenancy.md): ``<name>@<project>``.

Imports: standard library only.

A project's policies live in the project's own namespace. Inside Congress (the runtime, the
database, the bus, history and feeds) such a policy is named ``<name>@<project id>``; the API
maps the names a project member writes (``ops``) to these and back, so a member never sees the
suffix. A policy without ``@`` is global (the operator's). In a rule of a project policy a
reference that names no project (``ops:error``, ``nova:servers``) means the project's own
``ops@<project>``, ``nova@<project>``: for a datasource that is the project's view of it, the
rows of the datasource's table that belong to the project (see ``congress.services``). A rule
may not name another project (``ops@other:error``).
"""

from __future__ import annotations

import re
from typing import Final

SEPARATOR: Final = "@"
GLOBAL_OWNER: Final = "user"
"""The ``owner_id`` of a global (the operator's) policy, as the original Congress showed it."""

PROJECT_PATTERN: Final = r"[A-Za-z0-9_\-]+"
_PROJECT = re.compile(PROJECT_PATTERN)


def scoped(name: str, project: str | None) -> str:
    """The internal name of ``name`` in ``project`` (``name`` itself for None: global)."""
    return name if project is None else f"{name}{SEPARATOR}{project}"


def split(name: str) -> tuple[str, str | None]:
    """``(name, project)`` of an internal name; project None for a global name."""
    base, sep, project = name.partition(SEPARATOR)
    return (base, project) if sep else (name, None)


def project_of(name: str) -> str | None:
    """The project an internal name belongs to (None: global)."""
    return split(name)[1]


def base_of(name: str) -> str:
    """The name without its project."""
    return split(name)[0]


def owner_of(name: str) -> str:
    """The ``owner_id`` of a policy named ``name``: its project, or ``user`` if global."""
    return project_of(name) or GLOBAL_OWNER


def valid_project(project: str) -> bool:
    """Whether a project id can be part of a name (Keystone's are 32 hex digits)."""
    return _PROJECT.fullmatch(project) is not None
