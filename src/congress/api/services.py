"""What the API talks to: the services of its node (direct objects in one process).

May import congress.services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from congress.services.policy_engine import PolicyEngineService


@dataclass
class Services:
    engine: PolicyEngineService
    datasources: Any = None  # congress.services.datasources.DatasourceHost
    library: Any = None  # congress.services.library.LibraryService
    # encoded answers of GET rows: (policy, table) -> (engine generation, JSON body)
    rows_cache: dict[tuple[str, str], tuple[int, bytes]] = field(default_factory=dict)

    def health(self) -> dict[str, Any]:
        """Liveness and readiness details; never a failure for policy errors (spec README)."""
        errors = {}
        for p in self.engine.list_policies():
            err = self.engine.runtime.policy_error(p.name)
            if err:
                errors[p.name] = err
        return {"status": "OK", "policy_errors": errors}
