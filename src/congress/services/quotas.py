"""The quotas of a project (docs/tenancy.md): ``[tenancy]``'s defaults, under the operator's
``*`` row, under the project's own row (``project_quotas``).

Imports: standard library, oslo.config and congress.db.

Where each quota is enforced: ``policies`` and ``rules`` by the database, in the write's own
transaction (``congress.db.policies``, ``WriteQuota``); ``rows_per_table`` and
``evaluation_seconds`` by the runtime, as the project policies' own limits
(``policy_limits``: a request over one is refused, a data change puts the policy in its error
state); ``actions_per_hour`` by the enforcement's counter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from oslo_config import cfg
from sqlalchemy import Engine

from congress.common import opts
from congress.datalog.model import PolicyLimits
from congress.db import api as db
from congress.db.policies import QuotaExceeded as DbQuotaExceeded
from congress.db.policies import WriteQuota
from congress.services import errors

QUOTAS = ("policies", "rules", "rows_per_table", "evaluation_seconds", "actions_per_hour")
"""The quotas a project has; option ``[tenancy] quota_<name>`` is each one's default."""


@dataclass(frozen=True, slots=True)
class Quotas:
    """A project's limits; 0 means no limit."""

    policies: int
    rules: int
    rows_per_table: int
    evaluation_seconds: float
    actions_per_hour: int

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in QUOTAS}


INTEGER_QUOTAS = frozenset(QUOTAS) - {"evaluation_seconds"}


class QuotaExceeded(errors.BadRequest):
    """A request would take a project over one of its quotas; nothing was changed."""

    code = "quota_exceeded"

    def __init__(self, message: str, quota: str, limit: float) -> None:
        super().__init__(message)
        self.quota = quota
        self.limit = limit


def defaults(conf: cfg.ConfigOpts) -> dict[str, float]:
    """``{quota: limit}`` from ``[tenancy]``."""
    return {name: getattr(conf.tenancy, f"quota_{name}") for name in QUOTAS}


def option_defaults() -> dict[str, float]:
    """``{quota: limit}`` as ``[tenancy]``'s options default them (no configuration read)."""
    by_name = {opt.dest: opt.default for opt in opts.tenancy_opts}
    return {name: by_name[f"quota_{name}"] for name in QUOTAS}


def validated(body: object) -> dict[str, float]:
    """The quotas of a ``PUT /v1/quotas/<project>`` body (any subset of ``QUOTAS``, each a
    number >= 0; whole numbers but for ``evaluation_seconds``); BadRequest naming the field."""
    if not isinstance(body, Mapping):
        raise errors.BadRequest("The body must be an object of quotas: " + ", ".join(QUOTAS))
    out: dict[str, float] = {}
    for name, value in body.items():
        if name not in QUOTAS:
            raise errors.BadRequest(f"Unknown quota {name!r}: the quotas are {', '.join(QUOTAS)}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise errors.BadRequest(f"Quota {name!r} must be a number, not {value!r}")
        if not value >= 0:
            raise errors.BadRequest(f"Quota {name!r} must be >= 0 (0: no limit), not {value!r}")
        if name in INTEGER_QUOTAS:
            if value != int(value):
                raise errors.BadRequest(f"Quota {name!r} must be a whole number, not {value!r}")
            out[name] = int(value)
        else:
            out[name] = float(value)
    return out


def write_quota(quotas: Quotas) -> WriteQuota:
    """What the database checks on a policy write."""
    return WriteQuota(policies=quotas.policies, rules=quotas.rules)


def policy_limits(quotas: Quotas) -> PolicyLimits:
    """What the runtime checks while it evaluates one of the project's policies."""
    return PolicyLimits(
        max_table_rows=quotas.rows_per_table or None,
        max_seconds=quotas.evaluation_seconds or None,
        rows_label="rows_per_table",
        seconds_label="evaluation_seconds",
    )


def from_db(err: DbQuotaExceeded) -> QuotaExceeded:
    """The service error of the database's refusal."""
    return QuotaExceeded(str(err), err.quota, err.limit)


def merge(*layers: Mapping[str, float]) -> Quotas:
    """Later layers win; unknown names are ignored."""
    out: dict[str, float] = {}
    for layer in layers:
        out.update({k: v for k, v in layer.items() if k in QUOTAS})
    return Quotas(
        policies=int(out["policies"]),
        rules=int(out["rules"]),
        rows_per_table=int(out["rows_per_table"]),
        evaluation_seconds=float(out["evaluation_seconds"]),
        actions_per_hour=int(out["actions_per_hour"]),
    )


def effective(conf: cfg.ConfigOpts, engine: Engine | None, project: str) -> Quotas:
    """The quotas that hold for ``project`` now (defaults only without a database)."""
    if engine is None:
        return merge(defaults(conf))
    return merge(
        defaults(conf),
        db.get_project_quotas(engine, db.ALL_PROJECTS),
        db.get_project_quotas(engine, project),
    )
