"""Who is asking, and may they: the request context and access rules (oslo.policy).

May import oslo.policy, oslo.config, WebOb and the standard library (and, to document the rules
for oslopolicy-sample-generator, the route table of ``congress.api.app``, lazily).

With ``auth_strategy = noauth`` every request is an administrator's. With ``keystone``,
keystonemiddleware's ``auth_token`` has validated the token and set the identity headers, from
which the context is built (no user id is a 401). Every route but the open ones (``/``, ``/v1``,
``/healthcheck``) is authorised, elements too (unlike the original), before anything is looked
up, so a caller who may not use a route cannot learn whether a resource exists: reads need
``get_v1``, creations and actions ``create_v1``, replacements ``update_v1``, deletions
``delete_v1``. By default an administrator may do everything and a ``reader`` (Keystone's
standard role) may only read. ``simulate`` and explanations (rows ``?trace=true``) are reads.
The model is described in docs/security.md (Authorization).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from time import monotonic

import webob
from oslo_config import cfg
from oslo_policy import policy

ACCESS_RULES = ("get_v1", "create_v1", "update_v1", "delete_v1")
"""The rules a route's access names (``congress.api.app.ROUTES``)."""

RULES = [
    policy.RuleDefault("context_is_admin", "role:admin", "Administrators of Congress."),
    policy.RuleDefault("admin_only", "rule:context_is_admin", "Only administrators."),
    policy.RuleDefault("regular_user", "", "Any authenticated user."),
    policy.RuleDefault("default", "rule:admin_only", "Anything not listed."),
    policy.RuleDefault(
        "get_v1",
        "role:reader or rule:context_is_admin",
        "Read any resource: every GET (explanations, rows ?trace=true, too) and the actions "
        "that are reads (POST ?action=simulate).",
    ),
    policy.RuleDefault(
        "create_v1", "rule:admin_only", "Create a resource, push data or run an action (POST)."
    ),
    policy.RuleDefault("update_v1", "rule:admin_only", "Replace a resource (PUT)."),
    policy.RuleDefault("delete_v1", "rule:admin_only", "Delete a resource (DELETE)."),
    policy.RuleDefault(
        "project_member",
        "role:member",
        "A project member who may create, change and delete its own project's policies and "
        "library policies (docs/tenancy.md), whatever create_v1, update_v1 and delete_v1 say. "
        "Anyone context_is_admin does not admit acts for the project of its token.",
    ),
]


def operations() -> dict[str, list[tuple[str, str]]]:
    """The routes each access rule decides, as ``(method, path)``, from the route table."""
    from congress.api import app  # app imports this module

    ops: dict[str, list[tuple[str, str]]] = {rule: [] for rule in ACCESS_RULES}
    for route in app.ROUTES:
        if not route.access:
            continue
        if route.read_actions:
            for action in route.read_actions:
                ops["get_v1"].append((route.method, f"{route.path}?action={action}"))
            ops[route.access].append((route.method, f"{route.path}?action=<any other>"))
        else:
            ops[route.access].append((route.method, route.path))
    return ops


def list_rules() -> list[policy.RuleDefault]:
    """For oslopolicy-sample-generator (entry point ``oslo.policy.policies``): the rules, the
    access rules with the routes they decide."""
    ops = operations()
    return [
        policy.DocumentedRuleDefault(
            r.name,
            r.check_str,
            r.description or r.name,
            [{"method": m, "path": p} for m, p in ops[r.name]],
        )
        if r.name in ops
        else r
        for r in RULES
    ]


@dataclass(frozen=True, slots=True)
class Context:
    user_id: str | None
    project_id: str | None
    roles: tuple[str, ...] = ()
    is_admin: bool = False
    request_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def creds(self) -> dict[str, object]:
        return {
            "user_id": self.user_id,
            "project_id": self.project_id,
            "roles": list(self.roles),
            "is_admin": self.is_admin,
        }


class NotAuthenticated(Exception):
    pass


class Forbidden(Exception):
    def __init__(self, action: str) -> None:
        super().__init__(f"Policy doesn't allow {action} to be performed.")
        self.action = action


def context_from(req: webob.Request, strategy: str) -> Context:
    request_id = req.environ.get("openstack.request_id")
    if strategy == "noauth":  # nobody in particular: changes are recorded without a user
        return Context("admin", None, ("admin",), True, request_id, {"auth_strategy": "noauth"})
    user = req.headers.get("X-User-Id") or req.headers.get("X-User")
    if not user:
        raise NotAuthenticated()
    roles = tuple(r.strip() for r in req.headers.get("X-Roles", "").split(",") if r.strip())
    project = req.headers.get("X-Project-Id") or req.headers.get("X-Tenant-Id")
    return Context(user, project, roles, "admin" in roles, request_id)


class Authorizer:
    """oslo.policy enforcement of the four actions on every route.

    Decisions depend only on the action and the caller's credentials (the targets are empty),
    so each is remembered for ``ttl`` seconds: oslo.policy's own check costs more than the rest
    of a small read. A changed policy file takes effect within ``ttl``.
    """

    def __init__(
        self, conf: cfg.ConfigOpts, *, ttl: float = 1.0, timer: Callable[[], float] = monotonic
    ) -> None:
        self._enforcer = policy.Enforcer(conf)
        self._enforcer.register_defaults(RULES)
        self._ttl = ttl
        self._timer = timer
        self._decisions: dict[tuple[object, ...], tuple[float, bool]] = {}

    def check(self, ctx: Context, action: str) -> None:
        if not self.allows(ctx, action):
            raise Forbidden(action)

    def allows(self, ctx: Context, action: str) -> bool:
        """Whether the rule ``action`` admits the caller."""
        key = (action, ctx.user_id, ctx.project_id, ctx.roles, ctx.is_admin)
        now = self._timer()
        known = self._decisions.get(key)
        if known is not None and now - known[0] < self._ttl:
            allowed = known[1]
        else:
            allowed = bool(self._enforcer.enforce(action, {}, ctx.creds()))
            if len(self._decisions) > 10_000:
                self._decisions.clear()
            self._decisions[key] = (now, allowed)
        return allowed
