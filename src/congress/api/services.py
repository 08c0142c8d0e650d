"""What the API talks to: the services of its node (direct objects in one process).

May import congress.services and congress.datalog (names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from congress.datalog import names
from congress.services.policy_engine import PolicyEngineService
from congress.services.rpc import RemoteEngine


@dataclass
class Services:
    """The services an API node uses: each is local or a proxy to another node
    (``congress.services.rpc``)."""

    engine: PolicyEngineService | RemoteEngine
    datasources: Any = None  # congress.services.datasources.DatasourceHost
    library: Any = None  # congress.services.library.LibraryService
    min_revision_wait: float = 5.0  # [api] min_revision_wait
    feed: Any = None  # congress.services.watch.ChangeFeed (None: no local policy engine)
    feed_keepalive: float = 15.0  # [watch] feed_keepalive_seconds
    project_drivers: tuple[str, ...] = ("push",)  # [tenancy] project_drivers
    history: Any = None  # congress.services.history.History (None: no history here)
    metrics: Any = None  # congress.services.metrics.Metrics (None: no metrics here)
    sinks: Any = None  # congress.services.notify.Notifications (None: not on this node)
    readiness: Any = None  # congress.services.health.Readiness (None: no deep check here)
    # encoded answers of GET rows: (policy, table) -> (engine generation, JSON body)
    rows_cache: dict[tuple[str, str], tuple[int, bytes]] = field(default_factory=dict)
    # rows for paging, in the engine's order: (policy, table) -> (engine generation, rows)
    pages_cache: dict[tuple[str, str], tuple[int, list[Any]]] = field(default_factory=dict)

    def take_written_revision(self) -> int | None:
        """The policy revision this thread's request wrote, if any (then forgotten)."""
        revisions = [self.engine.take_written_revision()]
        take = getattr(self.library, "take_written_revision", None)
        if callable(take):
            revisions.append(take())
        found = [r for r in revisions if r is not None]
        return max(found) if found else None

    def health(self, details: bool = False) -> dict[str, Any]:
        """Liveness: ``{status: OK, policy_errors}``, never a failure for policy errors (spec
        README). With ``details``, the deep readiness check (``congress.services.health``):
        ``status`` is ``UNAVAILABLE`` when this node cannot serve."""
        if not details:  # the original's answer: the operator's policies only
            errors = open_policy_errors(self.engine.policy_errors())
            return {"status": "OK", "policy_errors": errors["policy_errors"]}
        if self.readiness is None:
            return {
                "status": "OK",
                "detailed": True,
                "reasons": [],
                "checks": {},
                "datasources": [],
                **open_policy_errors(self.engine.policy_errors()),
            }
        answer: dict[str, Any] = self.readiness.check()
        answer.update(open_policy_errors(answer.get("policy_errors") or {}))
        answer["datasources"] = [
            d
            for d in answer.get("datasources") or []
            if names.project_of(str(d.get("name", ""))) is None
        ]
        return answer


def open_policy_errors(found: dict[str, str]) -> dict[str, Any]:
    """The policy errors an open route answers: the operator's policies by name, projects'
    only counted (docs/tenancy.md: their names and errors are theirs)."""
    own = {name: why for name, why in found.items() if names.project_of(name) is None}
    return {"policy_errors": own, "project_policy_errors": len(found) - len(own)}
