"""The execution log: append, update the status, list recent entries, prune."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from congress.db import api, errors

ARGS = {"positional": ["vm-1", 2, "ü🚀"], "named": {"force": True}}


def test_record_and_list(engine: Engine) -> None:
    before = datetime.now(UTC)
    entry = api.record_execution(
        engine,
        datasource="nova",
        action="servers.pause",
        args=ARGS,
        policy="classification",
        revision=7,
        derivation="execute[nova:servers.pause(x)] :- bad(x) with x=vm-1",
        node_id="pe1",
    )
    assert (entry.datasource, entry.action, entry.args, entry.policy) == (
        "nova",
        "servers.pause",
        ARGS,
        "classification",
    )
    assert (entry.revision, entry.node_id, entry.status) == (7, "pe1", "requested")
    assert entry.detail is None
    assert entry.created_at >= before and entry.updated_at is None
    assert api.list_executions(engine) == [entry]


def test_list_is_newest_first_filtered_and_limited(engine: Engine) -> None:
    entries = [
        api.record_execution(engine, datasource=ds, action="a", args={}, policy=policy)
        for ds, policy in (("nova", "p"), ("neutron", "p"), ("nova", None), ("nova", "q"))
    ]
    assert api.list_executions(engine) == entries[::-1]
    assert api.list_executions(engine, limit=2) == entries[:1:-1]
    assert api.list_executions(engine, datasource="nova") == [entries[3], entries[2], entries[0]]
    assert api.list_executions(engine, policy="p") == [entries[1], entries[0]]
    assert api.list_executions(engine, datasource="nova", policy="p") == [entries[0]]


def test_status_updates(engine: Engine) -> None:
    entry = api.record_execution(engine, datasource="nova", action="a", args=[])
    done = api.set_execution_status(engine, entry.id, "failed", "HTTP 409: Cannot pause")
    assert (done.status, done.detail, done.created_at) == (
        "failed",
        "HTTP 409: Cannot pause",
        entry.created_at,
    )
    assert done.updated_at is not None and done.updated_at >= done.created_at
    assert api.list_executions(engine) == [done]
    with pytest.raises(errors.NotFound):
        api.set_execution_status(engine, "nope", "executed")
    with pytest.raises(errors.InvalidValue):
        api.set_execution_status(engine, entry.id, "s" * 33)
    with pytest.raises(errors.InvalidValue):
        api.record_execution(engine, datasource="d" * 256, action="a", args=[])


def test_prune_old_entries(engine: Engine) -> None:
    old = api.record_execution(engine, datasource="nova", action="a", args=[])
    cut = datetime.now(UTC) + timedelta(microseconds=1)
    while datetime.now(UTC) <= cut:
        pass
    new = api.record_execution(engine, datasource="nova", action="b", args=[])
    assert old.created_at < cut < new.created_at
    assert api.prune_executions(engine, cut) == 1
    assert api.list_executions(engine) == [new]
