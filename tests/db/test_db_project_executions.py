"""Counting a project's actions in the execution log (the ``actions_per_hour`` quota)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from congress.db import api
from congress.db.executions import FINAL, SENT, STATUSES


def record(engine: Engine, policy: str | None, status: str, key: str | None = None) -> str:
    entry = api.record_execution(
        engine,
        datasource="nova",
        action="servers.pause",
        args={"positional": ["vm"], "named": {}},
        policy=policy,
        status=status,
        execution_id=key,
    )
    return entry.id


def test_refused_is_a_final_status() -> None:
    assert "refused" in STATUSES and "refused" in FINAL and "refused" not in SENT


def test_counts_the_sent_actions_of_the_projects_policies_only(engine: Engine) -> None:
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    for status in ("requested", "started", "executed", "failed"):
        record(engine, "ops@p_1", status)
    record(engine, "other@p_1", "executed")
    for status in ("refused", "would_execute", "blocked_by_breaker", "deferred", "held"):
        record(engine, "ops@p_1", status)
    record(engine, "ops@px1", "executed")  # '_' is no wildcard
    record(engine, "ops@p_12", "executed")
    record(engine, "ops", "executed")  # global
    record(engine, None, "executed")  # the API's
    assert api.count_project_executions(engine, "p_1", hour_ago) == 5
    assert api.count_project_executions(engine, "px1", hour_ago) == 1
    assert api.count_project_executions(engine, "p_1", hour_ago, statuses=("refused",)) == 1


def test_counts_from_since_and_leaves_out_the_excluded(engine: Engine) -> None:
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    first = record(engine, "ops@p1", "executed")
    second = record(engine, "ops@p1", "executed")
    assert api.count_project_executions(engine, "p1", hour_ago, exclude={first}) == 1
    assert api.count_project_executions(engine, "p1", hour_ago, exclude={first, second}) == 0
    later = datetime.now(UTC) + timedelta(seconds=5)
    assert api.count_project_executions(engine, "p1", later) == 0
