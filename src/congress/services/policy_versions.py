"""Who changes policy, and policy versions as the API answers them (docs/policy-lifecycle.md).

May import congress.db (records) and the standard library.

Every change of a policy (created, deleted, its settings changed, a rule added or deleted, a
library policy activated, a rollback) is recorded by the policy engine service in the change's
own transaction (``congress.db.versions``) with the ``Actor`` who asked for it (the request's
user and project; None without authentication) and the engine's node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from congress.db import records


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks for a change: the request context's user and project (None: unknown, e.g.
    ``auth_strategy = noauth`` or a change the service makes itself)."""

    user_id: str | None = None
    project_id: str | None = None


NOBODY = Actor()


def version_body(v: records.PolicyVersion, *, full: bool = False) -> dict[str, Any]:
    """A version on the wire: ``{version, action, user_id, project_id, node, time, revision,
    policy_id, policy_name, detail}``, and ``before``/``after`` when ``full``."""
    out: dict[str, Any] = {
        "version": v.version,
        "action": v.action,
        "user_id": v.user_id,
        "project_id": v.project_id,
        "node": v.node_id,
        "time": v.created_at.isoformat(),
        "revision": v.revision,
        "policy_id": v.policy_id,
        "policy_name": v.policy_name,
        "detail": v.detail,
    }
    if full:
        out["before"] = v.before
        out["after"] = v.after
    return out
